// A Multiboot v1 kernel loader (Multiboot Specification 0.6.96): finds the
// header, loads an ELF32 image (or the a.out-kludge address fields) into
// guest RAM and builds the Multiboot information structure in low RAM.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/guest_memory.h"
#include "hw/status.h"

namespace tandem::hw {

// The header magic in the image and the value the kernel finds in EAX
// (spec 3.1.2 and 3.2).
inline constexpr uint32_t kMultibootHeaderMagic = 0x1BADB002;
inline constexpr uint32_t kMultibootBootloaderMagic = 0x2BADB002;

// Multiboot header flags (spec 3.1.2). Bits 0-15 are "required": a loader
// that does not honour one must refuse the kernel.
inline constexpr uint32_t kMultibootPageAlign = 1u << 0;  // modules 4 KiB aligned
inline constexpr uint32_t kMultibootMemoryInfo = 1u << 1; // mem_* / mmap_* wanted
inline constexpr uint32_t kMultibootVideoMode = 1u << 2;  // video mode table wanted
inline constexpr uint32_t kMultibootAoutKludge = 1u << 16;

// Multiboot information flags (spec 3.3).
inline constexpr uint32_t kMultibootInfoMemory = 1u << 0;
inline constexpr uint32_t kMultibootInfoCmdline = 1u << 2;
inline constexpr uint32_t kMultibootInfoMmap = 1u << 6;
inline constexpr uint32_t kMultibootInfoLoaderName = 1u << 9;

// Where the information structure, its memory map, the command line and the
// loader name go unless the kernel occupies that range (then they follow the
// kernel's highest loaded byte).
inline constexpr uint32_t kMultibootInfoAddress = 0x9000;

struct MultibootBoot {
  uint32_t entry = 0;         // physical entry point
  uint32_t info_address = 0;  // physical address of the information structure (EBX)
};

// Loads a Multiboot v1 kernel image into memory and writes the information
// structure. The caller starts the vCPU in x86::Flat32State(entry) with
// EAX=kMultibootBootloaderMagic and EBX=info_address (spec 3.2; Flat32State
// provides the flat 32-bit segments, CR0.PE=1/PG=0 and EFLAGS.IF=VM=0). The
// spec also requires the A20 gate open: the caller must see to that if the
// board ever masks A20.
Result<MultibootBoot> LoadMultiboot(GuestMemory& memory, const std::vector<uint8_t>& image,
                                    const std::string& cmdline);

}  // namespace tandem::hw
