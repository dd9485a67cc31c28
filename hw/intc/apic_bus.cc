#include "hw/intc/apic_bus.h"

#include "hw/intc/local_apic.h"

namespace tandem::hw {

int ApicBus::Deliver(const ApicMessage& m, const LocalApic* source) {
  using Shorthand = ApicMessage::Shorthand;
  auto addressed = [&](const LocalApic* apic) {
    switch (m.shorthand) {
      case Shorthand::kSelf: return apic == source;
      case Shorthand::kAll: return true;
      case Shorthand::kAllButSelf: return apic != source;
      case Shorthand::kNone: break;
    }
    return apic->MatchesDestination(m.dest, m.logical);
  };
  if (m.mode == ApicMessage::kLowest) {
    LocalApic* chosen = nullptr;
    for (LocalApic* apic : apics_) {
      if (!addressed(apic) || !apic->hardware_enabled()) continue;
      if (!chosen || apic->ppr() < chosen->ppr()) chosen = apic;
    }
    if (!chosen) return 0;
    chosen->Receive(m);
    return 1;
  }
  int n = 0;
  for (LocalApic* apic : apics_) {
    if (!addressed(apic)) continue;
    apic->Receive(m);
    ++n;
  }
  return n;
}

}  // namespace tandem::hw
