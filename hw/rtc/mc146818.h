// The Motorola MC146818A real-time clock and CMOS RAM (datasheet MC146818A/D)
// at the PC's index/data port pair, with the IBM PC/AT CMOS layout and the
// memory-size bytes SeaBIOS reads (QEMU's hw/rtc/mc146818rtc.c and pc.c).
#pragma once

#include <array>
#include <cstdint>
#include <ctime>
#include <functional>

#include "hw/clock.h"
#include "hw/io_device.h"
#include "hw/irq.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class Mc146818 final : public IoDevice, public TimedDevice {
 public:
  // Seconds since the Unix epoch (UTC), read once at power-on and whenever
  // the guest sets the time; the injected Clock moves it forward in between.
  using WallClock = std::function<time_t()>;

  // irq: the chip's IRQ output (PC IRQ8). wall_clock: empty means host time.
  Mc146818(const Clock& clock, IrqLine& irq, WallClock wall_clock = {});

  // Offset 0: index (bit 7 masks NMI), offset 1: data.
  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  // Sets flags for periodic, update-ended and alarm events and drives IRQ8.
  void AdvanceTo(uint64_t now_ns) override;
  uint64_t NextDeadlineNs() const override { return next_deadline_ns_; }

  // Stores the board's RAM size in the CMOS bytes firmware reads:
  // 0x15/16 base KiB, 0x17/18 and 0x30/31 KiB above 1 MiB (capped at 0xFFFF),
  // 0x34/35 64 KiB blocks above 16 MiB, 0x5B-0x5D 64 KiB blocks above 4 GiB.
  void SetMemorySize(uint64_t below_4g_bytes, uint64_t above_4g_bytes);

  // Raw CMOS RAM (index 0x0E-0x7F; lower indices are the clock's registers).
  uint8_t cmos(uint8_t index) const { return ram_[index & 0x7F]; }
  void set_cmos(uint8_t index, uint8_t value) { ram_[index & 0x7F] = value; }

  bool nmi_masked() const { return nmi_masked_; }
  bool irq_level() const { return irq_level_; }

  // The RESET pin: clears the interrupt enables and flags. The time and the
  // CMOS RAM survive (the shutdown byte 0x0F must).
  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

 private:
  static constexpr int kRamSize = 128;

  uint64_t SecondsSinceBase(uint64_t now_ns) const;
  time_t TimeAt(uint64_t now_ns) const;
  // The time the registers show: frozen while register B's SET bit is on.
  struct tm VisibleTime(uint64_t now_ns) const;
  bool UpdateInProgress(uint64_t now_ns) const;
  uint8_t ReadRegister(uint8_t index, uint64_t now_ns);
  void WriteRegister(uint8_t index, uint8_t value, uint64_t now_ns);
  void WriteTimeField(uint8_t index, uint8_t value, uint64_t now_ns);
  uint8_t Encode(int value) const;
  int Decode(uint8_t value) const;
  uint64_t PeriodicTicks() const;  // period in 32.768 kHz ticks, 0 when off
  uint64_t PeriodicIndex(uint64_t now_ns) const;
  void RestartPeriodic(uint64_t now_ns);
  void Update(uint64_t now_ns);  // brings flags, IRQ and deadline up to now

  const Clock& clock_;
  IrqLine& irq_;
  WallClock wall_clock_;

  std::array<uint8_t, kRamSize> ram_{};
  uint8_t index_ = 0;
  bool nmi_masked_ = false;

  // The time is base_time_ at base_ns_ plus whole seconds of clock time.
  time_t base_time_ = 0;
  uint64_t base_ns_ = 0;
  struct tm frozen_ {};  // the time registers while register B's SET bit is on

  uint64_t last_second_ = 0;       // SecondsSinceBase() at the last update
  uint64_t periodic_base_ns_ = 0;
  uint64_t last_periodic_index_ = 0;
  uint64_t next_deadline_ns_ = kNoDeadline;
  bool irq_level_ = false;
};

}  // namespace tandem::hw
