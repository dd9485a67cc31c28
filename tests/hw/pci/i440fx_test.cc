// The i440FX host bridge on the board: its IDs, and PAM shadowing of
// 0xC0000-0xFFFFF seen through GuestMemory (ROM or PCI when off, RAM read-
// only, RAM read-write) with the memory-map observers told of each switch.
#include "hw/pci/i440fx.h"

#include <gtest/gtest.h>

#include "hw/pc_layout.h"
#include "tests/hw/pci/board_fixture.h"

namespace tandem::hw {
namespace {

using testing::CfgRead;
using testing::CfgWrite;

constexpr int kHost = layout::kI440fxDevfn;

std::vector<uint8_t> PatternRom() {
  std::vector<uint8_t> rom(256 * 1024);
  for (size_t i = 0; i < rom.size(); ++i) rom[i] = static_cast<uint8_t>(0xB0 + (i >> 16));  // per 64 KiB
  return rom;
}

class CountingObserver final : public MemoryMapObserver {
 public:
  void MemoryMapChanged(uint64_t gpa, uint64_t size) override {
    ++calls;
    EXPECT_LE(gpa, 0xC0000u);
    EXPECT_GE(gpa + size, 0x100000u);
  }
  int calls = 0;
};

uint8_t ReadByte(GuestMemory& m, uint64_t gpa) {
  GuestMemory::Span span = m.Lookup(gpa);
  return span.host ? *span.host : 0xFF;  // no memory: the PCI hole
}

TEST(I440fx, IdsAsQemuShowsThem) {
  auto board = testing::MakeBoard(false);
  EXPECT_EQ(CfgRead(*board, kHost, 0x00, 4), 0x12378086u);
  EXPECT_EQ(CfgRead(*board, kHost, 0x0A, 2), 0x0600u);  // host bridge
  EXPECT_EQ(CfgRead(*board, kHost, 0x0E, 1), 0x00u);
  EXPECT_EQ(CfgRead(*board, kHost, 0x72, 1), 0x02u);  // SMRAM closed
}

TEST(I440fx, PamSwitchesBetweenRomRamAndReadOnlyRam) {
  auto board = testing::MakeBoard(false, PatternRom());
  GuestMemory& mem = board->memory();
  CountingObserver observer;
  mem.AddObserver(&observer);
  // Power-on: every segment off. 0xE0000-0xFFFFF is the BIOS alias (the last
  // 128 KiB of the 256 KiB ROM), 0xC0000-0xDFFFF the PCI hole.
  EXPECT_EQ(CfgRead(*board, kHost, 0x58, 4), 0u);
  EXPECT_EQ(ReadByte(mem, 0xF0000), 0xB3u);
  EXPECT_EQ(ReadByte(mem, 0xE0000), 0xB2u);
  EXPECT_EQ(mem.Lookup(0xC8000).host, nullptr);
  EXPECT_FALSE(mem.Lookup(0xF0000).writable);

  // 0xF0000 read-write (what SeaBIOS does first): RAM, empty, writable.
  CfgWrite(*board, kHost, 0x59, 1, 0x30);
  EXPECT_EQ(observer.calls, 1);
  EXPECT_EQ(ReadByte(mem, 0xF0000), 0u);
  uint32_t word = 0x12345678;
  ASSERT_TRUE(mem.WritePhys(0xFFFF0, &word, 4));
  EXPECT_TRUE(mem.Lookup(0xF0000).writable);
  EXPECT_EQ(ReadByte(mem, 0xE0000), 0xB2u);  // other segments unchanged

  // Read-only: the RAM copy stays visible, writes are refused.
  CfgWrite(*board, kHost, 0x59, 1, 0x10);
  EXPECT_EQ(observer.calls, 2);
  EXPECT_EQ(ReadByte(mem, 0xFFFF0), 0x78u);
  EXPECT_FALSE(mem.Lookup(0xF0000).writable);
  EXPECT_EQ(mem.RamPointer(0xF0000, 1), nullptr);

  // Off again: the ROM alias; the RAM behind it keeps its bytes.
  CfgWrite(*board, kHost, 0x59, 1, 0x00);
  EXPECT_EQ(ReadByte(mem, 0xFFFF0), 0xB3u);
  CfgWrite(*board, kHost, 0x59, 1, 0x30);
  EXPECT_EQ(ReadByte(mem, 0xFFFF0), 0x78u);

  // 16 KiB segments: PAM1's high nibble is 0xC4000-0xC7FFF only.
  CfgWrite(*board, kHost, 0x5A, 1, 0x30);
  EXPECT_EQ(mem.Lookup(0xC0000).host, nullptr);
  EXPECT_TRUE(mem.Lookup(0xC4000).writable);
  EXPECT_EQ(mem.Lookup(0xC4000).length, 0x4000u);
  EXPECT_EQ(mem.Lookup(0xC8000).host, nullptr);

  // SeaBIOS's dword writes at 0x58 and 0x5C: everything read-write.
  int before = observer.calls;
  CfgWrite(*board, kHost, 0x58, 4, 0x33333000);
  CfgWrite(*board, kHost, 0x5C, 4, 0x33333333);
  EXPECT_EQ(observer.calls, before + 2);
  EXPECT_EQ(CfgRead(*board, kHost, 0x58, 4), 0x33333000u);
  EXPECT_EQ(CfgRead(*board, kHost, 0x5C, 4), 0x33333333u);
  for (uint64_t gpa = 0xC0000; gpa < 0x100000; gpa += 0x4000) EXPECT_TRUE(mem.Lookup(gpa).writable) << gpa;
  EXPECT_EQ(mem.Lookup(0xC0000).length, 0x40000u);  // one region

  // Writing the same value again does not disturb the engines.
  before = observer.calls;
  CfgWrite(*board, kHost, 0x5C, 4, 0x33333333);
  EXPECT_EQ(observer.calls, before);

  // A reset puts the power-on map back.
  board->Reset();
  EXPECT_EQ(ReadByte(mem, 0xF0000), 0xB3u);
  EXPECT_EQ(mem.Lookup(0xC4000).host, nullptr);
  mem.RemoveObserver(&observer);
}

TEST(I440fx, WriteOnlyIsTreatedAsReadWrite) {
  auto board = testing::MakeBoard(false, PatternRom());
  CfgWrite(*board, kHost, 0x59, 1, 0x20);
  EXPECT_TRUE(board->memory().Lookup(0xF0000).writable);
}

TEST(I440fx, DirectBootStartsWithTheBoardsOwnShadowLayout) {
  // With a ROM: its alias off (ROM), the rest of the area RAM.
  auto board = testing::MakeBoard(true, PatternRom());
  EXPECT_EQ(CfgRead(*board, kHost, 0x58, 4), 0x33330000u);
  EXPECT_EQ(CfgRead(*board, kHost, 0x5C, 4), 0x00003333u);
  EXPECT_EQ(ReadByte(board->memory(), 0xF0000), 0xB3u);
  EXPECT_TRUE(board->memory().Lookup(0xD0000).writable);
  // Without: RAM everywhere, where the loaders put the MP and ACPI tables.
  auto kernel_board = testing::MakeBoard(true);
  EXPECT_EQ(CfgRead(*kernel_board, kHost, 0x58, 4), 0x33333000u);
  EXPECT_TRUE(kernel_board->memory().Lookup(0xF0000).writable);
}

}  // namespace
}  // namespace tandem::hw
