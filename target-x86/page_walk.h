// Linear-to-physical translation as a debugger needs it (QEMU's
// cpu_get_phys_page_debug): the CPU state's paging mode walked through
// physical memory, without access checks and without setting A/D bits.
// SDM vol. 3A 4.3 (32-bit), 4.4 (PAE), 4.5 (4- and 5-level paging).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>

#include "target-x86/cpu_state.h"

namespace tandem::x86 {

// Reads `size` bytes of guest-physical memory at `address`; false where no RAM is.
using PhysicalReader = std::function<bool(uint64_t address, void* out, size_t size)>;

// The physical address `linear` maps to under `state`'s paging (itself when
// paging is off), or nullopt when a paging-structure entry on the way is
// not present or unreadable.
std::optional<uint64_t> LinearToPhysical(const CpuState& state, uint64_t linear, const PhysicalReader& read);

}  // namespace tandem::x86
