// xAPIC local APIC: registers, priorities, IPIs to self, timer, virtual wire
// (Intel SDM vol. 3A ch. 10; QEMU's hw/intc/apic.c for the LINT0 path).
#include "hw/intc/local_apic.h"

#include <algorithm>
#include <bit>
#include <cstdio>

namespace tandem::hw {

namespace {

// LVT and ICR fields (SDM vol. 3A figures 10-8 and 10-12).
constexpr uint32_t kDeliveryModeShift = 8;
constexpr uint32_t kModeFixed = 0, kModeLowest = 1, kModeSmi = 2, kModeNmi = 4, kModeInit = 5,
                   kModeStartup = 6, kModeExtInt = 7;
constexpr uint32_t kIcrLogical = 1u << 11;
constexpr uint32_t kIcrLevelAssert = 1u << 14;
constexpr uint32_t kIcrWritable = 0x000CCFFF;  // vector, mode, dest mode, level, trigger, shorthand
constexpr uint32_t kEsrSendIllegalVector = 1u << 5;
constexpr uint32_t kEsrReceiveIllegalVector = 1u << 6;
constexpr uint32_t kEsrIllegalRegister = 1u << 7;

// Writable bits of each LVT (timer, thermal, perf, LINT0, LINT1, error).
constexpr uint32_t kLvtWritable[] = {0x000300FF, 0x000107FF, 0x000107FF,
                                     0x0001A7FF, 0x0001A7FF, 0x000100FF};

uint32_t DeliveryMode(uint32_t reg) { return (reg >> kDeliveryModeShift) & 7; }

}  // namespace

LocalApic::LocalApic(const Clock& clock, InterruptSource& ext_int, uint8_t apic_id, ApicBus* bus)
    : clock_(clock), ext_int_(ext_int), initial_id_(apic_id), bus_(bus) {
  if (!bus_) {
    own_bus_ = std::make_unique<ApicBus>(std::vector<LocalApic*>{this});
    bus_ = own_bus_.get();
  }
  Reset();
}

void LocalApic::Reset() {
  apic_base_ = kDefaultBase | (initial_id_ == 0 ? kBaseBsp : 0) | kBaseEnable;
  id_ = initial_id_;
  tpr_ = 0;
  ldr_ = 0;
  dfr_ = 0xFFFFFFFF;
  svr_ = 0xFF;
  isr_ = {};
  tmr_ = {};
  irr_ = {};
  esr_ = esr_pending_ = 0;
  icr_low_ = icr_high_ = 0;
  lvt_.fill(kLvtMask);
  timer_initial_ = 0;
  timer_divide_ = 0;
  timer_start_ns_ = 0;
  timer_deadline_ns_ = kNoDeadline;
  AcknowledgeNmi();
  lint0_level_ = ext_int_.HasPendingInterrupt();
  lint1_level_ = false;
  SetHint();
}

int LocalApic::Highest(const Bits& b) {
  for (int i = 7; i >= 0; --i) {
    if (b[i]) return i * 32 + 31 - std::countl_zero(b[i]);
  }
  return -1;
}

uint8_t LocalApic::ppr() const {
  int isrv = Highest(isr_);
  uint8_t isr_class = isrv < 0 ? 0 : static_cast<uint8_t>(isrv & 0xF0);
  return (tpr_ & 0xF0) >= isr_class ? tpr_ : isr_class;
}

int LocalApic::DeliverableVector() const {
  int v = Highest(irr_);
  if (v < 0 || (v & 0xF0) <= (ppr() & 0xF0)) return -1;
  return v;
}

bool LocalApic::PicConnected() const {
  if (!hardware_enabled()) return true;
  if (!software_enabled()) return apic_base_ & kBaseBsp;
  uint32_t lint0 = lvt_[kLint0];
  return !(lint0 & kLvtMask) && DeliveryMode(lint0) == kModeExtInt;
}

bool LocalApic::HasPendingInterrupt() {
  if (enabled() && DeliverableVector() >= 0) return true;
  return PicConnected() && ext_int_.HasPendingInterrupt();
}

uint8_t LocalApic::AcknowledgeInterrupt() {
  if (enabled()) {
    int v = DeliverableVector();
    if (v >= 0) {
      Clear(irr_, static_cast<uint8_t>(v));
      Set(isr_, static_cast<uint8_t>(v));
      return static_cast<uint8_t>(v);
    }
    // The request went away between the check and INTA: the spurious vector
    // (SDM 10.9), unless the PIC has one through LINT0.
    if (!(PicConnected() && ext_int_.HasPendingInterrupt())) return static_cast<uint8_t>(svr_ & 0xFF);
  }
  return ext_int_.AcknowledgeInterrupt();
}

bool LocalApic::LvtIsNmi(int index) const {
  return !(lvt_[index] & kLvtMask) && DeliveryMode(lvt_[index]) == kModeNmi;
}

void LocalApic::ExtIntChanged() {
  // NMI-mode LVTs are edge-triggered (SDM 10.5.1): only a rising INTR counts.
  bool level = ext_int_.HasPendingInterrupt();
  if (level && !lint0_level_ && enabled() && LvtIsNmi(kLint0)) {
    RequestNmi();
    Wake();
  }
  if (level && PicConnected()) Hint();
  lint0_level_ = level;
}

void LocalApic::SetLint1(bool level) {
  bool rising = level && !lint1_level_;
  lint1_level_ = level;
  if (!rising) return;
  if (!enabled() || LvtIsNmi(kLint1)) {
    RequestNmi();  // while disabled, the pin is the CPU's NMI input
    Wake();
  } else if (!(lvt_[kLint1] & kLvtMask) && DeliveryMode(lvt_[kLint1]) == kModeFixed) {
    AcceptInterrupt(static_cast<uint8_t>(lvt_[kLint1] & 0xFF), false);
  }
}

void LocalApic::AcceptInterrupt(uint8_t vector, bool level) {
  if (!hardware_enabled()) return;
  if (vector < 16) {
    SignalError(kEsrReceiveIllegalVector);
    return;
  }
  // While software-disabled the request is held, as QEMU does; it is
  // delivered once the guest sets SVR bit 8.
  Set(irr_, vector);
  if (level) {
    Set(tmr_, vector);
  } else {
    Clear(tmr_, vector);
  }
  Hint();
}

void LocalApic::Receive(const ApicMessage& m) {
  switch (m.mode) {
    case ApicMessage::kFixed:
    case ApicMessage::kLowest:
      AcceptInterrupt(m.vector, m.level);
      return;
    case ApicMessage::kNmi:
      RequestNmi();
      Wake();
      return;
    case ApicMessage::kInit:
      if (links_.init) {
        // Everything but the APIC ID and the base MSR returns to its power-up
        // state (SDM 10.4.7.3); the CPU waits for a SIPI.
        const uint8_t id = id_;
        const uint64_t base = apic_base_;
        Reset();
        id_ = id;
        apic_base_ = base;
        links_.init();
        Wake();
        return;
      }
      break;
    case ApicMessage::kStartup:
      if (links_.startup) {
        links_.startup(m.vector);
        Wake();
        return;
      }
      break;
    default:
      break;
  }
  if (!logged_ipi_) {
    logged_ipi_ = true;
    if (log_) {
      log_->Log(kLogUnimp, "tandem: local APIC %u: message (delivery mode %u, vector 0x%02x) not delivered: no CPU takes it",
                id_, m.mode, m.vector);
    }
  }
}

bool LocalApic::MatchesDestination(uint8_t dest, bool logical) const {
  if (dest == 0xFF) return true;
  if (!logical) return dest == id_;
  uint8_t logical_id = static_cast<uint8_t>(ldr_ >> 24);
  if ((dfr_ >> 28) == 0xF) return (logical_id & dest) != 0;  // flat model
  // Cluster model: high nibble selects the cluster (15 = all), low nibble the members.
  return ((dest >> 4) == 0xF || (dest >> 4) == (logical_id >> 4)) && (dest & logical_id & 0xF);
}

void LocalApic::SetApicBase(uint64_t msr) {
  if ((msr & ~0xFFFull) != kDefaultBase && !logged_relocation_) {
    logged_relocation_ = true;
    if (log_) {
      log_->Log(kLogUnimp, "tandem: local APIC relocation to 0x%llx not supported; it stays at 0x%llx",
                static_cast<unsigned long long>(msr & ~0xFFFull), static_cast<unsigned long long>(kDefaultBase));
    }
  }
  bool was_enabled = hardware_enabled();
  if (was_enabled && !(msr & kBaseEnable)) {
    Reset();  // disabling puts the APIC in its power-up state (SDM 10.4.3)
  }
  apic_base_ = msr;
  SetHint();
}

void LocalApic::Eoi() {
  int v = Highest(isr_);
  if (v < 0) return;
  Clear(isr_, static_cast<uint8_t>(v));
  if (Test(tmr_, static_cast<uint8_t>(v)) && on_eoi_) on_eoi_(static_cast<uint8_t>(v));
}

void LocalApic::SignalError(uint32_t bits) {
  esr_pending_ |= bits;
  uint32_t lvt = lvt_[kError];
  if (!(lvt & kLvtMask) && (lvt & 0xFF) >= 16) AcceptInterrupt(static_cast<uint8_t>(lvt & 0xFF), false);
}

void LocalApic::SendIpi() {
  ApicMessage m;
  m.vector = static_cast<uint8_t>(icr_low_ & 0xFF);
  m.mode = static_cast<uint8_t>(DeliveryMode(icr_low_));
  m.dest = static_cast<uint8_t>(icr_high_ >> 24);
  m.logical = icr_low_ & kIcrLogical;
  m.shorthand = static_cast<ApicMessage::Shorthand>((icr_low_ >> 18) & 3);
  switch (m.mode) {
    case kModeFixed:
    case kModeLowest:
      if (m.vector < 16) {
        SignalError(kEsrSendIllegalVector);
        return;
      }
      break;
    case kModeInit:
      if (!(icr_low_ & kIcrLevelAssert)) return;  // INIT level de-assert: no effect on xAPIC
      break;
    default:
      break;
  }
  // Delivery is immediate, so the ICR's delivery status (bit 12) never reads busy.
  bus_->Deliver(m, this);
}

unsigned LocalApic::TimerShift() const {
  // Divide configuration bits 3,1:0 (SDM figure 10-10): 0b111 divides by 1.
  unsigned code = ((timer_divide_ >> 1) & 4) | (timer_divide_ & 3);
  return (code + 1) & 7;
}

uint32_t LocalApic::CurrentCount() const {
  if (timer_initial_ == 0) return 0;
  uint64_t now = clock_.NowNs();
  uint64_t ticks = now > timer_start_ns_ ? (now - timer_start_ns_) >> TimerShift() : 0;
  if (TimerPeriodic()) return static_cast<uint32_t>(timer_initial_ - ticks % timer_initial_);
  return ticks >= timer_initial_ ? 0 : static_cast<uint32_t>(timer_initial_ - ticks);
}

void LocalApic::StartTimer(uint64_t now_ns) {
  timer_start_ns_ = now_ns;
  timer_deadline_ns_ =
      timer_initial_ ? now_ns + (static_cast<uint64_t>(timer_initial_) << TimerShift()) : kNoDeadline;
}

void LocalApic::AdvanceTo(uint64_t now_ns) {
  if (timer_deadline_ns_ == kNoDeadline || now_ns < timer_deadline_ns_) return;
  uint32_t lvt = lvt_[kTimer];
  if (!(lvt & kLvtMask)) AcceptInterrupt(static_cast<uint8_t>(lvt & 0xFF), false);
  if (TimerPeriodic() && timer_initial_) {
    // Expiries missed while the board was not polled coalesce into one.
    uint64_t period = static_cast<uint64_t>(timer_initial_) << TimerShift();
    timer_deadline_ns_ += ((now_ns - timer_deadline_ns_) / period + 1) * period;
  } else {
    timer_deadline_ns_ = kNoDeadline;
  }
}

uint64_t LocalApic::NextDeadlineNs() const { return timer_deadline_ns_; }

void LocalApic::WriteLvt(int index, uint32_t value) {
  value &= kLvtWritable[index];
  if (!software_enabled()) value |= kLvtMask;  // SDM 10.4.7.2: masks stay set
  if (index == kLint0 || index == kLint1) value |= lvt_[index] & (1u << 14);  // remote IRR is read-only
  uint32_t mode = DeliveryMode(value);
  bool supported = index == kTimer || index == kError || mode == kModeFixed ||
                   (index == kLint0 && mode == kModeExtInt) ||
                   ((index == kLint0 || index == kLint1) && mode == kModeNmi);
  if (!supported && !(value & kLvtMask) && !logged_lvt_mode_) {
    logged_lvt_mode_ = true;
    if (log_) {
      log_->Log(kLogUnimp, "tandem: local APIC LVT 0x%x delivery mode %u not delivered (no SMI/INIT path from an LVT)",
                static_cast<unsigned>(kLvtTimer + index * 0x10), mode);
    }
  }
  bool was_periodic = TimerPeriodic();
  lvt_[index] = value;
  if (index == kTimer && was_periodic != TimerPeriodic() && timer_deadline_ns_ == kNoDeadline &&
      TimerPeriodic() && timer_initial_) {
    // A one-shot that had expired restarts counting when made periodic.
    StartTimer(clock_.NowNs());
  }
}

uint32_t LocalApic::ReadRegister(uint64_t reg) {
  if (reg >= kIsr && reg < kIsr + 0x80) return isr_[(reg - kIsr) >> 4];
  if (reg >= kTmr && reg < kTmr + 0x80) return tmr_[(reg - kTmr) >> 4];
  if (reg >= kIrr && reg < kIrr + 0x80) return irr_[(reg - kIrr) >> 4];
  if (reg >= kLvtTimer && reg <= kLvtError) return lvt_[(reg - kLvtTimer) >> 4];
  switch (reg) {
    case kId: return static_cast<uint32_t>(id_) << 24;
    case kVersion: return kVersionValue;
    case kTpr: return tpr_;
    case kApr: {
      int irrv = Highest(irr_), isrv = Highest(isr_);
      uint8_t irr_class = irrv < 0 ? 0 : irrv & 0xF0, isr_class = isrv < 0 ? 0 : isrv & 0xF0;
      if ((tpr_ & 0xF0) >= irr_class && (tpr_ & 0xF0) > isr_class) return tpr_;
      return std::max({tpr_ & 0xF0, static_cast<int>(irr_class), static_cast<int>(isr_class)});
    }
    case kPpr: return ppr();
    case kEoi: return 0;
    case kRrd: return 0;
    case kLdr: return ldr_;
    case kDfr: return dfr_;
    case kSvr: return svr_;
    case kEsr: return esr_;
    case kIcrLow: return icr_low_;  // delivery status (bit 12) always idle
    case kIcrHigh: return icr_high_;
    case kTimerInitial: return timer_initial_;
    case kTimerCurrent: return CurrentCount();
    case kTimerDivide: return timer_divide_;
    default: return 0;
  }
}

void LocalApic::WriteRegister(uint64_t reg, uint32_t value) {
  SetHint();  // an EOI, TPR, SVR or LINT0 change may unblock a pending interrupt
  if (reg >= kLvtTimer && reg <= kLvtError) {
    WriteLvt(static_cast<int>((reg - kLvtTimer) >> 4), value);
    return;
  }
  switch (reg) {
    case kId: id_ = static_cast<uint8_t>(value >> 24); break;
    case kTpr: tpr_ = static_cast<uint8_t>(value); break;
    case kEoi: Eoi(); break;
    case kLdr: ldr_ = value & 0xFF000000; break;
    case kDfr: dfr_ = value | 0x0FFFFFFF; break;
    case kSvr:
      svr_ = value & 0x3FF;  // vector, software enable, focus processor checking
      if (!software_enabled()) {
        for (uint32_t& lvt : lvt_) lvt |= kLvtMask;
      }
      break;
    case kEsr:
      esr_ = esr_pending_;
      esr_pending_ = 0;
      break;
    case kIcrLow:
      icr_low_ = value & kIcrWritable;
      SendIpi();
      break;
    case kIcrHigh: icr_high_ = value & 0xFF000000; break;
    case kTimerInitial:
      timer_initial_ = value;
      StartTimer(clock_.NowNs());
      break;
    case kTimerDivide: {
      // Keep the current count across a divider change; only the rate changes.
      uint32_t current = CurrentCount();
      bool running = timer_deadline_ns_ != kNoDeadline;
      timer_divide_ = value & 0xB;
      if (running) {
        uint64_t now = clock_.NowNs();
        timer_start_ns_ = now - (static_cast<uint64_t>(timer_initial_ - current) << TimerShift());
        timer_deadline_ns_ = now + (static_cast<uint64_t>(current) << TimerShift());
      }
      break;
    }
    case kVersion:
    case kApr:
    case kPpr:
    case kRrd:
    case kTimerCurrent:
      break;  // read-only
    default:
      if (reg >= kIsr && reg < kIrr + 0x80) break;  // ISR/TMR/IRR are read-only
      SignalError(kEsrIllegalRegister);
      break;
  }
}

uint64_t LocalApic::Read(uint64_t offset, unsigned size) {
  if (!hardware_enabled()) return ~0ull >> (64 - 8 * size);  // the page is not decoded
  unsigned byte = offset & 0xF;
  if (byte >= 4) return 0;
  uint64_t value = ReadRegister(offset & ~0xFull) >> (8 * byte);
  return size >= 8 ? value : value & (~0ull >> (64 - 8 * size));
}

void LocalApic::Write(uint64_t offset, unsigned size, uint64_t value) {
  if (!hardware_enabled()) return;
  unsigned byte = offset & 0xF;
  if (byte >= 4) return;
  uint64_t reg = offset & ~0xFull;
  uint32_t v = static_cast<uint32_t>(value << (8 * byte));
  if (byte != 0 || size < 4) {
    // Registers take 32-bit accesses (SDM 10.4.1); merge a narrower write
    // into the current value rather than guess.
    uint32_t mask = static_cast<uint32_t>((size >= 4 ? ~0ull : (1ull << (8 * size)) - 1) << (8 * byte));
    v = (ReadRegister(reg) & ~mask) | (v & mask);
  }
  WriteRegister(reg, v);
}

void LocalApic::VisitState(StateVisitor& v) {
  v(apic_base_, id_, tpr_, ldr_, dfr_, svr_, isr_, tmr_, irr_, esr_, esr_pending_, icr_low_, icr_high_, lvt_,
    timer_initial_, timer_divide_, timer_start_ns_, timer_deadline_ns_, lint0_level_, lint1_level_);
  bool nmi = HasPendingNmi();
  v(nmi);
  if (!v.loading()) return;
  if (nmi) {
    RequestNmi();
  } else {
    AcknowledgeNmi();
  }
  Hint();  // the engine looks again at what is pending
}

}  // namespace tandem::hw
