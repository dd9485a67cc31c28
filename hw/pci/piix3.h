// The PIIX3 PCI-to-ISA bridge function 00:01.0 (8086:7000; Intel 82371SB
// datasheet, order 290550, 2.2.11 PIRQ route control): the route registers
// 0x60-0x63 steer PCI interrupts PIRQ A-D to an i8259 input (bits 3:0, bit 7
// disables); every PIRQ also reaches its own I/O APIC pin, as on QEMU's
// board. Which PIRQ a device pin drives is layout::PirqForSlotPin.
#pragma once

#include <array>
#include <bitset>

#include "hw/irq.h"
#include "hw/pci/pci_device.h"

namespace tandem::hw {

class Piix3 final : public PciDevice, public PciIntxRouter {
 public:
  static constexpr unsigned kPirqRoute = 0x60;
  static constexpr uint8_t kRouteDisabled = 0x80;

  // isa_irqs[n]: i8259 input n (IRQs 0, 1, 2, 8, 13 cannot be routed: those
  // entries may be null); ioapic_pins[p]: the I/O APIC pin of PIRQ p.
  Piix3(std::array<IrqLine*, 16> isa_irqs, std::array<IrqLine*, 4> ioapic_pins);

  void SetIntx(int devfn, int pin, bool level) override;
  // The ISA IRQ PIRQ p reaches now, or -1.
  int RouteOf(int pirq) const;

 private:
  void ConfigWritten(unsigned offset, unsigned size) override;
  void DeviceReset() override;
  void VisitDeviceState(StateVisitor& v) override;
  void UpdateIsaOutputs();

  std::array<IrqLine*, 16> isa_irqs_;
  std::array<IrqLine*, 4> ioapic_pins_;
  std::bitset<256 * 4> asserted_;      // by devfn * 4 + pin
  std::array<int, 4> pirq_count_{};    // asserted sources per PIRQ
  std::array<bool, 16> isa_driven_{};  // the level this bridge drives on each i8259 input
};

}  // namespace tandem::hw
