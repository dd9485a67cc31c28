// The Intel MultiProcessor Specification 1.4 tables for tandem's board: an MP
// floating pointer and a base configuration table with the processors, the ISA
// bus, the I/O APIC, I/O interrupt entries for ISA IRQs 0-15 (IRQ0 on pin 2,
// the cascade IRQ2 left out) and LINT0 ExtINT / LINT1 NMI. Loaders write it
// for direct boots; a BIOS builds its own.
#pragma once

#include <cstdint>

#include "hw/guest_memory.h"
#include "hw/pc_layout.h"
#include "hw/status.h"

namespace tandem::hw {

struct MpTableConfig {
  uint64_t address = layout::kFirmwareTablesStart;  // 16-byte aligned, below 1 MiB
  uint32_t cpu_signature = 0;  // CPUID.1:EAX
  uint32_t cpu_features = 0;   // CPUID.1:EDX
  int cpu_count = 1;           // APIC IDs 0 ... cpu_count - 1; 0 boots
};

// Size in bytes of what WriteMpTable() writes (floating pointer + table).
uint64_t MpTableSize(int cpu_count = 1);

// Writes the floating pointer at config.address and the configuration table
// right after it. Fails when the range is not writable guest RAM.
Status WriteMpTable(GuestMemory& memory, const MpTableConfig& config = {});

}  // namespace tandem::hw
