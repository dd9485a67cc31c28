// Port 0x92 writes: A20 follows bit 1; bit 0 going from 0 to 1 pulses reset.
#include "hw/misc/system_control_a.h"

namespace tandem::hw {

void SystemControlA::Write(uint64_t offset, unsigned size, uint64_t value64) {
  uint8_t old = value_;
  uint8_t value = static_cast<uint8_t>(value64);
  value_ = value;
  if (((old ^ value) & kA20) && a20_) a20_(value & kA20);
  if ((value & kFastReset) && !(old & kFastReset) && reset_) reset_();
}

}  // namespace tandem::hw
