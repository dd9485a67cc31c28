// ACPI tables as Linux finds them: the RSDP by a scan of 0xE0000-0xFFFFF,
// then RSDT -> FADT (-> FACS, DSDT with \_S5) and MADT, all checksummed.
#include "hw/loader/acpi_tables.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "hw/loader/mptable.h"

namespace tandem::hw {
namespace {

class AcpiTablesTest : public ::testing::Test {
 protected:
  AcpiTablesTest() : mem_(Memory()) {}
  static GuestMemory Memory() {
    auto map = MemoryMap::Build(64ull << 20, 0);
    return std::move(GuestMemory::Create(*map, {}).value());
  }
  std::vector<uint8_t> Read(uint64_t gpa, size_t n) {
    std::vector<uint8_t> b(n);
    EXPECT_TRUE(mem_.ReadPhys(gpa, b.data(), n));
    return b;
  }
  uint32_t U32(uint64_t gpa) {
    uint32_t v;
    mem_.ReadPhys(gpa, &v, 4);
    return v;
  }
  uint16_t U16(uint64_t gpa) {
    uint16_t v;
    mem_.ReadPhys(gpa, &v, 2);
    return v;
  }
  static uint8_t Sum(const std::vector<uint8_t>& b) {
    uint8_t s = 0;
    for (uint8_t c : b) s += c;
    return s;
  }
  // Returns a table's bytes after checking its signature and checksum.
  std::vector<uint8_t> Table(uint64_t gpa, const char* signature) {
    uint32_t length = U32(gpa + 4);
    std::vector<uint8_t> t = Read(gpa, length);
    EXPECT_EQ(std::string(reinterpret_cast<char*>(t.data()), 4), signature);
    EXPECT_EQ(Sum(t), 0) << signature;
    return t;
  }
  uint64_t FindRsdp() {
    std::vector<uint8_t> area = Read(0xE0000, 0x20000);
    for (size_t off = 0; off < area.size(); off += 16) {
      if (std::memcmp(&area[off], "RSD PTR ", 8) == 0) {
        std::vector<uint8_t> rsdp(area.begin() + off, area.begin() + off + 20);
        if (Sum(rsdp) == 0) return 0xE0000 + off;
      }
    }
    return 0;
  }

  GuestMemory mem_;
};

TEST_F(AcpiTablesTest, RsdpRsdtFadtDsdt) {
  ASSERT_TRUE(WriteMpTable(mem_).ok());
  ASSERT_TRUE(WriteAcpiTables(mem_).ok());
  uint64_t rsdp = FindRsdp();
  ASSERT_EQ(rsdp, 0xF0400u);
  EXPECT_GE(rsdp, 0xF0000 + MpTableSize());  // no overlap with the MP table
  EXPECT_EQ(Read(rsdp + 15, 1)[0], 0);       // revision 0
  uint32_t rsdt = U32(rsdp + 16);
  std::vector<uint8_t> r = Table(rsdt, "RSDT");
  ASSERT_EQ(r.size(), 44u);
  uint32_t fadt_addr, madt_addr;
  std::memcpy(&fadt_addr, &r[36], 4);
  std::memcpy(&madt_addr, &r[40], 4);

  std::vector<uint8_t> fadt = Table(fadt_addr, "FACP");
  EXPECT_EQ(fadt.size(), 116u);
  EXPECT_EQ(fadt[8], 1);  // revision
  uint32_t facs = U32(fadt_addr + 36), dsdt = U32(fadt_addr + 40);
  EXPECT_EQ(facs % 64, 0u);
  EXPECT_EQ(std::string(reinterpret_cast<char*>(Read(facs, 4).data()), 4), "FACS");
  EXPECT_EQ(U32(facs + 4), 64u);
  EXPECT_EQ(U16(fadt_addr + 46), 9);          // SCI_INT
  EXPECT_EQ(U32(fadt_addr + 48), 0u);         // SMI_CMD: none
  EXPECT_EQ(U32(fadt_addr + 56), 0x600u);     // PM1a_EVT_BLK
  EXPECT_EQ(U32(fadt_addr + 64), 0x604u);     // PM1a_CNT_BLK
  EXPECT_EQ(U32(fadt_addr + 76), 0x608u);     // PM_TMR_BLK
  EXPECT_EQ(fadt[88], 4);
  EXPECT_EQ(fadt[89], 2);
  EXPECT_EQ(fadt[91], 4);
  EXPECT_EQ(U32(fadt_addr + 112), 0x35u);

  std::vector<uint8_t> d = Table(dsdt, "DSDT");
  const std::vector<uint8_t> s5 = {0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00};
  EXPECT_EQ(std::vector<uint8_t>(d.begin() + 36, d.end()), s5);

  // Everything lies in the e820-reserved BIOS area.
  EXPECT_LE(madt_addr + U32(madt_addr + 4), 0x100000u);
  EXPECT_LE(madt_addr + U32(madt_addr + 4), rsdp + AcpiTablesSize());
}

TEST_F(AcpiTablesTest, MadtEntries) {
  ASSERT_TRUE(WriteAcpiTables(mem_).ok());
  uint32_t rsdt = U32(FindRsdp() + 16);
  uint32_t madt = U32(rsdt + 40);
  std::vector<uint8_t> m = Table(madt, "APIC");
  EXPECT_EQ(U32(madt + 36), 0xFEE00000u);
  EXPECT_EQ(U32(madt + 40), 1u);  // PCAT_COMPAT
  const std::vector<uint8_t> expected = {
      0, 8, 0, 0, 1, 0, 0, 0,                      // local APIC: UID 0, ID 0, enabled
      1, 12, 1, 0, 0x00, 0x00, 0xC0, 0xFE, 0, 0, 0, 0,  // I/O APIC 1 at 0xFEC00000, GSI 0
      2, 10, 0, 0, 2, 0, 0, 0, 0, 0,               // IRQ0 -> GSI 2
      2, 10, 0, 9, 9, 0, 0, 0, 0x0D, 0,            // IRQ9 (SCI): level, active high
      4, 6, 0xFF, 0, 0, 1,                         // NMI on LINT1
  };
  EXPECT_EQ(std::vector<uint8_t>(m.begin() + 44, m.end()), expected);
}

TEST_F(AcpiTablesTest, RefusesRomAndBadAddresses) {
  auto map = MemoryMap::Build(64ull << 20, 64 * 1024);
  GuestMemory with_bios = std::move(GuestMemory::Create(*map, std::vector<uint8_t>(64 * 1024, 0xFF)).value());
  EXPECT_FALSE(WriteAcpiTables(with_bios).ok());
  AcpiTablesConfig low;
  low.address = 0x9FC00;  // outside the RSDP scan area
  EXPECT_FALSE(WriteAcpiTables(mem_, low).ok());
  AcpiTablesConfig unaligned;
  unaligned.address = 0xF0408;
  EXPECT_FALSE(WriteAcpiTables(mem_, unaligned).ok());
}

}  // namespace
}  // namespace tandem::hw
