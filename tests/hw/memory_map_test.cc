#include "hw/memory_map.h"

#include <gtest/gtest.h>

#include "hw/guest_memory.h"
#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

TEST(MemoryMap, SmallRamWithBiosHasHoleAliasAndTopRom) {
  auto map = MemoryMap::Build(128ull << 20, 256 * 1024);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->ram_below_4g(), 128ull << 20);
  EXPECT_EQ(map->ram_above_4g(), 0u);
  EXPECT_EQ(map->Find(0xA0000), nullptr);  // VGA hole
  EXPECT_EQ(map->Find(0xBFFFF), nullptr);
  const MemoryRegion* alias = map->Find(0xE0000);
  ASSERT_NE(alias, nullptr);
  EXPECT_EQ(alias->kind, RegionKind::kRom);
  EXPECT_EQ(alias->host_offset, 128u * 1024);  // last 128 KiB of the 256 KiB ROM
  const MemoryRegion* top = map->Find(0xFFFFFFF0);
  ASSERT_NE(top, nullptr);
  EXPECT_EQ(top->kind, RegionKind::kRom);
  EXPECT_EQ(top->gpa, layout::k4GiB - 256 * 1024);
  EXPECT_EQ(map->Find(layout::kLapicBase), nullptr);
  EXPECT_EQ(map->Find(128ull << 20), nullptr);
}

TEST(MemoryMap, SmallBiosLeavesRamBelowItsAlias) {
  auto map = MemoryMap::Build(64ull << 20, 64 * 1024);
  ASSERT_TRUE(map.ok());
  ASSERT_NE(map->Find(0xE0000), nullptr);
  EXPECT_EQ(map->Find(0xE0000)->kind, RegionKind::kRam);
  EXPECT_EQ(map->Find(0xF0000)->kind, RegionKind::kRom);
  EXPECT_EQ(map->Find(0xF0000)->host_offset, 0u);
}

TEST(MemoryMap, LargeRamSplitsAroundTheMmioHole) {
  auto map = MemoryMap::Build(4ull << 30, 0);
  ASSERT_TRUE(map.ok());
  EXPECT_EQ(map->ram_below_4g(), layout::kMmioHoleStart);
  EXPECT_EQ(map->ram_above_4g(), (4ull << 30) - layout::kMmioHoleStart);
  const MemoryRegion* high = map->Find(layout::k4GiB);
  ASSERT_NE(high, nullptr);
  EXPECT_EQ(high->host_offset, layout::kMmioHoleStart);
  EXPECT_EQ(map->RamOffset(layout::k4GiB + 5), layout::kMmioHoleStart + 5);
  auto e820 = map->E820();
  EXPECT_EQ(e820.back().addr, layout::k4GiB);
  EXPECT_EQ(e820.back().type, E820Type::kRam);
}

TEST(MemoryMap, RejectsImpossibleSizes) {
  EXPECT_FALSE(MemoryMap::Build(1 << 20, 0).ok());
  EXPECT_FALSE(MemoryMap::Build((128ull << 20) + 1, 0).ok());
  EXPECT_FALSE(MemoryMap::Build(2ull << 40, 0).ok());
  EXPECT_FALSE(MemoryMap::Build(128ull << 20, 4096).ok());
  EXPECT_FALSE(MemoryMap::Build(128ull << 20, 32ull << 20).ok());
  EXPECT_TRUE(MemoryMap::Build(128ull << 20, 16ull << 20).ok());
}

TEST(ParseSize, AcceptsSuffixesAndRejectsGarbage) {
  EXPECT_EQ(*ParseSize("128M"), 128ull << 20);
  EXPECT_EQ(*ParseSize("2G"), 2ull << 30);
  EXPECT_EQ(*ParseSize("512K"), 512ull << 10);
  EXPECT_EQ(*ParseSize("65536"), 65536u);
  EXPECT_FALSE(ParseSize("").ok());
  EXPECT_FALSE(ParseSize("abc").ok());
  EXPECT_FALSE(ParseSize("12Q").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999G").ok());
}

TEST(GuestMemory, RomIsVisibleAtTopAndAliasAndNotWritableByGuest) {
  std::vector<uint8_t> rom(64 * 1024, 0);
  rom[0xFFF0] = 0xEA;
  auto map = MemoryMap::Build(16ull << 20, rom.size());
  ASSERT_TRUE(map.ok());
  auto mem = GuestMemory::Create(*map, rom);
  ASSERT_TRUE(mem.ok());
  EXPECT_EQ(*mem->Lookup(0xFFFFFFF0).host, 0xEA);
  EXPECT_EQ(*mem->Lookup(0xFFFF0).host, 0xEA);
  EXPECT_FALSE(mem->Lookup(0xFFFF0).writable);
  EXPECT_TRUE(mem->Lookup(0x1000).writable);
  EXPECT_EQ(mem->Lookup(0xA0000).host, nullptr);
  uint32_t v = 0x12345678, back = 0;
  EXPECT_TRUE(mem->WritePhys(0x9FFFE, &v, 2));
  EXPECT_FALSE(mem->WritePhys(0x9FFFE, &v, 4));  // runs into the VGA hole
  EXPECT_TRUE(mem->ReadPhys(0x9FFFE, &back, 2));
  EXPECT_EQ(back, 0x5678u);
}

}  // namespace
}  // namespace tandem::hw
