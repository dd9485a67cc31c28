// The board's fw_cfg as firmware sees it through the port bus: the items
// SeaBIOS and kvm-unit-tests read, the directory, etc/e820 built from the
// memory map, and the ACPI files fetched by DMA and linked as SeaBIOS links
// them.
#include "hw/pc_fw_cfg.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "hw/board.h"
#include "hw/pc_layout.h"
#include "tests/hw/loader/acpi_test_util.h"

namespace tandem::hw {
namespace {

class PcFwCfgTest : public ::testing::Test {
 protected:
  PcFwCfgTest() {
    BoardConfig config;
    config.ram_size = 128ull << 20;
    board_ = std::move(Board::Create(config).value());
  }
  Bus& pio() { return board_->pio(); }

  std::vector<uint8_t> ReadItem(uint16_t key, size_t n) {
    pio().Write(layout::kFwCfgPort, 2, key);
    std::vector<uint8_t> out;
    for (size_t i = 0; i < n; ++i) out.push_back(static_cast<uint8_t>(pio().Read(layout::kFwCfgPort + 1, 1)));
    return out;
  }
  uint64_t ReadInt(uint16_t key, size_t n) {
    uint64_t v = 0;
    std::vector<uint8_t> b = ReadItem(key, n);
    for (size_t i = 0; i < n; ++i) v |= uint64_t{b[i]} << (8 * i);
    return v;
  }

  struct File {
    uint16_t select;
    uint32_t size;
  };
  std::map<std::string, File> Directory() {
    std::vector<uint8_t> count = ReadItem(FwCfg::kFileDir, 4);
    uint32_t n = uint32_t{count[0]} << 24 | count[1] << 16 | count[2] << 8 | count[3];
    std::vector<uint8_t> dir = ReadItem(FwCfg::kFileDir, 4 + 64 * n);
    std::map<std::string, File> out;
    std::string previous;
    for (uint32_t i = 0; i < n; ++i) {
      const uint8_t* e = &dir[4 + 64 * i];
      std::string name(reinterpret_cast<const char*>(e + 8));
      EXPECT_LT(previous, name) << "directory not sorted";
      previous = name;
      out[name] = File{static_cast<uint16_t>(e[4] << 8 | e[5]), uint32_t{e[0]} << 24 | e[1] << 16 | e[2] << 8 | e[3]};
    }
    return out;
  }

  // Reads a file by DMA into RAM at `at` as SeaBIOS's qemu_cfg_read_entry does.
  std::vector<uint8_t> DmaFile(const File& f, uint64_t at) {
    const uint64_t descriptor = 0x7000;
    uint32_t control = __builtin_bswap32(uint32_t{f.select} << 16 | FwCfg::kDmaSelect | FwCfg::kDmaRead);
    uint32_t length = __builtin_bswap32(f.size);
    uint64_t address = __builtin_bswap64(at);
    GuestMemory& mem = board_->memory();
    mem.WritePhys(descriptor, &control, 4);
    mem.WritePhys(descriptor + 4, &length, 4);
    mem.WritePhys(descriptor + 8, &address, 8);
    pio().Write(layout::kFwCfgPort + 8, 4, __builtin_bswap32(descriptor));
    uint32_t done = 1;
    mem.ReadPhys(descriptor, &done, 4);
    EXPECT_EQ(done, 0u);
    std::vector<uint8_t> out(f.size);
    mem.ReadPhys(at, out.data(), f.size);
    return out;
  }

  std::unique_ptr<Board> board_;
};

TEST_F(PcFwCfgTest, ItemsFirmwareAndTestKernelsRead) {
  EXPECT_EQ(ReadItem(FwCfg::kSignature, 4), (std::vector<uint8_t>{'Q', 'E', 'M', 'U'}));
  EXPECT_EQ(ReadInt(FwCfg::kId, 4), 3u);
  EXPECT_EQ(ReadInt(FwCfg::kRamSize, 8), 128ull << 20);
  EXPECT_EQ(ReadInt(FwCfg::kNbCpus, 2), 1u);
  EXPECT_EQ(ReadInt(FwCfg::kMaxCpus, 2), 1u);
  EXPECT_EQ(ReadInt(FwCfg::kNoGraphic, 2), 1u);
  EXPECT_EQ(ReadInt(FwCfg::kBootMenu, 2), 0u);
  EXPECT_EQ(ReadInt(FwCfg::kX86Irq0Override, 4), 1u);
  EXPECT_EQ(ReadInt(FwCfg::kNuma, 8), 0u);  // no NUMA nodes
  EXPECT_EQ(ReadInt(FwCfg::kX86AcpiTables, 2), 0u);
  EXPECT_EQ(ReadInt(FwCfg::kX86SmbiosEntries, 2), 0u);
}

TEST_F(PcFwCfgTest, DirectoryHoldsTheFilesSeaBiosLooksFor) {
  auto dir = Directory();
  for (const char* name : {"bootorder", "etc/acpi/rsdp", "etc/acpi/tables", "etc/boot-cpus", "etc/boot-fail-wait",
                           "etc/e820", "etc/sercon-port", "etc/table-loader"}) {
    EXPECT_TRUE(dir.count(name)) << name;
  }
  EXPECT_EQ(dir["bootorder"].size, 0u);
  EXPECT_EQ(ReadInt(dir["etc/sercon-port"].select, 2), layout::kCom1Port);
  EXPECT_EQ(ReadInt(dir["etc/boot-fail-wait"].select, 4), 0xFFFFFFFFu);
  EXPECT_EQ(ReadInt(dir["etc/boot-cpus"].select, 2), 1u);
  EXPECT_EQ(dir["etc/table-loader"].size % 128, 0u);
  EXPECT_EQ(dir["etc/acpi/rsdp"].size, 20u);
}

TEST_F(PcFwCfgTest, E820FileIsTheMemoryMap) {
  auto dir = Directory();
  std::vector<E820Entry> expected = board_->memory_map().E820();
  ASSERT_EQ(dir["etc/e820"].size, 20 * expected.size());
  std::vector<uint8_t> e820 = ReadItem(dir["etc/e820"].select, dir["etc/e820"].size);
  for (size_t i = 0; i < expected.size(); ++i) {
    uint64_t addr, size;
    uint32_t type;
    std::memcpy(&addr, &e820[20 * i], 8);
    std::memcpy(&size, &e820[20 * i + 8], 8);
    std::memcpy(&type, &e820[20 * i + 16], 4);
    EXPECT_EQ(addr, expected[i].addr);
    EXPECT_EQ(size, expected[i].size);
    EXPECT_EQ(type, static_cast<uint32_t>(expected[i].type));
  }
  EXPECT_EQ(e820[16], 1);  // the first entry is RAM at 0
}

// The firmware path end to end: fetch the three ACPI files by DMA, link them
// the way SeaBIOS does, and find checksummed tables equal to a direct boot's.
TEST_F(PcFwCfgTest, AcpiFilesLinkedAsSeaBiosDoesGiveTheDirectBootTables) {
  auto dir = Directory();
  std::map<std::string, std::vector<uint8_t>> files;
  files["etc/acpi/tables"] = DmaFile(dir["etc/acpi/tables"], 0x100000);
  files["etc/acpi/rsdp"] = DmaFile(dir["etc/acpi/rsdp"], 0x200000);
  std::vector<uint8_t> script = DmaFile(dir["etc/table-loader"], 0x300000);
  GuestMemory& mem = board_->memory();
  testing::ApplyLikeSeaBios(script, files, 0x7F00000, 0xF5000, mem);
  testing::FoundTables firmware = testing::FindTables(mem);

  auto map = MemoryMap::Build(128ull << 20, 0);
  GuestMemory direct = std::move(GuestMemory::Create(*map, {}).value());
  ASSERT_TRUE(WriteAcpiTables(direct).ok());
  testing::FoundTables d = testing::FindTables(direct);
  EXPECT_EQ(firmware.bytes["DSDT"], d.bytes["DSDT"]);
  EXPECT_EQ(firmware.bytes["APIC"], d.bytes["APIC"]);
  EXPECT_EQ(firmware.address["FACS"] % 64, 0u);
}

TEST(PcFwCfgOptionsTest, OptionRomsAndSerconAreConfigurable) {
  auto map = MemoryMap::Build(16ull << 20, 0);
  GuestMemory mem = std::move(GuestMemory::Create(*map, {}).value());
  GuestMemoryDma dma(mem);
  FwCfg fw_cfg(dma);
  PcFwCfgConfig config;
  config.sercon_port = 0;
  config.bootorder = "/pci@i0cf8/ide@1,1/drive@0/disk@0\n";
  config.option_roms.push_back({"test.bin", {0x55, 0xAA, 1}});
  ASSERT_TRUE(PopulatePcFwCfg(fw_cfg, *map, BuildAcpiTables(AcpiConfigFor(*map, 1)), config).ok());
  EXPECT_EQ(fw_cfg.FileSelector("etc/sercon-port"), 0);
  EXPECT_NE(fw_cfg.FileSelector("genroms/test.bin"), 0);
  EXPECT_NE(fw_cfg.FileSelector("bootorder"), 0);
}

}  // namespace
}  // namespace tandem::hw
