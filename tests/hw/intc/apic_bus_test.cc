// The APIC bus with four local APICs (IDs 0-3): IPIs by physical and logical
// destination, the shorthands, lowest-priority arbitration, NMI, INIT and
// SIPI reaching the CPU links, and the I/O APIC routing by destination.
#include "hw/intc/apic_bus.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "hw/clock.h"
#include "hw/intc/i8259.h"
#include "hw/intc/ioapic.h"
#include "hw/intc/local_apic.h"

namespace tandem::hw {
namespace {

class ApicBusTest : public ::testing::Test {
 protected:
  static constexpr int kCpus = 4;
  ApicBusTest() {
    for (int i = 0; i < kCpus; ++i) {
      apics_.push_back(std::make_unique<LocalApic>(clock_, pic_, static_cast<uint8_t>(i), &bus_));
      bus_.Attach(apics_.back().get());
      LocalApic& a = *apics_.back();
      a.Write(LocalApic::kSvr, 4, 0x1FF);  // software enable
      a.SetCpuLinks({[this, i] { ++wakes_[i]; }, [this, i] { ++inits_[i]; },
                     [this, i](uint8_t v) { sipis_[i].push_back(v); }});
    }
  }
  LocalApic& apic(int i) { return *apics_[i]; }
  // Writes the ICR of CPU `from`: high (destination) first, then low (sends).
  void Send(int from, uint32_t low, uint8_t dest = 0) {
    apic(from).Write(LocalApic::kIcrHigh, 4, uint32_t{dest} << 24);
    apic(from).Write(LocalApic::kIcrLow, 4, low);
  }
  std::vector<int> WithIrr(uint8_t vector) {
    std::vector<int> out;
    for (int i = 0; i < kCpus; ++i) {
      if (apic(i).irr(vector)) out.push_back(i);
    }
    return out;
  }

  ManualClock clock_;
  I8259Pair pic_;
  ApicBus bus_;
  std::vector<std::unique_ptr<LocalApic>> apics_;
  int wakes_[kCpus] = {};
  int inits_[kCpus] = {};
  std::vector<uint8_t> sipis_[kCpus];
};

constexpr uint32_t kLogical = 1u << 11, kAssert = 1u << 14;
constexpr uint32_t kSelf = 1u << 18, kAll = 2u << 18, kAllButSelf = 3u << 18;
constexpr uint32_t kLowest = 1u << 8, kNmi = 4u << 8, kInit = 5u << 8, kStartup = 6u << 8;

TEST_F(ApicBusTest, EachCpuHasItsOwnIdAndOnlyApicZeroIsTheBsp) {
  for (int i = 0; i < kCpus; ++i) {
    EXPECT_EQ(apic(i).Read(LocalApic::kId, 4) >> 24, static_cast<uint32_t>(i));
    EXPECT_EQ((apic(i).apic_base() & LocalApic::kBaseBsp) != 0, i == 0);
  }
}

TEST_F(ApicBusTest, FixedIpiByPhysicalDestinationReachesThatCpuAndWakesIt) {
  Send(0, 0x40, 2);
  EXPECT_EQ(WithIrr(0x40), std::vector<int>{2});
  EXPECT_EQ(wakes_[2], 1);
  EXPECT_EQ(wakes_[0] + wakes_[1] + wakes_[3], 0);
  EXPECT_TRUE(apic(2).HasPendingInterrupt());
  EXPECT_EQ(apic(2).AcknowledgeInterrupt(), 0x40);
}

TEST_F(ApicBusTest, Shorthands) {
  Send(1, 0x41 | kSelf);
  EXPECT_EQ(WithIrr(0x41), std::vector<int>{1});
  Send(1, 0x42 | kAll);
  EXPECT_EQ(WithIrr(0x42), (std::vector<int>{0, 1, 2, 3}));
  Send(1, 0x43 | kAllButSelf);
  EXPECT_EQ(WithIrr(0x43), (std::vector<int>{0, 2, 3}));
  Send(3, 0x44, 0xFF);  // physical broadcast
  EXPECT_EQ(WithIrr(0x44), (std::vector<int>{0, 1, 2, 3}));
}

TEST_F(ApicBusTest, LogicalFlatAndClusterDestinations) {
  for (int i = 0; i < kCpus; ++i) apic(i).Write(LocalApic::kLdr, 4, (1u << i) << 24);  // flat: one bit each
  Send(0, 0x50 | kLogical, 0b1010);
  EXPECT_EQ(WithIrr(0x50), (std::vector<int>{1, 3}));
  // Cluster model: cluster 1 holds CPUs 0, 1 (members 1, 2), cluster 2 holds 2, 3.
  const uint32_t ldr[] = {0x11, 0x12, 0x21, 0x22};
  for (int i = 0; i < kCpus; ++i) {
    apic(i).Write(LocalApic::kDfr, 4, 0x0FFFFFFF);
    apic(i).Write(LocalApic::kLdr, 4, ldr[i] << 24);
  }
  Send(0, 0x51 | kLogical, 0x22);
  EXPECT_EQ(WithIrr(0x51), std::vector<int>{3});
  Send(0, 0x52 | kLogical, 0xF1);  // every cluster, member 1
  EXPECT_EQ(WithIrr(0x52), (std::vector<int>{0, 2}));
}

TEST_F(ApicBusTest, LowestPriorityPicksTheLowestPprThenTheLowestId) {
  apic(0).Write(LocalApic::kTpr, 4, 0x30);
  apic(1).Write(LocalApic::kTpr, 4, 0x20);
  apic(2).Write(LocalApic::kTpr, 4, 0x20);
  apic(3).Write(LocalApic::kTpr, 4, 0x50);
  Send(0, 0x60 | kLowest | kAll);
  EXPECT_EQ(WithIrr(0x60), std::vector<int>{1});
}

TEST_F(ApicBusTest, NmiIpiLatchesAnNmiOnTheTarget) {
  Send(0, kNmi, 3);
  EXPECT_TRUE(apic(3).HasPendingNmi());
  EXPECT_FALSE(apic(0).HasPendingNmi());
  EXPECT_EQ(wakes_[3], 1);
}

TEST_F(ApicBusTest, InitSipiSipiReachesTheApsCpuLinks) {
  apic(2).Write(LocalApic::kTpr, 4, 0x70);
  Send(0, kInit | kAssert | kAllButSelf);
  Send(0, kInit | kAllButSelf);  // level de-assert: nothing (xAPIC)
  EXPECT_EQ(inits_[0], 0);
  EXPECT_EQ(inits_[1], 1);
  EXPECT_EQ(inits_[2], 1);
  EXPECT_EQ(apic(2).tpr(), 0);  // INIT reset the APIC...
  EXPECT_EQ(apic(2).Read(LocalApic::kId, 4) >> 24, 2u);  // ...but its ID
  Send(0, kStartup | 0x9A | kAllButSelf);
  Send(0, kStartup | 0x9A, 3);
  EXPECT_EQ(sipis_[1], std::vector<uint8_t>{0x9A});
  EXPECT_EQ(sipis_[3], (std::vector<uint8_t>{0x9A, 0x9A}));
  EXPECT_TRUE(sipis_[0].empty());
}

TEST_F(ApicBusTest, IoApicRoutesByDestination) {
  IoApic ioapic(bus_, 4);
  auto set = [&](int pin, uint64_t entry) {
    ioapic.Write(IoApic::kRegSelOffset, 4, IoApic::kRedirectionIndex + 2 * pin);
    ioapic.Write(IoApic::kWindowOffset, 4, entry & 0xFFFFFFFF);
    ioapic.Write(IoApic::kRegSelOffset, 4, IoApic::kRedirectionIndex + 2 * pin + 1);
    ioapic.Write(IoApic::kWindowOffset, 4, entry >> 32);
  };
  set(3, 0x33 | (uint64_t{2} << 56));  // fixed, physical, to APIC 2, edge
  ioapic.SetInput(3, true);
  EXPECT_EQ(WithIrr(0x33), std::vector<int>{2});
}

}  // namespace
}  // namespace tandem::hw
