// The debugger page walk over a map-backed physical memory: paging off,
// 32-bit paging with 4 KiB and 4 MiB pages, PAE, 4-level with 4 KiB, 2 MiB
// and 1 GiB pages, and not-present entries on the way.
#include "target-x86/page_walk.h"

#include <gtest/gtest.h>

#include <cstring>
#include <map>

namespace tandem::x86 {
namespace {

class PhysicalMemory {
 public:
  void Put32(uint64_t address, uint32_t value) { Put(address, &value, 4); }
  void Put64(uint64_t address, uint64_t value) { Put(address, &value, 8); }
  PhysicalReader Reader() {
    return [this](uint64_t address, void* out, size_t size) {
      auto* bytes = static_cast<uint8_t*>(out);
      for (size_t i = 0; i < size; ++i) {
        auto it = bytes_.find(address + i);
        bytes[i] = it == bytes_.end() ? 0 : it->second;
      }
      return address < (1ull << 40);  // "RAM" below 1 TiB
    };
  }

 private:
  void Put(uint64_t address, const void* value, size_t size) {
    for (size_t i = 0; i < size; ++i) bytes_[address + i] = static_cast<const uint8_t*>(value)[i];
  }
  std::map<uint64_t, uint8_t> bytes_;
};

TEST(PageWalkTest, PagingOffIsIdentity) {
  PhysicalMemory mem;
  CpuState s;
  EXPECT_EQ(LinearToPhysical(s, 0x12345678, mem.Reader()), 0x12345678u);
  EXPECT_EQ(LinearToPhysical(s, 0x1'0000'1000ull, mem.Reader()), 0x1000u);  // 32-bit linear addresses
}

TEST(PageWalkTest, ThirtyTwoBitPaging) {
  PhysicalMemory mem;
  CpuState s;
  s.cr0 = kCr0Pe | kCr0Pg;
  s.cr3 = 0x10000;
  mem.Put32(0x10000 + (0x00400000 >> 22) * 4, 0x20000 | 1);  // PDE 1 -> page table at 0x20000
  mem.Put32(0x20000 + 5 * 4, 0x00ABC000 | 1);               // PTE 5
  EXPECT_EQ(LinearToPhysical(s, 0x00405123, mem.Reader()), 0x00ABC123u);
  EXPECT_EQ(LinearToPhysical(s, 0x00406123, mem.Reader()), std::nullopt);  // PTE 6 not present
  EXPECT_EQ(LinearToPhysical(s, 0x00805123, mem.Reader()), std::nullopt);  // PDE 2 not present
  mem.Put32(0x10000 + 3 * 4, 0x01C00000 | 0x80 | 1);                        // a 4 MiB page
  EXPECT_EQ(LinearToPhysical(s, 0x00C12345, mem.Reader()), std::nullopt);  // PS needs CR4.PSE: a table at 0x01C00000
  s.cr4 = kCr4Pse;
  EXPECT_EQ(LinearToPhysical(s, 0x00C12345, mem.Reader()), 0x01C12345u);
}

TEST(PageWalkTest, Pae) {
  PhysicalMemory mem;
  CpuState s;
  s.cr0 = kCr0Pe | kCr0Pg;
  s.cr4 = kCr4Pae;
  s.cr3 = 0x10020;                              // 32-byte aligned PDPT
  mem.Put64(0x10020 + 2 * 8, 0x30000 | 1);      // PDPTE 2: 0x80000000-0xBFFFFFFF
  mem.Put64(0x30000 + 1 * 8, 0x40000 | 1);      // PDE 1
  mem.Put64(0x40000 + 3 * 8, 0x1'2345'6000ull | 1);  // PTE 3: above 4 GiB
  EXPECT_EQ(LinearToPhysical(s, 0x80203ABC, mem.Reader()), 0x1'2345'6ABCull);
  mem.Put64(0x30000 + 2 * 8, 0x00600000 | 0x80 | 1);  // a 2 MiB page
  EXPECT_EQ(LinearToPhysical(s, 0x80412345, mem.Reader()), 0x00612345u);
  EXPECT_EQ(LinearToPhysical(s, 0x40000000, mem.Reader()), std::nullopt);  // PDPTE 1 not present
}

TEST(PageWalkTest, FourLevelPaging) {
  PhysicalMemory mem;
  CpuState s;
  s.cr0 = kCr0Pe | kCr0Pg;
  s.cr4 = kCr4Pae;
  s.msr.efer = kEferLme | kEferLma;
  s.cr3 = 0x1000;
  const uint64_t linear = 0xFFFF'8000'0020'3456ull;  // PML4 256, PDPT 0, PD 1, PT 3
  mem.Put64(0x1000 + 256 * 8, 0x2000 | 3);
  mem.Put64(0x2000 + 0 * 8, 0x3000 | 3);
  mem.Put64(0x3000 + 1 * 8, 0x4000 | 3);
  mem.Put64(0x4000 + 3 * 8, 0x8000'0000'0077'7000ull | 3);  // NX set: not part of the address
  EXPECT_EQ(LinearToPhysical(s, linear, mem.Reader()), 0x777456u);
  mem.Put64(0x3000 + 1 * 8, 0x0120'0000 | 0x80 | 3);  // now a 2 MiB page
  EXPECT_EQ(LinearToPhysical(s, linear, mem.Reader()), 0x0120'3456u);
  mem.Put64(0x2000 + 0 * 8, 0x4000'0000 | 0x80 | 3);  // now a 1 GiB page
  EXPECT_EQ(LinearToPhysical(s, linear, mem.Reader()), 0x4020'3456u);
  EXPECT_EQ(LinearToPhysical(s, 0x0000'7000'0000'0000ull, mem.Reader()), std::nullopt);
}

TEST(PageWalkTest, UnreadableTableIsNotMapped) {
  PhysicalMemory mem;
  CpuState s;
  s.cr0 = kCr0Pe | kCr0Pg;
  s.cr4 = kCr4Pae;
  s.msr.efer = kEferLme | kEferLma;
  s.cr3 = 1ull << 41;  // beyond the reader's RAM
  EXPECT_EQ(LinearToPhysical(s, 0x1000, mem.Reader()), std::nullopt);
}

}  // namespace
}  // namespace tandem::x86
