// The one source of time for devices: host monotonic time in tandem, a clock
// stepped by hand in unit tests and --deterministic runs. A guest restored
// from a snapshot sees its time go on from where it was saved (SetNow).
#pragma once

#include <cstdint>
#include <ctime>

namespace tandem::hw {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual uint64_t NowNs() const = 0;
  // From now on NowNs() counts on from `ns`. Only while nothing reads the
  // clock on another thread (the world paused).
  virtual void SetNow(uint64_t ns) = 0;
};

class HostClock final : public Clock {
 public:
  uint64_t NowNs() const override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec) + offset_;
  }
  void SetNow(uint64_t ns) override { offset_ += ns - NowNs(); }  // modulo 2^64: a move back works too

 private:
  uint64_t offset_ = 0;
};

class ManualClock final : public Clock {
 public:
  uint64_t NowNs() const override { return now_ns_; }
  void Set(uint64_t ns) { now_ns_ = ns; }
  void SetNow(uint64_t ns) override { now_ns_ = ns; }
  void Advance(uint64_t ns) { now_ns_ += ns; }

 private:
  uint64_t now_ns_ = 0;
};

// A device whose state changes with time (a timer, an RTC update cycle). The
// board calls AdvanceTo() with the clock's current time at least when the
// earliest NextDeadlineNs() has passed.
class TimedDevice {
 public:
  static constexpr uint64_t kNoDeadline = UINT64_MAX;
  virtual ~TimedDevice() = default;
  virtual void AdvanceTo(uint64_t now_ns) = 0;
  virtual uint64_t NextDeadlineNs() const = 0;
};

}  // namespace tandem::hw
