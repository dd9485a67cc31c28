// PC/AT port 0x61, "system control port B" (IBM PC/AT technical reference,
// and the PIIX4 NMI status and control register): PIT channel 2 gate and
// speaker enable on write; channel 2 OUT and the refresh toggle on read.
#pragma once

#include <cstdint>

#include "hw/clock.h"
#include "hw/io_device.h"
#include "hw/timer/i8254.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class SystemControlB final : public IoDevice {
 public:
  SystemControlB(const Clock& clock, I8254& pit) : clock_(clock), pit_(pit) {}

  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  bool speaker_enabled() const { return speaker_enabled_; }
  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

 private:
  static constexpr int kSpeakerChannel = 2;
  static constexpr uint64_t kRefreshPeriodNs = 15085;  // DRAM refresh request, ~15 us

  const Clock& clock_;
  I8254& pit_;
  bool speaker_enabled_ = false;
  uint8_t nmi_check_bits_ = 0;  // bits 2-3: parity / IOCHK check disable
};

}  // namespace tandem::hw
