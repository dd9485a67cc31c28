// The local APIC of one CPU in xAPIC mode (Intel SDM vol. 3A ch. 10), as an
// MMIO device at IA32_APIC_BASE (offsets are register offsets). It also
// models the path from the i8259's INTR through LINT0 in virtual wire mode,
// so it is the InterruptSource of its CPU. The board has one per CPU, all on
// one ApicBus; each CPU's accesses to the APIC page reach its own.
//
// Model choices (documented here because the SDM leaves them open):
// - Version register 0x00050014: integrated APIC version 0x14, max LVT entry 5
//   (six LVTs: timer, thermal, perf, LINT0, LINT1, error; no CMCI), no EOI
//   broadcast suppression.
// - The timer counts at 1 GHz before the divider: one tick per clock
//   nanosecond. One-shot and periodic modes; TSC-deadline is not offered
//   (CPUID.1:ECX[24] stays clear, LVT timer bit 18 is reserved).
// - LVTs reset masked (SDM 10.12.5.1). While the APIC is hardware-disabled
//   (IA32_APIC_BASE bit 11 clear), or software-disabled (SVR bit 8 clear) on
//   the BSP, the i8259's INTR goes straight to the CPU, so a PIC-only guest
//   never notices the APIC; otherwise the PIC reaches the CPU only through an
//   unmasked LINT0 in ExtINT mode (so APs that never enable their APIC do not
//   compete for the PIC's interrupts, as QEMU's apic_accept_pic_intr).
// - NMIs: an ICR NMI addressed to this APIC (self, all-including-self or a
//   matching destination) and a rising edge on LINT0 or LINT1 whose LVT is
//   unmasked in NMI mode latch one pending NMI (HasPendingNmi). LINT0 is the
//   i8259's INTR (ExtIntChanged); LINT1 is SetLint1(). While
//   the APIC is disabled, LINT1 is the CPU's NMI pin directly, as LINT0 is
//   its INTR pin (SDM 10.4.3).
// - INIT and SIPI reach the CPU through CpuLinks; SMI is logged once and dropped.
//
// Threading: not thread-safe; the board serializes every call under its
// device lock, except the lock-free hints HasPendingNmi() and
// MaybeInterrupt(), which a vCPU thread tests at each instruction boundary.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>

#include "hw/clock.h"
#include "hw/guest_log.h"
#include "hw/intc/apic_bus.h"
#include "hw/io_device.h"
#include "hw/irq.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class LocalApic final : public IoDevice, public InterruptSource, public TimedDevice {
 public:
  // Register offsets in the 4 KiB page (SDM vol. 3A table 10-1).
  static constexpr uint64_t kId = 0x20, kVersion = 0x30, kTpr = 0x80, kApr = 0x90, kPpr = 0xA0,
                            kEoi = 0xB0, kRrd = 0xC0, kLdr = 0xD0, kDfr = 0xE0, kSvr = 0xF0,
                            kIsr = 0x100, kTmr = 0x180, kIrr = 0x200, kEsr = 0x280, kIcrLow = 0x300,
                            kIcrHigh = 0x310, kLvtTimer = 0x320, kLvtThermal = 0x330,
                            kLvtPerf = 0x340, kLvtLint0 = 0x350, kLvtLint1 = 0x360,
                            kLvtError = 0x370, kTimerInitial = 0x380, kTimerCurrent = 0x390,
                            kTimerDivide = 0x3E0;
  static constexpr uint32_t kVersionValue = 0x00050014;
  static constexpr uint64_t kDefaultBase = 0xFEE00000;
  // IA32_APIC_BASE bits (SDM vol. 3A 10.4.4).
  static constexpr uint64_t kBaseBsp = 1u << 8, kBaseEnable = 1u << 11;

  // ext_int: the i8259 pair behind LINT0 (a PC wires it to every CPU's
  // LINT0; only the BSP's is unmasked in practice). The clock drives the
  // timer. bus: where IPIs go (nullptr: this APIC alone).
  LocalApic(const Clock& clock, InterruptSource& ext_int, uint8_t apic_id = 0, ApicBus* bus = nullptr);
  LocalApic(const LocalApic&) = delete;
  LocalApic& operator=(const LocalApic&) = delete;

  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  // Lock-free: false when HasPendingInterrupt() is surely false. It turns
  // true (with a wake) whenever something may have made an interrupt
  // deliverable, and false only in ClearHintIfIdle().
  bool MaybeInterrupt() const { return hint_.load(std::memory_order_acquire); }
  // Clears the hint when no interrupt is pending (under the board's lock).
  void ClearHintIfIdle() {
    if (!HasPendingInterrupt()) hint_.store(false, std::memory_order_release);
  }

  // Highest pending interrupt: a fixed interrupt in the IRR above the PPR's
  // priority class, else the PIC's through LINT0 (or directly when disabled).
  bool HasPendingInterrupt() override;
  // INTA: moves the IRR vector to the ISR, or runs the PIC's INTA cycle.
  uint8_t AcknowledgeInterrupt() override;
  // The i8259's INTR (LINT0) changed: the chipset wires the PIC's output
  // callback here, so LINT0 in NMI mode sees each rising edge.
  void ExtIntChanged();
  // The LINT1 pin's level (a PC wires the chipset's NMI sources to it).
  void SetLint1(bool level);

  void AdvanceTo(uint64_t now_ns) override;
  uint64_t NextDeadlineNs() const override;

  // An interrupt message (IOAPIC redirection, IPI, local source). Vectors
  // below 16 are illegal: they set ESR bit 6 and are dropped.
  void AcceptInterrupt(uint8_t vector, bool level);
  // Whether an interrupt message addressed to dest (physical APIC ID or
  // logical MDA) reaches this APIC.
  bool MatchesDestination(uint8_t dest, bool logical) const;
  // A message from the APIC bus addressed to this APIC.
  void Receive(const ApicMessage& m);

  // What the APIC needs from its CPU (the engine sets these; all optional):
  // wake kicks the vCPU when an interrupt, NMI, INIT or SIPI becomes pending
  // (it may run on another thread), init and startup deliver INIT and SIPI.
  struct CpuLinks {
    std::function<void()> wake;
    std::function<void()> init;
    std::function<void(uint8_t vector)> startup;
  };
  void SetCpuLinks(CpuLinks links) { links_ = std::move(links); }
  uint8_t initial_apic_id() const { return initial_id_; }

  // Called with the vector when the guest EOIs a level-triggered interrupt
  // (the IOAPIC clears its remote IRR).
  void SetEoiCallback(std::function<void(uint8_t vector)> callback) { on_eoi_ = std::move(callback); }

  // Engine links. CR8 is TPR[7:4]: MOV to CR8 calls set_tpr(cr8 << 4) and MOV
  // from CR8 reads tpr() >> 4. WRMSR IA32_APIC_BASE calls SetApicBase()
  // (bit 11 disables the APIC; relocation is not supported and logged once).
  uint8_t tpr() const { return tpr_; }
  void set_tpr(uint8_t value) {
    tpr_ = value;
    SetHint();  // a lower TPR may unblock a pending interrupt
  }
  void SetApicBase(uint64_t msr);
  // An NMI its CPU had taken but not delivered when its state moved here from
  // another engine (x86::CpuState::nmi_pending): pending again.
  void ReturnNmi() {
    RequestNmi();
    Hint();
  }
  uint64_t apic_base() const { return apic_base_; }

  // Diagnostics and tests.
  uint8_t ppr() const;
  bool software_enabled() const { return svr_ & kSvrEnable; }
  bool hardware_enabled() const { return apic_base_ & kBaseEnable; }
  bool irr(uint8_t vector) const { return Test(irr_, vector); }
  bool isr(uint8_t vector) const { return Test(isr_, vector); }
  bool tmr(uint8_t vector) const { return Test(tmr_, vector); }

  // INIT / power-on state (SDM vol. 3A 10.4.7.1); IA32_APIC_BASE returns to
  // its reset value.
  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

  // Guest diagnostics (unimp: what is not modelled); nullptr: none.
  void set_log(GuestLog* log) { log_ = log; }

 private:
  using Bits = std::array<uint32_t, 8>;
  static constexpr uint32_t kSvrEnable = 1u << 8;
  static constexpr uint32_t kLvtMask = 1u << 16;
  static constexpr int kLvtCount = 6;  // timer, thermal, perf, LINT0, LINT1, error
  enum Lvt { kTimer, kThermal, kPerf, kLint0, kLint1, kError };

  static bool Test(const Bits& b, uint8_t v) { return b[v >> 5] & (1u << (v & 31)); }
  static void Set(Bits& b, uint8_t v) { b[v >> 5] |= 1u << (v & 31); }
  static void Clear(Bits& b, uint8_t v) { b[v >> 5] &= ~(1u << (v & 31)); }
  static int Highest(const Bits& b);  // -1 when empty

  bool enabled() const { return hardware_enabled() && software_enabled(); }
  // The PIC reaches the CPU: directly when the APIC is off, else via LINT0 ExtINT.
  bool PicConnected() const;
  int DeliverableVector() const;  // highest IRR vector above PPR, or -1
  uint32_t ReadRegister(uint64_t reg);
  void WriteRegister(uint64_t reg, uint32_t value);
  void WriteLvt(int index, uint32_t value);
  bool LvtIsNmi(int index) const;  // unmasked, delivery mode NMI
  void SendIpi();
  void Eoi();
  void SignalError(uint32_t bits);
  // Timer: ticks are clock nanoseconds divided by the divide configuration.
  unsigned TimerShift() const;
  uint32_t CurrentCount() const;
  void StartTimer(uint64_t now_ns);
  bool TimerPeriodic() const { return lvt_[kTimer] & (1u << 17); }

  void Wake() {
    if (links_.wake) links_.wake();
  }
  // Something may have made an interrupt deliverable: set the hint, and wake
  // the CPU when the cause came from outside it (Hint).
  void SetHint() { hint_.store(true, std::memory_order_release); }
  void Hint() {
    SetHint();
    Wake();
  }

  const Clock& clock_;
  InterruptSource& ext_int_;
  const uint8_t initial_id_;
  ApicBus* bus_;                      // nullptr: own_bus_, this APIC alone
  std::unique_ptr<ApicBus> own_bus_;
  CpuLinks links_;
  std::function<void(uint8_t)> on_eoi_;

  uint64_t apic_base_ = kDefaultBase | kBaseBsp | kBaseEnable;
  uint8_t id_ = 0;
  uint8_t tpr_ = 0;
  uint32_t ldr_ = 0;
  uint32_t dfr_ = 0xFFFFFFFF;
  uint32_t svr_ = 0xFF;
  Bits isr_{}, tmr_{}, irr_{};
  uint32_t esr_ = 0;          // what ESR reads: errors latched at the last ESR write
  uint32_t esr_pending_ = 0;  // errors since then
  uint32_t icr_low_ = 0, icr_high_ = 0;
  std::array<uint32_t, kLvtCount> lvt_{};
  uint32_t timer_initial_ = 0;
  uint32_t timer_divide_ = 0;     // the register's bits 0, 1 and 3
  uint64_t timer_start_ns_ = 0;   // when the current count was last loaded
  uint64_t timer_deadline_ns_ = kNoDeadline;  // next expiry, or none
  bool lint0_level_ = false;  // the i8259's INTR as last seen
  bool lint1_level_ = false;
  std::atomic<bool> hint_{true};
  GuestLog* log_ = nullptr;
  bool logged_ipi_ = false;  // an INIT/SIPI/SMI nobody could take
  bool logged_relocation_ = false;
  bool logged_lvt_mode_ = false;
};

}  // namespace tandem::hw
