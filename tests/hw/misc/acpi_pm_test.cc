// ACPI PM registers through a port bus: SCI_EN, the PM timer on a manual
// clock, PM1 enable, and S5 power-off through SLP_TYP/SLP_EN, also via the chipset.
#include "hw/misc/acpi_pm.h"

#include <gtest/gtest.h>

#include <vector>

#include "hw/bus.h"
#include "hw/pc_chipset.h"
#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

constexpr uint16_t kPm = layout::kAcpiPmPort;

class AcpiPmTest : public ::testing::Test {
 protected:
  AcpiPmTest() { EXPECT_TRUE(pio_.Register(kPm, AcpiPm::kSize, &pm_, "acpi pm").ok()); }
  ManualClock clock_;
  std::vector<int> exits_;
  AcpiPm pm_{clock_, [this](int status) { exits_.push_back(status); }};
  Bus pio_{"pio"};
};

TEST_F(AcpiPmTest, AlreadyInAcpiMode) {
  EXPECT_EQ(pio_.Read(kPm + 4, 2), 1u);  // SCI_EN
  pio_.Write(kPm + 4, 2, 0);             // cannot leave ACPI mode (no SMI_CMD)
  EXPECT_EQ(pio_.Read(kPm + 4, 2), 1u);
  EXPECT_EQ(pio_.Read(kPm + 0, 2), 0u);
  pio_.Write(kPm + 2, 2, 0x0121);
  EXPECT_EQ(pio_.Read(kPm + 2, 2), 0x0121u);
  EXPECT_EQ(pio_.Read(kPm + 0, 4), 0x01210000u);  // status | enable << 16
}

TEST_F(AcpiPmTest, TimerCountsAt3579545HzIn24Bits) {
  clock_.Set(1'000'000'000);
  EXPECT_EQ(pio_.Read(kPm + 8, 4), 3579545u);
  clock_.Set(5'000'000'000);
  EXPECT_EQ(pio_.Read(kPm + 8, 4), 17897725u - (1u << 24));
  clock_.Advance(1000);  // 1 us: 3.58 ticks
  EXPECT_EQ(pio_.Read(kPm + 8, 4), 17897728u - (1u << 24));
  pio_.Write(kPm + 8, 4, 0);  // read-only
  EXPECT_EQ(pio_.Read(kPm + 8, 4), 17897728u - (1u << 24));
}

TEST_F(AcpiPmTest, S5PowersOff) {
  pio_.Write(kPm + 4, 2, 5u << 10);  // SLP_TYP alone: nothing yet
  EXPECT_TRUE(exits_.empty());
  EXPECT_EQ(pio_.Read(kPm + 4, 2), (5u << 10) | 1u);
  pio_.Write(kPm + 4, 2, 1u << 10 | 1u << 13);  // another sleep type: logged, ignored
  EXPECT_TRUE(exits_.empty());
  pio_.Write(kPm + 4, 2, (5u << 10) | (1u << 13) | 1u);
  EXPECT_EQ(exits_, std::vector<int>{0});
  EXPECT_EQ(pio_.Read(kPm + 4, 2) & (1u << 13), 0u);  // SLP_EN reads 0
}

TEST(AcpiPmChipsetTest, PowerOffThroughPort0x604ExitsWithZero) {
  ManualClock clock;
  std::vector<int> exits;
  PcChipsetConfig config;
  config.clock = &clock;
  config.request_exit = [&](int status) { exits.push_back(status); };
  config.wall_clock = [] { return static_cast<time_t>(0); };
  PcChipset chipset(std::move(config));
  Bus pio("pio");
  ASSERT_TRUE(chipset.Attach(pio).ok());
  EXPECT_TRUE(pio.Claims(0x600));
  EXPECT_TRUE(pio.Claims(0x60B));
  EXPECT_FALSE(pio.Claims(0x60C));
  pio.Write(0x604, 2, 0x3400);
  EXPECT_EQ(exits, std::vector<int>{0});
}

}  // namespace
}  // namespace tandem::hw
