// An interrupt line as a device sees it: the device drives a level; whoever
// is on the other end (a PIC input, a test's recorder) reacts. Edge-triggered
// sources pulse it.
#pragma once

#include <atomic>

namespace tandem::hw {

class IrqLine {
 public:
  virtual ~IrqLine() = default;
  virtual void SetLevel(bool high) = 0;
  void Pulse() {
    SetLevel(true);
    SetLevel(false);
  }
};

// What an engine asks of the board's interrupt controllers: is an external
// interrupt pending, and the INTA cycle that returns its vector.
class InterruptSource {
 public:
  virtual ~InterruptSource() = default;
  virtual bool HasPendingInterrupt() = 0;
  // The interrupt-acknowledge cycle: returns the vector and moves the
  // request to in-service. Only called when HasPendingInterrupt() is true.
  virtual uint8_t AcknowledgeInterrupt() = 0;
  // Non-maskable interrupts (SDM vol. 3A 6.7): pending regardless of
  // RFLAGS.IF. The engine calls AcknowledgeNmi() when it delivers vector 2;
  // NMIs requested while one is pending collapse into it. The latch lives
  // here, not behind a virtual call, because the interpreter tests it at
  // every instruction boundary; it is atomic because another vCPU's IPI may
  // set it while this CPU's thread tests it.
  bool HasPendingNmi() const { return nmi_pending_.load(std::memory_order_acquire); }
  void AcknowledgeNmi() { nmi_pending_.store(false, std::memory_order_release); }

 protected:
  void RequestNmi() { nmi_pending_.store(true, std::memory_order_release); }

 private:
  std::atomic<bool> nmi_pending_{false};
};

}  // namespace tandem::hw
