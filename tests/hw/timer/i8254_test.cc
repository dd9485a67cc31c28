// i8254 PIT and port 0x61 through a port bus, timed by a ManualClock.
#include "hw/timer/i8254.h"

#include <gtest/gtest.h>

#include "hw/bus.h"
#include "hw/pc_layout.h"
#include "hw/timer/system_control_b.h"
#include "tests/hw/irq_recorder.h"

namespace tandem::hw {
namespace {

constexpr uint16_t kCh0 = layout::kPitPort, kCh2 = layout::kPitPort + 2;
constexpr uint16_t kControl = layout::kPitPort + 3;
constexpr uint16_t kPortB = layout::kSystemControlBPort;

// The first nanosecond at which `ticks` PIT clocks have elapsed.
uint64_t TicksToNs(uint64_t ticks) {
  return (ticks * 1000000000ull + layout::kPitFrequencyHz - 1) / layout::kPitFrequencyHz;
}

class PitTest : public ::testing::Test {
 protected:
  PitTest() {
    clock_.Set(5'000'000'000);  // not zero: phases must follow the load time
    EXPECT_TRUE(bus_.Register(layout::kPitPort, 4, &pit_, "pit").ok());
    EXPECT_TRUE(bus_.Register(kPortB, 1, &port_b_, "port b").ok());
  }
  uint8_t In(uint16_t port) { return static_cast<uint8_t>(bus_.Read(port, 1)); }
  void Out(uint16_t port, uint8_t value) { bus_.Write(port, 1, value); }
  void Program(uint16_t data_port, uint8_t control, uint16_t count) {
    Out(kControl, control);
    Out(data_port, count & 0xFF);
    Out(data_port, count >> 8);
  }
  void AdvanceBy(uint64_t ns) {
    clock_.Advance(ns);
    pit_.AdvanceTo(clock_.NowNs());
  }
  uint16_t LatchedCount(uint16_t data_port, uint8_t channel) {
    Out(kControl, static_cast<uint8_t>(channel << 6));  // counter latch
    uint8_t lo = In(data_port);
    return static_cast<uint16_t>(lo | In(data_port) << 8);
  }

  ManualClock clock_;
  Bus bus_{"pio"};
  testing::IrqRecorder irq0_;
  I8254 pit_{clock_, irq0_};
  SystemControlB port_b_{clock_, pit_};
};

TEST_F(PitTest, UnprogrammedChannelsAreQuiet) {
  EXPECT_EQ(pit_.NextDeadlineNs(), TimedDevice::kNoDeadline);
  AdvanceBy(1'000'000'000);
  EXPECT_EQ(irq0_.rising_edges(), 0);
}

TEST_F(PitTest, Mode2RaisesIrq0EveryNTicks) {
  const uint16_t kDivisor = 1193;  // ~1 kHz, as Linux's LATCH for HZ=1000
  uint64_t start = clock_.NowNs();
  Program(kCh0, 0x34, kDivisor);  // ch0, LSB/MSB, mode 2
  irq0_.ClearEdges();
  EXPECT_EQ(pit_.NextDeadlineNs(), start + TicksToNs(kDivisor));
  // One tick short of the period: nothing.
  clock_.Set(start + TicksToNs(kDivisor - 1));
  pit_.AdvanceTo(clock_.NowNs());
  EXPECT_EQ(irq0_.rising_edges(), 0);
  clock_.Set(pit_.NextDeadlineNs());
  pit_.AdvanceTo(clock_.NowNs());
  EXPECT_EQ(irq0_.rising_edges(), 1);
  EXPECT_TRUE(irq0_.level());
  EXPECT_EQ(pit_.NextDeadlineNs(), start + TicksToNs(2 * kDivisor));
  for (int i = 0; i < 5; i++) {
    clock_.Set(pit_.NextDeadlineNs());
    pit_.AdvanceTo(clock_.NowNs());
  }
  EXPECT_EQ(irq0_.rising_edges(), 6);
}

TEST_F(PitTest, ManyMissedPeriodsDeliverOneEdgeAndKeepPhase) {
  const uint16_t kDivisor = 11932;  // 100 Hz
  uint64_t start = clock_.NowNs();
  Program(kCh0, 0x34, kDivisor);
  irq0_.ClearEdges();
  clock_.Set(start + TicksToNs(10 * kDivisor) + 1000);
  pit_.AdvanceTo(clock_.NowNs());
  EXPECT_EQ(irq0_.rising_edges(), 1);
  EXPECT_EQ(pit_.NextDeadlineNs(), start + TicksToNs(11 * kDivisor));
  pit_.AdvanceTo(clock_.NowNs());  // no new period: no new edge
  EXPECT_EQ(irq0_.rising_edges(), 1);
}

TEST_F(PitTest, Mode2CounterCountsDownAndReloads) {
  Program(kCh0, 0x34, 1000);
  EXPECT_EQ(LatchedCount(kCh0, 0), 1000);
  clock_.Advance(TicksToNs(300));
  EXPECT_EQ(LatchedCount(kCh0, 0), 700);
  clock_.Advance(TicksToNs(999) - TicksToNs(300));
  EXPECT_EQ(LatchedCount(kCh0, 0), 1);
  clock_.Advance(TicksToNs(1250) - TicksToNs(999));
  EXPECT_EQ(LatchedCount(kCh0, 0), 750);  // reloaded at 1000 ticks
}

TEST_F(PitTest, LatchHoldsValueUntilRead) {
  Program(kCh0, 0x30, 50000);  // mode 0
  clock_.Advance(TicksToNs(100));
  Out(kControl, 0x00);  // latch ch0
  clock_.Advance(TicksToNs(1000));
  Out(kControl, 0x00);  // a second latch is ignored until read
  EXPECT_EQ(In(kCh0), (50000 - 100) & 0xFF);
  EXPECT_EQ(In(kCh0), (50000 - 100) >> 8);
  // Unlatched reads follow the counter.
  uint8_t lo = In(kCh0);
  uint8_t hi = In(kCh0);
  EXPECT_EQ(lo | hi << 8, 50000 - 1100);
}

TEST_F(PitTest, Mode0InterruptsOnceOnTerminalCount) {
  uint64_t start = clock_.NowNs();
  Out(kControl, 0x30);  // ch0 mode 0: OUT low
  EXPECT_FALSE(irq0_.level());
  Out(kCh0, 0x00);
  Out(kCh0, 0x10);  // 4096
  EXPECT_EQ(pit_.NextDeadlineNs(), start + TicksToNs(4096));
  AdvanceBy(TicksToNs(4095));
  EXPECT_FALSE(irq0_.level());
  clock_.Set(start + TicksToNs(4096));
  pit_.AdvanceTo(clock_.NowNs());
  EXPECT_TRUE(irq0_.level());
  EXPECT_EQ(irq0_.rising_edges(), 1);
  EXPECT_EQ(pit_.NextDeadlineNs(), TimedDevice::kNoDeadline);
  AdvanceBy(1'000'000'000);
  EXPECT_EQ(irq0_.rising_edges(), 1);
  EXPECT_TRUE(irq0_.level());
}

TEST_F(PitTest, LsbOnlyAndMsbOnlyAccess) {
  Out(kControl, 0x10);  // ch0, LSB only, mode 0
  Out(kCh0, 0x80);
  EXPECT_EQ(pit_.CurrentCount(0), 0x80);
  EXPECT_EQ(In(kCh0), 0x80);
  EXPECT_EQ(In(kCh0), 0x80);  // every read is the LSB
  Out(kControl, 0x20);  // ch0, MSB only, mode 0
  Out(kCh0, 0x12);
  EXPECT_EQ(pit_.CurrentCount(0), 0x1200);
  EXPECT_EQ(In(kCh0), 0x12);
}

TEST_F(PitTest, ReadBackStatus) {
  Program(kCh0, 0x34, 100);
  Out(kControl, 0xE2);  // read-back: status only, ch0
  uint8_t status = In(kCh0);
  EXPECT_EQ(status, 0x80 | 0x30 | (2 << 1));  // OUT high, LSB/MSB, mode 2
  Out(kControl, 0xD2);  // read-back: count only, ch0
  EXPECT_EQ(In(kCh0), 100);
  EXPECT_EQ(In(kCh0), 0);
}

// Linux's pit_calibrate_tsc(): ch2 mode 0 gated by port 0x61, polled on bit 5.
TEST_F(PitTest, Channel2ThroughPort61LikeLinuxCalibration) {
  const uint16_t kLatch = 11932;  // 10 ms
  Out(kPortB, (In(kPortB) & ~0x02) | 0x01);  // gate on, speaker off
  EXPECT_EQ(In(kPortB) & 0x03, 0x01);
  Program(kCh2, 0xB0, kLatch);
  EXPECT_EQ(In(kPortB) & 0x20, 0x00);
  clock_.Advance(TicksToNs(kLatch - 1));
  EXPECT_EQ(In(kPortB) & 0x20, 0x00);
  clock_.Advance(TicksToNs(kLatch) - TicksToNs(kLatch - 1));
  EXPECT_EQ(In(kPortB) & 0x20, 0x20);
  EXPECT_EQ(irq0_.rising_edges(), 0);  // channel 2 is not IRQ0
}

TEST_F(PitTest, Channel2GateLowPausesMode0) {
  Out(kPortB, 0x00);
  Program(kCh2, 0xB0, 1000);
  clock_.Advance(TicksToNs(5000));
  EXPECT_EQ(LatchedCount(kCh2, 2), 1000);  // gate low: not counting
  Out(kPortB, 0x01);
  clock_.Advance(TicksToNs(400));
  Out(kPortB, 0x00);
  clock_.Advance(TicksToNs(5000));
  EXPECT_EQ(LatchedCount(kCh2, 2), 600);
  Out(kPortB, 0x01);
  clock_.Advance(TicksToNs(600) + 1);
  EXPECT_EQ(In(kPortB) & 0x20, 0x20);
}

TEST_F(PitTest, Mode3SquareWaveOnChannel2) {
  Out(kPortB, 0x03);  // gate + speaker
  Program(kCh2, 0xB6, 100);  // ch2 mode 3
  uint64_t start = clock_.NowNs();
  EXPECT_TRUE(pit_.Output(2));
  clock_.Set(start + TicksToNs(49));
  EXPECT_TRUE(pit_.Output(2));
  clock_.Set(start + TicksToNs(50));
  EXPECT_FALSE(pit_.Output(2));
  EXPECT_EQ(In(kPortB) & 0x20, 0x00);
  clock_.Set(start + TicksToNs(100));
  EXPECT_TRUE(pit_.Output(2));
  EXPECT_EQ(In(kPortB) & 0x22, 0x22);
  // Gate low forces OUT high in mode 3; a rising gate restarts the period.
  clock_.Set(start + TicksToNs(160));
  EXPECT_FALSE(pit_.Output(2));
  Out(kPortB, 0x00);
  EXPECT_TRUE(pit_.Output(2));
  Out(kPortB, 0x01);
  EXPECT_EQ(LatchedCount(kCh2, 2), 100);
}

TEST_F(PitTest, Mode3OnChannel0GivesOneEdgePerPeriod) {
  uint64_t start = clock_.NowNs();
  Program(kCh0, 0x36, 200);
  irq0_.ClearEdges();
  for (int i = 1; i <= 8; i++) {
    clock_.Set(start + TicksToNs(i * 50));
    pit_.AdvanceTo(clock_.NowNs());
  }
  EXPECT_EQ(irq0_.rising_edges(), 2);  // at 200 and 400 ticks
  EXPECT_TRUE(irq0_.level());
}

TEST_F(PitTest, RefreshBitToggles) {
  uint8_t a = In(kPortB) & 0x10;
  clock_.Advance(15085);
  uint8_t b = In(kPortB) & 0x10;
  EXPECT_NE(a, b);
}

TEST_F(PitTest, ResetStopsChannel0) {
  Program(kCh0, 0x34, 100);
  pit_.Reset();
  EXPECT_EQ(pit_.NextDeadlineNs(), TimedDevice::kNoDeadline);
  EXPECT_FALSE(irq0_.level());
}

}  // namespace
}  // namespace tandem::hw
