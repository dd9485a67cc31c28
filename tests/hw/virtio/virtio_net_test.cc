// virtio-net through the PCI transport with a fake backend: feature
// negotiation, the MAC and link status in configuration space, transmit to
// the backend, receive into posted buffers (header, used length), frames
// held while no buffer is posted, checksum offload both ways, and a
// malformed ring.
#include "hw/virtio/virtio_net.h"

#include <gtest/gtest.h>

#include <mutex>

#include "hw/net/inet_checksum.h"
#include "tests/hw/virtio/virtio_fixture.h"

namespace tandem::hw::testing {
namespace {

using virtio::NetBackend;
using virtio::VirtioNet;
using virtio::VirtioPci;

class FakeBackend final : public NetBackend {
 public:
  void Send(const uint8_t* frame, size_t len) override { sent.emplace_back(frame, frame + len); }
  void Start(Receiver r) override { receiver = std::move(r); }
  std::vector<std::vector<uint8_t>> sent;
  Receiver receiver;
};

std::vector<uint8_t> Frame(size_t len, uint8_t seed) {
  std::vector<uint8_t> f(len);
  for (size_t i = 0; i < len; ++i) f[i] = static_cast<uint8_t>(seed + i);
  return f;
}

class VirtioNetTest : public VirtioFixture {
 protected:
  // Queue 1 (transmit) rings, next to queue 0's.
  static constexpr uint64_t kTxDesc = 0x13000, kTxAvail = 0x14000, kTxUsed = 0x15000;
  static constexpr VirtioNet::Mac kMac = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

  void SetUp() override {
    auto fake = std::make_unique<FakeBackend>();
    backend_ = fake.get();
    net_ = std::make_unique<VirtioNet>(std::move(fake), device_lock_, kMac);
    Plug(*net_);
    net_->Start();
  }
  void TearDown() override {
    net_.reset();
    transport_.reset();
  }
  // Initialize() without its last step, queue 1 set up, then DRIVER_OK;
  // `offloads`: feature bits 0-31 the driver takes beyond MAC and STATUS.
  void Up(uint64_t offloads = 0) {
    using V = VirtioPci;
    Initialize(virtio::kFeatureVersion1 | VirtioNet::kFeatureMac | VirtioNet::kFeatureStatus);
    uint8_t ok = Status();
    Common(V::kDeviceStatus, 1, 0);  // again, with both queues before DRIVER_OK
    Common(V::kDeviceStatus, 1, virtio::kStatusAcknowledge | virtio::kStatusDriver);
    Common(V::kDriverFeatureSelect, 4, 0);
    Common(V::kDriverFeature, 4, VirtioNet::kFeatureMac | VirtioNet::kFeatureStatus | offloads);
    Common(V::kDriverFeatureSelect, 4, 1);
    Common(V::kDriverFeature, 4, virtio::kFeatureVersion1 >> 32);
    Common(V::kDeviceStatus, 1, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
    const uint64_t rings[2][3] = {{kDesc, kAvail, kUsed}, {kTxDesc, kTxAvail, kTxUsed}};
    for (unsigned q = 0; q < 2; ++q) {
      Common(V::kQueueSelect, 2, q);
      Common(V::kQueueSize, 2, kQueueSize);
      Common(V::kQueueDesc, 8, rings[q][0]);
      Common(V::kQueueDriver, 8, rings[q][1]);
      Common(V::kQueueDevice, 8, rings[q][2]);
      Common(V::kQueueEnable, 2, 1);
    }
    Common(V::kDeviceStatus, 1, ok);
  }
  // One transmit chain at descriptor `head`: a 12-byte header then the frame.
  void OfferTx(uint16_t head, const std::vector<uint8_t>& frame, std::vector<uint8_t> hdr = std::vector<uint8_t>(12)) {
    uint64_t buf = kData + 0x8000 + 0x800 * head;
    memory_.WritePhys(buf, hdr.data(), hdr.size());
    memory_.WritePhys(buf + 0x100, frame.data(), frame.size());
    WriteDesc(kTxDesc, head, Desc{buf, 12, 1, static_cast<uint16_t>(head + 1)});
    WriteDesc(kTxDesc, head + 1, Desc{buf + 0x100, static_cast<uint32_t>(frame.size()), 0, 0});
    uint16_t idx = Read16(kTxAvail + 2);
    Write16(kTxAvail + 4 + 2 * (idx % kQueueSize), head);
    Write16(kTxAvail + 2, static_cast<uint16_t>(idx + 1));
  }
  // A receive buffer of `len` bytes at descriptor `head`.
  uint64_t OfferRx(uint16_t head, uint32_t len) {
    uint64_t buf = kData + 0x800 * head;
    OfferChain(head, {{buf, {len, true}}});
    return buf;
  }
  void Deliver(const std::vector<uint8_t>& f) { backend_->receiver(f.data(), f.size()); }

  std::mutex device_lock_;
  FakeBackend* backend_ = nullptr;
  std::unique_ptr<VirtioNet> net_;
};

TEST_F(VirtioNetTest, IdentifiesAsNetworkDevice) {
  EXPECT_EQ(Cfg(0x00, 2), 0x1AF4u);
  EXPECT_EQ(Cfg(0x02, 2), 0x1000u);  // transitional
  EXPECT_EQ(Cfg(0x2E, 2), 1u);       // subsystem: virtio device ID 1
  EXPECT_EQ(Cfg(0x0B, 1), 0x02u);    // network controller
}

TEST_F(VirtioNetTest, OffersMacStatusAndChecksumOffloadOnly) {
  Common(VirtioPci::kDeviceFeatureSelect, 4, 0);
  uint64_t low = Common(VirtioPci::kDeviceFeature, 4);
  // No segmentation offloads, no MRG_RXBUF.
  EXPECT_EQ(low & 0xFFFFFF, VirtioNet::kFeatureCsum | VirtioNet::kFeatureGuestCsum | VirtioNet::kFeatureMac |
                                VirtioNet::kFeatureStatus);
  Up();
  EXPECT_TRUE(Status() & virtio::kStatusDriverOk);
  EXPECT_FALSE(Status() & virtio::kStatusNeedsReset);
}

TEST_F(VirtioNetTest, ConfigSpaceHoldsMacAndLinkUp) {
  for (unsigned i = 0; i < 6; ++i) EXPECT_EQ(Common(VirtioPci::kDeviceOffset + i, 1), kMac[i]) << i;
  EXPECT_EQ(Common(VirtioPci::kDeviceOffset + 6, 2), VirtioNet::kStatusLinkUp);
}

TEST_F(VirtioNetTest, TransmitReachesBackendWithoutHeader) {
  Up();
  auto frame = Frame(60, 7);
  OfferTx(0, frame);
  Notify(1);
  ASSERT_EQ(backend_->sent.size(), 1u);
  EXPECT_EQ(backend_->sent[0], frame);
  EXPECT_EQ(Read16(kTxUsed + 2), 1);
  EXPECT_EQ(Read32(kTxUsed + 4), 0u);  // head
}

TEST_F(VirtioNetTest, ReceiveLandsInPostedBuffer) {
  Up();
  uint64_t buf = OfferRx(0, 1526 + 4);
  auto frame = Frame(98, 3);
  Deliver(frame);
  ASSERT_EQ(UsedIdx(), 1);
  EXPECT_EQ(UsedId(0), 0u);
  EXPECT_EQ(UsedLen(0), 12 + frame.size());
  auto hdr = ReadBytes(buf, 12);
  std::vector<uint8_t> want_hdr(12, 0);
  want_hdr[10] = 1;  // num_buffers
  EXPECT_EQ(hdr, want_hdr);
  EXPECT_EQ(ReadBytes(buf + 12, frame.size()), frame);
  transport_->DeliverPending();
  EXPECT_TRUE(router_.raised > 0 || !msi_.messages.empty());
}

TEST_F(VirtioNetTest, FrameWaitsForABufferThenArrives) {
  Up();
  auto frame = Frame(64, 9);
  Deliver(frame);  // no buffer posted yet
  EXPECT_EQ(UsedIdx(), 0);
  EXPECT_EQ(net_->pending(), 1u);
  uint64_t buf = OfferRx(0, 2048);
  Notify(0);
  ASSERT_EQ(UsedIdx(), 1);
  EXPECT_EQ(ReadBytes(buf + 12, frame.size()), frame);
  EXPECT_EQ(net_->pending(), 0u);
}

TEST_F(VirtioNetTest, FramesBeyondTheHoldLimitAreDropped) {
  Up();
  for (size_t i = 0; i < VirtioNet::kMaxPending + 5; ++i) Deliver(Frame(60, 1));
  EXPECT_EQ(net_->pending(), VirtioNet::kMaxPending);
  EXPECT_EQ(net_->dropped(), 5u);
}

TEST_F(VirtioNetTest, FramesBeforeDriverOkAreDropped) {
  Deliver(Frame(60, 1));
  EXPECT_EQ(net_->pending(), 0u);
  EXPECT_EQ(net_->dropped(), 1u);
}

TEST_F(VirtioNetTest, TooSmallBufferIsReturnedEmpty) {
  Up();
  OfferRx(0, 20);
  Deliver(Frame(60, 1));
  ASSERT_EQ(UsedIdx(), 1);
  EXPECT_EQ(UsedLen(0), 0u);
  EXPECT_EQ(net_->dropped(), 1u);
}

TEST_F(VirtioNetTest, MalformedTransmitRingNeedsResetNotCrash) {
  Up();
  // A descriptor pointing outside RAM.
  WriteDesc(kTxDesc, 0, Desc{kRam + 0x1000, 64, 0, 0});
  Write16(kTxAvail + 4, 0);
  Write16(kTxAvail + 2, 1);
  Notify(1);
  EXPECT_TRUE(Status() & virtio::kStatusNeedsReset);
  EXPECT_TRUE(backend_->sent.empty());
}

TEST_F(VirtioNetTest, ResetDropsHeldFrames) {
  Up();
  Deliver(Frame(60, 1));
  EXPECT_EQ(net_->pending(), 1u);
  Common(VirtioPci::kDeviceStatus, 1, 0);
  EXPECT_EQ(net_->pending(), 0u);
}

// Ethernet + IPv4 + TCP with `payload` bytes: checksums right, or the TCP
// one holding only the pseudo-header sum as a driver with NEEDS_CSUM leaves it.
std::vector<uint8_t> TcpFrame(size_t payload, bool partial) {
  std::vector<uint8_t> f(14 + 40 + payload, 0);
  auto put16 = [&](size_t at, uint32_t v) {
    f[at] = static_cast<uint8_t>(v >> 8);
    f[at + 1] = static_cast<uint8_t>(v);
  };
  put16(12, 0x0800);
  f[14] = 0x45;
  put16(16, 40 + payload);
  f[22] = 64;
  f[23] = 6;
  const uint8_t addrs[8] = {10, 0, 2, 15, 10, 0, 2, 2};
  for (int i = 0; i < 8; ++i) f[26 + i] = addrs[i];
  put16(24, net::ChecksumFinish(net::ChecksumAdd(f.data() + 14, 20)));
  f[46] = 0x50;
  for (size_t i = 0; i < payload; ++i) f[54 + i] = static_cast<uint8_t>(i * 5 + 1);
  uint64_t pseudo = net::ChecksumAdd(f.data() + 26, 8) + 6 + 20 + payload;
  if (partial) {
    put16(50, static_cast<uint16_t>(~net::ChecksumFinish(pseudo)));
  } else {
    put16(50, net::ChecksumFinish(net::ChecksumAdd(f.data() + 34, 20 + payload, pseudo)));
  }
  return f;
}

TEST_F(VirtioNetTest, ReceiveMarksVerifiedChecksumsWhenTheDriverTakesThem) {
  Up(VirtioNet::kFeatureGuestCsum);
  auto good = TcpFrame(200, false);
  auto bad = good;
  bad[100] ^= 1;
  uint64_t good_buf = OfferRx(0, 2048);
  uint64_t bad_buf = OfferRx(1, 2048);
  Deliver(good);
  Deliver(bad);
  ASSERT_EQ(UsedIdx(), 2);
  EXPECT_EQ(ReadBytes(good_buf, 1)[0], VirtioNet::kHdrDataValid);
  EXPECT_EQ(ReadBytes(good_buf + 12, good.size()), good);
  EXPECT_EQ(ReadBytes(bad_buf, 1)[0], 0);  // left for the guest to find
  EXPECT_EQ(ReadBytes(bad_buf + 12, bad.size()), bad);
}

TEST_F(VirtioNetTest, ReceiveClaimsNothingWithoutGuestCsum) {
  Up();
  uint64_t buf = OfferRx(0, 2048);
  Deliver(TcpFrame(200, false));
  ASSERT_EQ(UsedIdx(), 1);
  EXPECT_EQ(ReadBytes(buf, 1)[0], 0);  // 5.1.6.4.1: flags zero unless GUEST_CSUM
}

TEST_F(VirtioNetTest, TransmitCompletesAPartialChecksum) {
  Up(VirtioNet::kFeatureCsum);
  std::vector<uint8_t> hdr(12, 0);
  hdr[0] = VirtioNet::kHdrNeedsCsum;
  hdr[6] = 34;  // csum_start: the TCP header
  hdr[8] = 16;  // csum_offset: its checksum field
  OfferTx(0, TcpFrame(300, true), hdr);
  Notify(1);
  ASSERT_EQ(backend_->sent.size(), 1u);
  EXPECT_EQ(backend_->sent[0], TcpFrame(300, false));
}

TEST_F(VirtioNetTest, TransmitChecksumOutsideTheFrameIsSentAsItIs) {
  Up(VirtioNet::kFeatureCsum);
  std::vector<uint8_t> hdr(12, 0);
  hdr[0] = VirtioNet::kHdrNeedsCsum;
  hdr[6] = 0xF0;  // csum_start beyond the 60-byte frame
  auto frame = Frame(60, 4);
  OfferTx(0, frame, hdr);
  Notify(1);
  ASSERT_EQ(backend_->sent.size(), 1u);
  EXPECT_EQ(backend_->sent[0], frame);
  EXPECT_FALSE(Status() & virtio::kStatusNeedsReset);
}

TEST_F(VirtioNetTest, TransmitIgnoresNeedsCsumWithoutCsum) {
  Up();
  std::vector<uint8_t> hdr(12, 0);
  hdr[0] = VirtioNet::kHdrNeedsCsum;
  hdr[6] = 34;
  hdr[8] = 16;
  auto frame = TcpFrame(100, true);
  OfferTx(0, frame, hdr);
  Notify(1);
  ASSERT_EQ(backend_->sent.size(), 1u);
  EXPECT_EQ(backend_->sent[0], frame);
}

}  // namespace
}  // namespace tandem::hw::testing
