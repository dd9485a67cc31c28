// The APIC bus: interrupt messages (I/O APIC redirections, MSIs, IPIs) reach
// the local APICs their destination selects (Intel SDM vol. 3A 10.6.2
// destinations, 10.6.2.4 lowest-priority arbitration, 10.6.1 shorthands).
// The board attaches one local APIC per CPU, in APIC ID order.
//
// Threading: not thread-safe. Deliver() calls into the target APICs, so the
// caller serializes it with every other access to them (the board's devices
// run on one thread at a time).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace tandem::hw {

class LocalApic;

struct ApicMessage {
  // Delivery modes (SDM vol. 3A table 10-1 / figure 10-12).
  static constexpr uint8_t kFixed = 0, kLowest = 1, kSmi = 2, kNmi = 4, kInit = 5, kStartup = 6, kExtInt = 7;
  enum class Shorthand : uint8_t { kNone, kSelf, kAll, kAllButSelf };

  uint8_t vector = 0;
  uint8_t mode = kFixed;
  uint8_t dest = 0;      // physical APIC ID or logical MDA (0xFF: broadcast)
  bool logical = false;  // logical destination mode
  bool level = false;    // level-triggered (I/O APIC pins): the target's TMR bit
  Shorthand shorthand = Shorthand::kNone;
};

class ApicBus {
 public:
  ApicBus() = default;
  explicit ApicBus(std::vector<LocalApic*> apics) : apics_(std::move(apics)) {}
  ApicBus(const ApicBus&) = delete;
  ApicBus& operator=(const ApicBus&) = delete;

  void Attach(LocalApic* apic) { apics_.push_back(apic); }
  size_t size() const { return apics_.size(); }
  LocalApic& apic(size_t i) const { return *apics_[i]; }

  // Delivers m to every APIC it addresses (one for lowest priority: the
  // lowest PPR, ties to the lowest APIC ID, which keeps runs repeatable).
  // source: the sending APIC for IPIs (the shorthands need it), else nullptr.
  // Returns how many APICs accepted it.
  int Deliver(const ApicMessage& m, const LocalApic* source);

 private:
  std::vector<LocalApic*> apics_;
};

}  // namespace tandem::hw
