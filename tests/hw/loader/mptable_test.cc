// MP spec 1.4 tables as Linux's mpparse.c reads them: the floating pointer
// found by a scan of 0xF0000-0xFFFFF, checksums, and every entry's fields.
#include "hw/loader/mptable.h"

#include "hw/loader/linux_boot.h"
#include "target-x86/cpuid.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

namespace tandem::hw {
namespace {

GuestMemory Memory(uint64_t size, uint64_t rom_size = 0) {
  auto map = MemoryMap::Build(size, rom_size);
  return std::move(GuestMemory::Create(*map, std::vector<uint8_t>(rom_size, 0xFF)).value());
}

uint8_t Sum(const std::vector<uint8_t>& b, size_t begin, size_t len) {
  uint8_t s = 0;
  for (size_t i = begin; i < begin + len; ++i) s += b[i];
  return s;
}
uint16_t U16(const std::vector<uint8_t>& b, size_t off) {
  uint16_t v;
  std::memcpy(&v, &b[off], 2);
  return v;
}
uint32_t U32(const std::vector<uint8_t>& b, size_t off) {
  uint32_t v;
  std::memcpy(&v, &b[off], 4);
  return v;
}

// Scans like smp_scan_config(0xF0000, 0x10000): 16-byte steps, "_MP_", sum 0.
int64_t ScanForFloatingPointer(const std::vector<uint8_t>& bios_area) {
  for (size_t off = 0; off + 16 <= bios_area.size(); off += 16) {
    if (std::memcmp(&bios_area[off], "_MP_", 4) == 0 && bios_area[off + 8] == 1 &&
        Sum(bios_area, off, 16) == 0) {
      return static_cast<int64_t>(off);
    }
  }
  return -1;
}

TEST(MpTable, FloatingPointerAndChecksums) {
  GuestMemory mem = Memory(64ull << 20);
  MpTableConfig config;
  config.cpu_signature = 0x306A9;
  config.cpu_features = 0x078BFBFF;
  ASSERT_TRUE(WriteMpTable(mem, config).ok());

  std::vector<uint8_t> area(0x10000);
  ASSERT_TRUE(mem.ReadPhys(0xF0000, area.data(), area.size()));
  ASSERT_EQ(ScanForFloatingPointer(area), 0);
  EXPECT_EQ(U32(area, 4), 0xF0010u);  // configuration table address
  EXPECT_EQ(area[9], 4);              // spec revision 1.4
  EXPECT_EQ(area[11], 0);             // feature 1: table present
  EXPECT_EQ(area[12], 0);             // virtual wire mode

  const size_t t = 0x10;
  EXPECT_EQ(std::string(reinterpret_cast<char*>(&area[t]), 4), "PCMP");
  uint16_t length = U16(area, t + 4);
  // Header + processor + bus + I/O APIC + 15 I/O interrupts + 2 local interrupts.
  EXPECT_EQ(length, 44 + 20 + 8 + 8 + 15 * 8 + 2 * 8);
  EXPECT_EQ(area[t + 6], 4);
  EXPECT_EQ(Sum(area, t, length), 0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(&area[t + 8]), 8), "TANDEM  ");
  EXPECT_EQ(U16(area, t + 34), 20);  // entry count
  EXPECT_EQ(U32(area, t + 36), 0xFEE00000u);
  EXPECT_EQ(U16(area, t + 40), 0);  // no extended table
  EXPECT_EQ(MpTableSize(), 16u + length);
}

TEST(MpTable, EntryLayout) {
  GuestMemory mem = Memory(64ull << 20);
  MpTableConfig config;
  config.cpu_signature = 0x306A9;
  config.cpu_features = 0x200;
  ASSERT_TRUE(WriteMpTable(mem, config).ok());
  std::vector<uint8_t> b(MpTableSize());
  ASSERT_TRUE(mem.ReadPhys(0xF0000, b.data(), b.size()));
  size_t e = 16 + 44;

  // Processor: APIC ID 0, version 0x14, enabled boot processor.
  EXPECT_EQ(b[e], 0);
  EXPECT_EQ(b[e + 1], 0);
  EXPECT_EQ(b[e + 2], 0x14);
  EXPECT_EQ(b[e + 3], 0x03);
  EXPECT_EQ(U32(b, e + 4), 0x306A9u);
  EXPECT_EQ(U32(b, e + 8), 0x200u);
  e += 20;
  // Bus 0: ISA.
  EXPECT_EQ(b[e], 1);
  EXPECT_EQ(b[e + 1], 0);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(&b[e + 2]), 6), "ISA   ");
  e += 8;
  // I/O APIC: ID 1, version 0x11, enabled, at 0xFEC00000.
  EXPECT_EQ(b[e], 2);
  EXPECT_EQ(b[e + 1], 1);
  EXPECT_EQ(b[e + 2], 0x11);
  EXPECT_EQ(b[e + 3], 1);
  EXPECT_EQ(U32(b, e + 4), 0xFEC00000u);
  e += 8;
  // I/O interrupts: ISA IRQ n -> pin n, IRQ0 -> pin 2, no IRQ2.
  std::vector<int> irqs;
  for (int i = 0; i < 15; ++i, e += 8) {
    EXPECT_EQ(b[e], 3);
    EXPECT_EQ(b[e + 1], 0);            // INT
    EXPECT_EQ(U16(b, e + 2), 0);       // conforms to the bus
    EXPECT_EQ(b[e + 4], 0);            // bus 0
    EXPECT_EQ(b[e + 6], 1);            // I/O APIC 1
    int irq = b[e + 5], pin = b[e + 7];
    irqs.push_back(irq);
    EXPECT_EQ(pin, irq == 0 ? 2 : irq) << "IRQ " << irq;
  }
  EXPECT_EQ(irqs, (std::vector<int>{0, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}));
  // Local interrupts: LINT0 ExtINT and LINT1 NMI to every local APIC.
  EXPECT_EQ(b[e], 4);
  EXPECT_EQ(b[e + 1], 3);
  EXPECT_EQ(b[e + 6], 0xFF);
  EXPECT_EQ(b[e + 7], 0);
  e += 8;
  EXPECT_EQ(b[e], 4);
  EXPECT_EQ(b[e + 1], 1);
  EXPECT_EQ(b[e + 6], 0xFF);
  EXPECT_EQ(b[e + 7], 1);
  e += 8;
  EXPECT_EQ(e, b.size());
}

TEST(MpTable, RefusesRomAndBadAddresses) {
  GuestMemory with_bios = Memory(64ull << 20, 64 * 1024);  // ROM alias at 0xF0000
  EXPECT_FALSE(WriteMpTable(with_bios).ok());
  GuestMemory mem = Memory(64ull << 20);
  MpTableConfig unaligned;
  unaligned.address = 0xF0008;
  EXPECT_FALSE(WriteMpTable(mem, unaligned).ok());
  MpTableConfig low;
  low.address = 0x9FC00;  // the last KiB of base memory also works
  EXPECT_TRUE(WriteMpTable(mem, low).ok());
  char sig[4];
  mem.ReadPhys(0x9FC00, sig, 4);
  EXPECT_EQ(std::string(sig, 4), "_MP_");
}

// A direct Linux boot leaves the MP table where the kernel scans for it,
// inside the e820 hole it must not reuse.
TEST(MpTable, LinuxLoaderWritesIt) {
  GuestMemory mem = Memory(64ull << 20);
  std::vector<uint8_t> k(5 * 512 + 4096, 0);
  k[0x1F1] = 4;
  k[0x1FE] = 0x55;
  k[0x1FF] = 0xAA;
  k[0x201] = 0x6A;
  std::memcpy(&k[0x202], "HdrS", 4);
  k[0x206] = 0x0F;
  k[0x207] = 0x02;
  k[0x211] = 0x01;
  k[0x236] = 0x01;
  k[0x238] = 0xFF;
  ASSERT_TRUE(LoadLinux(mem, k, {}, "").ok());
  std::vector<uint8_t> area(0x10000);
  ASSERT_TRUE(mem.ReadPhys(0xF0000, area.data(), area.size()));
  ASSERT_EQ(ScanForFloatingPointer(area), 0);
  x86::CpuidResult leaf1 = x86::CpuidModel::Default().Query(1, 0);
  EXPECT_EQ(U32(area, 16 + 44 + 4), leaf1.eax);
  EXPECT_EQ(U32(area, 16 + 44 + 8), leaf1.edx);
  EXPECT_TRUE(leaf1.edx & x86::cpuid_bits::kEdxApic);
  EXPECT_EQ(leaf1.ebx >> 24, 0u);  // initial APIC ID
  bool reserved = false;
  for (const E820Entry& e : mem.map().E820()) {
    if (e.addr <= 0xF0000 && e.addr + e.size >= 0xF0000 + MpTableSize()) {
      reserved = e.type == E820Type::kReserved;
    }
  }
  EXPECT_TRUE(reserved);
  // The ACPI tables follow at 0xF0800.
  EXPECT_EQ(std::string(reinterpret_cast<char*>(&area[0x800]), 8), "RSD PTR ");

  // The processor entry describes the model the loader is given (the
  // board's, which KVM may have narrowed), not the default one.
  x86::CpuidModel narrowed = x86::CpuidModel::Default();
  for (x86::CpuidEntry& e : narrowed.mutable_entries()) {
    if (e.function == 1) {
      e.eax = 0x000A0F10;
      e.edx &= ~x86::cpuid_bits::kEdxPat;
    }
  }
  GuestMemory mem2 = Memory(64ull << 20);
  ASSERT_TRUE(LoadLinux(mem2, k, {}, "", narrowed).ok());
  ASSERT_TRUE(mem2.ReadPhys(0xF0000, area.data(), area.size()));
  EXPECT_EQ(U32(area, 16 + 44 + 4), 0x000A0F10u);
  EXPECT_EQ(U32(area, 16 + 44 + 8), leaf1.edx & ~x86::cpuid_bits::kEdxPat);
}

}  // namespace
}  // namespace tandem::hw
