// ACPI PM registers through a port bus: SCI_EN, the PM timer on a manual
// clock, PM1 enable, S5 power-off through SLP_TYP/SLP_EN, and the fixed power
// button's SCI (PWRBTN_STS & PWRBTN_EN), also via the chipset (ISA IRQ 9).
#include "hw/misc/acpi_pm.h"

#include <gtest/gtest.h>

#include <vector>

#include "hw/bus.h"
#include "hw/pc_chipset.h"
#include "hw/pc_layout.h"
#include "tests/hw/irq_recorder.h"

namespace tandem::hw {
namespace {

constexpr uint16_t kPm = layout::kAcpiPmPort;

class AcpiPmTest : public ::testing::Test {
 protected:
  AcpiPmTest() { EXPECT_TRUE(pio_.Register(kPm, AcpiPm::kSize, &pm_, "acpi pm").ok()); }
  ManualClock clock_;
  std::vector<int> exits_;
  testing::IrqRecorder sci_;
  AcpiPm pm_{clock_, [this](int status) { exits_.push_back(status); }, &sci_};
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

TEST_F(AcpiPmTest, PowerButtonRaisesSciWhileStatusAndEnableAreSet) {
  pm_.PressPowerButton();  // not enabled: status only
  EXPECT_EQ(pio_.Read(kPm + 0, 2), 0x0100u);
  EXPECT_FALSE(sci_.level());
  pio_.Write(kPm + 2, 2, 0x0100);  // PWRBTN_EN: the pending press raises the SCI
  EXPECT_TRUE(sci_.level());
  EXPECT_TRUE(pm_.sci_level());
  pio_.Write(kPm + 0, 2, 0x0001);  // clearing another bit keeps it
  EXPECT_TRUE(sci_.level());
  pio_.Write(kPm + 0, 2, 0x0100);  // write 1 to clear PWRBTN_STS lowers it
  EXPECT_FALSE(sci_.level());
  EXPECT_EQ(pio_.Read(kPm + 0, 2), 0u);
  pm_.PressPowerButton();
  EXPECT_TRUE(sci_.level());
  EXPECT_EQ(sci_.rising_edges(), 2);
  pio_.Write(kPm + 2, 2, 0);  // disabling the event lowers it, the status stays
  EXPECT_FALSE(sci_.level());
  EXPECT_EQ(pio_.Read(kPm + 0, 2), 0x0100u);
  pio_.Write(kPm + 3, 1, 0x01);  // a byte write of PM1_EN's high byte
  EXPECT_TRUE(sci_.level());
  pm_.Reset();
  EXPECT_FALSE(sci_.level());
  EXPECT_EQ(pio_.Read(kPm + 0, 4), 0u);
}

TEST_F(AcpiPmTest, PowerButtonWithoutEnableNeverRaisesSci) {
  pm_.PressPowerButton();
  pm_.PressPowerButton();
  pio_.Write(kPm + 2, 2, 0x0001);  // TMR_EN only
  EXPECT_FALSE(sci_.level());
  EXPECT_EQ(sci_.rising_edges(), 0);
  EXPECT_TRUE(exits_.empty());  // a press alone does not power off: the guest does
}

TEST(AcpiPmChipsetTest, PowerButtonSciIsIsaIrq9) {
  ManualClock clock;
  PcChipsetConfig config;
  config.clock = &clock;
  config.wall_clock = [] { return static_cast<time_t>(0); };
  PcChipset chipset(std::move(config));
  Bus pio("pio");
  ASSERT_TRUE(chipset.Attach(pio).ok());
  EXPECT_EQ(layout::kSciIrq, 9);
  EXPECT_EQ(chipset.pm_function().sci_irq(), layout::kSciIrq);
  chipset.pic().slave().set_elcr(0x02);  // IRQ 9 level-triggered, as the MADT says
  chipset.acpi_pm().PressPowerButton();
  EXPECT_EQ(chipset.pic().slave().irr() & 0x02, 0);  // PWRBTN_EN clear: no SCI
  pio.Write(0x602, 2, 0x0100);
  EXPECT_NE(chipset.pic().slave().irr() & 0x02, 0);  // IRQ 9 = slave input 1
  pio.Write(0x600, 2, 0x0100);  // the guest acknowledges the event: the line falls
  EXPECT_EQ(chipset.pic().slave().irr() & 0x02, 0);
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
