// Direct boot of a Linux bzImage, as QEMU's -kernel and kvmtool do, following
// the kernel's x86 boot protocol (Documentation/x86/boot.rst, 2.06 and later):
// the setup header is checked, the zero page (struct boot_params) is built
// with the board's e820 map, the command line and the initrd, and the vCPU
// starts at the 64-bit entry (or the 32-bit one for kernels without
// XLF_KERNEL_64) with the boot page tables and GDT the protocol asks for.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/guest_memory.h"
#include "hw/status.h"
#include "target-x86/cpu_state.h"
#include "target-x86/cpuid.h"

namespace tandem::hw {

// Where the loader puts things in low RAM (below the kernel at 1 MiB).
namespace linux_boot {
inline constexpr uint64_t kGdtAddress = 0x1000;
inline constexpr uint64_t kPml4Address = 0x2000;     // then PDPT and 4 page directories
inline constexpr uint64_t kZeroPageAddress = 0x10000;
inline constexpr uint64_t kCmdlineAddress = 0x20000;
inline constexpr uint64_t kCmdlineMax = 0x10000;
inline constexpr uint64_t kKernelAddress = 0x100000;
inline constexpr uint16_t kBootCs = 0x10;  // __BOOT_CS
inline constexpr uint16_t kBootDs = 0x18;  // __BOOT_DS
}  // namespace linux_boot

struct LinuxBootInfo {
  x86::CpuState state;       // the vCPU at the kernel's entry
  uint16_t protocol = 0;     // boot protocol version, e.g. 0x20f
  uint64_t initrd_address = 0;
  bool entry_64bit = false;
};

// True when the image carries the "HdrS" setup header magic.
bool IsBzImage(const std::vector<uint8_t>& image);

// Writes the boot GDT and the identity map of the first 4 GiB (2 MiB pages)
// that the 64-bit entry uses (at kGdtAddress and kPml4Address) and returns
// the state entering flat 64-bit code at `entry`; false when RAM is too
// small. LoadLinux uses it; so can anything that wants flat 64-bit code.
bool EnterFlat64(GuestMemory& memory, uint64_t entry, x86::CpuState* state);

// cpuid: the CPU the MP table describes; pass the board's model
// (Board::cpuid(), which the KVM engine narrows to what the host gives).
// cpu_count: how many CPUs the MP table and the MADT list.
Result<LinuxBootInfo> LoadLinux(GuestMemory& memory, const std::vector<uint8_t>& kernel,
                                const std::vector<uint8_t>& initrd, const std::string& cmdline,
                                const x86::CpuidModel& cpuid = x86::CpuidModel::Default(), int cpu_count = 1);

}  // namespace tandem::hw
