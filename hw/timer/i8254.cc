// The 8254 counter modes 0-5 (datasheet 231164, "Mode definitions"), with
// counters derived from elapsed clock time rather than stepped per tick.
#include "hw/timer/i8254.h"

#include <algorithm>

namespace tandem::hw {
namespace {

constexpr uint64_t kNsPerSecond = 1000000000;

// Whole PIT ticks in an interval of ns nanoseconds.
uint64_t TicksIn(uint64_t ns) {
  return static_cast<uint64_t>(static_cast<unsigned __int128>(ns) * I8254::kFrequencyHz / kNsPerSecond);
}

// The first nanosecond at which TicksIn() reaches ticks.
uint64_t NsForTicks(uint64_t ticks) {
  unsigned __int128 product = static_cast<unsigned __int128>(ticks) * kNsPerSecond;
  return static_cast<uint64_t>((product + I8254::kFrequencyHz - 1) / I8254::kFrequencyHz);
}

}  // namespace

I8254::I8254(const Clock& clock, IrqLine& irq0) : clock_(clock), irq0_(irq0) { Reset(); }

void I8254::Reset() {
  for (int i = 0; i < 3; i++) {
    // Unprogrammed counters do not count; OUT is low until a control word.
    channels_[i] = Channel{};
    channels_[i].gate = i != 2;  // channel 2's gate comes from port 0x61
  }
  if (irq_level_) {
    irq_level_ = false;
    irq0_.SetLevel(false);
  }
  next_edge_ns_ = kNoDeadline;
}

bool I8254::Counting(const Channel& ch) const {
  if (!ch.loaded) return false;
  if (ch.mode == 1 || ch.mode == 5) return ch.triggered;
  return ch.gate;
}

uint64_t I8254::Elapsed(const Channel& ch, uint64_t now_ns) const {
  if (!Counting(ch)) return ch.base_ticks;
  return ch.base_ticks + TicksIn(now_ns >= ch.start_ns ? now_ns - ch.start_ns : 0);
}

bool I8254::OutputAt(const Channel& ch, uint64_t now_ns) const {
  if (!ch.loaded) return ch.out_unloaded;
  uint64_t n = ch.count;
  uint64_t d = Elapsed(ch, now_ns);
  switch (ch.mode) {
    case 0:  // interrupt on terminal count: low, then high at zero
      return d >= n;
    case 1:  // hardware one-shot: low from the trigger until zero
      return !ch.triggered || d >= n;
    case 2: {  // rate generator: low for the one clock before each reload
      if (!ch.gate) return true;
      n = std::max<uint64_t>(n, 2);
      return d % n != n - 1;
    }
    case 3:  // square wave: high for the first half (rounded up), low for the rest
      if (!ch.gate) return true;
      n = std::max<uint64_t>(n, 2);
      return d % n < (n + 1) / 2;
    case 4:  // software strobe: one low clock after the count
      return d != n;
    case 5:  // hardware strobe
      return !ch.triggered || d != n;
  }
  return true;
}

uint16_t I8254::CountAt(const Channel& ch, uint64_t now_ns) const {
  if (!ch.loaded) return 0;
  uint64_t n = ch.count;
  uint64_t d = Elapsed(ch, now_ns);
  switch (ch.mode) {
    case 2:
      return static_cast<uint16_t>(n - d % n);
    case 3:  // decrements by two each clock
      return static_cast<uint16_t>(n - (2 * d) % n);
    default:  // one-shot modes keep counting down through zero
      return static_cast<uint16_t>(n - d);
  }
}

uint64_t I8254::NextRisingEdgeNs(const Channel& ch, uint64_t now_ns) const {
  if (!Counting(ch)) return kNoDeadline;
  uint64_t n = ch.count;
  uint64_t d = Elapsed(ch, now_ns);
  uint64_t edge;  // the tick at which OUT next rises, > d
  switch (ch.mode) {
    case 0:
    case 1:
      if (d >= n) return kNoDeadline;
      edge = n;
      break;
    case 2:
    case 3:
      n = std::max<uint64_t>(n, 2);
      edge = (d / n + 1) * n;
      break;
    default:  // 4, 5
      if (d >= n + 1) return kNoDeadline;
      edge = n + 1;
      break;
  }
  return ch.start_ns + NsForTicks(edge - ch.base_ticks);
}

bool I8254::Output(int channel) const { return OutputAt(channels_[channel], clock_.NowNs()); }

uint16_t I8254::CurrentCount(int channel) const { return CountAt(channels_[channel], clock_.NowNs()); }

void I8254::AdvanceTo(uint64_t now_ns) {
  const Channel& ch = channels_[0];
  if (next_edge_ns_ <= now_ns) {
    // One rising edge for however many periods went by.
    if (irq_level_) irq0_.SetLevel(false);
    irq0_.SetLevel(true);
    irq_level_ = true;
  }
  bool out = OutputAt(ch, now_ns);
  if (out != irq_level_) {
    irq_level_ = out;
    irq0_.SetLevel(out);
  }
  next_edge_ns_ = NextRisingEdgeNs(ch, now_ns);
}

void I8254::ChannelChanged(int channel) {
  if (channel != 0) return;
  uint64_t now = clock_.NowNs();
  bool out = OutputAt(channels_[0], now);
  if (out != irq_level_) {
    irq_level_ = out;
    irq0_.SetLevel(out);
  }
  next_edge_ns_ = NextRisingEdgeNs(channels_[0], now);
}

void I8254::SetGate(int channel, bool level) {
  Channel& ch = channels_[channel];
  if (ch.gate == level) return;
  uint64_t now = clock_.NowNs();
  uint64_t d = Elapsed(ch, now);
  switch (ch.mode) {
    case 0:
    case 4:  // the gate pauses counting
      ch.base_ticks = d;
      ch.start_ns = now;
      break;
    case 2:
    case 3:  // low stops counting, a rising edge reloads
      ch.base_ticks = level ? 0 : d;
      ch.start_ns = now;
      break;
    default:  // 1, 5: a rising edge (re)triggers
      if (level && ch.loaded) {
        ch.triggered = true;
        ch.base_ticks = 0;
        ch.start_ns = now;
      }
      break;
  }
  ch.gate = level;
  ChannelChanged(channel);
}

void I8254::LoadCount(int channel, uint32_t value) {
  Channel& ch = channels_[channel];
  ch.count = value == 0 ? 0x10000 : value;
  ch.loaded = true;
  ch.base_ticks = 0;
  ch.start_ns = clock_.NowNs();
  if (ch.mode == 1 || ch.mode == 5) ch.triggered = false;
  ChannelChanged(channel);
}

void I8254::LatchCount(Channel& ch) {
  if (ch.count_latched) return;  // a second latch is ignored until read
  ch.latched_count = CountAt(ch, clock_.NowNs());
  ch.count_latched = ch.rw_mode;
}

uint64_t I8254::Read(uint64_t offset, unsigned size) {
  if (offset >= 3) return 0xFF;  // the control register is write-only
  Channel& ch = channels_[offset];
  if (ch.status_latched) {
    ch.status_latched = false;
    return ch.status;
  }
  if (ch.count_latched) {
    switch (ch.count_latched) {
      case kMsb:
        ch.count_latched = 0;
        return ch.latched_count >> 8;
      case kWord0:
        ch.count_latched = kMsb;
        return ch.latched_count & 0xFF;
      default:
        ch.count_latched = 0;
        return ch.latched_count & 0xFF;
    }
  }
  uint16_t count = CountAt(ch, clock_.NowNs());
  switch (ch.read_state) {
    case kMsb:
      return count >> 8;
    case kWord0:
      ch.read_state = kWord1;
      return count & 0xFF;
    case kWord1:
      ch.read_state = kWord0;
      return count >> 8;
    default:
      return count & 0xFF;
  }
}

void I8254::Write(uint64_t offset, unsigned size, uint64_t value64) {
  uint8_t value = static_cast<uint8_t>(value64);
  if (offset < 3) {
    Channel& ch = channels_[offset];
    switch (ch.write_state) {
      case kMsb:
        LoadCount(static_cast<int>(offset), value << 8);
        break;
      case kWord0:
        ch.write_latch = value;
        ch.write_state = kWord1;
        break;
      case kWord1:
        ch.write_state = kWord0;
        LoadCount(static_cast<int>(offset), ch.write_latch | (value << 8));
        break;
      default:
        LoadCount(static_cast<int>(offset), value);
        break;
    }
    return;
  }
  int select = value >> 6;
  if (select == 3) {
    // Read-back: bit 5 clear latches counts, bit 4 clear latches status,
    // bits 1-3 select the channels.
    uint64_t now = clock_.NowNs();
    for (int i = 0; i < 3; i++) {
      if (!(value & (2 << i))) continue;
      Channel& ch = channels_[i];
      if (!(value & 0x20)) LatchCount(ch);
      if (!(value & 0x10) && !ch.status_latched) {
        ch.status = static_cast<uint8_t>((OutputAt(ch, now) << 7) | (!ch.loaded << 6) | (ch.rw_mode << 4) |
                                         (ch.mode << 1) | ch.bcd);
        ch.status_latched = true;
      }
    }
    return;
  }
  Channel& ch = channels_[select];
  uint8_t access = (value >> 4) & 3;
  if (access == kLatchOnly) {
    LatchCount(ch);
    return;
  }
  ch.rw_mode = access;
  ch.read_state = access;
  ch.write_state = access;
  ch.count_latched = 0;
  ch.mode = (value >> 1) & 7;
  if (ch.mode > 5) ch.mode -= 4;  // 6 and 7 alias modes 2 and 3
  ch.bcd = value & 1;  // BCD counting is not modelled: counts are binary
  // A control word stops the counter until a count is written; OUT goes low
  // in mode 0 and high in the others.
  ch.loaded = false;
  ch.triggered = false;
  ch.base_ticks = 0;
  ch.out_unloaded = ch.mode != 0;
  ChannelChanged(select);
}

void I8254::VisitState(StateVisitor& v) {
  for (Channel& ch : channels_) {
    v(ch.count, ch.loaded, ch.mode, ch.bcd, ch.rw_mode, ch.read_state, ch.write_state, ch.write_latch,
      ch.latched_count, ch.count_latched, ch.status, ch.status_latched, ch.gate, ch.triggered, ch.out_unloaded,
      ch.start_ns, ch.base_ticks);
    if (ch.count == 0 || ch.count > 0x10000 || ch.mode > 5 || ch.rw_mode > kWord0 || ch.read_state > kWord1 ||
        ch.write_state > kWord1 || ch.count_latched > kWord1) {
      v.Fail("an i8254 channel in an impossible state");
      ch = Channel{};
    }
  }
  v(irq_level_, next_edge_ns_);
}

}  // namespace tandem::hw
