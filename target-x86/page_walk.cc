// Debugger page walk (SDM vol. 3A 4.3-4.5): present bits and page sizes only.
#include "target-x86/page_walk.h"

namespace tandem::x86 {

namespace {
constexpr uint64_t kPresent = 1, kPageSize = 1u << 7;
constexpr uint64_t kCr4La57 = 1u << 12;
constexpr uint64_t kAddressMask = 0x000FFFFFFFFFF000ull;  // bits 51:12 of a 64-bit entry
}  // namespace

std::optional<uint64_t> LinearToPhysical(const CpuState& s, uint64_t linear, const PhysicalReader& read) {
  if (!(s.cr0 & kCr0Pg)) return (s.msr.efer & kEferLma) ? linear : linear & 0xFFFFFFFFu;
  if (!(s.cr4 & kCr4Pae)) {
    // 32-bit paging: a page directory of 1024 4-byte entries, 4 MiB pages with CR4.PSE.
    linear &= 0xFFFFFFFFu;
    uint32_t pde = 0;
    if (!read((s.cr3 & 0xFFFFF000u) + ((linear >> 22) << 2), &pde, 4) || !(pde & kPresent)) return std::nullopt;
    if ((pde & kPageSize) && (s.cr4 & kCr4Pse)) {
      uint64_t high = (uint64_t{pde} >> 13 & 0xFF) << 32;  // PSE-36: bits 39:32 from PDE bits 20:13
      return high | (pde & 0xFFC00000u) | (linear & 0x3FFFFFu);
    }
    uint32_t pte = 0;
    if (!read((pde & 0xFFFFF000u) + ((linear >> 12 & 0x3FF) << 2), &pte, 4) || !(pte & kPresent)) return std::nullopt;
    return (pte & 0xFFFFF000u) | (linear & 0xFFF);
  }
  // PAE and 4/5-level paging: 8-byte entries, 9 bits of the address per level.
  int levels;
  uint64_t table;
  if (s.msr.efer & kEferLma) {
    levels = (s.cr4 & kCr4La57) ? 5 : 4;
    table = s.cr3 & kAddressMask;
  } else {
    // PAE: CR3 bits 31:5 point at four PDPTEs (bits 31:30 of the address).
    linear &= 0xFFFFFFFFu;
    uint64_t pdpte = 0;
    if (!read((s.cr3 & 0xFFFFFFE0u) + ((linear >> 30) << 3), &pdpte, 8) || !(pdpte & kPresent)) return std::nullopt;
    levels = 2;
    table = pdpte & kAddressMask;
  }
  for (int level = levels; level >= 1; --level) {
    unsigned shift = 12 + 9 * (level - 1);
    uint64_t entry = 0;
    if (!read(table + ((linear >> shift & 0x1FF) << 3), &entry, 8) || !(entry & kPresent)) return std::nullopt;
    // A large page ends the walk at the PDPTE (1 GiB) or PDE (2 MiB) level.
    if (level == 1 || ((level == 2 || level == 3) && (entry & kPageSize))) {
      uint64_t page_mask = (1ull << shift) - 1;
      return (entry & kAddressMask & ~page_mask) | (linear & page_mask);
    }
    table = entry & kAddressMask;
  }
  return std::nullopt;  // not reached: level 1 always returns
}

}  // namespace tandem::x86
