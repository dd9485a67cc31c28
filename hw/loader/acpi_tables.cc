// ACPI 6.4: RSDP 5.2.5.3, RSDT 5.2.7, FADT 5.2.9 (revision 1 layout, 116
// bytes), FACS 5.2.10, DSDT 5.2.11.1, MADT 5.2.12; AML in hw/loader/aml.h.
// The blob/loader split and the PIIX routing follow QEMU's
// hw/i386/acpi-build.c for -M pc.
#include "hw/loader/acpi_tables.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "hw/loader/aml.h"
#include "hw/loader/table_loader.h"
#include "hw/misc/acpi_pm.h"
#include "hw/pci/piix3.h"

namespace tandem::hw {

namespace {

constexpr uint64_t kRsdpSize = 20;
constexpr uint64_t kFacsSize = 64;
constexpr uint32_t kHeaderSize = 36;
constexpr uint32_t kChecksumOffset = 9;
// FADT 1.0 field offsets.
constexpr uint32_t kFadtFirmwareCtrl = 36, kFadtDsdt = 40;
// RSDP 1.0 field offsets.
constexpr uint32_t kRsdpChecksum = 8, kRsdpRsdtAddress = 16;

// The ISA IRQs that PCI interrupts may be steered to in PIC mode (QEMU's
// PIIX pci_irq_mask 0x0E20 less the SCI): the link devices offer them, and
// the MADT marks them level/active-high, as QEMU does.
constexpr uint32_t kPciIsaIrqs[] = {5, 10, 11};
using layout::kPirqCount;
using layout::PirqForSlotPin;
// The PIIX3 ISA bridge's _ADR (slot << 16 | function) and the PCI config
// offset of its PIRQ route registers.
constexpr uint32_t kIsaBridgeAdr = (layout::kPiix3Devfn >> 3) << 16 | (layout::kPiix3Devfn & 7);
constexpr uint32_t kPirqRouteOffset = Piix3::kPirqRoute;

class Table {
 public:
  // A table with the standard 36-byte header; the length is set by Finish(),
  // the checksum by the loader script.
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
  size_t size() const { return b_.size(); }
  std::vector<uint8_t> Finish() {
    uint32_t length = static_cast<uint32_t>(b_.size());
    std::memcpy(&b_[4], &length, 4);
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

std::string LinkName(const char* prefix, int pirq) { return prefix + std::string(1, static_cast<char>('A' + pirq)); }

// _PRT entries for every slot on bus 0: Package { slot << 16 | 0xFFFF, pin,
// source, source index }. In PIC mode the source is the PIRQ's link device;
// in APIC mode its GSI link.
aml::Bytes RoutingTable(const char* link_prefix) {
  std::vector<aml::Bytes> entries;
  for (int slot = 0; slot < 32; ++slot) {
    for (int pin = 0; pin < 4; ++pin) {
      int pirq = PirqForSlotPin(slot, pin);
      entries.push_back(aml::Package({aml::Integer((uint64_t{uint32_t(slot)} << 16) | 0xFFFF), aml::Integer(pin),
                                      aml::NameString(LinkName(link_prefix, pirq)), aml::Integer(0)}));
    }
  }
  return aml::Package(entries);
}

// PIC mode: an interrupt link (PNP0C0F) backed by the PIIX3 route register
// PRQn: bit 7 disables the PIRQ, bits 3:0 name the ISA IRQ.
aml::Bytes PirqLink(int pirq) {
  using namespace aml;
  const std::string reg = "PRQ" + std::to_string(pirq);
  return Device(LinkName("LNK", pirq),
                Join({Name("_HID", EisaId("PNP0C0F")), Name("_UID", Integer(pirq)),
                      Name("_PRS", ResourceTemplate({InterruptLevelHighShared(
                                       std::vector<uint32_t>(std::begin(kPciIsaIrqs), std::end(kPciIsaIrqs)))})),
                      Method("_STA", 0, false,
                             Join({If(And(NameString(reg), Integer(0x80)), Return(Integer(0x09))),
                                   Return(Integer(0x0B))})),
                      Method("_DIS", 0, false, Or(NameString(reg), Integer(0x80), NameString(reg))),
                      // The interrupt number sits at byte 5 of the extended interrupt descriptor.
                      Method("_CRS", 0, true,
                             Join({Name("PRR0", ResourceTemplate({InterruptLevelHighShared({0})})),
                                   CreateDWordField(NameString("PRR0"), Integer(5), "PRRI"),
                                   If(LLess(NameString(reg), Integer(0x80)),
                                      Store(And(NameString(reg), Integer(0x0F)), NameString("PRRI"))),
                                   Return(NameString("PRR0"))})),
                      Method("_SRS", 1, true,
                             Join({CreateDWordField(Arg(0), Integer(5), "PRRI"),
                                   Store(NameString("PRRI"), NameString(reg))}))}));
}

// APIC mode: a fixed link to the PIRQ's own I/O APIC pin (GSI 16-19; QEMU's
// q35 GSIx devices).
aml::Bytes GsiLink(int pirq) {
  using namespace aml;
  Bytes crs = ResourceTemplate({InterruptLevelHighShared({static_cast<uint32_t>(layout::kPirqFirstGsi + pirq)})});
  return Device(LinkName("GSI", pirq),
                Join({Name("_HID", EisaId("PNP0C0F")), Name("_UID", Integer(kPirqCount + pirq)),
                      Name("_PRS", crs), Name("_CRS", crs), Method("_SRS", 1, false, {}),
                      Method("_DIS", 0, false, {})}));
}

// The legacy devices behind the ISA bridge, as QEMU's DSDT for -M pc has
// them: OSes find them by these IDs (Linux's PnP ACPI binds rtc_cmos, the
// i8042 and 8250 drivers to them; Windows has no PS/2 keyboard without KBD).
aml::Bytes IsaDevices() {
  using namespace aml;
  const auto io = [](uint16_t port, uint8_t length) { return IoPort(port, port, 1, length); };
  const auto present = Name("_STA", Integer(0xF));
  return Join({
      Device("RTC", Join({Name("_HID", EisaId("PNP0B00")),
                          Name("_CRS", ResourceTemplate({io(layout::kCmosPort, 2), IrqNoFlags(layout::kRtcIrq)}))})),
      Device("KBD", Join({Name("_HID", EisaId("PNP0303")), present,
                          Name("_CRS", ResourceTemplate({io(layout::kI8042DataPort, 1), io(layout::kI8042CommandPort, 1),
                                                         IrqNoFlags(layout::kKeyboardIrq)}))})),
      Device("MOU", Join({Name("_HID", EisaId("PNP0F13")), present,
                          Name("_CRS", ResourceTemplate({IrqNoFlags(layout::kMouseIrq)}))})),
      Device("COM1", Join({Name("_HID", EisaId("PNP0501")), Name("_UID", Integer(1)), present,
                           Name("_CRS", ResourceTemplate({io(layout::kCom1Port, 8), IrqNoFlags(layout::kCom1Irq)}))})),
  });
}

std::vector<uint8_t> Dsdt(const AcpiConfig& config) {
  using namespace aml;
  Table t("DSDT", 2);
  const uint64_t s5 = AcpiPm::kSlpTypS5;
  Bytes pci0 = Join({
      Name("_HID", EisaId("PNP0A03")),
      Name("_UID", Integer(0)),
      Name("_BBN", Integer(0)),
      Name("_CRS", ResourceTemplate({WordBusNumber(0x00, 0xFF), IoPort(0xCF8, 0xCF8, 1, 8), WordIo(0x0000, 0x0CF7),
                                     WordIo(0x0D00, 0xFFFF), DWordMemory(0xA0000, 0xBFFFF, true),
                                     DWordMemory(config.pci_hole_start, config.pci_hole_end, false)})),
      Method("_PRT", 0, false, Join({If(NameString("PICF"), Return(NameString("PRTA"))), Return(NameString("PRTP"))})),
      Name("PRTP", RoutingTable("LNK")),
      Name("PRTA", RoutingTable("GSI")),
      Device("ISA", Join({Name("_ADR", Integer(kIsaBridgeAdr)),
                          OperationRegion("P40C", RegionSpace::kPciConfig, kPirqRouteOffset, kPirqCount),
                          IsaDevices()})),
  });
  Bytes sb = Join({Device("PCI0", pci0),
                   Field("PCI0.ISA.P40C", {{"PRQ0", 8}, {"PRQ1", 8}, {"PRQ2", 8}, {"PRQ3", 8}})});
  for (int pirq = 0; pirq < kPirqCount; ++pirq) Append(sb, PirqLink(pirq));
  for (int pirq = 0; pirq < kPirqCount; ++pirq) Append(sb, GsiLink(pirq));
  Bytes body = Join({
      Name("_S5", Package({Integer(s5), Integer(s5), Integer(0), Integer(0)})),
      // \_PIC(1) is called by the OS when it switches to the I/O APIC.
      Name("PICF", Integer(0)),
      Method("_PIC", 1, false, Store(Arg(0), NameString("PICF"))),
      Scope("\\_SB", sb),
  });
  t.Bytes(body.data(), body.size());
  return t.Finish();
}

std::vector<uint8_t> Fadt() {
  const uint32_t pm = layout::kAcpiPmPort;
  Table t("FACP", 1);
  t.U32(0);  // FIRMWARE_CTRL: offset of the FACS in the tables blob, patched by the loader
  t.U32(0);  // DSDT: patched likewise
  t.U8(0);   // INT_MODEL (1.0)
  t.U8(0);   // preferred PM profile: unspecified
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
  // Flags: WBINVD, PROC_C1, no fixed sleep button. PWR_BUTTON (bit 4) stays
  // clear: the power button is the fixed-feature one in PM1 (PWRBTN_STS/EN).
  t.U32((1u << 0) | (1u << 2) | (1u << 5));
  return t.Finish();
}

std::vector<uint8_t> Madt(const AcpiConfig& config) {
  Table t("APIC", 1);
  t.U32(static_cast<uint32_t>(layout::kLapicBase));
  t.U32(1);  // PCAT_COMPAT: the dual 8259 is present too
  for (int cpu = 0; cpu < config.cpu_count; ++cpu) {
    t.U8(0);  // processor local APIC
    t.U8(8);
    t.U8(static_cast<uint8_t>(cpu));  // ACPI processor UID
    t.U8(layout::CpuApicId(cpu));
    t.U32(1);  // enabled
  }
  // I/O APIC at GSI base 0.
  t.U8(1);
  t.U8(12);
  t.U8(layout::IoApicId(config.cpu_count));
  t.U8(0);
  t.U32(static_cast<uint32_t>(layout::kIoApicBase));
  t.U32(0);
  // Interrupt source overrides: ISA IRQ0 -> GSI 2 (conforming); the SCI and
  // the PCI-steerable ISA IRQs level, active high (MPS INTI flags 0xD).
  struct Override {
    uint8_t irq;
    uint32_t gsi;
    uint16_t flags;
  };
  std::vector<Override> overrides = {
      {layout::kPitIrq, static_cast<uint32_t>(layout::IoApicPinForIsaIrq(layout::kPitIrq)), 0}};
  std::vector<uint32_t> level_irqs(std::begin(kPciIsaIrqs), std::end(kPciIsaIrqs));
  level_irqs.push_back(layout::kSciIrq);
  std::sort(level_irqs.begin(), level_irqs.end());
  for (uint32_t irq : level_irqs) {
    overrides.push_back({static_cast<uint8_t>(irq), static_cast<uint32_t>(layout::IoApicPinForIsaIrq(irq)), 0x000D});
  }
  for (const Override& o : overrides) {
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

// Appends `table` to the blob (8-byte aligned) and returns its offset.
uint32_t Push(std::vector<uint8_t>& blob, const std::vector<uint8_t>& table) {
  blob.resize((blob.size() + 7) & ~size_t{7}, 0);
  uint32_t offset = static_cast<uint32_t>(blob.size());
  blob.insert(blob.end(), table.begin(), table.end());
  return offset;
}

void PutU32(std::vector<uint8_t>& blob, uint32_t offset, uint32_t value) {
  std::memcpy(&blob[offset], &value, 4);
}

}  // namespace

AcpiConfig AcpiConfigFor(const MemoryMap& map, int cpu_count) {
  AcpiConfig config;
  config.cpu_count = cpu_count;
  config.pci_hole_start = static_cast<uint32_t>(std::min(map.ram_below_4g(), layout::kMmioHoleStart));
  return config;
}

AcpiTables BuildAcpiTables(const AcpiConfig& config) {
  const std::string tables_file = AcpiTables::kTablesFile, rsdp_file = AcpiTables::kRsdpFile;
  AcpiTables out;
  TableLoader loader;
  // The FACS must be 64-byte aligned: it opens the blob, which is allocated so.
  loader.Allocate(tables_file, 64, TableLoader::Zone::kHigh);
  const uint32_t facs = Push(out.tables, Facs());
  const uint32_t dsdt = Push(out.tables, Dsdt(config));
  const uint32_t fadt = Push(out.tables, Fadt());
  const uint32_t madt = Push(out.tables, Madt(config));

  auto checksum = [&](uint32_t table) {
    uint32_t length;
    std::memcpy(&length, &out.tables[table + 4], 4);
    loader.AddChecksum(tables_file, table + kChecksumOffset, table, length);
  };
  checksum(dsdt);
  PutU32(out.tables, fadt + kFadtFirmwareCtrl, facs);
  loader.AddPointer(tables_file, fadt + kFadtFirmwareCtrl, 4, tables_file);
  PutU32(out.tables, fadt + kFadtDsdt, dsdt);
  loader.AddPointer(tables_file, fadt + kFadtDsdt, 4, tables_file);
  checksum(fadt);
  checksum(madt);

  Table rsdt_table("RSDT", 1);
  const uint32_t entries[] = {fadt, madt};
  for (uint32_t e : entries) rsdt_table.U32(e);
  const uint32_t rsdt = Push(out.tables, rsdt_table.Finish());
  for (size_t i = 0; i < std::size(entries); ++i) {
    loader.AddPointer(tables_file, static_cast<uint32_t>(rsdt + kHeaderSize + 4 * i), 4, tables_file);
  }
  checksum(rsdt);

  // The RSDP goes where an OS scans for it: the F segment, 16-byte aligned.
  out.rsdp.assign(kRsdpSize, 0);
  std::memcpy(out.rsdp.data(), "RSD PTR ", 8);
  std::memcpy(&out.rsdp[9], "TANDEM", 6);
  out.rsdp[15] = 0;  // revision 0: ACPI 1.0, RSDT only
  PutU32(out.rsdp, kRsdpRsdtAddress, rsdt);
  loader.Allocate(rsdp_file, 16, TableLoader::Zone::kFSeg);
  loader.AddPointer(rsdp_file, kRsdpRsdtAddress, 4, tables_file);
  loader.AddChecksum(rsdp_file, kRsdpChecksum, 0, kRsdpSize);
  out.loader = loader.script();
  return out;
}

Status WriteAcpiTables(GuestMemory& memory, int cpu_count, const AcpiTablesConfig& config) {
  AcpiTables tables = BuildAcpiTables(AcpiConfigFor(memory.map(), cpu_count));
  if (config.address % 16 || config.address < 0xE0000 || config.address >= layout::kHighMemoryStart) {
    return Status::Error("the ACPI tables must start 16-byte aligned and lie in 0xE0000-0xFFFFF");
  }
  // Both zones come from the scan area: the RSDP (the F-segment blob) at
  // config.address, the tables after it.
  constexpr uint64_t kFSegRoom = 64;
  uint64_t next_fseg = config.address, next_high = config.address + kFSegRoom;
  TableAllocator allocate = [&](const std::string& file, uint64_t size, uint32_t align,
                                TableLoader::Zone zone) -> Result<uint64_t> {
    uint64_t& next = zone == TableLoader::Zone::kFSeg ? next_fseg : next_high;
    uint64_t at = (next + align - 1) & ~uint64_t{align - 1};
    if (zone == TableLoader::Zone::kFSeg && at + size > config.address + kFSegRoom) {
      return Status::Error("ACPI: no room for " + file);
    }
    if (at + size > layout::kHighMemoryStart) {
      return Status::Error("the ACPI tables do not fit below 1 MiB");
    }
    for (uint64_t gpa : {at, at + size - 1}) {
      const MemoryRegion* region = memory.map().Find(gpa);
      if (!region || region->kind != RegionKind::kRam) {
        return Status::Error("no RAM at the ACPI table address (is a BIOS ROM mapped there?)");
      }
    }
    next = at + size;
    return at;
  };
  std::map<std::string, std::vector<uint8_t>> files = {{AcpiTables::kTablesFile, tables.tables},
                                                       {AcpiTables::kRsdpFile, tables.rsdp}};
  auto placed = RunTableLoader(tables.loader, files, allocate, memory);
  return placed.status();
}

}  // namespace tandem::hw
