// Local APIC NMI sources (Intel SDM vol. 3A 10.5.1, 10.6.1): ICR NMIs to
// self by shorthand and by destination, LINT0 (the i8259's INTR) and LINT1
// in NMI mode as edges, masks, the disabled APIC's direct NMI pin, and one
// latched NMI however many arrive before the engine takes it.
#include <gtest/gtest.h>

#include "tests/hw/intc/local_apic_fixture.h"

namespace tandem::hw {
namespace {

constexpr uint32_t kNmiMode = 4u << 8, kMasked = 1u << 16;

class LocalApicNmiTest : public testing::LocalApicOnBuses {
 protected:
  LocalApicNmiTest() {
    pic_.SetOutputChangedCallback([this] { lapic_.ExtIntChanged(); });  // as PcChipset wires it
  }
  // Takes the pending NMI, if any, as an engine does.
  bool TakeNmi() {
    if (!lapic_.HasPendingNmi()) return false;
    lapic_.AcknowledgeNmi();
    return true;
  }
};

TEST_F(LocalApicNmiTest, NoNmiAtReset) {
  EXPECT_FALSE(lapic_.HasPendingNmi());
  lapic_.SetLint1(false);
  EXPECT_FALSE(lapic_.HasPendingNmi());
}

TEST_F(LocalApicNmiTest, IcrNmiToSelfByShorthand) {
  Enable();
  Wr(LocalApic::kIcrLow, (1u << 18) | kNmiMode | 0x55);  // self; the vector is ignored
  EXPECT_TRUE(TakeNmi());
  EXPECT_FALSE(lapic_.HasPendingNmi());
  EXPECT_FALSE(lapic_.HasPendingInterrupt());  // no fixed interrupt for the vector field
  EXPECT_FALSE(lapic_.irr(0x55));
  Wr(LocalApic::kIcrLow, (2u << 18) | kNmiMode);  // all including self
  EXPECT_TRUE(TakeNmi());
  Wr(LocalApic::kIcrLow, (3u << 18) | kNmiMode);  // all excluding self: nobody else
  EXPECT_FALSE(lapic_.HasPendingNmi());
}

TEST_F(LocalApicNmiTest, IcrNmiByDestination) {
  Enable();
  Wr(LocalApic::kIcrHigh, 0x01000000);  // physical APIC ID 1: not this one (ID 0)
  Wr(LocalApic::kIcrLow, kNmiMode);
  EXPECT_FALSE(lapic_.HasPendingNmi());
  Wr(LocalApic::kIcrHigh, 0x00000000);  // physical ID 0
  Wr(LocalApic::kIcrLow, kNmiMode);
  EXPECT_TRUE(TakeNmi());
  Wr(LocalApic::kIcrHigh, 0xFF000000);  // broadcast
  Wr(LocalApic::kIcrLow, kNmiMode);
  EXPECT_TRUE(TakeNmi());
}

TEST_F(LocalApicNmiTest, NmisCollapseIntoOneUntilTaken) {
  Enable();
  Wr(LocalApic::kIcrLow, (1u << 18) | kNmiMode);
  Wr(LocalApic::kIcrLow, (1u << 18) | kNmiMode);
  lapic_.SetLint1(true);
  EXPECT_TRUE(TakeNmi());
  EXPECT_FALSE(TakeNmi());
}

TEST_F(LocalApicNmiTest, Lint1InNmiModeIsEdgeTriggered) {
  Enable();
  lapic_.SetLint1(true);
  EXPECT_FALSE(lapic_.HasPendingNmi());  // LVT LINT1 masked at reset
  lapic_.SetLint1(false);
  Wr(LocalApic::kLvtLint1, kNmiMode);
  lapic_.SetLint1(true);
  EXPECT_TRUE(TakeNmi());
  lapic_.SetLint1(true);  // still high: no new edge
  EXPECT_FALSE(lapic_.HasPendingNmi());
  lapic_.SetLint1(false);
  lapic_.SetLint1(true);
  EXPECT_TRUE(TakeNmi());
  lapic_.SetLint1(false);
  Wr(LocalApic::kLvtLint1, kNmiMode | kMasked);
  lapic_.SetLint1(true);
  EXPECT_FALSE(lapic_.HasPendingNmi());
}

TEST_F(LocalApicNmiTest, Lint1InFixedModeRaisesItsVector) {
  Enable();
  Wr(LocalApic::kLvtLint1, 0x47);
  lapic_.SetLint1(true);
  EXPECT_FALSE(lapic_.HasPendingNmi());
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x47);
}

TEST_F(LocalApicNmiTest, DisabledApicPassesLint1AsNmi) {
  // Software-disabled (SVR bit 8 clear at reset): the pin is the CPU's NMI input.
  lapic_.SetLint1(true);
  EXPECT_TRUE(TakeNmi());
  lapic_.SetLint1(false);
  lapic_.SetApicBase(LocalApic::kDefaultBase | LocalApic::kBaseBsp);  // hardware-disabled
  lapic_.SetLint1(true);
  EXPECT_TRUE(TakeNmi());
}

TEST_F(LocalApicNmiTest, Lint0InNmiModeTurnsPicRequestsIntoNmis) {
  InitPicLikeLinux();
  Enable();
  Wr(LocalApic::kLvtLint0, kNmiMode);
  EXPECT_FALSE(lapic_.HasPendingNmi());
  pic_.Input(1).SetLevel(true);  // INTR rises
  EXPECT_FALSE(lapic_.HasPendingInterrupt());  // not as INTR: LINT0 is not ExtINT
  EXPECT_TRUE(TakeNmi());
  EXPECT_FALSE(lapic_.HasPendingNmi());  // INTR stays high without INTA: one edge
  // No INTA happened, so the PIC still requests IRQ1.
  EXPECT_TRUE(pic_.HasPendingInterrupt());
}

TEST_F(LocalApicNmiTest, Lint0NmiModeIgnoresAnAlreadyHighIntrAndMasks) {
  InitPicLikeLinux();
  Enable();
  pic_.Input(1).SetLevel(true);
  Wr(LocalApic::kLvtLint0, kNmiMode);  // INTR was already high: no edge
  EXPECT_FALSE(lapic_.HasPendingNmi());
  Wr(LocalApic::kLvtLint0, kNmiMode | kMasked);
  EXPECT_FALSE(lapic_.HasPendingNmi());
}

TEST_F(LocalApicNmiTest, ResetDropsALatchedNmi) {
  Enable();
  Wr(LocalApic::kIcrLow, (1u << 18) | kNmiMode);
  lapic_.Reset();
  EXPECT_FALSE(lapic_.HasPendingNmi());
}

}  // namespace
}  // namespace tandem::hw
