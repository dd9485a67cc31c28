#include "hw/loader/linux_boot.h"

#include <algorithm>
#include <cstring>

#include "hw/loader/acpi_tables.h"
#include "hw/loader/mptable.h"
#include "hw/pc_layout.h"
#include "target-x86/cpuid.h"

namespace tandem::hw {

namespace {

using namespace linux_boot;

// Offsets in the bzImage and in the zero page (boot.rst, "THE REAL-MODE
// KERNEL HEADER" and zero-page.rst).
constexpr size_t kSetupSects = 0x1F1;
constexpr size_t kSysSize = 0x1F4;  // protected-mode code size in 16-byte paragraphs (2.04+)
constexpr size_t kBootFlag = 0x1FE;
constexpr size_t kHeaderMagic = 0x202;
constexpr size_t kVersion = 0x206;
constexpr size_t kTypeOfLoader = 0x210;
constexpr size_t kLoadFlags = 0x211;
constexpr size_t kRamdiskImage = 0x218;
constexpr size_t kRamdiskSize = 0x21C;
constexpr size_t kHeapEndPtr = 0x224;
constexpr size_t kCmdLinePtr = 0x228;
constexpr size_t kInitrdAddrMax = 0x22C;
constexpr size_t kXLoadFlags = 0x236;
constexpr size_t kCmdlineSize = 0x238;
constexpr size_t kPrefAddress = 0x258;  // where the kernel runs when it may choose (2.10+)
constexpr size_t kInitSize = 0x260;     // memory it needs from there before it reads the e820 map (2.10+)
constexpr size_t kSetupHeaderEnd = 0x280;  // generous: the header is shorter
constexpr size_t kE820Entries = 0x1E8;
constexpr size_t kE820Table = 0x2D0;
constexpr size_t kE820MaxEntries = 128;
constexpr uint32_t kHdrSMagic = 0x53726448;
constexpr uint8_t kLoadedHigh = 0x01;
constexpr uint8_t kCanUseHeap = 0x80;
constexpr uint16_t kXlfKernel64 = 0x01;

template <typename T>
T Get(const std::vector<uint8_t>& b, size_t off) {
  T v;
  std::memcpy(&v, b.data() + off, sizeof v);
  return v;
}
template <typename T>
void Put(std::vector<uint8_t>& b, size_t off, T v) {
  std::memcpy(b.data() + off, &v, sizeof v);
}

// A flat 4 GiB code/data GDT at the selectors the protocol names, and an
// identity map of the first 4 GiB with 2 MiB pages for the 64-bit entry.
bool WriteBootTables(GuestMemory& memory) {
  const uint64_t gdt[4] = {0, 0, 0x00AF9B000000FFFFull /* 64-bit code */,
                           0x00CF93000000FFFFull /* data */};
  if (!memory.WritePhys(kGdtAddress, gdt, sizeof gdt)) return false;
  const uint64_t pdpt = kPml4Address + 0x1000;
  const uint64_t pd = pdpt + 0x1000;
  uint64_t entry = pdpt | 0x3;  // present, writable
  if (!memory.WritePhys(kPml4Address, &entry, 8)) return false;
  for (uint64_t i = 0; i < 4; ++i) {
    entry = (pd + i * 0x1000) | 0x3;
    if (!memory.WritePhys(pdpt + i * 8, &entry, 8)) return false;
  }
  for (uint64_t i = 0; i < 4 * 512; ++i) {
    entry = (i << 21) | 0x83;  // present, writable, 2 MiB page
    if (!memory.WritePhys(pd + i * 8, &entry, 8)) return false;
  }
  return true;
}

x86::CpuState EntryState(bool long_mode, uint64_t entry) {
  using namespace x86;
  CpuState s = Flat32State(entry);
  for (auto& seg : s.seg) seg.selector = kBootDs;
  s.seg[kCs].selector = kBootCs;
  s.gdtr = {kGdtAddress, 4 * 8 - 1};
  s.gpr[kRsi] = kZeroPageAddress;
  if (long_mode) {
    s.seg[kCs].attrib = (s.seg[kCs].attrib & ~Segment::kDb) | Segment::kL;
    s.cr4 = kCr4Pae;
    s.cr3 = kPml4Address;
    s.cr0 |= kCr0Pg;
    s.msr.efer = kEferLme | kEferLma;
  }
  return s;
}

}  // namespace

bool EnterFlat64(GuestMemory& memory, uint64_t entry, x86::CpuState* state) {
  if (!WriteBootTables(memory)) return false;
  *state = EntryState(true, entry);
  return true;
}

bool IsBzImage(const std::vector<uint8_t>& image) {
  return image.size() > kSetupHeaderEnd && Get<uint32_t>(image, kHeaderMagic) == kHdrSMagic;
}

Result<LinuxBootInfo> LoadLinux(GuestMemory& memory, const std::vector<uint8_t>& kernel,
                                const std::vector<uint8_t>& initrd, const std::string& cmdline,
                                const x86::CpuidModel& cpuid, int cpu_count) {
  if (!IsBzImage(kernel)) return Status::Error("not a Linux bzImage (no HdrS setup header)");
  if (Get<uint16_t>(kernel, kBootFlag) != 0xAA55) return Status::Error("bzImage boot flag is not 0xAA55");
  LinuxBootInfo info;
  info.protocol = Get<uint16_t>(kernel, kVersion);
  if (info.protocol < 0x206) {
    return Status::Error("boot protocol " + std::to_string(info.protocol >> 8) + "." +
                         std::to_string(info.protocol & 0xFF) + " is too old (2.06 or later needed)");
  }
  if (!(kernel[kLoadFlags] & kLoadedHigh)) return Status::Error("zImage kernels are not supported");
  size_t setup_sects = kernel[kSetupSects] ? kernel[kSetupSects] : 4;
  size_t setup_size = (setup_sects + 1) * 512;
  if (setup_size >= kernel.size()) return Status::Error("bzImage is truncated");
  const uint64_t kernel_size = kernel.size() - setup_size;
  // A file cut short would load and then fault at random in the
  // decompressor; the header says how much there should be.
  const uint64_t promised = uint64_t{Get<uint32_t>(kernel, kSysSize)} * 16;
  if (promised > kernel_size) {
    return Status::Error("bzImage is truncated: its header promises " + std::to_string(promised) +
                         " bytes of kernel, the file holds " + std::to_string(kernel_size));
  }

  const MemoryMap& map = memory.map();
  uint64_t low_ram_end = map.ram_below_4g();
  if (kKernelAddress + kernel_size > low_ram_end) {
    return Status::Error("kernel (" + std::to_string(kernel_size >> 10) + " KiB) does not fit in RAM");
  }
  // The kernel decompresses itself to its preferred address (or where it
  // was loaded, if higher) and needs init_size bytes from there before it
  // looks at the memory map (boot.rst, "init_size"): with less RAM it runs
  // into holes and MMIO instead of failing.
  if (info.protocol >= 0x20A) {
    const uint64_t need = std::max<uint64_t>(Get<uint64_t>(kernel, kPrefAddress), kKernelAddress) +
                          Get<uint32_t>(kernel, kInitSize);
    if (need > low_ram_end) {
      return Status::Error("the kernel needs " + std::to_string((need + (1 << 20) - 1) >> 20) +
                           " MiB of RAM to decompress itself (init_size), the guest has " +
                           std::to_string(low_ram_end >> 20) + " MiB below 4 GiB (-m)");
    }
  }
  uint32_t cmdline_max = Get<uint32_t>(kernel, kCmdlineSize);
  if (cmdline.size() > std::min<uint64_t>(cmdline_max, kCmdlineMax - 1)) {
    return Status::Error("kernel command line too long (" + std::to_string(cmdline.size()) +
                         " bytes; the kernel accepts " + std::to_string(cmdline_max) + ")");
  }

  // The zero page starts as zeros with the kernel's setup header copied in.
  std::vector<uint8_t> zero_page(4096, 0);
  size_t header_end = std::min<size_t>(0x202 + kernel[0x201], kSetupHeaderEnd);
  std::memcpy(zero_page.data() + kSetupSects, kernel.data() + kSetupSects, header_end - kSetupSects);
  zero_page[kTypeOfLoader] = 0xFF;  // undefined boot loader
  zero_page[kLoadFlags] |= kCanUseHeap;
  Put<uint16_t>(zero_page, kHeapEndPtr, 0xFE00);
  Put<uint32_t>(zero_page, kCmdLinePtr, kCmdlineAddress);

  if (!initrd.empty()) {
    uint64_t max = std::min<uint64_t>(Get<uint32_t>(kernel, kInitrdAddrMax), low_ram_end - 1);
    uint64_t kernel_end = kKernelAddress + kernel_size;
    if (initrd.size() > max + 1 || ((max + 1 - initrd.size()) & ~0xFFFull) < kernel_end) {
      return Status::Error("initrd (" + std::to_string(initrd.size() >> 10) +
                           " KiB) does not fit in RAM below the kernel's limit");
    }
    info.initrd_address = (max + 1 - initrd.size()) & ~0xFFFull;
    if (!memory.WritePhys(info.initrd_address, initrd.data(), initrd.size())) {
      return Status::Error("cannot place the initrd in guest RAM");
    }
    Put<uint32_t>(zero_page, kRamdiskImage, static_cast<uint32_t>(info.initrd_address));
    Put<uint32_t>(zero_page, kRamdiskSize, static_cast<uint32_t>(initrd.size()));
  }

  auto e820 = map.E820();
  if (e820.size() > kE820MaxEntries) e820.resize(kE820MaxEntries);
  zero_page[kE820Entries] = static_cast<uint8_t>(e820.size());
  for (size_t i = 0; i < e820.size(); ++i) {
    size_t off = kE820Table + i * 20;
    Put<uint64_t>(zero_page, off, e820[i].addr);
    Put<uint64_t>(zero_page, off + 8, e820[i].size);
    Put<uint32_t>(zero_page, off + 16, static_cast<uint32_t>(e820[i].type));
  }

  std::string cmd = cmdline;
  cmd.push_back('\0');
  if (!memory.WritePhys(kKernelAddress, kernel.data() + setup_size, kernel_size) ||
      !memory.WritePhys(kZeroPageAddress, zero_page.data(), zero_page.size()) ||
      !memory.WritePhys(kCmdlineAddress, cmd.data(), cmd.size()) || !WriteBootTables(memory)) {
    return Status::Error("guest RAM too small for the Linux boot structures");
  }
  // The firmware tables a BIOS would leave: the MP table and the ACPI MADT
  // show Linux the local APIC and I/O APIC, the FADT/DSDT its power-off.
  // Skipped where a BIOS ROM occupies the area.
  const MemoryRegion* tables = map.Find(layout::kFirmwareTablesStart);
  if (tables && tables->kind == RegionKind::kRam) {
    x86::CpuidResult leaf1 = cpuid.Query(1, 0);
    MpTableConfig mp;
    mp.cpu_signature = leaf1.eax;
    mp.cpu_features = leaf1.edx;
    mp.cpu_count = cpu_count;
    if (Status s = WriteMpTable(memory, mp); !s.ok()) return s;
    if (Status s = WriteAcpiTables(memory, cpu_count); !s.ok()) return s;
  }
  info.entry_64bit = Get<uint16_t>(kernel, kXLoadFlags) & kXlfKernel64;
  info.state = EntryState(info.entry_64bit, info.entry_64bit ? kKernelAddress + 0x200 : kKernelAddress);
  return info;
}

}  // namespace tandem::hw
