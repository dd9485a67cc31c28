// PS/2 "system control port A" (port 0x92, IBM PS/2 technical reference;
// QEMU's port92 device): bit 1 gates A20, a 0->1 edge on bit 0 resets the CPU.
#pragma once

#include <cstdint>
#include <functional>

#include "hw/io_device.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class SystemControlA final : public IoDevice {
 public:
  // reset: a fast CPU reset was requested; a20: bit 1 changed.
  SystemControlA(std::function<void()> reset, std::function<void(bool)> a20)
      : reset_(std::move(reset)), a20_(std::move(a20)) {}

  uint64_t Read(uint64_t offset, unsigned size) override { return value_; }
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  bool a20_enabled() const { return value_ & kA20; }
  // The reset clears bit 0 (the fast-reset bit); A20 stays as programmed.
  void Reset() { value_ &= static_cast<uint8_t>(~kFastReset); }
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v) { v(value_); }

 private:
  static constexpr uint8_t kFastReset = 0x01;
  static constexpr uint8_t kA20 = 0x02;

  std::function<void()> reset_;
  std::function<void(bool)> a20_;
  uint8_t value_ = 0;
};

}  // namespace tandem::hw
