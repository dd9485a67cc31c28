// The PC/AT chipset devices of tandem's board (PIC pair, PIT, RTC/CMOS, 8042,
// COM1, port 0x61/0x92, debug ports, ACPI PM) with the local APIC and I/O
// APIC, and the PCI side of QEMU's -M pc (i440FX host bridge, PIIX3 ISA
// bridge, PIIX4 PM function on bus 0), and their wiring: the one place,
// besides hw/pc_layout.h, that spells their port and IRQ numbers.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <vector>

#include "hw/bus.h"
#include "hw/char/uart16550.h"
#include "hw/char_io.h"
#include "hw/clock.h"
#include "hw/guest_log.h"
#include "hw/input/i8042.h"
#include "hw/intc/i8259.h"
#include "hw/intc/ioapic.h"
#include "hw/intc/local_apic.h"
#include "hw/irq.h"
#include "hw/misc/acpi_pm.h"
#include "hw/misc/debug_ports.h"
#include "hw/misc/pc_testdev.h"
#include "hw/misc/system_control_a.h"
#include "hw/pci/i440fx.h"
#include "hw/pci/pci_bus.h"
#include "hw/pci/piix3.h"
#include "hw/pci/piix4_pm.h"
#include "hw/rtc/mc146818.h"
#include "hw/state_visitor.h"
#include "hw/status.h"
#include "hw/timer/i8254.h"
#include "hw/timer/system_control_b.h"

namespace tandem::hw {

struct PcChipsetConfig {
  int cpu_count = 1;                    // one local APIC each, APIC IDs 0 ... cpu_count - 1
  const Clock* clock = nullptr;         // nullptr: host monotonic clock
  CharSink* serial_out = nullptr;       // COM1 output; nullptr discards it
  CharSink* debugcon_out = nullptr;     // port 0x402 output; nullptr discards it
  std::function<void()> request_reset;  // 8042 reset pulse, port 0x92 fast reset
  std::function<void(int)> request_exit;  // debug-exit: (value << 1) | 1; ACPI S5: 0
  std::function<void(bool)> a20_changed;  // optional: the A20 gate changed
  Mc146818::WallClock wall_clock;       // RTC time source; empty: host time
  uint64_t ram_below_4g = 0;            // for the CMOS memory-size bytes
  uint64_t ram_above_4g = 0;
  GuestLog* log = nullptr;              // guest diagnostics; nullptr: none
  // The i440FX's PAM state changed: switch the guest-physical map.
  std::function<void(const MemoryMap::ShadowModes&)> set_shadow;
  // Whether guest RAM/ROM covers part of a range (a memory BAR is refused there).
  std::function<bool(uint64_t base, uint64_t size)> overlaps_memory;
  // No firmware will set up the chipset (--kernel, or a ROM that is not PC
  // firmware): at power-on the PAM registers give direct_boot_shadow and
  // the board programs what SeaBIOS would: PIRQ A-D on IRQs 10, 10, 11, 11
  // (level-triggered in the ELCR) and the PM block at 0x600, enabled.
  // False: every register at its hardware reset value, for firmware.
  bool direct_boot = true;
  MemoryMap::ShadowModes direct_boot_shadow{};
  // QEMU's pc-testdev (-device pc-testdev), for kvm-unit-tests.
  bool pc_testdev = false;
};

// Owns and wires the chipset devices. Not thread-safe: the board serializes
// every call (port accesses, AdvanceTo, ReceiveByte, interrupt acknowledge).
// Callbacks in the config run inside those calls and must not re-enter.
class PcChipset {
 public:
  explicit PcChipset(PcChipsetConfig config);
  PcChipset(const PcChipset&) = delete;
  PcChipset& operator=(const PcChipset&) = delete;

  // Registers every device on the port-I/O bus at its PC/AT address. The IRQ
  // lines are connected at construction.
  Status Attach(Bus& pio);

  // Maps the I/O APIC on the MMIO bus (and gives PCI memory BARs their
  // bus). The local APICs are not on it: each CPU reaches its own in front of
  // the bus (hw/cpu_socket.h).
  Status AttachMmio(Bus& mmio);

  // What CPU 0 polls and acknowledges: its local APIC, which passes the
  // i8259 pair's INTR through (LINT0 ExtINT, or directly while disabled).
  InterruptSource& interrupts() { return *lapics_[0]; }
  // Devices the board must AdvanceTo() when their NextDeadlineNs() passes.
  std::vector<TimedDevice*> timed_devices();

  Uart16550& com1() { return com1_; }
  I8259Pair& pic() { return pic_; }
  int cpu_count() const { return static_cast<int>(lapics_.size()); }
  LocalApic& lapic(int cpu = 0) { return *lapics_[cpu]; }
  IoApic& ioapic() { return ioapic_; }
  I8254& pit() { return pit_; }
  Mc146818& rtc() { return rtc_; }
  I8042& keyboard_controller() { return kbc_; }
  PostCode& post_code() { return post_; }
  AcpiPm& acpi_pm() { return acpi_pm_; }
  PciBus& pci() { return pci_; }
  I440fx& host_bridge() { return i440fx_; }
  Piix3& isa_bridge() { return piix3_; }
  Piix4Pm& pm_function() { return piix4_pm_; }
  MsiTarget& msi_target() { return msi_; }

  // The A20 gate: on when either the 8042 output port or port 0x92 enables it.
  bool a20_enabled() const { return a20_; }

  // Power-on state for every device except the CMOS RAM and the RTC time.
  void Reset();
  // Every device's state, for a snapshot (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

 private:
  // Discards output when no sink is configured.
  class NullSink final : public CharSink {
   public:
    void Put(uint8_t) override {}
  };

  // Exposes one register of a device whose registers are not contiguous on
  // the bus (the 8042's 0x60 and 0x64).
  class PortAlias final : public IoDevice {
   public:
    PortAlias(IoDevice& device, uint64_t offset) : device_(device), offset_(offset) {}
    uint64_t Read(uint64_t, unsigned size) override { return device_.Read(offset_, size); }
    void Write(uint64_t, unsigned size, uint64_t value) override { device_.Write(offset_, size, value); }

   private:
    IoDevice& device_;
    uint64_t offset_;
  };

  // An ISA IRQ wire reaching both the i8259 input and its I/O APIC pin.
  class SplitIrqLine final : public IrqLine {
   public:
    SplitIrqLine() = default;
    SplitIrqLine(IrqLine* a, IrqLine* b) : a_(a), b_(b) {}
    void SetLevel(bool high) override {
      if (a_) a_->SetLevel(high);
      if (b_) b_->SetLevel(high);
    }

   private:
    IrqLine* a_ = nullptr;
    IrqLine* b_ = nullptr;
  };

  // MSI/MSI-X messages to the local APIC (SDM vol. 3A 10.11): address
  // 0xFEE00000 | destination << 12 | DM << 2, data vector | mode << 8.
  class MsiToLapic final : public MsiTarget {
   public:
    MsiToLapic(ApicBus& bus, GuestLog* log) : bus_(bus), log_(log) {}
    void Deliver(uint64_t address, uint32_t data) override;

   private:
    ApicBus& bus_;
    GuestLog* log_;
  };

  std::array<SplitIrqLine, 16> MakeIsaIrqs();
  void ProgramLikeFirmware();
  void RequestReset();
  void UpdateA20();

  PcChipsetConfig config_;
  HostClock host_clock_;
  NullSink null_sink_;
  const Clock& clock_;

  I8259Pair pic_;
  ApicBus apic_bus_;  // the CPUs' local APICs, in APIC ID order
  std::vector<std::unique_ptr<LocalApic>> lapics_;
  IoApic ioapic_;
  std::array<SplitIrqLine, 16> isa_irqs_;  // devices raise these
  Uart16550 com1_;
  I8254 pit_;
  SystemControlB system_control_b_;
  Mc146818 rtc_;
  I8042 kbc_;
  PortAlias kbc_data_;
  PortAlias kbc_command_;
  DebugExit debug_exit_;
  DebugConsole debugcon_;
  PostCode post_;
  SystemControlA system_control_a_;
  AcpiPm acpi_pm_;
  std::unique_ptr<PcTestdev> testdev_;  // only with PcChipsetConfig::pc_testdev
  bool a20_ = true;
  MsiToLapic msi_;
  PciBus pci_;
  PciConfigPorts pci_ports_;
  I440fx i440fx_;
  Piix3 piix3_;
  Piix4Pm piix4_pm_;
};

}  // namespace tandem::hw
