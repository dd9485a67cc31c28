// fw_cfg through a port bus at its PC address, with DMA into real guest RAM:
// the selector/data protocol, the file directory, and the DMA interface as
// SeaBIOS drives it (big-endian descriptor, address written high then low).
#include "hw/misc/fw_cfg.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "hw/bus.h"
#include "hw/dma_memory.h"
#include "hw/guest_memory.h"
#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

constexpr uint16_t kSel = layout::kFwCfgPort;
constexpr uint16_t kData = layout::kFwCfgPort + 1;
constexpr uint16_t kDmaHigh = layout::kFwCfgPort + 4;
constexpr uint16_t kDmaLow = layout::kFwCfgPort + 8;
constexpr uint64_t kDescriptor = 0x8000;
constexpr uint64_t kBuffer = 0x9000;

uint32_t Bswap32(uint32_t v) { return __builtin_bswap32(v); }

class FwCfgTest : public ::testing::Test {
 protected:
  FwCfgTest() : mem_(Memory()), dma_(mem_), fw_cfg_(dma_) {
    EXPECT_TRUE(bus_.Register(layout::kFwCfgPort, FwCfg::kSize, &fw_cfg_, "fw_cfg").ok());
  }
  static GuestMemory Memory() {
    auto map = MemoryMap::Build(2ull << 20, 0);
    return std::move(GuestMemory::Create(*map, {}).value());
  }

  std::vector<uint8_t> ReadItem(uint16_t key, size_t n) {
    bus_.Write(kSel, 2, key);
    std::vector<uint8_t> out;
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(bus_.Read(kData, 1)));
    return out;
  }

  // Writes a FWCfgDmaAccess at kDescriptor and starts it the way SeaBIOS
  // does (outl of the byte-swapped halves); returns the control word after.
  uint32_t Dma(uint32_t control, uint32_t length, uint64_t address, uint64_t descriptor = kDescriptor) {
    uint8_t access[16];
    uint32_t c = Bswap32(control), l = Bswap32(length);
    uint64_t a = __builtin_bswap64(address);
    std::memcpy(access, &c, 4);
    std::memcpy(access + 4, &l, 4);
    std::memcpy(access + 8, &a, 8);
    mem_.WritePhys(descriptor, access, 16);
    bus_.Write(kDmaHigh, 4, Bswap32(static_cast<uint32_t>(descriptor >> 32)));
    bus_.Write(kDmaLow, 4, Bswap32(static_cast<uint32_t>(descriptor)));
    uint32_t done = 0;
    mem_.ReadPhys(descriptor, &done, 4);
    return Bswap32(done);
  }

  std::vector<uint8_t> Ram(uint64_t gpa, size_t n) {
    std::vector<uint8_t> out(n);
    mem_.ReadPhys(gpa, out.data(), n);
    return out;
  }

  GuestMemory mem_;
  GuestMemoryDma dma_;
  FwCfg fw_cfg_;
  Bus bus_{"pio"};
};

std::vector<uint8_t> Bytes(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

TEST_F(FwCfgTest, SignatureAndIdThroughTheDataPort) {
  EXPECT_EQ(ReadItem(FwCfg::kSignature, 4), Bytes("QEMU"));
  std::vector<uint8_t> id = ReadItem(FwCfg::kId, 4);
  EXPECT_EQ(id, (std::vector<uint8_t>{0x03, 0, 0, 0}));  // traditional + DMA
}

TEST_F(FwCfgTest, DataReadsAdvanceAndReadZeroPastTheEnd) {
  fw_cfg_.SetItem(FwCfg::kNbCpus, {0x34, 0x12});
  EXPECT_EQ(ReadItem(FwCfg::kNbCpus, 4), (std::vector<uint8_t>{0x34, 0x12, 0, 0}));
  // Reselecting starts over; the write-channel bit (14) selects the same item.
  EXPECT_EQ(ReadItem(FwCfg::kNbCpus | 0x4000, 1), (std::vector<uint8_t>{0x34}));
  // A 16-bit read returns the next two bytes, the first one lowest.
  bus_.Write(kSel, 2, FwCfg::kSignature);
  EXPECT_EQ(bus_.Read(kData, 2), 0x4551u);  // "QE"
  EXPECT_EQ(bus_.Read(kData, 1), uint64_t{'M'});
}

TEST_F(FwCfgTest, UnknownSelectorsReadZero) {
  EXPECT_EQ(ReadItem(0x0123, 3), (std::vector<uint8_t>{0, 0, 0}));
  EXPECT_EQ(ReadItem(FwCfg::kFileFirst + 40, 2), (std::vector<uint8_t>{0, 0}));
  EXPECT_EQ(ReadItem(0xBFFF, 2), (std::vector<uint8_t>{0, 0}));
}

TEST_F(FwCfgTest, DataPortWritesAreIgnored) {
  fw_cfg_.SetItem(FwCfg::kRamSize, {1, 2, 3, 4});
  bus_.Write(kSel, 2, FwCfg::kRamSize | 0x4000);
  bus_.Write(kData, 1, 0xAA);
  EXPECT_EQ(ReadItem(FwCfg::kRamSize, 4), (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST_F(FwCfgTest, DirectoryListsFilesSortedByNameWithTheirSelectors) {
  ASSERT_TRUE(fw_cfg_.AddFile("etc/zeta", Bytes("zz")).ok());
  ASSERT_TRUE(fw_cfg_.AddFile("bootorder", {}).ok());
  ASSERT_TRUE(fw_cfg_.AddFile("etc/alpha", Bytes("alpha!")).ok());
  EXPECT_FALSE(fw_cfg_.AddFile("etc/alpha", {}).ok());
  EXPECT_FALSE(fw_cfg_.AddFile("", {}).ok());
  EXPECT_FALSE(fw_cfg_.AddFile(std::string(56, 'x'), {}).ok());

  std::vector<uint8_t> dir = ReadItem(FwCfg::kFileDir, 4 + 3 * 64 + 4);
  EXPECT_EQ(dir[0] << 24 | dir[1] << 16 | dir[2] << 8 | dir[3], 3);
  struct Expect {
    const char* name;
    uint32_t size;
  };
  const Expect expected[] = {{"bootorder", 0}, {"etc/alpha", 6}, {"etc/zeta", 2}};
  for (int i = 0; i < 3; ++i) {
    const uint8_t* e = &dir[4 + 64 * i];
    uint32_t size = uint32_t{e[0]} << 24 | e[1] << 16 | e[2] << 8 | e[3];
    uint16_t select = static_cast<uint16_t>(e[4] << 8 | e[5]);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(e + 8)), expected[i].name);
    EXPECT_EQ(size, expected[i].size);
    EXPECT_EQ(select, FwCfg::kFileFirst + i);
    EXPECT_EQ(e[6] | e[7], 0);  // reserved
    EXPECT_EQ(fw_cfg_.FileSelector(expected[i].name), select);
  }
  EXPECT_EQ(std::vector<uint8_t>(dir.end() - 4, dir.end()), (std::vector<uint8_t>{0, 0, 0, 0}));
  EXPECT_EQ(ReadItem(fw_cfg_.FileSelector("etc/alpha"), 6), Bytes("alpha!"));
}

TEST_F(FwCfgTest, DmaSignatureReadsBackAtTheDmaRegister) {
  std::string sig;
  for (int i = 0; i < 8; ++i) sig.push_back(static_cast<char>(bus_.Read(kDmaHigh + i, 1)));
  EXPECT_EQ(sig, "QEMU CFG");
  EXPECT_EQ(bus_.Read(kDmaHigh, 4), 0x554D4551u);  // "QEMU" in port order
}

TEST_F(FwCfgTest, DmaSelectAndRead) {
  ASSERT_TRUE(fw_cfg_.AddFile("etc/hello", Bytes("hello, firmware")).ok());
  uint16_t sel = fw_cfg_.FileSelector("etc/hello");
  EXPECT_EQ(Dma(uint32_t{sel} << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead, 5, kBuffer), 0u);
  EXPECT_EQ(Ram(kBuffer, 5), Bytes("hello"));
  // Without SELECT the transfer continues where the last one stopped; SKIP moves on.
  EXPECT_EQ(Dma(FwCfg::kDmaSkip, 2, 0), 0u);
  EXPECT_EQ(Dma(FwCfg::kDmaRead, 8, kBuffer), 0u);
  EXPECT_EQ(Ram(kBuffer, 8), Bytes("firmware"));
  // Port reads share the same offset: the item is used up.
  EXPECT_EQ(bus_.Read(kData, 1), 0u);
}

TEST_F(FwCfgTest, DmaPastTheEndOfAnItemFillsZeros) {
  fw_cfg_.SetItem(FwCfg::kUuid, {1, 2, 3});
  std::vector<uint8_t> junk(16, 0xEE);
  mem_.WritePhys(kBuffer, junk.data(), junk.size());
  EXPECT_EQ(Dma(uint32_t{FwCfg::kUuid} << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead, 8, kBuffer), 0u);
  EXPECT_EQ(Ram(kBuffer, 9), (std::vector<uint8_t>{1, 2, 3, 0, 0, 0, 0, 0, 0xEE}));
  // An unknown item reads as zeros too, with no error.
  mem_.WritePhys(kBuffer, junk.data(), junk.size());
  EXPECT_EQ(Dma(uint32_t{0x0777} << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead, 4, kBuffer), 0u);
  EXPECT_EQ(Ram(kBuffer, 5), (std::vector<uint8_t>{0, 0, 0, 0, 0xEE}));
}

TEST_F(FwCfgTest, DmaOutsideRamSetsTheErrorBit) {
  fw_cfg_.SetItem(FwCfg::kUuid, std::vector<uint8_t>(16, 0x5A));
  const uint32_t read_uuid = uint32_t{FwCfg::kUuid} << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead;
  // Past the end of RAM, in the MMIO hole, and straddling the end of RAM.
  EXPECT_EQ(Dma(read_uuid, 16, 0xF0000000), FwCfg::kDmaError);
  EXPECT_EQ(Dma(read_uuid, 16, (2ull << 20) - 8), FwCfg::kDmaError);
  EXPECT_EQ(Ram((2ull << 20) - 8, 8), std::vector<uint8_t>(8, 0));  // nothing written
  // An overlong length runs into the end of RAM: the item, then zeros, then the error.
  EXPECT_EQ(Dma(read_uuid, 0xFFFFFFFF, (2ull << 20) - 0x20000), FwCfg::kDmaError);
  EXPECT_EQ(Ram((2ull << 20) - 0x20000, 17), (std::vector<uint8_t>{0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A,
                                                                    0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0x5A, 0}));
  // A descriptor outside RAM: nothing to report it in, and nothing breaks.
  bus_.Write(kDmaHigh, 4, 0);
  bus_.Write(kDmaLow, 4, Bswap32(0xE0000000));
  EXPECT_EQ(Dma(read_uuid, 4, kBuffer), 0u);  // the device still works
}

TEST_F(FwCfgTest, DmaWritesAreRefused) {
  fw_cfg_.SetItem(FwCfg::kUuid, {1, 2, 3, 4});
  mem_.WritePhys(kBuffer, "abcd", 4);
  EXPECT_EQ(Dma(uint32_t{FwCfg::kUuid} << 16 | FwCfg::kDmaSelect | FwCfg::kDmaWrite, 4, kBuffer),
            FwCfg::kDmaError);
  EXPECT_EQ(ReadItem(FwCfg::kUuid, 4), (std::vector<uint8_t>{1, 2, 3, 4}));
}

TEST_F(FwCfgTest, DmaWithoutAnOperationOnlySelects) {
  fw_cfg_.SetItem(FwCfg::kUuid, {9, 8});
  EXPECT_EQ(Dma(uint32_t{FwCfg::kUuid} << 16 | FwCfg::kDmaSelect, 2, kBuffer), 0u);
  EXPECT_EQ(bus_.Read(kData, 1), 9u);
}

TEST_F(FwCfgTest, SixtyFourBitDmaAddressWrite) {
  fw_cfg_.SetItem(FwCfg::kUuid, {7, 7, 7});
  uint8_t access[16] = {};
  uint32_t c = Bswap32(uint32_t{FwCfg::kUuid} << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead), l = Bswap32(3);
  uint64_t a = __builtin_bswap64(kBuffer);
  std::memcpy(access, &c, 4);
  std::memcpy(access + 4, &l, 4);
  std::memcpy(access + 8, &a, 8);
  mem_.WritePhys(kDescriptor, access, 16);
  bus_.Write(kDmaHigh, 8, __builtin_bswap64(kDescriptor));
  EXPECT_EQ(Ram(kBuffer, 3), (std::vector<uint8_t>{7, 7, 7}));
  EXPECT_EQ(Ram(kDescriptor, 4), (std::vector<uint8_t>{0, 0, 0, 0}));
}

TEST_F(FwCfgTest, ResetSelectsTheSignature) {
  bus_.Write(kSel, 2, FwCfg::kId);
  bus_.Read(kData, 1);
  fw_cfg_.Reset();
  EXPECT_EQ(bus_.Read(kData, 1), uint64_t{'Q'});
}

}  // namespace
}  // namespace tandem::hw
