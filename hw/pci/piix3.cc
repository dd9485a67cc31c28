// PIIX3 PIRQ routing (82371SB datasheet 2.2.11).
#include "hw/pci/piix3.h"

#include "hw/pc_layout.h"

namespace tandem::hw {

namespace {
// IRQs the route registers may name (82371SB: 3-7, 9-12, 14, 15).
bool Routable(int irq) { return irq >= 3 && irq != 8 && irq != 13; }
}  // namespace

Piix3::Piix3(std::array<IrqLine*, 16> isa_irqs, std::array<IrqLine*, 4> ioapic_pins)
    : PciDevice("PIIX3 ISA bridge", 0x8086, 0x7000, 0x060100, 0x00),
      isa_irqs_(isa_irqs),
      ioapic_pins_(ioapic_pins) {
  Set8(kHeaderType, kHeaderMultiFunction);  // the IDE/USB/PM functions follow
  for (int p = 0; p < layout::kPirqCount; ++p) {
    Set8(kPirqRoute + p, kRouteDisabled);
    SetWritable(kPirqRoute + p, 1, 0x8F);
  }
}

int Piix3::RouteOf(int pirq) const {
  uint8_t route = Get8(kPirqRoute + pirq);
  int irq = route & 0x0F;
  return (route & kRouteDisabled) || !Routable(irq) ? -1 : irq;
}

void Piix3::SetIntx(int devfn, int pin, bool level) {
  size_t source = static_cast<size_t>(devfn) * 4 + pin;
  if (asserted_[source] == level) return;
  asserted_[source] = level;
  int pirq = layout::PirqForSlotPin(devfn >> 3, pin);
  bool was = pirq_count_[pirq] > 0;
  pirq_count_[pirq] += level ? 1 : -1;
  bool now = pirq_count_[pirq] > 0;
  if (was == now) return;
  if (ioapic_pins_[pirq]) ioapic_pins_[pirq]->SetLevel(now);
  UpdateIsaOutputs();
}

// Each i8259 input this bridge feeds carries the OR of the PIRQs routed to
// it; only inputs whose level changes are driven, so ISA devices on other
// inputs are left alone.
void Piix3::UpdateIsaOutputs() {
  std::array<bool, 16> level{};
  for (int p = 0; p < layout::kPirqCount; ++p) {
    int irq = RouteOf(p);
    if (irq >= 0 && pirq_count_[p] > 0) level[irq] = true;
  }
  for (int irq = 0; irq < 16; ++irq) {
    if (level[irq] == isa_driven_[irq]) continue;
    isa_driven_[irq] = level[irq];
    if (isa_irqs_[irq]) isa_irqs_[irq]->SetLevel(level[irq]);
  }
}

void Piix3::ConfigWritten(unsigned offset, unsigned size) {
  if (offset < kPirqRoute + layout::kPirqCount && offset + size > kPirqRoute) UpdateIsaOutputs();
}

void Piix3::DeviceReset() { UpdateIsaOutputs(); }

// The routing follows from config space; the request counts and the levels
// driven are this bridge's own.
void Piix3::VisitDeviceState(StateVisitor& v) {
  v(asserted_, pirq_count_, isa_driven_);
}

}  // namespace tandem::hw
