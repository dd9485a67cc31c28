// The Intel 8254 programmable interval timer (datasheet 231164): three 16-bit
// down-counters at 1.193182 MHz. Counter values and outputs are computed from
// the injected clock, as QEMU's hw/timer/i8254.c does; channel 0's output
// drives IRQ0 and channel 2's gate/output are reached through port 0x61.
#pragma once

#include <array>
#include <cstdint>

#include "hw/clock.h"
#include "hw/io_device.h"
#include "hw/irq.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class I8254 final : public IoDevice, public TimedDevice {
 public:
  static constexpr uint64_t kFrequencyHz = 1193182;

  I8254(const Clock& clock, IrqLine& irq0);

  // Offsets 0-2: channel data ports; 3: control word.
  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  // Raises an IRQ0 edge when channel 0's output rose since the last call. If
  // several periods passed, one edge is delivered (the PIC would coalesce
  // them anyway) and the next deadline keeps the programmed phase.
  void AdvanceTo(uint64_t now_ns) override;
  uint64_t NextDeadlineNs() const override { return next_edge_ns_; }

  // The GATE input of a channel (only channel 2's is wired to anything).
  void SetGate(int channel, bool level);
  bool gate(int channel) const { return channels_[channel].gate; }
  // The OUT pin of a channel now.
  bool Output(int channel) const;
  // The current counting element (what an unlatched read would return).
  uint16_t CurrentCount(int channel) const;

  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

 private:
  // Read/write access states (the control word's RW bits, then byte phase).
  enum Access : uint8_t { kLatchOnly = 0, kLsb = 1, kMsb = 2, kWord0 = 3, kWord1 = 4 };

  struct Channel {
    uint32_t count = 0x10000;  // 1..0x10000 (0 programs 65536)
    bool loaded = false;       // a count was written after the control word
    uint8_t mode = 0;
    bool bcd = false;
    uint8_t rw_mode = kWord0;
    uint8_t read_state = kWord0;
    uint8_t write_state = kWord0;
    uint8_t write_latch = 0;
    uint16_t latched_count = 0;
    uint8_t count_latched = 0;  // 0 or the Access state of the latched read
    uint8_t status = 0;
    bool status_latched = false;
    bool gate = true;
    bool triggered = false;  // modes 1 and 5: a gate rising edge started counting
    bool out_unloaded = false;  // OUT between the control word and the count
    uint64_t start_ns = 0;   // when counting (re)started
    uint64_t base_ticks = 0;  // ticks counted before start_ns (gate pauses)
  };

  bool Counting(const Channel& ch) const;
  uint64_t Elapsed(const Channel& ch, uint64_t now_ns) const;
  bool OutputAt(const Channel& ch, uint64_t now_ns) const;
  uint16_t CountAt(const Channel& ch, uint64_t now_ns) const;
  uint64_t NextRisingEdgeNs(const Channel& ch, uint64_t now_ns) const;
  void LoadCount(int channel, uint32_t value);
  void LatchCount(Channel& ch);
  void ChannelChanged(int channel);  // re-evaluates IRQ0 after reprogramming

  const Clock& clock_;
  IrqLine& irq0_;
  std::array<Channel, 3> channels_;
  bool irq_level_ = false;
  uint64_t next_edge_ns_ = kNoDeadline;
};

}  // namespace tandem::hw
