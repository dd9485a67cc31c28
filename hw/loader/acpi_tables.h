// ACPI tables for tandem's board, for direct boots (a BIOS builds its own):
// RSDP (revision 0) -> RSDT -> FADT (1.0 layout, with FACS and DSDT) and MADT
// (ACPI 6.4 chapter 5). The MADT lists the one local APIC, the I/O APIC, the
// IRQ0 -> GSI 2 override, SCI (IRQ 9) as level/active-high, and LINT1 as
// NMI. The FADT points at the ACPI PM device (hw/misc/acpi_pm.h); the DSDT
// holds only \_S5, so that a guest's power-off exits tandem.
#pragma once

#include <cstdint>

#include "hw/guest_memory.h"
#include "hw/pc_layout.h"
#include "hw/status.h"

namespace tandem::hw {

struct AcpiTablesConfig {
  // RSDP here (16-byte aligned, inside the 0xE0000-0xFFFFF scan area), the
  // other tables right after it.
  uint64_t address = layout::kFirmwareTablesStart + 0x400;
};

// Bytes WriteAcpiTables() uses from config.address.
uint64_t AcpiTablesSize();

Status WriteAcpiTables(GuestMemory& memory, const AcpiTablesConfig& config = {});

}  // namespace tandem::hw
