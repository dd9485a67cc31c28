// ACPI tables for tandem's board (ACPI 6.4 chapter 5), built once as QEMU
// builds them: two blobs (etc/acpi/tables, etc/acpi/rsdp) with pointers left
// as offsets, plus the linker/loader script that places and patches them.
// Firmware gets the three through fw_cfg; direct boots run the same script
// (WriteAcpiTables), so both hand the guest the same tables:
//   RSDP (revision 0) -> RSDT -> FADT (1.0 layout: PM block, SCI, fixed power
//   button; -> FACS, DSDT) and MADT (local APICs, the I/O APIC, ISA overrides
//   as QEMU's PIIX board has them, LINT1 NMI).
// The DSDT holds \_S5 and \_SB.PCI0, the i440FX host bridge with its bus and
// I/O/memory windows and _PRT (PIC mode through the PIIX3 PIRQ links
// LNKA-LNKD, APIC mode through GSI 16-19).
#pragma once

#include <cstdint>
#include <vector>

#include "hw/guest_memory.h"
#include "hw/memory_map.h"
#include "hw/pc_layout.h"
#include "hw/status.h"

namespace tandem::hw {

struct AcpiConfig {
  int cpu_count = 1;
  // The 32-bit PCI memory window the host bridge decodes: [start, end].
  uint32_t pci_hole_start = 0xC0000000;
  uint32_t pci_hole_end = static_cast<uint32_t>(layout::kIoApicBase - 1);
};

// The board's configuration: the PCI window starts where RAM below 4 GiB ends.
AcpiConfig AcpiConfigFor(const MemoryMap& map, int cpu_count);

struct AcpiTables {
  static constexpr const char* kTablesFile = "etc/acpi/tables";
  static constexpr const char* kRsdpFile = "etc/acpi/rsdp";
  static constexpr const char* kLoaderFile = "etc/table-loader";
  std::vector<uint8_t> tables;  // FACS, DSDT, FACP, APIC, RSDT; pointers as offsets, checksums 0
  std::vector<uint8_t> rsdp;
  std::vector<uint8_t> loader;  // TableLoader script
};

AcpiTables BuildAcpiTables(const AcpiConfig& config);

// Direct boots (no firmware): the RSDP at config.address, the other tables
// right after it, inside 0xE0000-0xFFFFF where Linux scans for the RSDP.
// The default leaves room below for an MP table of layout::kMaxCpus CPUs.
struct AcpiTablesConfig {
  uint64_t address = layout::kFirmwareTablesStart + 0x800;
};

// Runs BuildAcpiTables(AcpiConfigFor(memory.map(), cpu_count))'s loader
// script with the blobs placed from config.address.
Status WriteAcpiTables(GuestMemory& memory, int cpu_count = 1, const AcpiTablesConfig& config = {});

}  // namespace tandem::hw
