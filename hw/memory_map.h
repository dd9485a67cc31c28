// The guest-physical memory map of the PC board, derived from the RAM and ROM
// sizes and hw/pc_layout.h: the one description that the e820 table, the
// loaders, the KVM memory slots and the interpreter's physical accesses use.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "hw/status.h"

namespace tandem::hw {

// kRamReadOnly: RAM that the chipset makes read-only (a PAM segment set to
// read-only): reads see the RAM, writes are dropped, as for ROM.
enum class RegionKind { kRam, kRom, kRamReadOnly };

// What the CPU sees in one PAM segment of 0xC0000-0xFFFFF (i440FX PAM
// register nibble: bit 0 read enable, bit 1 write enable). kOff: reads and
// writes go to the ROM alias where the BIOS is mapped below 1 MiB, else to
// PCI (the MMIO bus). Write-only is treated as read-write (see i440fx.cc).
enum class ShadowMode : uint8_t { kOff, kReadOnly, kReadWrite };

// A guest-physical range backed by host memory: RAM at host_offset in the
// RAM mapping, or ROM at host_offset in the ROM image.
struct MemoryRegion {
  uint64_t gpa;
  uint64_t size;
  RegionKind kind;
  uint64_t host_offset;
  const char* name;
  uint64_t end() const { return gpa + size; }
};

// e820 types (ACPI spec 6.4, table 15.312).
enum class E820Type : uint32_t { kRam = 1, kReserved = 2, kAcpi = 3, kNvs = 4 };
struct E820Entry {
  uint64_t addr;
  uint64_t size;
  E820Type type;
};

class MemoryMap {
 public:
  // ram_size: total guest RAM; rom_size: BIOS image size (0 when none).
  static Result<MemoryMap> Build(uint64_t ram_size, uint64_t rom_size);

  const std::vector<MemoryRegion>& regions() const { return regions_; }
  uint64_t ram_size() const { return ram_below_4g_ + ram_above_4g_; }
  uint64_t ram_below_4g() const { return ram_below_4g_; }
  uint64_t ram_above_4g() const { return ram_above_4g_; }
  uint64_t rom_size() const { return rom_size_; }

  using ShadowModes = std::array<ShadowMode, 13>;  // layout::kShadowSegments
  // The shadow area as a board without a chipset sets it up: the ROM alias
  // where the BIOS is, RAM elsewhere.
  ShadowModes DefaultShadow() const;
  const ShadowModes& shadow() const { return shadow_; }
  // Switches PAM segments; regions() changes. False when nothing changed.
  bool SetShadow(const ShadowModes& modes);

  // The region holding gpa, or nullptr for holes and MMIO.
  const MemoryRegion* Find(uint64_t gpa) const;
  // The RAM mapping offset that backs gpa (valid for RAM regions only).
  uint64_t RamOffset(uint64_t gpa) const;

  // The firmware memory map given to the guest (BIOS E820 / Multiboot / zero page).
  std::vector<E820Entry> E820() const;

 private:
  void Rebuild();

  std::vector<MemoryRegion> regions_;
  ShadowModes shadow_{};
  uint64_t ram_below_4g_ = 0;
  uint64_t ram_above_4g_ = 0;
  uint64_t rom_size_ = 0;
};

// Parses a size such as "128M", "2G", "65536" (bytes) or "512K".
Result<uint64_t> ParseSize(const std::string& text);

}  // namespace tandem::hw
