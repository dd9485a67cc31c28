// An interrupt line as a device sees it: the device drives a level; whoever
// is on the other end (a PIC input, a test's recorder) reacts. Edge-triggered
// sources pulse it.
#pragma once

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
};

}  // namespace tandem::hw
