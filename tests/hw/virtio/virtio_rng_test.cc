// The virtio PCI transport with the entropy device: capabilities, feature
// negotiation, queue set-up, a request served through a direct and an
// indirect chain, INTx through the ISR, MSI-X, EVENT_IDX suppression, and
// malformed rings (a descriptor loop, a table outside RAM) setting
// DEVICE_NEEDS_RESET instead of crashing.
#include "hw/virtio/virtio_rng.h"

#include <gtest/gtest.h>

#include "tests/hw/virtio/virtio_fixture.h"

namespace tandem::hw::testing {
namespace {

using virtio::VirtioPci;

class VirtioRngTest : public VirtioFixture {
 protected:
  VirtioRngTest()
      : rng_([this](uint8_t* buf, size_t n) {
          for (size_t i = 0; i < n; ++i) buf[i] = static_cast<uint8_t>(next_++);
          return n;
        }) {}
  void SetUp() override { Plug(rng_); }
  static constexpr uint64_t kFeatures = virtio::kFeatureVersion1 | virtio::kFeatureIndirectDesc;

  uint8_t next_ = 0xA0;
  virtio::VirtioRng rng_;
};

TEST_F(VirtioRngTest, IdentifiesAsTransitionalVirtioWithItsStructuresInBar4) {
  EXPECT_EQ(Cfg(PciDevice::kVendorId, 2), 0x1AF4u);
  EXPECT_EQ(Cfg(PciDevice::kDeviceId, 2), 0x1005u);  // transitional entropy device
  EXPECT_EQ(Cfg(PciDevice::kRevision, 1), 0u);
  EXPECT_EQ(Cfg(PciDevice::kSubsystemVendorId, 2), 0x1AF4u);
  EXPECT_EQ(Cfg(PciDevice::kSubsystemId, 2), 4u);  // the virtio device ID
  EXPECT_EQ(Cfg(0x10, 4), kBar0 | 1);              // BAR0: I/O
  const uint8_t types[] = {VirtioPci::kCapCommon, VirtioPci::kCapNotify, VirtioPci::kCapIsr, VirtioPci::kCapDevice};
  const uint32_t offsets[] = {0x0000, 0x3000, 0x1000, 0x2000};
  for (int i = 0; i < 4; ++i) {
    unsigned cap = FindCap(types[i]);
    ASSERT_NE(cap, 0u) << "capability type " << int(types[i]);
    EXPECT_EQ(Cfg(cap + 4, 1), 4u);  // BAR4
    EXPECT_EQ(Cfg(cap + 8, 4), offsets[i]);
  }
  EXPECT_EQ(Cfg(FindCap(VirtioPci::kCapNotify) + 16, 4), VirtioPci::kNotifyMultiplier);
  EXPECT_EQ(Common(VirtioPci::kNumQueues, 2), 1u);
}

class VirtioModernOnlyTest : public VirtioFixture {
 protected:
  void SetUp() override { Plug(rng_, false); }
  virtio::VirtioRng rng_;
};

TEST_F(VirtioModernOnlyTest, HasTheModernIdAndNoIoBar) {
  EXPECT_EQ(Cfg(PciDevice::kDeviceId, 2), 0x1044u);  // 0x1040 + entropy (4)
  EXPECT_GE(Cfg(PciDevice::kRevision, 1), 1u);
  EXPECT_EQ(Cfg(0x10, 4), 0u);
}

// A legacy driver (4.1.4.10): 32-bit features, the queue's page frame
// number, and the rings at the legacy layout's fixed places.
TEST_F(VirtioRngTest, ALegacyDriverUsesTheIoBar) {
  auto io = [&](unsigned off, unsigned size) { return pio_.Read(kBar0 + off, size); };
  auto set = [&](unsigned off, unsigned size, uint64_t v) { pio_.Write(kBar0 + off, size, v); };
  EXPECT_TRUE(io(VirtioPci::kLegacyHostFeatures, 4) & virtio::kFeatureIndirectDesc);
  set(VirtioPci::kLegacyStatus, 1, virtio::kStatusAcknowledge | virtio::kStatusDriver);
  set(VirtioPci::kLegacyGuestFeatures, 4, 0);
  set(VirtioPci::kLegacyQueueSelect, 2, 0);
  uint16_t size = static_cast<uint16_t>(io(VirtioPci::kLegacyQueueSize, 2));
  ASSERT_EQ(size, 64);
  constexpr uint64_t kPfn = 0x40;  // rings at 0x40000
  set(VirtioPci::kLegacyQueuePfn, 4, kPfn);
  EXPECT_EQ(io(VirtioPci::kLegacyQueuePfn, 4), kPfn);
  set(VirtioPci::kLegacyStatus, 1, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusDriverOk);
  const uint64_t desc = kPfn * 4096, avail = desc + 16 * size, used = 0x41000;  // avail 0x40400, used aligned up
  WriteDesc(desc, 0, Desc{kData, 8, 2, 0});
  Write16(avail + 4, 0);
  Write16(avail + 2, 1);
  set(VirtioPci::kLegacyQueueNotify, 2, 0);
  EXPECT_EQ(Read16(used + 2), 1);
  EXPECT_EQ(Read32(used + 8), 8u);
  EXPECT_EQ(ReadBytes(kData, 1)[0], 0xA0);
  EXPECT_TRUE(router_.level);
  EXPECT_EQ(io(VirtioPci::kLegacyIsr, 1), 1u);
  EXPECT_FALSE(router_.level);
  set(VirtioPci::kLegacyStatus, 1, 0);  // reset
  EXPECT_EQ(io(VirtioPci::kLegacyQueuePfn, 4), 0u);
}

TEST_F(VirtioRngTest, OffersVersion1IndirectAndEventIdxAndRefusesFeaturesWithoutVersion1) {
  Common(VirtioPci::kDeviceFeatureSelect, 4, 0);
  uint64_t features = Common(VirtioPci::kDeviceFeature, 4);
  Common(VirtioPci::kDeviceFeatureSelect, 4, 1);
  features |= Common(VirtioPci::kDeviceFeature, 4) << 32;
  EXPECT_TRUE(features & virtio::kFeatureVersion1);
  EXPECT_TRUE(features & virtio::kFeatureIndirectDesc);
  EXPECT_TRUE(features & virtio::kFeatureEventIdx);
  // A legacy-only driver: FEATURES_OK does not stick.
  Common(VirtioPci::kDeviceStatus, 1, virtio::kStatusAcknowledge | virtio::kStatusDriver);
  Common(VirtioPci::kDriverFeatureSelect, 4, 0);
  Common(VirtioPci::kDriverFeature, 4, virtio::kFeatureIndirectDesc);
  Common(VirtioPci::kDeviceStatus, 1, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
  EXPECT_FALSE(Status() & virtio::kStatusFeaturesOk);
  // Status 0 resets; a VERSION_1 driver is accepted.
  Initialize(kFeatures);
  EXPECT_TRUE(Status() & virtio::kStatusDriverOk);
  EXPECT_EQ(Common(VirtioPci::kQueueSize, 2), kQueueSize);
  EXPECT_EQ(Common(VirtioPci::kQueueDriver, 8), kAvail);
}

TEST_F(VirtioRngTest, FillsAWritableBufferAndRaisesIntxUntilTheIsrIsRead) {
  Initialize(kFeatures);
  OfferChain(0, {{kData, {32, true}}});
  Notify(0);
  ASSERT_EQ(UsedIdx(), 1);
  EXPECT_EQ(UsedId(0), 0u);
  EXPECT_EQ(UsedLen(0), 32u);
  std::vector<uint8_t> got = ReadBytes(kData, 32);
  for (int i = 0; i < 32; ++i) EXPECT_EQ(got[i], static_cast<uint8_t>(0xA0 + i));
  EXPECT_TRUE(router_.level);
  EXPECT_EQ(mmio_.Read(kBar4 + VirtioPci::kIsrOffset, 1), 1u);
  EXPECT_FALSE(router_.level);
  EXPECT_EQ(mmio_.Read(kBar4 + VirtioPci::kIsrOffset, 1), 0u);  // read clears
}

TEST_F(VirtioRngTest, FollowsAnIndirectTable) {
  Initialize(kFeatures);
  constexpr uint64_t kTable = 0x18000;
  WriteDesc(kTable, 0, Desc{kData, 8, 2 | 1, 1});
  WriteDesc(kTable, 1, Desc{kData + 0x100, 8, 2, 0});
  WriteDesc(kDesc, 5, Desc{kTable, 32, 4, 0});
  Offer(5);
  Notify(0);
  ASSERT_EQ(UsedIdx(), 1);
  EXPECT_EQ(UsedId(0), 5u);
  EXPECT_EQ(UsedLen(0), 16u);
  EXPECT_EQ(ReadBytes(kData + 0x100, 1)[0], 0xA8);
}

TEST_F(VirtioRngTest, SendsTheQueuesMsixVectorInsteadOfIntx) {
  // Enable MSI-X in its capability and program table entry 1.
  unsigned cap = 0;
  for (unsigned c = Cfg(PciDevice::kCapabilityPointer, 1); c; c = Cfg(c + 1, 1)) {
    if (Cfg(c, 1) == PciDevice::kCapMsix) cap = c;
  }
  ASSERT_NE(cap, 0u);
  EXPECT_EQ(Cfg(cap + 2, 2) & 0x7FF, 1u);  // two vectors: config + one queue
  Cfg(cap + 2, 2, 0x8000);
  mmio_.Write(kBar1 + 16 + 0, 4, 0xFEE00000);
  mmio_.Write(kBar1 + 16 + 8, 4, 0x41);
  mmio_.Write(kBar1 + 16 + 12, 4, 0);  // unmasked
  Initialize(kFeatures);
  Common(VirtioPci::kQueueSelect, 2, 0);
  Common(VirtioPci::kQueueMsixVector, 2, 1);
  EXPECT_EQ(Common(VirtioPci::kQueueMsixVector, 2), 1u);
  OfferChain(0, {{kData, {4, true}}});
  Notify(0);
  ASSERT_EQ(msi_.messages.size(), 1u);
  EXPECT_EQ(msi_.messages[0].first, 0xFEE00000u);
  EXPECT_EQ(msi_.messages[0].second, 0x41u);
  EXPECT_FALSE(router_.level);
}

TEST_F(VirtioRngTest, EventIdxInterruptsOnlyWhenUsedEventIsPassed) {
  Initialize(kFeatures | virtio::kFeatureEventIdx);
  const uint64_t used_event = kAvail + 4 + 2 * kQueueSize;
  Write16(used_event, 0);  // interrupt after the first buffer
  OfferChain(0, {{kData, {4, true}}});
  Notify(0);
  EXPECT_EQ(router_.raised, 1);
  mmio_.Read(kBar4 + VirtioPci::kIsrOffset, 1);
  Write16(used_event, 5);  // the driver wants nothing before used idx 6
  OfferChain(1, {{kData, {4, true}}});
  Notify(0);
  EXPECT_EQ(UsedIdx(), 2);
  EXPECT_EQ(router_.raised, 1);
  // The device tells the driver how far it has consumed (avail_event).
  EXPECT_EQ(Read16(kUsed + 4 + 8 * kQueueSize), 2);
}

TEST_F(VirtioRngTest, ADescriptorLoopSetsNeedsResetAndUsesNothing) {
  Initialize(kFeatures);
  WriteDesc(kDesc, 0, Desc{kData, 4, 2 | 1, 1});
  WriteDesc(kDesc, 1, Desc{kData, 4, 2 | 1, 0});  // back to 0
  Offer(0);
  Notify(0);
  EXPECT_EQ(UsedIdx(), 0);
  EXPECT_TRUE(Status() & virtio::kStatusNeedsReset);
  EXPECT_EQ(mmio_.Read(kBar4 + VirtioPci::kIsrOffset, 1), 2u);  // configuration change
  EXPECT_NE(log_sink_.text.find("loops"), std::string::npos) << log_sink_.text;
  // Further notifications are ignored until the driver resets the device.
  OfferChain(2, {{kData, {4, true}}});
  Notify(0);
  EXPECT_EQ(UsedIdx(), 0);
  Initialize(kFeatures);
  EXPECT_FALSE(Status() & virtio::kStatusNeedsReset);
}

TEST_F(VirtioRngTest, RingsOutsideRamNeedAReset) {
  Initialize(kFeatures);
  WriteDesc(kDesc, 0, Desc{0xF0000000, 4, 2, 0});  // a buffer in the PCI hole
  Offer(0);
  Notify(0);
  EXPECT_EQ(UsedIdx(), 0);
  EXPECT_TRUE(Status() & virtio::kStatusNeedsReset);
  EXPECT_NE(log_sink_.text.find("needs reset"), std::string::npos) << log_sink_.text;
}

// Lockstep and --deterministic give both boards (or every run) the same bytes.
TEST(VirtioRngSeededTest, TheSameSeedGivesTheSameBytes) {
  auto a = virtio::VirtioRng::Seeded(virtio::VirtioRng::kRepeatableSeed);
  auto b = virtio::VirtioRng::Seeded(virtio::VirtioRng::kRepeatableSeed);
  auto c = virtio::VirtioRng::Seeded(1);
  std::vector<uint8_t> x(64), y(64), z(64);
  ASSERT_EQ(a(x.data(), x.size()), 64u);
  ASSERT_EQ(b(y.data(), y.size()), 64u);
  ASSERT_EQ(c(z.data(), z.size()), 64u);
  EXPECT_EQ(x, y);
  EXPECT_NE(x, z);
  EXPECT_NE(x, std::vector<uint8_t>(64, x[0])) << "not one byte repeated";
  a(x.data(), x.size());
  EXPECT_NE(x, y) << "the stream goes on";
}

}  // namespace
}  // namespace tandem::hw::testing
