// Local APIC through an MMIO bus at 0xFEE00000 with a manual clock: register
// reset values, priorities (IRR/ISR/TPR/PPR, EOI), the timer in one-shot and
// periodic modes, IPIs to self, ESR, and the i8259 path through LINT0.
#include "hw/intc/local_apic.h"

#include <gtest/gtest.h>

#include <vector>

#include "tests/hw/intc/local_apic_fixture.h"

namespace tandem::hw {
namespace {

class LocalApicTest : public testing::LocalApicOnBuses {
 protected:
  LocalApicTest() {
    clock_.Set(5'000'000);
    lapic_.SetEoiCallback([this](uint8_t v) { eois_.push_back(v); });
  }
  void Poll() {
    if (lapic_.NextDeadlineNs() <= clock_.NowNs()) lapic_.AdvanceTo(clock_.NowNs());
  }
  // Acknowledges and EOIs one interrupt, returning its vector.
  uint8_t Take() {
    uint8_t v = lapic_.AcknowledgeInterrupt();
    Wr(LocalApic::kEoi, 0);
    return v;
  }

  std::vector<uint8_t> eois_;
};

TEST_F(LocalApicTest, ResetValues) {
  EXPECT_EQ(Rd(LocalApic::kId), 0u);
  EXPECT_EQ(Rd(LocalApic::kVersion), 0x00050014u);
  EXPECT_EQ(Rd(LocalApic::kTpr), 0u);
  EXPECT_EQ(Rd(LocalApic::kPpr), 0u);
  EXPECT_EQ(Rd(LocalApic::kLdr), 0u);
  EXPECT_EQ(Rd(LocalApic::kDfr), 0xFFFFFFFFu);
  EXPECT_EQ(Rd(LocalApic::kSvr), 0xFFu);
  for (uint64_t lvt = LocalApic::kLvtTimer; lvt <= LocalApic::kLvtError; lvt += 0x10) {
    EXPECT_EQ(Rd(lvt), 0x10000u) << std::hex << lvt;
  }
  EXPECT_EQ(Rd(LocalApic::kTimerInitial), 0u);
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 0u);
  EXPECT_EQ(lapic_.apic_base(), 0xFEE00900u);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  // Byte reads see the register's bytes; offsets 4..15 of a slot read 0.
  EXPECT_EQ(mmio_.Read(kBase + LocalApic::kVersion + 2, 1), 0x05u);
  EXPECT_EQ(mmio_.Read(kBase + LocalApic::kVersion + 4, 4), 0u);
}

TEST_F(LocalApicTest, IdLdrDfrAndLogicalDestinations) {
  Wr(LocalApic::kId, 0x03000000);
  EXPECT_EQ(Rd(LocalApic::kId), 0x03000000u);
  EXPECT_TRUE(lapic_.MatchesDestination(3, false));
  EXPECT_FALSE(lapic_.MatchesDestination(0, false));
  EXPECT_TRUE(lapic_.MatchesDestination(0xFF, false));
  Wr(LocalApic::kLdr, 0x02FFFFFF);  // reserved bits read as 0
  EXPECT_EQ(Rd(LocalApic::kLdr), 0x02000000u);
  EXPECT_TRUE(lapic_.MatchesDestination(0x02, true));   // flat: bit set
  EXPECT_TRUE(lapic_.MatchesDestination(0x03, true));
  EXPECT_FALSE(lapic_.MatchesDestination(0x01, true));
  Wr(LocalApic::kDfr, 0x0FFFFFFF);  // cluster model
  EXPECT_EQ(Rd(LocalApic::kDfr), 0x0FFFFFFFu);
  Wr(LocalApic::kLdr, 0x12000000);  // cluster 1, member bit 1
  EXPECT_TRUE(lapic_.MatchesDestination(0x12, true));
  EXPECT_TRUE(lapic_.MatchesDestination(0xF2, true));
  EXPECT_FALSE(lapic_.MatchesDestination(0x22, true));
  EXPECT_FALSE(lapic_.MatchesDestination(0x11, true));
}

TEST_F(LocalApicTest, PriorityIsrPprAndEoi) {
  Enable();
  lapic_.AcceptInterrupt(0x31, false);
  lapic_.AcceptInterrupt(0x52, false);
  EXPECT_EQ(Rd(LocalApic::kIrr + 0x10), (1u << 0x11));         // 0x31: IRR word 1, bit 17
  EXPECT_EQ(Rd(LocalApic::kIrr + 0x20), (1u << 0x12));         // 0x52: IRR word 2, bit 18
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x52);
  EXPECT_EQ(Rd(LocalApic::kIsr + 0x20), (1u << 0x12));
  EXPECT_EQ(Rd(LocalApic::kIrr + 0x20), 0u);
  EXPECT_EQ(Rd(LocalApic::kPpr), 0x50u);
  // 0x31's class (3) is below the in-service class (5): held.
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  // A higher class nests.
  lapic_.AcceptInterrupt(0x61, false);
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x61);
  EXPECT_EQ(Rd(LocalApic::kPpr), 0x60u);
  Wr(LocalApic::kEoi, 0);  // ends 0x61, the highest in service
  EXPECT_FALSE(lapic_.isr(0x61));
  EXPECT_TRUE(lapic_.isr(0x52));
  EXPECT_EQ(Rd(LocalApic::kPpr), 0x50u);
  Wr(LocalApic::kEoi, 0);
  EXPECT_EQ(Rd(LocalApic::kPpr), 0u);
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x31);
  Wr(LocalApic::kEoi, 0);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  EXPECT_TRUE(eois_.empty());  // all edge-triggered: no EOI broadcast
}

TEST_F(LocalApicTest, TprMasksPriorityClasses) {
  Enable();
  Wr(LocalApic::kTpr, 0x45);
  EXPECT_EQ(Rd(LocalApic::kTpr), 0x45u);
  EXPECT_EQ(Rd(LocalApic::kPpr), 0x45u);
  lapic_.AcceptInterrupt(0x4F, false);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());  // class 4 is not above TPR class 4
  lapic_.AcceptInterrupt(0x50, false);
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x50);
  Wr(LocalApic::kEoi, 0);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  lapic_.set_tpr(0x30);  // the CR8 path
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x4F);
}

TEST_F(LocalApicTest, LevelTriggeredEoiIsBroadcast) {
  Enable();
  lapic_.AcceptInterrupt(0x60, true);
  EXPECT_TRUE(lapic_.tmr(0x60));
  EXPECT_EQ(Rd(LocalApic::kTmr + 0x30), 1u);
  EXPECT_EQ(Take(), 0x60);
  EXPECT_EQ(eois_, std::vector<uint8_t>{0x60});
  lapic_.AcceptInterrupt(0x60, false);  // the same vector as edge clears TMR
  EXPECT_FALSE(lapic_.tmr(0x60));
  EXPECT_EQ(Take(), 0x60);
  EXPECT_EQ(eois_.size(), 1u);
}

TEST_F(LocalApicTest, SoftwareDisabledHoldsRequestsAndMasksLvts) {
  lapic_.AcceptInterrupt(0x40, false);
  EXPECT_TRUE(lapic_.irr(0x40));
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  Wr(LocalApic::kLvtTimer, 0x40);  // masks cannot be cleared while disabled
  EXPECT_EQ(Rd(LocalApic::kLvtTimer), 0x10040u);
  Enable();
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(Take(), 0x40);
  Wr(LocalApic::kLvtTimer, 0x40);
  EXPECT_EQ(Rd(LocalApic::kLvtTimer), 0x40u);
  Wr(LocalApic::kSvr, 0xFF);  // disabling sets every mask
  EXPECT_EQ(Rd(LocalApic::kLvtTimer), 0x10040u);
}

TEST_F(LocalApicTest, SpuriousVectorWhenNothingIsDeliverable) {
  Wr(LocalApic::kSvr, 0x1EF);
  EXPECT_EQ(Rd(LocalApic::kSvr), 0x1EFu);
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0xEF);
  EXPECT_FALSE(lapic_.isr(0xEF));
}

TEST_F(LocalApicTest, OneShotTimer) {
  Enable();
  Wr(LocalApic::kTimerDivide, 0x3);  // divide by 16
  EXPECT_EQ(Rd(LocalApic::kTimerDivide), 0x3u);
  Wr(LocalApic::kLvtTimer, 0xEC);    // one-shot, vector 0xEC
  Wr(LocalApic::kTimerInitial, 1000);
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 1000u);
  EXPECT_EQ(lapic_.NextDeadlineNs(), 5'000'000u + 16'000u);
  clock_.Advance(8'000);
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 500u);
  Poll();
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  clock_.Advance(7'984);
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 1u);
  clock_.Advance(16);
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 0u);
  Poll();
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(Take(), 0xEC);
  EXPECT_EQ(lapic_.NextDeadlineNs(), TimedDevice::kNoDeadline);
  clock_.Advance(100'000);
  Poll();
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 0u);
  // Writing 0 stops a running timer.
  Wr(LocalApic::kTimerInitial, 50);
  Wr(LocalApic::kTimerInitial, 0);
  EXPECT_EQ(lapic_.NextDeadlineNs(), TimedDevice::kNoDeadline);
}

TEST_F(LocalApicTest, PeriodicTimerReloadsAndCoalesces) {
  Enable();
  Wr(LocalApic::kTimerDivide, 0xB);      // divide by 1: one tick per ns
  Wr(LocalApic::kLvtTimer, 0x20000 | 0x40);  // periodic
  EXPECT_EQ(Rd(LocalApic::kLvtTimer), 0x20040u);
  Wr(LocalApic::kTimerInitial, 100);
  clock_.Advance(50);
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 50u);
  clock_.Advance(50);
  Poll();
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 100u);  // reloaded
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(Take(), 0x40);
  clock_.Advance(130);
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 70u);
  Poll();
  EXPECT_EQ(Take(), 0x40);
  // Ten periods without polling give one interrupt; the next deadline is ahead.
  clock_.Advance(1000);
  Poll();
  EXPECT_EQ(Take(), 0x40);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  EXPECT_GT(lapic_.NextDeadlineNs(), clock_.NowNs());
  EXPECT_EQ(lapic_.NextDeadlineNs() - 5'000'000, 1300u);
}

TEST_F(LocalApicTest, MaskedTimerCountsWithoutInterrupting) {
  Enable();
  Wr(LocalApic::kTimerDivide, 0xB);
  Wr(LocalApic::kLvtTimer, 0x30040);  // periodic, masked
  Wr(LocalApic::kTimerInitial, 100);
  clock_.Advance(250);
  Poll();
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 50u);
}

TEST_F(LocalApicTest, DivideChangeKeepsTheCount) {
  Enable();
  Wr(LocalApic::kTimerDivide, 0xB);  // by 1
  Wr(LocalApic::kLvtTimer, 0x41);
  Wr(LocalApic::kTimerInitial, 1000);
  clock_.Advance(400);
  Wr(LocalApic::kTimerDivide, 0x0);  // by 2
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 600u);
  clock_.Advance(400);
  EXPECT_EQ(Rd(LocalApic::kTimerCurrent), 400u);
  EXPECT_EQ(lapic_.NextDeadlineNs(), clock_.NowNs() + 800);
}

TEST_F(LocalApicTest, SelfIpisAndIllegalVectors) {
  Enable();
  Wr(LocalApic::kIcrLow, 0x40000 | 0x55);  // shorthand self, fixed
  EXPECT_TRUE(lapic_.irr(0x55));
  EXPECT_EQ(Rd(LocalApic::kIcrLow) & (1u << 12), 0u);  // delivery status idle
  Wr(LocalApic::kIcrHigh, 0x00000000);
  Wr(LocalApic::kIcrLow, 0x66);  // physical destination 0: this APIC
  EXPECT_TRUE(lapic_.irr(0x66));
  Wr(LocalApic::kIcrHigh, 0x05000000);
  Wr(LocalApic::kIcrLow, 0x77);  // APIC 5 does not exist
  EXPECT_FALSE(lapic_.irr(0x77));
  Wr(LocalApic::kIcrLow, 0xC0000 | 0x78);  // all excluding self
  EXPECT_FALSE(lapic_.irr(0x78));
  Wr(LocalApic::kIcrLow, 0x80000 | 0x79);  // all including self
  EXPECT_TRUE(lapic_.irr(0x79));
  Wr(LocalApic::kIcrLow, 0xC4500);  // INIT to others: logged, nothing happens
  Wr(LocalApic::kIcrLow, 0xC4608);  // SIPI
  EXPECT_EQ(Take(), 0x79);
  EXPECT_EQ(Take(), 0x66);
  EXPECT_EQ(Take(), 0x55);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());

  // ESR latches on write: a send of vector 3 and a receipt of vector 5.
  Wr(LocalApic::kLvtError, 0xFE);
  Wr(LocalApic::kIcrLow, 0x40003);
  lapic_.AcceptInterrupt(5, false);
  EXPECT_EQ(Rd(LocalApic::kEsr), 0u);
  Wr(LocalApic::kEsr, 0);
  EXPECT_EQ(Rd(LocalApic::kEsr), 0x60u);
  Wr(LocalApic::kEsr, 0);
  EXPECT_EQ(Rd(LocalApic::kEsr), 0u);
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(Take(), 0xFE);  // the error LVT
}

TEST_F(LocalApicTest, PicPassesThroughWhileSoftwareDisabled) {
  InitPicLikeLinux();
  pic_.Input(4).SetLevel(true);
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x24);
}

TEST_F(LocalApicTest, VirtualWireModeThroughLint0) {
  InitPicLikeLinux();
  Enable();
  pic_.Input(1).SetLevel(true);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());  // LINT0 masked at reset
  Wr(LocalApic::kLvtLint0, 0x700);             // ExtINT, unmasked
  EXPECT_EQ(Rd(LocalApic::kLvtLint0), 0x700u);
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x21);
  EXPECT_FALSE(lapic_.isr(0x21));  // the PIC owns it: EOI goes to the PIC
  EXPECT_EQ(pic_.master().isr(), 0x02);
  pio_.Write(0x20, 1, 0x20);
  // The APIC's own interrupts come first; the PIC's waits.
  pic_.Input(1).SetLevel(false);
  pic_.Input(1).SetLevel(true);
  lapic_.AcceptInterrupt(0x90, false);
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x90);
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x21);
  // LINT0 in fixed mode does not carry the PIC.
  pio_.Write(0x20, 1, 0x20);
  pic_.Input(1).SetLevel(false);
  pic_.Input(1).SetLevel(true);
  Wr(LocalApic::kLvtLint0, 0x10700);
  Wr(LocalApic::kEoi, 0);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
}

TEST_F(LocalApicTest, HardwareDisableRoutesThePicDirectly) {
  InitPicLikeLinux();
  Enable();
  lapic_.SetApicBase(0xFEE00100);  // bit 11 clear
  EXPECT_FALSE(lapic_.hardware_enabled());
  EXPECT_EQ(mmio_.Read(kBase + LocalApic::kVersion, 4), 0xFFFFFFFFu);
  lapic_.AcceptInterrupt(0x80, false);  // not accepted
  pic_.Input(3).SetLevel(true);
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x23);
  lapic_.SetApicBase(0xFEE00900);
  EXPECT_EQ(Rd(LocalApic::kSvr), 0xFFu);  // back in its power-up state
  EXPECT_FALSE(lapic_.irr(0x80));
}

TEST_F(LocalApicTest, ResetClearsState) {
  Enable();
  Wr(LocalApic::kTimerDivide, 0xB);
  Wr(LocalApic::kLvtTimer, 0x40);
  Wr(LocalApic::kTimerInitial, 100);
  lapic_.AcceptInterrupt(0x50, false);
  lapic_.Reset();
  EXPECT_EQ(Rd(LocalApic::kSvr), 0xFFu);
  EXPECT_FALSE(lapic_.irr(0x50));
  EXPECT_EQ(lapic_.NextDeadlineNs(), TimedDevice::kNoDeadline);
  EXPECT_EQ(Rd(LocalApic::kLvtTimer), 0x10000u);
}

}  // namespace
}  // namespace tandem::hw
