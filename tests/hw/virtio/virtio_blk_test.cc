// virtio-blk through the PCI transport on a temporary raw image: read,
// write, flush, get-id, write-zeroes, the read-only refusal, the snapshot
// overlay, the image lock, a host write error, and completions raised from
// the worker thread only when the board polls.
#include "hw/virtio/virtio_blk.h"

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <mutex>

#include "tests/hw/virtio/virtio_fixture.h"

namespace tandem::hw::testing {
namespace {

using virtio::VirtioBlk;
using virtio::VirtioPci;

constexpr uint64_t kSectors = 64;

// A temporary image whose sector s holds bytes (s * 7 + i) & 0xFF.
class TempImage {
 public:
  TempImage() {
    const char* dir = std::getenv("TMPDIR");
    path_ = std::string(dir && *dir ? dir : "/tmp") + "/tandem-virtio-XXXXXX";
    int fd = mkstemp(path_.data());
    EXPECT_GE(fd, 0);
    std::vector<uint8_t> data(kSectors * 512);
    for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>((i / 512) * 7 + i % 512);
    EXPECT_EQ(write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    close(fd);
  }
  ~TempImage() { unlink(path_.c_str()); }
  const std::string& path() const { return path_; }
  std::vector<uint8_t> Contents() const {
    std::ifstream in(path_, std::ios::binary);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
  }

 private:
  std::string path_;
};

uint8_t Pattern(uint64_t sector, unsigned i) { return static_cast<uint8_t>(sector * 7 + i); }

class VirtioBlkTest : public VirtioFixture {
 protected:
  void Open(DriveConfig config) {
    config.path = image_.path();
    auto raw = RawImage::Open(config);
    ASSERT_TRUE(raw.ok()) << raw.message();
    blk_ = std::make_unique<VirtioBlk>(std::move(*raw), device_lock_, "tandem-serial");
    Plug(*blk_);
    Initialize(virtio::kFeatureVersion1 | virtio::kFeatureIndirectDesc);
  }
  void TearDown() override {
    blk_.reset();  // the worker stops before the transport goes
    transport_.reset();
  }
  uint64_t Features() {
    Common(VirtioPci::kDeviceFeatureSelect, 4, 0);
    return Common(VirtioPci::kDeviceFeature, 4);
  }
  // One request: header at kData, data at kData + 0x1000, status at kData + 0x100.
  // Returns the status byte after the worker finished and the board polled.
  uint8_t Request(uint32_t type, uint64_t sector, uint32_t data_len, bool data_writable, uint16_t head = 0) {
    uint8_t header[16] = {};
    std::memcpy(header, &type, 4);
    std::memcpy(header + 8, &sector, 8);
    memory_.WritePhys(kData, header, 16);
    uint8_t poison = 0xEE;
    memory_.WritePhys(kData + 0x100, &poison, 1);
    std::vector<std::pair<uint64_t, std::pair<uint32_t, bool>>> chain = {{kData, {16, false}}};
    if (data_len) chain.push_back({kData + 0x1000, {data_len, data_writable}});
    chain.push_back({kData + 0x100, {1, true}});
    OfferChain(head, chain);
    Notify(0);
    blk_->WaitIdle();
    transport_->AdvanceTo(0);  // what Board::Poll does on the vCPU thread
    return ReadBytes(kData + 0x100, 1)[0];
  }

  TempImage image_;
  std::mutex device_lock_;
  std::unique_ptr<VirtioBlk> blk_;
};

TEST_F(VirtioBlkTest, ConfigSpaceGivesTheCapacityAndFeaturesTheCommands) {
  Open({});
  EXPECT_EQ(Cfg(PciDevice::kDeviceId, 2), 0x1001u);  // transitional block device
  EXPECT_EQ(Cfg(PciDevice::kSubsystemId, 2), 2u);
  EXPECT_EQ(mmio_.Read(kBar4 + VirtioPci::kDeviceOffset, 8), kSectors);
  EXPECT_EQ(mmio_.Read(kBar4 + VirtioPci::kDeviceOffset + 20, 4), 512u);  // blk_size
  uint64_t f = Features();
  EXPECT_TRUE(f & VirtioBlk::kFeatureFlush);
  EXPECT_TRUE(f & VirtioBlk::kFeatureWriteZeroes);
  EXPECT_FALSE(f & VirtioBlk::kFeatureRo);
}

TEST_F(VirtioBlkTest, ReadsSectorsIntoGuestMemoryAndInterruptsAfterThePoll) {
  Open({});
  EXPECT_EQ(Request(VirtioBlk::kTypeIn, 3, 1024, true), VirtioBlk::kStatusOk);
  ASSERT_EQ(UsedIdx(), 1);
  EXPECT_EQ(UsedLen(0), 1025u);  // data and status
  std::vector<uint8_t> got = ReadBytes(kData + 0x1000, 1024);
  for (unsigned i = 0; i < 1024; ++i) ASSERT_EQ(got[i], Pattern(3 + i / 512, i % 512)) << i;
  EXPECT_GE(wakes_.load(), 1);  // the worker woke the board...
  EXPECT_TRUE(router_.level);   // ...whose poll raised INTx
}

TEST_F(VirtioBlkTest, WritesReachTheImageAndFlushSucceeds) {
  Open({});
  std::vector<uint8_t> data(512, 0x5A);
  memory_.WritePhys(kData + 0x1000, data.data(), data.size());
  EXPECT_EQ(Request(VirtioBlk::kTypeOut, 10, 512, false), VirtioBlk::kStatusOk);
  EXPECT_EQ(Request(VirtioBlk::kTypeFlush, 0, 0, false, 3), VirtioBlk::kStatusOk);
  std::vector<uint8_t> file = image_.Contents();
  EXPECT_EQ(file[10 * 512], 0x5A);
  EXPECT_EQ(file[10 * 512 + 511], 0x5A);
  EXPECT_EQ(file[11 * 512], Pattern(11, 0));
}

TEST_F(VirtioBlkTest, RequestsPastTheEndFailWithIoErr) {
  Open({});
  EXPECT_EQ(Request(VirtioBlk::kTypeIn, kSectors - 1, 1024, true), VirtioBlk::kStatusIoErr);
  EXPECT_EQ(Request(VirtioBlk::kTypeIn, 0, 100, true, 3), VirtioBlk::kStatusIoErr);  // not whole sectors
  EXPECT_EQ(Request(99, 0, 0, false, 6), VirtioBlk::kStatusUnsupported);
}

TEST_F(VirtioBlkTest, GetIdReturnsTheSerial) {
  Open({});
  EXPECT_EQ(Request(VirtioBlk::kTypeGetId, 0, 20, true), VirtioBlk::kStatusOk);
  std::vector<uint8_t> id = ReadBytes(kData + 0x1000, 20);
  EXPECT_EQ(std::string(id.begin(), id.begin() + 13), "tandem-serial");
  EXPECT_EQ(id[13], 0);
}

TEST_F(VirtioBlkTest, WriteZeroesClearsTheRange) {
  Open({});
  uint8_t seg[16] = {};
  uint64_t first = 4;
  uint32_t count = 2;
  std::memcpy(seg, &first, 8);
  std::memcpy(seg + 8, &count, 4);
  memory_.WritePhys(kData + 0x1000, seg, 16);
  EXPECT_EQ(Request(VirtioBlk::kTypeWriteZeroes, 0, 16, false), VirtioBlk::kStatusOk);
  std::vector<uint8_t> file = image_.Contents();
  for (uint64_t i = 4 * 512; i < 6 * 512; ++i) ASSERT_EQ(file[i], 0) << i;
  EXPECT_EQ(file[6 * 512 + 1], Pattern(6, 1));
  EXPECT_EQ(file.size(), kSectors * 512);
}

TEST_F(VirtioBlkTest, ReadOnlyDrivesRefuseWrites) {
  DriveConfig config;
  config.read_only = true;
  Open(config);
  EXPECT_TRUE(Features() & VirtioBlk::kFeatureRo);
  EXPECT_FALSE(Features() & VirtioBlk::kFeatureWriteZeroes);
  std::vector<uint8_t> data(512, 0x11);
  memory_.WritePhys(kData + 0x1000, data.data(), data.size());
  EXPECT_EQ(Request(VirtioBlk::kTypeOut, 1, 512, false), VirtioBlk::kStatusIoErr);
  EXPECT_EQ(image_.Contents()[512], Pattern(1, 0));
}

TEST_F(VirtioBlkTest, SnapshotKeepsWritesInMemoryAndTheImageUntouched) {
  DriveConfig config;
  config.snapshot = true;
  Open(config);
  std::vector<uint8_t> data(1024, 0x77);
  memory_.WritePhys(kData + 0x1000, data.data(), data.size());
  EXPECT_EQ(Request(VirtioBlk::kTypeOut, 2, 1024, false), VirtioBlk::kStatusOk);
  EXPECT_EQ(blk_->image().overlay_sectors(), 2u);
  // Reading sectors 1-4 mixes the image (1, 4) and the overlay (2, 3).
  EXPECT_EQ(Request(VirtioBlk::kTypeIn, 1, 2048, true, 3), VirtioBlk::kStatusOk);
  std::vector<uint8_t> got = ReadBytes(kData + 0x1000, 2048);
  EXPECT_EQ(got[0], Pattern(1, 0));
  EXPECT_EQ(got[512], 0x77);
  EXPECT_EQ(got[1535], 0x77);
  EXPECT_EQ(got[1536 + 9], Pattern(4, 9));
  std::vector<uint8_t> file = image_.Contents();
  EXPECT_EQ(file[2 * 512], Pattern(2, 0));
  EXPECT_EQ(file[3 * 512 + 100], Pattern(3, 100));
}

TEST_F(VirtioBlkTest, AWritableImageIsLockedAgainstASecondUser) {
  DriveConfig config;
  config.path = image_.path();
  auto first = RawImage::Open(config);
  ASSERT_TRUE(first.ok()) << first.message();
  auto second = RawImage::Open(config);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.message().find("locked"), std::string::npos) << second.message();
  DriveConfig reader = config;
  reader.read_only = true;
  EXPECT_FALSE(RawImage::Open(reader).ok());  // a writer excludes readers too
  first->reset();
  auto r1 = RawImage::Open(reader);
  auto r2 = RawImage::Open(reader);
  EXPECT_TRUE(r1.ok() && r2.ok());  // readers share
  EXPECT_FALSE(RawImage::Open(config).ok());
}

TEST_F(VirtioBlkTest, ABadStatusBufferNeedsAResetWithoutCrashing) {
  Open({});
  WriteDesc(kDesc, 0, Desc{kData, 16, 1, 1});
  WriteDesc(kDesc, 1, Desc{0xF0000000, 1, 2, 0});  // status byte in the PCI hole
  uint32_t type = VirtioBlk::kTypeFlush;
  memory_.WritePhys(kData, &type, 4);
  Offer(0);
  Notify(0);
  blk_->WaitIdle();
  transport_->AdvanceTo(0);
  EXPECT_EQ(UsedIdx(), 0);
  EXPECT_TRUE(Status() & virtio::kStatusNeedsReset);
}

}  // namespace
}  // namespace tandem::hw::testing

namespace tandem::hw::testing {
namespace {

// cache=none: O_DIRECT through aligned bounce buffers, on a file system that has it.
TEST(RawImageTest, CacheNoneReadsAndWritesThroughODirect) {
  TempImage image;
  DriveConfig config;
  config.path = image.path();
  config.direct = true;
  auto raw = RawImage::Open(config);
  if (!raw.ok()) GTEST_SKIP() << "no O_DIRECT here: " << raw.message();
  std::vector<uint8_t> data(1024, 0x3C);
  ASSERT_TRUE((*raw)->Write(5 * 512, data.data() + 1, 512));  // an unaligned guest buffer
  ASSERT_TRUE((*raw)->Flush());
  std::vector<uint8_t> back(1536);
  ASSERT_TRUE((*raw)->Read(4 * 512, back.data() + 3, 1024));
  EXPECT_EQ(back[3], Pattern(4, 0));
  EXPECT_EQ(back[3 + 512], 0x3C);
  EXPECT_EQ(back[3 + 1023], 0x3C);
  EXPECT_EQ(image.Contents()[5 * 512 + 7], 0x3C);
}

}  // namespace
}  // namespace tandem::hw::testing

namespace tandem::hw::testing {
namespace {

// A host write that fails (here EFBIG: the process may not write past
// RLIMIT_FSIZE, which stands in for a full disk) reaches the guest as
// VIRTIO_BLK_S_IOERR and the user as one line naming the image; the device
// keeps working for what the host can still do.
TEST_F(VirtioBlkTest, AHostWriteErrorIsAnIoErrorAndOneReport) {
  std::vector<std::string> reports;
  DriveConfig config;
  config.path = image_.path();
  auto raw = RawImage::Open(config);
  ASSERT_TRUE(raw.ok()) << raw.message();
  blk_ = std::make_unique<VirtioBlk>(std::move(*raw), device_lock_, "",
                                     [&reports](const std::string& line) { reports.push_back(line); });
  Plug(*blk_);
  Initialize(virtio::kFeatureVersion1 | virtio::kFeatureIndirectDesc);

  struct rlimit saved;
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &saved), 0);
  struct sigaction ignore = {}, old_action = {};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &old_action), 0);  // EFBIG instead of the signal
  struct rlimit small = saved;
  small.rlim_cur = 8 * 512;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::vector<uint8_t> data(512, 0x42);
  memory_.WritePhys(kData + 0x1000, data.data(), data.size());
  uint8_t beyond = Request(VirtioBlk::kTypeOut, 20, 512, false);
  uint8_t again = Request(VirtioBlk::kTypeOut, 21, 512, false, 3);
  uint8_t below = Request(VirtioBlk::kTypeOut, 2, 512, false, 6);  // under the limit: still fine
  setrlimit(RLIMIT_FSIZE, &saved);
  sigaction(SIGXFSZ, &old_action, nullptr);

  EXPECT_EQ(beyond, VirtioBlk::kStatusIoErr);
  EXPECT_EQ(again, VirtioBlk::kStatusIoErr);
  EXPECT_EQ(below, VirtioBlk::kStatusOk);
  ASSERT_EQ(reports.size(), 1u);  // once per drive
  EXPECT_NE(reports[0].find(image_.path()), std::string::npos) << reports[0];
  EXPECT_NE(reports[0].find("write"), std::string::npos) << reports[0];
  std::vector<uint8_t> file = image_.Contents();
  EXPECT_EQ(file[20 * 512], Pattern(20, 0));
  EXPECT_EQ(file[2 * 512], 0x42);
}

}  // namespace
}  // namespace tandem::hw::testing
