// Port 0x61: bit 0 PIT ch2 gate, bit 1 speaker data enable, bits 2-3 check
// disables (stored), bit 4 refresh toggle, bit 5 ch2 OUT, bits 6-7 NMI sources (0).
#include "hw/timer/system_control_b.h"

namespace tandem::hw {

uint64_t SystemControlB::Read(uint64_t offset, unsigned size) {
  uint8_t value = nmi_check_bits_;
  if (pit_.gate(kSpeakerChannel)) value |= 0x01;
  if (speaker_enabled_) value |= 0x02;
  if ((clock_.NowNs() / kRefreshPeriodNs) & 1) value |= 0x10;
  if (pit_.Output(kSpeakerChannel)) value |= 0x20;
  return value;
}

void SystemControlB::Write(uint64_t offset, unsigned size, uint64_t value) {
  pit_.SetGate(kSpeakerChannel, value & 0x01);
  speaker_enabled_ = value & 0x02;
  nmi_check_bits_ = value & 0x0C;
}

void SystemControlB::Reset() {
  pit_.SetGate(kSpeakerChannel, false);
  speaker_enabled_ = false;
  nmi_check_bits_ = 0;
}

void SystemControlB::VisitState(StateVisitor& v) { v(speaker_enabled_, nmi_check_bits_); }

}  // namespace tandem::hw
