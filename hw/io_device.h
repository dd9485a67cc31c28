// The one handler signature shared by port I/O and MMIO devices (kvmtool's
// io handler model): a device sees an offset into its own window, never a bus
// address, and does not know which engine issued the access.
#pragma once

#include <cstdint>

namespace tandem::hw {

class IoDevice {
 public:
  virtual ~IoDevice() = default;
  // size is 1, 2, 4 or 8 bytes; the value is zero-extended.
  virtual uint64_t Read(uint64_t offset, unsigned size) = 0;
  virtual void Write(uint64_t offset, unsigned size, uint64_t value) = 0;
};

}  // namespace tandem::hw
