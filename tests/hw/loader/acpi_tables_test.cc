// ACPI tables as guests find them on both boot paths: placed by the
// direct-boot loader (RSDP by a scan of 0xE0000-0xFFFFF), and placed by the
// linker/loader script run the way SeaBIOS runs it. Both must give the same
// DSDT and MADT, every checksum must hold, and the DSDT's _PRT must follow
// the board's PIRQ swizzle.
#include "hw/loader/acpi_tables.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "hw/loader/mptable.h"
#include "hw/loader/table_loader.h"
#include "tests/hw/loader/acpi_test_util.h"

namespace tandem::hw {
namespace {

using testing::FindTables;
using testing::FoundTables;
using testing::Le32;

GuestMemory Memory(uint64_t ram = 64ull << 20) {
  auto map = MemoryMap::Build(ram, 0);
  return std::move(GuestMemory::Create(*map, {}).value());
}

std::map<std::string, std::vector<uint8_t>> Files(const AcpiTables& t) {
  return {{AcpiTables::kTablesFile, t.tables}, {AcpiTables::kRsdpFile, t.rsdp}};
}

uint16_t Le16(const std::vector<uint8_t>& b, size_t at) { return static_cast<uint16_t>(b[at] | b[at + 1] << 8); }
uint32_t Le32At(const std::vector<uint8_t>& b, size_t at) { return Le32(&b[at]); }

TEST(AcpiTablesTest, DirectBootPlacesCheckedTablesInTheBiosArea) {
  GuestMemory mem = Memory();
  ASSERT_TRUE(WriteMpTable(mem).ok());
  ASSERT_TRUE(WriteAcpiTables(mem).ok());
  FoundTables t = FindTables(mem);
  EXPECT_GE(t.rsdp, 0xF0000 + MpTableSize());  // no overlap with the MP table
  EXPECT_EQ(testing::ReadRam(mem, t.rsdp + 15, 1)[0], 0);  // revision 0
  for (const char* sig : {"RSDT", "FACP", "FACS", "DSDT", "APIC"}) {
    ASSERT_TRUE(t.address.count(sig)) << sig;
    EXPECT_GE(t.address[sig], 0xF0400u) << sig;
    EXPECT_LE(t.address[sig] + t.bytes[sig].size(), 0x100000u) << sig;  // inside the e820-reserved area
  }
  EXPECT_EQ(t.bytes["RSDT"].size(), 44u);
  EXPECT_EQ(t.address["FACS"] % 64, 0u);
  EXPECT_EQ(t.bytes["FACS"].size(), 64u);
}

TEST(AcpiTablesTest, FadtPointsAtThePmBlockSciAndFixedPowerButton) {
  GuestMemory mem = Memory();
  ASSERT_TRUE(WriteAcpiTables(mem).ok());
  std::vector<uint8_t> fadt = FindTables(mem).bytes["FACP"];
  ASSERT_EQ(fadt.size(), 116u);
  EXPECT_EQ(fadt[8], 1);                      // revision
  EXPECT_EQ(Le16(fadt, 46), 9);               // SCI_INT
  EXPECT_EQ(Le32At(fadt, 48), 0u);            // SMI_CMD: none
  EXPECT_EQ(Le32At(fadt, 56), 0x600u);        // PM1a_EVT_BLK
  EXPECT_EQ(Le32At(fadt, 64), 0x604u);        // PM1a_CNT_BLK
  EXPECT_EQ(Le32At(fadt, 76), 0x608u);        // PM_TMR_BLK
  EXPECT_EQ(fadt[88], 4);
  EXPECT_EQ(fadt[89], 2);
  EXPECT_EQ(fadt[91], 4);
  uint32_t flags = Le32At(fadt, 112);
  EXPECT_EQ(flags, 0x25u);                    // WBINVD, PROC_C1, SLP_BUTTON
  EXPECT_EQ(flags & (1u << 4), 0u);           // PWR_BUTTON clear: fixed-feature power button
}

TEST(AcpiTablesTest, MadtEntries) {
  GuestMemory mem = Memory();
  ASSERT_TRUE(WriteAcpiTables(mem).ok());
  std::vector<uint8_t> m = FindTables(mem).bytes["APIC"];
  EXPECT_EQ(Le32At(m, 36), 0xFEE00000u);
  EXPECT_EQ(Le32At(m, 40), 1u);  // PCAT_COMPAT
  const std::vector<uint8_t> expected = {
      0, 8, 0, 0, 1, 0, 0, 0,                           // local APIC: UID 0, ID 0, enabled
      1, 12, 1, 0, 0x00, 0x00, 0xC0, 0xFE, 0, 0, 0, 0,  // I/O APIC 1 at 0xFEC00000, GSI 0
      2, 10, 0, 0, 2, 0, 0, 0, 0, 0,                    // IRQ0 -> GSI 2
      2, 10, 0, 5, 5, 0, 0, 0, 0x0D, 0,                 // IRQ5: level, active high
      2, 10, 0, 9, 9, 0, 0, 0, 0x0D, 0,                 // IRQ9 (SCI): level, active high
      2, 10, 0, 10, 10, 0, 0, 0, 0x0D, 0,               // IRQ10
      2, 10, 0, 11, 11, 0, 0, 0, 0x0D, 0,               // IRQ11
      4, 6, 0xFF, 0, 0, 1,                              // NMI on LINT1
  };
  EXPECT_EQ(std::vector<uint8_t>(m.begin() + 44, m.end()), expected);
}

TEST(AcpiTablesTest, MadtListsEveryCpu) {
  AcpiConfig config;
  config.cpu_count = 3;
  AcpiTables tables = BuildAcpiTables(config);
  GuestMemory mem = Memory();
  testing::ApplyLikeSeaBios(tables.loader, Files(tables), 0x3000000, 0xF5000, mem);
  std::vector<uint8_t> m = FindTables(mem).bytes["APIC"];
  for (int cpu = 0; cpu < 3; ++cpu) {
    const uint8_t* e = &m[44 + 8 * cpu];
    EXPECT_EQ(e[0], 0);
    EXPECT_EQ(e[2], cpu);  // UID
    EXPECT_EQ(e[3], cpu);  // APIC ID
    EXPECT_EQ(e[4], 1);    // enabled
  }
  EXPECT_EQ(m[44 + 24], 1);  // then the I/O APIC
}

// The script run by an independent SeaBIOS-style applier gives valid,
// checksummed tables, and the DSDT and MADT are byte for byte those of the
// direct boot.
TEST(AcpiTablesTest, LoaderScriptAppliedAsSeaBiosWouldMatchesDirectBoot) {
  GuestMemory direct = Memory();
  ASSERT_TRUE(WriteAcpiTables(direct).ok());
  FoundTables d = FindTables(direct);

  AcpiTables tables = BuildAcpiTables(AcpiConfigFor(direct.map(), 1));
  GuestMemory firmware = Memory();
  auto at = testing::ApplyLikeSeaBios(tables.loader, Files(tables), 0x3F00000, 0xF5A00, firmware);
  EXPECT_EQ(at[AcpiTables::kRsdpFile] % 16, 0u);
  EXPECT_EQ(at[AcpiTables::kTablesFile] % 64, 0u);
  FoundTables f = FindTables(firmware);
  EXPECT_EQ(f.rsdp, at[AcpiTables::kRsdpFile]);
  for (const char* sig : {"RSDT", "FACP", "FACS", "DSDT", "APIC"}) {
    ASSERT_TRUE(f.address.count(sig)) << sig;
    EXPECT_GE(f.address[sig], 0x3F00000u) << sig;  // the tables blob went high
  }
  EXPECT_EQ(f.bytes["DSDT"], d.bytes["DSDT"]);
  EXPECT_EQ(f.bytes["APIC"], d.bytes["APIC"]);
  // The FADT differs only in its two pointers and checksum.
  std::vector<uint8_t> a = f.bytes["FACP"], b = d.bytes["FACP"];
  for (auto* t : {&a, &b}) std::fill(t->begin() + 36, t->begin() + 44, 0), (*t)[9] = 0;
  EXPECT_EQ(a, b);
}

// tandem's own executor places blobs exactly as the SeaBIOS-style one does
// when given the same addresses.
TEST(AcpiTablesTest, RunTableLoaderAgreesWithTheSeaBiosStyleApplier) {
  AcpiTables tables = BuildAcpiTables(AcpiConfig{});
  GuestMemory ours = Memory(), theirs = Memory();
  auto at = testing::ApplyLikeSeaBios(tables.loader, Files(tables), 0x2000000, 0xF6000, theirs);
  TableAllocator same = [&](const std::string& file, uint64_t, uint32_t, TableLoader::Zone) -> Result<uint64_t> {
    return at.at(file);
  };
  auto placed = RunTableLoader(tables.loader, Files(tables), same, ours);
  ASSERT_TRUE(placed.ok()) << placed.message();
  for (const auto& [file, address] : at) {
    size_t n = Files(tables)[file].size();
    EXPECT_EQ(testing::ReadRam(ours, address, n), testing::ReadRam(theirs, address, n)) << file;
  }
}

TEST(AcpiTablesTest, DsdtRoutesEverySlotThroughTheSwizzledPirq) {
  AcpiTables tables = BuildAcpiTables(AcpiConfig{});
  GuestMemory mem = Memory();
  testing::ApplyLikeSeaBios(tables.loader, Files(tables), 0x2000000, 0xF6000, mem);
  std::vector<uint8_t> dsdt = FindTables(mem).bytes["DSDT"];
  auto pic = testing::DecodeRoutingPackage(dsdt, "PRTP");
  auto apic = testing::DecodeRoutingPackage(dsdt, "PRTA");
  ASSERT_EQ(pic.size(), 128u);
  ASSERT_EQ(apic.size(), 128u);
  for (int slot = 0; slot < 32; ++slot) {
    for (int pin = 0; pin < 4; ++pin) {
      const int i = slot * 4 + pin;
      const char pirq = static_cast<char>('A' + (slot + pin + 3) % 4);  // QEMU's swizzle
      for (const auto* e : {&pic[i], &apic[i]}) {
        EXPECT_EQ(e->address, (uint32_t(slot) << 16) | 0xFFFF) << i;
        EXPECT_EQ(e->pin, pin) << i;
        EXPECT_EQ(e->index, 0u) << i;
      }
      EXPECT_EQ(pic[i].source, std::string("LNK") + pirq) << i;
      EXPECT_EQ(apic[i].source, std::string("GSI") + pirq) << i;
    }
  }
}

bool Contains(const std::vector<uint8_t>& haystack, const std::vector<uint8_t>& needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}
std::vector<uint8_t> B(const std::string& s) { return std::vector<uint8_t>(s.begin(), s.end()); }

TEST(AcpiTablesTest, DsdtDeclaresTheHostBridgeLinksAndS5) {
  GuestMemory mem = Memory();
  ASSERT_TRUE(WriteAcpiTables(mem).ok());
  std::vector<uint8_t> dsdt = FindTables(mem).bytes["DSDT"];
  EXPECT_EQ(std::string(dsdt.begin() + 10, dsdt.begin() + 16), "TANDEM");
  // Name (_S5, Package (4) { 5, 5, 0, 0 }): the sleep type AcpiPm powers off on.
  EXPECT_TRUE(Contains(dsdt, {0x08, '_', 'S', '5', '_', 0x12, 0x08, 0x04, 0x0A, 0x05, 0x0A, 0x05, 0x00, 0x00}));
  // Device (PCI0) with _HID EisaId ("PNP0A03") and _BBN 0.
  EXPECT_TRUE(Contains(dsdt, B("PCI0")));
  EXPECT_TRUE(Contains(dsdt, {0x08, '_', 'H', 'I', 'D', 0x0C, 0x41, 0xD0, 0x0A, 0x03}));
  EXPECT_TRUE(Contains(dsdt, {0x08, '_', 'B', 'B', 'N', 0x00}));
  // Method (_PRT) and Method (_PIC, 1).
  EXPECT_TRUE(Contains(dsdt, B("_PRT")));
  EXPECT_TRUE(Contains(dsdt, B("_PIC")));
  // OperationRegion (P40C, PCI_Config, 0x60, 4) on the ISA bridge at _ADR 0x00010000.
  EXPECT_TRUE(Contains(dsdt, {0x5B, 0x80, 'P', '4', '0', 'C', 0x02, 0x0A, 0x60, 0x0A, 0x04}));
  EXPECT_TRUE(Contains(dsdt, {0x08, '_', 'A', 'D', 'R', 0x0C, 0x00, 0x00, 0x01, 0x00}));
  for (const char* link : {"LNKA", "LNKB", "LNKC", "LNKD", "GSIA", "GSIB", "GSIC", "GSID", "PRQ0", "PRQ3"}) {
    EXPECT_TRUE(Contains(dsdt, B(link))) << link;
  }
  // GSIA's interrupt: extended descriptor, consumer/level/high/shared, GSI 16.
  EXPECT_TRUE(Contains(dsdt, {0x89, 0x06, 0x00, 0x09, 0x01, 0x10, 0x00, 0x00, 0x00}));
  // The ISA devices: KBD with EisaId ("PNP0303"), its ports and IRQ 1; MOU
  // with PNP0F13 and IRQ 12; COM1 (PNP0501) at 0x3F8, IRQ 4; RTC (PNP0B00).
  EXPECT_TRUE(Contains(dsdt, {0x0C, 0x41, 0xD0, 0x03, 0x03}));
  EXPECT_TRUE(Contains(dsdt, {0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01, 0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01,
                              0x01, 0x22, 0x02, 0x00}));
  EXPECT_TRUE(Contains(dsdt, {0x0C, 0x41, 0xD0, 0x0F, 0x13}));
  EXPECT_TRUE(Contains(dsdt, {0x22, 0x00, 0x10}));
  EXPECT_TRUE(Contains(dsdt, {0x0C, 0x41, 0xD0, 0x05, 0x01}));
  EXPECT_TRUE(Contains(dsdt, {0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08, 0x22, 0x10, 0x00}));
  EXPECT_TRUE(Contains(dsdt, {0x0C, 0x41, 0xD0, 0x0B, 0x00}));
  // The PCI window: from the end of RAM (64 MiB) to below the I/O APIC.
  EXPECT_TRUE(Contains(dsdt, {0x00, 0x00, 0x00, 0x04, 0xFF, 0xFF, 0xBF, 0xFE}));
}

TEST(AcpiTablesTest, PciWindowStartsWhereLowRamEnds) {
  auto small = MemoryMap::Build(64ull << 20, 0);
  EXPECT_EQ(AcpiConfigFor(*small, 1).pci_hole_start, 64u << 20);
  EXPECT_EQ(AcpiConfigFor(*small, 1).pci_hole_end, 0xFEBFFFFFu);
  auto large = MemoryMap::Build(6ull << 30, 0);
  EXPECT_EQ(AcpiConfigFor(*large, 1).pci_hole_start, 0xC0000000u);
}

TEST(AcpiTablesTest, RefusesRomAndBadAddresses) {
  GuestMemory mem = Memory();
  auto map = MemoryMap::Build(64ull << 20, 64 * 1024);
  GuestMemory with_bios = std::move(GuestMemory::Create(*map, std::vector<uint8_t>(64 * 1024, 0xFF)).value());
  EXPECT_FALSE(WriteAcpiTables(with_bios).ok());
  AcpiTablesConfig low;
  low.address = 0x9FC00;  // outside the RSDP scan area
  EXPECT_FALSE(WriteAcpiTables(mem, 1, low).ok());
  AcpiTablesConfig unaligned;
  unaligned.address = 0xF0408;
  EXPECT_FALSE(WriteAcpiTables(mem, 1, unaligned).ok());
  AcpiTablesConfig too_high;
  too_high.address = 0xFFF00;  // the tables do not fit below 1 MiB
  EXPECT_FALSE(WriteAcpiTables(mem, 1, too_high).ok());
}

// Malformed scripts are errors, not crashes; unknown commands are skipped.
TEST(TableLoaderTest, MalformedScripts) {
  GuestMemory mem = Memory();
  std::map<std::string, std::vector<uint8_t>> files = {{"a", std::vector<uint8_t>(16, 0)}, {"b", {1, 2}}};
  TableAllocator bump = [next = uint64_t{0x100000}](const std::string&, uint64_t size, uint32_t align,
                                                     TableLoader::Zone) mutable -> Result<uint64_t> {
    uint64_t at = (next + align - 1) & ~uint64_t{align - 1};
    next = at + size;
    return at;
  };
  auto run = [&](const TableLoader& l) { return RunTableLoader(l.script(), files, bump, mem).ok(); };
  {
    TableLoader l;
    l.Allocate("missing", 16, TableLoader::Zone::kHigh);
    EXPECT_FALSE(run(l));
  }
  {
    TableLoader l;
    l.Allocate("a", 3, TableLoader::Zone::kHigh);  // not a power of two
    EXPECT_FALSE(run(l));
  }
  {
    TableLoader l;
    l.Allocate("a", 16, TableLoader::Zone::kHigh);
    l.Allocate("b", 16, TableLoader::Zone::kFSeg);
    l.AddPointer("a", 14, 4, "b");  // runs past the end of "a"
    EXPECT_FALSE(run(l));
  }
  {
    TableLoader l;
    l.Allocate("a", 16, TableLoader::Zone::kHigh);
    l.AddPointer("a", 0, 4, "b");  // "b" was never allocated
    EXPECT_FALSE(run(l));
  }
  {
    TableLoader l;
    l.Allocate("a", 16, TableLoader::Zone::kHigh);
    l.AddChecksum("a", 0, 8, 9);  // range past the end
    EXPECT_FALSE(run(l));
  }
  {
    TableLoader l;
    l.Allocate("a", 16, TableLoader::Zone::kHigh);
    std::vector<uint8_t> script = l.script();
    script.resize(script.size() + 128, 0);
    script[128] = 0x7F;  // an unknown command
    EXPECT_TRUE(RunTableLoader(script, files, bump, mem).ok());
    script.pop_back();  // a truncated command
    EXPECT_FALSE(RunTableLoader(script, files, bump, mem).ok());
  }
}

TEST(TableLoaderTest, PointersAndChecksumsArePatched) {
  GuestMemory mem = Memory();
  std::map<std::string, std::vector<uint8_t>> files = {{"dst", {0x10, 0, 0, 0, 0, 0, 0, 0, 0xAB, 0}},
                                                       {"src", {7, 7, 7}}};
  TableLoader l;
  l.Allocate("src", 4096, TableLoader::Zone::kHigh);
  l.Allocate("dst", 64, TableLoader::Zone::kFSeg);
  l.AddPointer("dst", 0, 8, "src");
  l.AddChecksum("dst", 9, 0, 10);
  TableAllocator fixed = [](const std::string& f, uint64_t, uint32_t align, TableLoader::Zone zone) -> Result<uint64_t> {
    EXPECT_EQ(zone, f == "src" ? TableLoader::Zone::kHigh : TableLoader::Zone::kFSeg);
    return f == "src" ? uint64_t{0x123000} : uint64_t{0xF7000};
  };
  auto placed = RunTableLoader(l.script(), files, fixed, mem);
  ASSERT_TRUE(placed.ok()) << placed.message();
  std::vector<uint8_t> dst = testing::ReadRam(mem, 0xF7000, 10);
  uint64_t pointer;
  std::memcpy(&pointer, dst.data(), 8);
  EXPECT_EQ(pointer, 0x123010u);
  EXPECT_EQ(testing::Sum(dst.data(), dst.size()), 0);
  EXPECT_EQ(testing::ReadRam(mem, 0x123000, 3), (std::vector<uint8_t>{7, 7, 7}));
}

}  // namespace
}  // namespace tandem::hw
