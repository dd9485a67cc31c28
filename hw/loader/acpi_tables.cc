// ACPI 6.4: RSDP 5.2.5.3, RSDT 5.2.7, FADT 5.2.9 (revision 1 layout, 116
// bytes), FACS 5.2.10, DSDT 5.2.11.1, MADT 5.2.12; AML encoding 20.2.
#include "hw/loader/acpi_tables.h"

#include <cstring>
#include <string>
#include <vector>

#include "hw/misc/acpi_pm.h"

namespace tandem::hw {

namespace {

constexpr uint64_t kRsdpSize = 20;
constexpr uint64_t kFacsSize = 64;

class Table {
 public:
  // A table with the standard 36-byte header; length and checksum are set by Finish().
  Table(const char* signature, uint8_t revision) {
    Bytes(signature, 4);
    U32(0);
    U8(revision);
    U8(0);
    Bytes("TANDEM", 6);
    Bytes("TANDEMPC", 8);
    U32(1);
    Bytes("TNDM", 4);
    U32(1);
  }
  void U8(uint8_t v) { b_.push_back(v); }
  void U16(uint16_t v) { Bytes(&v, 2); }
  void U32(uint32_t v) { Bytes(&v, 4); }
  void Bytes(const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    b_.insert(b_.end(), c, c + n);
  }
  void Zeros(size_t n) { b_.insert(b_.end(), n, 0); }
  size_t size() const { return b_.size(); }
  std::vector<uint8_t> Finish() {
    uint32_t length = static_cast<uint32_t>(b_.size());
    std::memcpy(&b_[4], &length, 4);
    b_[9] = 0;
    uint8_t sum = 0;
    for (uint8_t c : b_) sum += c;
    b_[9] = static_cast<uint8_t>(-sum);
    return b_;
  }

 private:
  std::vector<uint8_t> b_;
};

std::vector<uint8_t> Facs() {
  std::vector<uint8_t> f(kFacsSize, 0);
  std::memcpy(f.data(), "FACS", 4);
  uint32_t length = kFacsSize;
  std::memcpy(&f[4], &length, 4);
  return f;
}

// DefinitionBlock with Name (_S5, Package () { 5, 5, 0, 0 }).
std::vector<uint8_t> Dsdt() {
  Table t("DSDT", 2);
  const uint8_t s5 = static_cast<uint8_t>(AcpiPm::kSlpTypS5);
  const uint8_t aml[] = {0x08, '_', 'S', '5', '_',  // NameOp "_S5_"
                         0x12, 0x08, 0x04,          // PackageOp, PkgLength 8, 4 elements
                         0x0A, s5, 0x0A, s5,        // BytePrefix 5 (SLP_TYPa), BytePrefix 5 (SLP_TYPb)
                         0x00, 0x00};               // ZeroOp, ZeroOp (reserved)
  t.Bytes(aml, sizeof aml);
  return t.Finish();
}

std::vector<uint8_t> Fadt(uint32_t facs, uint32_t dsdt) {
  const uint32_t pm = layout::kAcpiPmPort;
  Table t("FACP", 1);
  t.U32(facs);
  t.U32(dsdt);
  t.U8(0);  // INT_MODEL (1.0)
  t.U8(0);  // preferred PM profile: unspecified
  t.U16(layout::kSciIrq);
  t.U32(0);  // SMI_CMD: none, the board is in ACPI mode from the start
  t.U8(0);
  t.U8(0);
  t.U8(0);
  t.U8(0);
  t.U32(pm + AcpiPm::kPm1StatusOffset);   // PM1a_EVT_BLK
  t.U32(0);
  t.U32(pm + AcpiPm::kPm1ControlOffset);  // PM1a_CNT_BLK
  t.U32(0);
  t.U32(0);                               // PM2_CNT_BLK
  t.U32(pm + AcpiPm::kPmTimerOffset);     // PM_TMR_BLK
  t.U32(0);                               // GPE0_BLK
  t.U32(0);                               // GPE1_BLK
  t.U8(4);  // PM1_EVT_LEN
  t.U8(2);  // PM1_CNT_LEN
  t.U8(0);  // PM2_CNT_LEN
  t.U8(4);  // PM_TMR_LEN
  t.U8(0);
  t.U8(0);
  t.U8(0);
  t.U8(0);
  t.U16(0x0FFF);  // P_LVL2_LAT > 100: no C2
  t.U16(0x0FFF);  // P_LVL3_LAT > 1000: no C3
  t.U16(0);
  t.U16(0);
  t.U8(0);
  t.U8(0);
  t.U8(0);  // DAY_ALRM
  t.U8(0);  // MON_ALRM
  t.U8(0);  // CENTURY: no century register
  t.U16(0);  // IAPC_BOOT_ARCH (reserved in 1.0)
  t.U8(0);
  // Flags: WBINVD, PROC_C1, no fixed power button, no fixed sleep button.
  t.U32((1u << 0) | (1u << 2) | (1u << 4) | (1u << 5));
  return t.Finish();
}

std::vector<uint8_t> Madt() {
  Table t("APIC", 1);
  t.U32(static_cast<uint32_t>(layout::kLapicBase));
  t.U32(1);  // PCAT_COMPAT: the dual 8259 is present too
  // Processor local APIC.
  t.U8(0);
  t.U8(8);
  t.U8(0);  // ACPI processor UID
  t.U8(layout::kBspApicId);
  t.U32(1);  // enabled
  // I/O APIC at GSI base 0.
  t.U8(1);
  t.U8(12);
  t.U8(layout::kIoApicId);
  t.U8(0);
  t.U32(static_cast<uint32_t>(layout::kIoApicBase));
  t.U32(0);
  // Interrupt source overrides: ISA IRQ0 -> GSI 2 (conforming); SCI level, active high.
  struct Override {
    uint8_t irq;
    uint32_t gsi;
    uint16_t flags;
  };
  const uint32_t pit_gsi = static_cast<uint32_t>(layout::IoApicPinForIsaIrq(layout::kPitIrq));
  for (Override o : {Override{layout::kPitIrq, pit_gsi, 0}, Override{layout::kSciIrq, layout::kSciIrq, 0x000D}}) {
    t.U8(2);
    t.U8(10);
    t.U8(0);  // ISA
    t.U8(o.irq);
    t.U32(o.gsi);
    t.U16(o.flags);
  }
  // Local APIC NMI: LINT1 on every processor.
  t.U8(4);
  t.U8(6);
  t.U8(0xFF);
  t.U16(0);
  t.U8(1);
  return t.Finish();
}

struct Layout {
  uint64_t rsdt, fadt, facs, dsdt, madt, end;
};

Layout Place(uint64_t rsdp, const std::vector<uint8_t>& fadt, const std::vector<uint8_t>& dsdt,
             const std::vector<uint8_t>& madt, uint64_t rsdt_size) {
  auto align = [](uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); };
  Layout l;
  l.facs = align(rsdp + kRsdpSize, 64);  // the FACS must be 64-byte aligned
  l.rsdt = l.facs + kFacsSize;
  l.fadt = align(l.rsdt + rsdt_size, 16);
  l.dsdt = align(l.fadt + fadt.size(), 16);
  l.madt = align(l.dsdt + dsdt.size(), 16);
  l.end = l.madt + madt.size();
  return l;
}

constexpr uint64_t kRsdtSize = 36 + 2 * 4;

}  // namespace

uint64_t AcpiTablesSize() {
  Layout l = Place(0, Fadt(0, 0), Dsdt(), Madt(), kRsdtSize);
  return l.end;  // from a 64-byte aligned start
}

Status WriteAcpiTables(GuestMemory& memory, const AcpiTablesConfig& config) {
  std::vector<uint8_t> dsdt = Dsdt(), madt = Madt();
  Layout l = Place(config.address, Fadt(0, 0), dsdt, madt, kRsdtSize);
  if (config.address % 16 || config.address < 0xE0000 || l.end > layout::kHighMemoryStart) {
    return Status::Error("the ACPI tables must start 16-byte aligned and lie in 0xE0000-0xFFFFF");
  }
  std::vector<uint8_t> fadt = Fadt(static_cast<uint32_t>(l.facs), static_cast<uint32_t>(l.dsdt));
  Table rsdt("RSDT", 1);
  rsdt.U32(static_cast<uint32_t>(l.fadt));
  rsdt.U32(static_cast<uint32_t>(l.madt));
  std::vector<uint8_t> rsdt_bytes = rsdt.Finish();

  std::vector<uint8_t> rsdp(kRsdpSize, 0);
  std::memcpy(rsdp.data(), "RSD PTR ", 8);
  std::memcpy(&rsdp[9], "TANDEM", 6);
  rsdp[15] = 0;  // revision 0: ACPI 1.0, RSDT only
  uint32_t rsdt_address = static_cast<uint32_t>(l.rsdt);
  std::memcpy(&rsdp[16], &rsdt_address, 4);
  uint8_t sum = 0;
  for (uint8_t c : rsdp) sum += c;
  rsdp[8] = static_cast<uint8_t>(-sum);

  for (uint64_t gpa : {config.address, l.end - 1}) {
    const MemoryRegion* region = memory.map().Find(gpa);
    if (!region || region->kind != RegionKind::kRam) {
      return Status::Error("no RAM at the ACPI table address (is a BIOS ROM mapped there?)");
    }
  }
  std::vector<uint8_t> facs = Facs();
  struct Piece {
    uint64_t at;
    const std::vector<uint8_t>* bytes;
  };
  for (Piece p : {Piece{config.address, &rsdp}, Piece{l.facs, &facs}, Piece{l.rsdt, &rsdt_bytes},
                  Piece{l.fadt, &fadt}, Piece{l.dsdt, &dsdt}, Piece{l.madt, &madt}}) {
    if (!memory.WritePhys(p.at, p.bytes->data(), p.bytes->size())) {
      return Status::Error("cannot write the ACPI tables to guest RAM");
    }
  }
  return Status();
}

}  // namespace tandem::hw
