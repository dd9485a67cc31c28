// MC146818A registers, update cycle and interrupt flags (datasheet sections
// "Address map", "Update cycle", "Interrupts"), time kept in UTC.
#include "hw/rtc/mc146818.h"

#include <algorithm>

namespace tandem::hw {
namespace {

constexpr uint64_t kNsPerSecond = 1000000000;
constexpr uint64_t kUipWindowNs = 244000;  // UIP rises 244 us before an update
constexpr uint64_t kDividerHz = 32768;

// Register indices.
constexpr uint8_t kSeconds = 0x00;
constexpr uint8_t kSecondsAlarm = 0x01;
constexpr uint8_t kMinutes = 0x02;
constexpr uint8_t kMinutesAlarm = 0x03;
constexpr uint8_t kHours = 0x04;
constexpr uint8_t kHoursAlarm = 0x05;
constexpr uint8_t kDayOfWeek = 0x06;
constexpr uint8_t kDayOfMonth = 0x07;
constexpr uint8_t kMonth = 0x08;
constexpr uint8_t kYear = 0x09;
constexpr uint8_t kRegA = 0x0A;
constexpr uint8_t kRegB = 0x0B;
constexpr uint8_t kRegC = 0x0C;
constexpr uint8_t kRegD = 0x0D;
constexpr uint8_t kCentury = 0x32;  // IBM PC/AT convention

constexpr uint8_t kRegAUip = 0x80;
constexpr uint8_t kRegADividerMask = 0x70;
constexpr uint8_t kRegADivider32k = 0x20;
constexpr uint8_t kRegARateMask = 0x0F;

constexpr uint8_t kRegBSet = 0x80;
constexpr uint8_t kRegBPie = 0x40;
constexpr uint8_t kRegBAie = 0x20;
constexpr uint8_t kRegBUie = 0x10;
constexpr uint8_t kRegBSqwe = 0x08;
constexpr uint8_t kRegBBinary = 0x04;
constexpr uint8_t kRegB24h = 0x02;

constexpr uint8_t kRegCIrqf = 0x80;
constexpr uint8_t kRegCPf = 0x40;
constexpr uint8_t kRegCAf = 0x20;
constexpr uint8_t kRegCUf = 0x10;

constexpr uint8_t kRegDVrt = 0x80;

// CMOS memory-size bytes (IBM PC/AT, AMI/Award and Bochs/QEMU extensions).
constexpr uint8_t kBaseMemLo = 0x15;
constexpr uint8_t kExtMemLo = 0x17;
constexpr uint8_t kExtMem2Lo = 0x30;
constexpr uint8_t kHighMemLo = 0x34;  // 64 KiB blocks above 16 MiB
constexpr uint8_t kAbove4gLo = 0x5B;  // 64 KiB blocks above 4 GiB, 3 bytes

time_t HostTime() { return time(nullptr); }

}  // namespace

Mc146818::Mc146818(const Clock& clock, IrqLine& irq, WallClock wall_clock)
    : clock_(clock), irq_(irq), wall_clock_(wall_clock ? std::move(wall_clock) : WallClock(HostTime)) {
  ram_[kRegA] = kRegADivider32k | 0x06;  // 32.768 kHz time base, 1024 Hz rate
  ram_[kRegB] = kRegB24h;                // BCD, 24-hour
  ram_[kRegD] = kRegDVrt;
  base_time_ = wall_clock_();
  base_ns_ = clock_.NowNs();
  last_second_ = 0;
  RestartPeriodic(base_ns_);
  Update(base_ns_);
}

void Mc146818::Reset() {
  ram_[kRegB] &= static_cast<uint8_t>(~(kRegBPie | kRegBAie | kRegBUie | kRegBSqwe));
  ram_[kRegC] = 0;
  index_ = 0;
  nmi_masked_ = false;
  Update(clock_.NowNs());
}

uint64_t Mc146818::SecondsSinceBase(uint64_t now_ns) const {
  return now_ns >= base_ns_ ? (now_ns - base_ns_) / kNsPerSecond : 0;
}

time_t Mc146818::TimeAt(uint64_t now_ns) const {
  return base_time_ + static_cast<time_t>(SecondsSinceBase(now_ns));
}

bool Mc146818::UpdateInProgress(uint64_t now_ns) const {
  if (ram_[kRegB] & kRegBSet) return false;
  uint64_t phase = (now_ns - std::min(now_ns, base_ns_)) % kNsPerSecond;
  return phase >= kNsPerSecond - kUipWindowNs;
}

uint8_t Mc146818::Encode(int value) const {
  if (ram_[kRegB] & kRegBBinary) return static_cast<uint8_t>(value);
  return static_cast<uint8_t>(((value / 10) << 4) | (value % 10));
}

int Mc146818::Decode(uint8_t value) const {
  if (ram_[kRegB] & kRegBBinary) return value;
  return (value >> 4) * 10 + (value & 0x0F);
}

uint64_t Mc146818::PeriodicTicks() const {
  if ((ram_[kRegA] & kRegADividerMask) != kRegADivider32k) return 0;
  int rate = ram_[kRegA] & kRegARateMask;
  if (rate == 0) return 0;
  if (rate <= 2) rate += 7;  // rates 1 and 2 repeat 8 and 9 (256 and 128 Hz)
  return 1ull << (rate - 1);
}

uint64_t Mc146818::PeriodicIndex(uint64_t now_ns) const {
  uint64_t ticks = PeriodicTicks();
  if (ticks == 0 || now_ns < periodic_base_ns_) return 0;
  unsigned __int128 elapsed = static_cast<unsigned __int128>(now_ns - periodic_base_ns_) * kDividerHz;
  return static_cast<uint64_t>(elapsed / (static_cast<unsigned __int128>(ticks) * kNsPerSecond));
}

void Mc146818::RestartPeriodic(uint64_t now_ns) {
  periodic_base_ns_ = now_ns;
  last_periodic_index_ = 0;
}

void Mc146818::Update(uint64_t now_ns) {
  uint8_t& c = ram_[kRegC];
  if (PeriodicTicks() != 0) {
    uint64_t index = PeriodicIndex(now_ns);
    if (index != last_periodic_index_) {
      last_periodic_index_ = index;
      c |= kRegCPf;
    }
  }
  if (!(ram_[kRegB] & kRegBSet)) {
    uint64_t second = SecondsSinceBase(now_ns);
    if (second != last_second_) {
      last_second_ = second;
      c |= kRegCUf;
      // Alarm: each alarm byte matches its time byte, 0xC0-0xFF matches any.
      auto matches = [&](uint8_t alarm, uint8_t time_index) {
        return alarm >= 0xC0 || alarm == ReadRegister(time_index, now_ns);
      };
      if (matches(ram_[kSecondsAlarm], kSeconds) && matches(ram_[kMinutesAlarm], kMinutes) &&
          matches(ram_[kHoursAlarm], kHours)) {
        c |= kRegCAf;
      }
    }
  }
  if (c & ram_[kRegB] & (kRegCPf | kRegCAf | kRegCUf)) c |= kRegCIrqf;
  bool level = (c & kRegCIrqf) != 0;
  if (level != irq_level_) {
    irq_level_ = level;
    irq_.SetLevel(level);
  }

  next_deadline_ns_ = kNoDeadline;
  uint8_t b = ram_[kRegB];
  if ((b & kRegBPie) && PeriodicTicks() != 0) {
    unsigned __int128 next = static_cast<unsigned __int128>(last_periodic_index_ + 1) * PeriodicTicks() *
                             kNsPerSecond;
    uint64_t offset = static_cast<uint64_t>((next + kDividerHz - 1) / kDividerHz);
    next_deadline_ns_ = std::min(next_deadline_ns_, periodic_base_ns_ + offset);
  }
  if ((b & (kRegBUie | kRegBAie)) && !(b & kRegBSet)) {
    next_deadline_ns_ = std::min(next_deadline_ns_, base_ns_ + (last_second_ + 1) * kNsPerSecond);
  }
}

void Mc146818::AdvanceTo(uint64_t now_ns) { Update(now_ns); }

struct tm Mc146818::VisibleTime(uint64_t now_ns) const {
  if (ram_[kRegB] & kRegBSet) return frozen_;
  struct tm tm;
  time_t t = TimeAt(now_ns);
  gmtime_r(&t, &tm);
  return tm;
}

uint8_t Mc146818::ReadRegister(uint8_t index, uint64_t now_ns) {
  struct tm tm = VisibleTime(now_ns);
  switch (index) {
    case kSeconds:
      return Encode(tm.tm_sec);
    case kMinutes:
      return Encode(tm.tm_min);
    case kHours:
      if (ram_[kRegB] & kRegB24h) return Encode(tm.tm_hour);
      return static_cast<uint8_t>(Encode(tm.tm_hour % 12 == 0 ? 12 : tm.tm_hour % 12) |
                                  (tm.tm_hour >= 12 ? 0x80 : 0));
    case kDayOfWeek:
      return Encode(tm.tm_wday + 1);
    case kDayOfMonth:
      return Encode(tm.tm_mday);
    case kMonth:
      return Encode(tm.tm_mon + 1);
    case kYear:
      return Encode((tm.tm_year + 1900) % 100);
    case kCentury:
      return Encode((tm.tm_year + 1900) / 100);
    case kRegA:
      return static_cast<uint8_t>((ram_[kRegA] & ~kRegAUip) | (UpdateInProgress(now_ns) ? kRegAUip : 0));
    case kRegC: {
      Update(now_ns);
      uint8_t value = ram_[kRegC];
      ram_[kRegC] = 0;
      Update(now_ns);
      return value;
    }
    default:
      return ram_[index];
  }
}

void Mc146818::WriteTimeField(uint8_t index, uint8_t value, uint64_t now_ns) {
  struct tm tm = VisibleTime(now_ns);
  switch (index) {
    case kSeconds:
      tm.tm_sec = Decode(value & 0x7F);
      break;
    case kMinutes:
      tm.tm_min = Decode(value & 0x7F);
      break;
    case kHours:
      if (ram_[kRegB] & kRegB24h) {
        tm.tm_hour = Decode(value & 0x3F);
      } else {
        tm.tm_hour = Decode(value & 0x7F) % 12 + ((value & 0x80) ? 12 : 0);
      }
      break;
    case kDayOfWeek:
      break;  // derived from the date
    case kDayOfMonth:
      tm.tm_mday = Decode(value);
      break;
    case kMonth:
      tm.tm_mon = Decode(value) - 1;
      break;
    case kYear:
      tm.tm_year = (tm.tm_year + 1900) / 100 * 100 + Decode(value) - 1900;
      break;
    case kCentury:
      tm.tm_year = Decode(value) * 100 + (tm.tm_year + 1900) % 100 - 1900;
      break;
  }
  if (ram_[kRegB] & kRegBSet) {
    frozen_ = tm;
    return;
  }
  // Keep the position within the current second.
  uint64_t phase = (now_ns - std::min(now_ns, base_ns_)) % kNsPerSecond;
  base_time_ = timegm(&tm);
  base_ns_ = now_ns - std::min(now_ns, phase);
  last_second_ = SecondsSinceBase(now_ns);
}

void Mc146818::WriteRegister(uint8_t index, uint8_t value, uint64_t now_ns) {
  switch (index) {
    case kSeconds:
    case kMinutes:
    case kHours:
    case kDayOfWeek:
    case kDayOfMonth:
    case kMonth:
    case kYear:
    case kCentury:
      WriteTimeField(index, value, now_ns);
      break;
    case kRegA: {
      uint8_t old = ram_[kRegA];
      ram_[kRegA] = value & ~kRegAUip;
      if ((old ^ value) & (kRegADividerMask | kRegARateMask)) RestartPeriodic(now_ns);
      break;
    }
    case kRegB: {
      uint8_t old = ram_[kRegB];
      if ((value & kRegBSet) && !(old & kRegBSet)) {
        // Stop updates: freeze the time registers for the guest to rewrite.
        time_t t = TimeAt(now_ns);
        gmtime_r(&t, &frozen_);
      }
      if (value & kRegBSet) value &= ~kRegBUie;  // SET clears UIE
      ram_[kRegB] = value;
      if (!(value & kRegBSet) && (old & kRegBSet)) {
        // Restart the clock from the registers; the next update is 1 s away.
        base_time_ = timegm(&frozen_);
        base_ns_ = now_ns;
        last_second_ = 0;
      }
      break;
    }
    case kRegC:
    case kRegD:
      break;  // read-only
    default:
      ram_[index] = value;
      break;
  }
  Update(now_ns);
}

uint64_t Mc146818::Read(uint64_t offset, unsigned size) {
  if (offset == 0) return 0xFF;  // the index register is write-only
  return ReadRegister(index_, clock_.NowNs());
}

void Mc146818::Write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset == 0) {
    index_ = value & 0x7F;
    nmi_masked_ = value & 0x80;
    return;
  }
  WriteRegister(index_, static_cast<uint8_t>(value), clock_.NowNs());
}

void Mc146818::SetMemorySize(uint64_t below_4g_bytes, uint64_t above_4g_bytes) {
  constexpr uint64_t kKiB = 1024;
  constexpr uint64_t kMiB = 1024 * kKiB;
  auto put16 = [this](uint8_t index, uint64_t value) {
    value = std::min<uint64_t>(value, 0xFFFF);
    ram_[index] = static_cast<uint8_t>(value);
    ram_[index + 1] = static_cast<uint8_t>(value >> 8);
  };
  put16(kBaseMemLo, 640);
  uint64_t extended_kib = below_4g_bytes > kMiB ? (below_4g_bytes - kMiB) / kKiB : 0;
  put16(kExtMemLo, extended_kib);
  put16(kExtMem2Lo, extended_kib);
  put16(kHighMemLo, below_4g_bytes > 16 * kMiB ? (below_4g_bytes - 16 * kMiB) / (64 * kKiB) : 0);
  uint64_t high_blocks = std::min<uint64_t>(above_4g_bytes / (64 * kKiB), 0xFFFFFF);
  ram_[kAbove4gLo] = static_cast<uint8_t>(high_blocks);
  ram_[kAbove4gLo + 1] = static_cast<uint8_t>(high_blocks >> 8);
  ram_[kAbove4gLo + 2] = static_cast<uint8_t>(high_blocks >> 16);
}

void Mc146818::VisitState(StateVisitor& v) {
  v(ram_, index_, nmi_masked_, base_time_, base_ns_, last_second_, periodic_base_ns_, last_periodic_index_,
    next_deadline_ns_, irq_level_);
  // struct tm also holds a time-zone name pointer: only its numbers travel.
  v(frozen_.tm_sec, frozen_.tm_min, frozen_.tm_hour, frozen_.tm_mday, frozen_.tm_mon, frozen_.tm_year,
    frozen_.tm_wday, frozen_.tm_yday, frozen_.tm_isdst);
  index_ &= kRamSize - 1;
}

}  // namespace tandem::hw
