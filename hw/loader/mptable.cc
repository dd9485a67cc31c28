// MP spec 1.4 chapter 4 (MP configuration table) and 5 (default
// configurations); entry layouts follow tables 4-1 to 4-12.
#include "hw/loader/mptable.h"

#include <cstring>
#include <string>
#include <utility>
#include <vector>

namespace tandem::hw {

namespace {

constexpr uint8_t kSpecRev = 4;  // 1.4
constexpr uint8_t kProcessorEntry = 0, kBusEntry = 1, kIoApicEntry = 2, kIoInterruptEntry = 3,
                  kLocalInterruptEntry = 4;
constexpr uint8_t kIntInt = 0, kIntNmi = 1, kIntExtInt = 3;
constexpr uint8_t kLapicVersion = 0x14;  // hw/intc/local_apic.h
constexpr uint8_t kIoApicVersion = 0x11;  // hw/intc/ioapic.h
constexpr uint8_t kCpuEnabled = 1, kCpuBootProcessor = 2;
constexpr uint8_t kIsaBusId = 0;
constexpr size_t kFloatingSize = 16;
constexpr size_t kHeaderSize = 44;

class Writer {
 public:
  void U8(uint8_t v) { b_.push_back(v); }
  void U16(uint16_t v) { Raw(&v, 2); }
  void U32(uint32_t v) { Raw(&v, 4); }
  void Text(const char* s, size_t n) {  // space-padded, not terminated
    size_t len = std::strlen(s);
    for (size_t i = 0; i < n; ++i) U8(i < len ? static_cast<uint8_t>(s[i]) : ' ');
  }
  void Zeros(size_t n) { b_.insert(b_.end(), n, 0); }
  void Raw(const void* p, size_t n) {
    auto* c = static_cast<const uint8_t*>(p);
    b_.insert(b_.end(), c, c + n);
  }
  std::vector<uint8_t>& bytes() { return b_; }

 private:
  std::vector<uint8_t> b_;
};

// The byte that makes the sum of [begin, end) zero modulo 256.
uint8_t Checksum(const std::vector<uint8_t>& b, size_t begin, size_t end) {
  uint8_t sum = 0;
  for (size_t i = begin; i < end; ++i) sum += b[i];
  return static_cast<uint8_t>(-sum);
}

std::vector<uint8_t> ConfigurationTable(const MpTableConfig& config) {
  Writer w;
  uint16_t entries = 0;
  // Header; length, checksum and entry count are patched below.
  w.Text("PCMP", 4);
  w.U16(0);
  w.U8(kSpecRev);
  w.U8(0);
  w.Text("TANDEM", 8);
  w.Text("PC", 12);
  w.U32(0);  // no OEM table
  w.U16(0);
  w.U16(0);
  w.U32(static_cast<uint32_t>(layout::kLapicBase));
  w.U16(0);  // no extended entries
  w.U8(0);
  w.U8(0);

  // Processors (table 4-4).
  for (int cpu = 0; cpu < config.cpu_count; ++cpu) {
    w.U8(kProcessorEntry);
    w.U8(layout::CpuApicId(cpu));
    w.U8(kLapicVersion);
    w.U8(cpu == 0 ? kCpuEnabled | kCpuBootProcessor : kCpuEnabled);
    w.U32(config.cpu_signature);
    w.U32(config.cpu_features);
    w.Zeros(8);
    ++entries;
  }
  // Bus (table 4-7).
  w.U8(kBusEntry);
  w.U8(kIsaBusId);
  w.Text("ISA", 6);
  ++entries;
  // I/O APIC (table 4-8).
  w.U8(kIoApicEntry);
  w.U8(layout::IoApicId(config.cpu_count));
  w.U8(kIoApicVersion);
  w.U8(1);  // enabled
  w.U32(static_cast<uint32_t>(layout::kIoApicBase));
  ++entries;
  // I/O interrupts (table 4-10): ISA IRQs conform to the bus (edge, active
  // high). IRQ2 is the 8259 cascade and has no pin of its own.
  for (int irq = 0; irq < 16; ++irq) {
    if (irq == layout::kCascadeIrq) continue;
    w.U8(kIoInterruptEntry);
    w.U8(kIntInt);
    w.U16(0);  // polarity and trigger conform to the bus
    w.U8(kIsaBusId);
    w.U8(static_cast<uint8_t>(irq));
    w.U8(layout::IoApicId(config.cpu_count));
    w.U8(static_cast<uint8_t>(layout::IoApicPinForIsaIrq(irq)));
    ++entries;
  }
  // Local interrupts (table 4-12): LINT0 ExtINT (virtual wire), LINT1 NMI, to all local APICs.
  for (auto [type, lint] : {std::pair<uint8_t, uint8_t>{kIntExtInt, 0}, {kIntNmi, 1}}) {
    w.U8(kLocalInterruptEntry);
    w.U8(type);
    w.U16(0);
    w.U8(kIsaBusId);
    w.U8(0);
    w.U8(0xFF);
    w.U8(lint);
    ++entries;
  }

  std::vector<uint8_t>& b = w.bytes();
  uint16_t length = static_cast<uint16_t>(b.size());
  std::memcpy(&b[4], &length, 2);
  std::memcpy(&b[34], &entries, 2);
  b[7] = Checksum(b, 0, b.size());
  return b;
}

}  // namespace

uint64_t MpTableSize(int cpu_count) {
  MpTableConfig config;
  config.cpu_count = cpu_count;
  return kFloatingSize + ConfigurationTable(config).size();
}

Status WriteMpTable(GuestMemory& memory, const MpTableConfig& config) {
  if (config.address % 16 || config.address + MpTableSize(config.cpu_count) > layout::kHighMemoryStart) {
    return Status::Error("MP table address must be 16-byte aligned below 1 MiB");
  }
  std::vector<uint8_t> table = ConfigurationTable(config);
  // Floating pointer structure (table 4-1).
  Writer f;
  f.Text("_MP_", 4);
  f.U32(static_cast<uint32_t>(config.address + kFloatingSize));
  f.U8(1);  // length in 16-byte units
  f.U8(kSpecRev);
  f.U8(0);  // checksum
  f.U8(0);  // feature 1: a configuration table is present
  f.U8(0);  // feature 2 bit 7 clear: virtual wire mode, no IMCR
  f.Zeros(3);
  std::vector<uint8_t>& fp = f.bytes();
  fp[10] = Checksum(fp, 0, fp.size());

  for (uint64_t gpa : {config.address, config.address + MpTableSize() - 1}) {
    const MemoryRegion* region = memory.map().Find(gpa);
    if (!region || region->kind != RegionKind::kRam) {
      return Status::Error("no RAM at the MP table address (is a BIOS ROM mapped there?)");
    }
  }
  if (!memory.WritePhys(config.address, fp.data(), fp.size()) ||
      !memory.WritePhys(config.address + kFloatingSize, table.data(), table.size())) {
    return Status::Error("cannot write the MP table to guest RAM");
  }
  return Status();
}

}  // namespace tandem::hw
