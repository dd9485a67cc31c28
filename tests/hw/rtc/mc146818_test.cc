// MC146818 RTC/CMOS through the index/data ports, with a fixed wall clock.
#include "hw/rtc/mc146818.h"

#include <gtest/gtest.h>

#include "hw/bus.h"
#include "hw/pc_layout.h"
#include "tests/hw/irq_recorder.h"

namespace tandem::hw {
namespace {

constexpr uint16_t kIndex = layout::kCmosPort, kData = layout::kCmosPort + 1;
constexpr uint64_t kSecond = 1'000'000'000;

// Thursday 2024-02-29 13:45:56 UTC.
time_t FixedTime() {
  struct tm tm = {};
  tm.tm_year = 2024 - 1900;
  tm.tm_mon = 1;
  tm.tm_mday = 29;
  tm.tm_hour = 13;
  tm.tm_min = 45;
  tm.tm_sec = 56;
  return timegm(&tm);
}

class RtcTest : public ::testing::Test {
 protected:
  RtcTest() {
    clock_.Set(7 * kSecond + 123);  // the second phase starts here
    rtc_ = std::make_unique<Mc146818>(clock_, irq_, [] { return FixedTime(); });
    EXPECT_TRUE(bus_.Register(kIndex, 2, rtc_.get(), "cmos").ok());
  }
  uint8_t ReadCmos(uint8_t index) {
    bus_.Write(kIndex, 1, index);
    return static_cast<uint8_t>(bus_.Read(kData, 1));
  }
  void WriteCmos(uint8_t index, uint8_t value) {
    bus_.Write(kIndex, 1, index);
    bus_.Write(kData, 1, value);
  }

  ManualClock clock_;
  testing::IrqRecorder irq_;
  std::unique_ptr<Mc146818> rtc_;
  Bus bus_{"pio"};
};

TEST_F(RtcTest, BcdTimeByDefault) {
  EXPECT_EQ(ReadCmos(0x0B), 0x02);  // 24 h, BCD
  EXPECT_EQ(ReadCmos(0x00), 0x56);
  EXPECT_EQ(ReadCmos(0x02), 0x45);
  EXPECT_EQ(ReadCmos(0x04), 0x13);
  EXPECT_EQ(ReadCmos(0x06), 0x05);  // Thursday: Sunday is 1
  EXPECT_EQ(ReadCmos(0x07), 0x29);
  EXPECT_EQ(ReadCmos(0x08), 0x02);
  EXPECT_EQ(ReadCmos(0x09), 0x24);
  EXPECT_EQ(ReadCmos(0x32), 0x20);
  EXPECT_EQ(ReadCmos(0x0D), 0x80);  // valid RAM and time
  EXPECT_EQ(ReadCmos(0x0A) & 0x7F, 0x26);
}

TEST_F(RtcTest, BinaryAndTwelveHourModes) {
  WriteCmos(0x0B, 0x06);  // binary, 24 h
  EXPECT_EQ(ReadCmos(0x00), 56);
  EXPECT_EQ(ReadCmos(0x04), 13);
  EXPECT_EQ(ReadCmos(0x09), 24);
  WriteCmos(0x0B, 0x00);  // BCD, 12 h
  EXPECT_EQ(ReadCmos(0x04), 0x81);  // 1 PM
  WriteCmos(0x0B, 0x04);  // binary, 12 h
  EXPECT_EQ(ReadCmos(0x04), 0x81);
}

TEST_F(RtcTest, TimeAdvancesWithTheClock) {
  clock_.Advance(5 * kSecond);
  EXPECT_EQ(ReadCmos(0x00), 0x01);
  EXPECT_EQ(ReadCmos(0x02), 0x46);
  clock_.Advance(10 * 3600 * kSecond + 15 * 60 * kSecond);  // past midnight
  EXPECT_EQ(ReadCmos(0x04), 0x00);
  EXPECT_EQ(ReadCmos(0x07), 0x01);
  EXPECT_EQ(ReadCmos(0x08), 0x03);  // March 1st: 2024 is a leap year
}

TEST_F(RtcTest, UpdateInProgressJustBeforeEachSecond) {
  uint64_t base = clock_.NowNs();
  clock_.Set(base + kSecond / 2);
  EXPECT_EQ(ReadCmos(0x0A) & 0x80, 0x00);
  clock_.Set(base + kSecond - 244'000 - 1);
  EXPECT_EQ(ReadCmos(0x0A) & 0x80, 0x00);
  clock_.Set(base + kSecond - 100'000);
  EXPECT_EQ(ReadCmos(0x0A) & 0x80, 0x80);
  EXPECT_EQ(ReadCmos(0x00), 0x56);  // the update has not happened yet
  clock_.Set(base + kSecond);
  EXPECT_EQ(ReadCmos(0x0A) & 0x80, 0x00);
  EXPECT_EQ(ReadCmos(0x00), 0x57);
}

TEST_F(RtcTest, GuestSetsTheTimeWithSetBit) {
  WriteCmos(0x0B, 0x82);  // SET, 24 h, BCD
  clock_.Advance(3 * kSecond);  // frozen while SET
  EXPECT_EQ(ReadCmos(0x00), 0x56);
  WriteCmos(0x04, 0x08);
  WriteCmos(0x02, 0x30);
  WriteCmos(0x00, 0x00);
  WriteCmos(0x09, 0x25);
  WriteCmos(0x0B, 0x02);
  EXPECT_EQ(ReadCmos(0x04), 0x08);
  EXPECT_EQ(ReadCmos(0x02), 0x30);
  EXPECT_EQ(ReadCmos(0x09), 0x25);
  EXPECT_EQ(ReadCmos(0x08), 0x03);  // 2025-02-29 normalizes to March 1st
  clock_.Advance(2 * kSecond);
  EXPECT_EQ(ReadCmos(0x00), 0x02);
}

TEST_F(RtcTest, PeriodicInterruptOnIrq8) {
  WriteCmos(0x0A, 0x26);  // 1024 Hz
  WriteCmos(0x0B, 0x42);  // PIE
  uint64_t start = clock_.NowNs();
  EXPECT_EQ(rtc_->NextDeadlineNs(), start + 976563);  // ceil(1e9 / 1024)
  rtc_->AdvanceTo(start + 976562);
  EXPECT_FALSE(irq_.level());
  rtc_->AdvanceTo(start + 976563);
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(ReadCmos(0x0C), 0xC0);  // IRQF | PF; reading clears
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(ReadCmos(0x0C), 0x00);
  clock_.Set(rtc_->NextDeadlineNs());
  rtc_->AdvanceTo(clock_.NowNs());
  EXPECT_EQ(irq_.rising_edges(), 2);
}

TEST_F(RtcTest, PeriodicFlagWithoutInterrupt) {
  clock_.Advance(kSecond / 100);
  EXPECT_EQ(ReadCmos(0x0C), 0x40);  // PF without PIE: no IRQF
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(rtc_->NextDeadlineNs(), TimedDevice::kNoDeadline);
}

TEST_F(RtcTest, UpdateEndedInterrupt) {
  WriteCmos(0x0B, 0x12);  // UIE
  uint64_t start = clock_.NowNs();
  EXPECT_EQ(rtc_->NextDeadlineNs(), start + kSecond);
  rtc_->AdvanceTo(start + kSecond - 1);
  EXPECT_FALSE(irq_.level());
  rtc_->AdvanceTo(start + kSecond);
  EXPECT_TRUE(irq_.level());
  clock_.Set(start + kSecond);
  EXPECT_EQ(ReadCmos(0x0C) & 0xB0, 0x90);  // IRQF | UF (PF runs regardless)
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(rtc_->NextDeadlineNs(), start + 2 * kSecond);
}

TEST_F(RtcTest, AlarmFires) {
  WriteCmos(0x01, 0x58);
  WriteCmos(0x03, 0x45);
  WriteCmos(0x05, 0xC0);  // any hour
  WriteCmos(0x0B, 0x22);
  uint64_t start = clock_.NowNs();
  rtc_->AdvanceTo(start + kSecond);  // 13:45:57
  EXPECT_FALSE(irq_.level());
  rtc_->AdvanceTo(start + 2 * kSecond);  // 13:45:58
  EXPECT_TRUE(irq_.level());
  clock_.Set(start + 2 * kSecond);
  EXPECT_EQ(ReadCmos(0x0C) & 0xA0, 0xA0);
}

TEST_F(RtcTest, IndexBit7MasksNmiAndRamPersistsAcrossReset) {
  bus_.Write(kIndex, 1, 0x80 | 0x0F);
  EXPECT_TRUE(rtc_->nmi_masked());
  bus_.Write(kData, 1, 0x0A);  // shutdown status byte
  bus_.Write(kIndex, 1, 0x40);
  EXPECT_FALSE(rtc_->nmi_masked());
  bus_.Write(kData, 1, 0x77);
  WriteCmos(0x0B, 0x72);  // PIE AIE UIE
  rtc_->Reset();
  EXPECT_EQ(ReadCmos(0x0F), 0x0A);
  EXPECT_EQ(ReadCmos(0x40), 0x77);
  EXPECT_EQ(ReadCmos(0x0B), 0x02);  // interrupt enables cleared
  EXPECT_EQ(ReadCmos(0x00), 0x56);  // the time runs on
}

TEST_F(RtcTest, MemorySizeBytes32MiB) {
  rtc_->SetMemorySize(32ull << 20, 0);
  EXPECT_EQ(ReadCmos(0x15) | ReadCmos(0x16) << 8, 640);
  EXPECT_EQ(ReadCmos(0x17) | ReadCmos(0x18) << 8, 31 * 1024);
  EXPECT_EQ(ReadCmos(0x30) | ReadCmos(0x31) << 8, 31 * 1024);
  EXPECT_EQ(ReadCmos(0x34) | ReadCmos(0x35) << 8, (32 - 16) * 16);
  rtc_->SetMemorySize(128ull << 20, 0);
  EXPECT_EQ(ReadCmos(0x17) | ReadCmos(0x18) << 8, 0xFFFF);  // 127 MiB does not fit
  EXPECT_EQ(ReadCmos(0x34) | ReadCmos(0x35) << 8, (128 - 16) * 16);
  rtc_->SetMemorySize(8ull << 20, 0);
  EXPECT_EQ(ReadCmos(0x34) | ReadCmos(0x35) << 8, 0);
  EXPECT_EQ(ReadCmos(0x5B) | ReadCmos(0x5C) << 8 | ReadCmos(0x5D) << 16, 0);
}

TEST_F(RtcTest, MemorySizeBytesAbove4GiB) {
  rtc_->SetMemorySize(3ull << 30, 5ull << 30);
  EXPECT_EQ(ReadCmos(0x17) | ReadCmos(0x18) << 8, 0xFFFF);  // capped
  EXPECT_EQ(ReadCmos(0x30) | ReadCmos(0x31) << 8, 0xFFFF);
  EXPECT_EQ(ReadCmos(0x34) | ReadCmos(0x35) << 8, 3 * 16384 - 256);
  EXPECT_EQ(ReadCmos(0x5B) | ReadCmos(0x5C) << 8 | ReadCmos(0x5D) << 16, 5 * 16384);
}

}  // namespace
}  // namespace tandem::hw
