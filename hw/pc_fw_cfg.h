// What tandem's PC tells its firmware through fw_cfg, as QEMU's -M pc does
// (hw/i386/fw_cfg.c, hw/i386/pc.c, hw/nvram/fw_cfg.c): the numbered items
// SeaBIOS and kvm-unit-tests read (RAM size, CPU counts, ...), and the files
// etc/e820, bootorder, etc/boot-fail-wait, etc/boot-cpus, etc/sercon-port,
// genroms/* and the ACPI tables with their linker/loader script.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "hw/loader/acpi_tables.h"
#include "hw/memory_map.h"
#include "hw/misc/fw_cfg.h"
#include "hw/pc_layout.h"
#include "hw/status.h"

namespace tandem::hw {

struct PcFwCfgConfig {
  int cpu_count = 1;
  // The "bootorder" file: OpenFirmware device paths, one a line; empty keeps
  // the firmware's default order.
  std::string bootorder;
  // etc/boot-fail-wait: milliseconds before SeaBIOS retries after "No
  // bootable device"; all-ones (QEMU's default) waits for ever.
  uint32_t boot_fail_wait_ms = 0xFFFFFFFF;
  // etc/sercon-port: the port SeaBIOS uses as its console when there is no
  // VGA (0 leaves the file out).
  uint16_t sercon_port = layout::kCom1Port;
  // Option ROMs of devices that carry one, as genroms/NAME (none today).
  std::vector<std::pair<std::string, std::vector<uint8_t>>> option_roms;
};

// The e820 map in QEMU's "etc/e820" layout: struct e820_entry { le64 address,
// le64 length, le32 type }, packed.
std::vector<uint8_t> E820File(const MemoryMap& map);

// Fills fw_cfg for a board with this memory map and these ACPI tables.
Status PopulatePcFwCfg(FwCfg& fw_cfg, const MemoryMap& map, const AcpiTables& acpi, const PcFwCfgConfig& config);

}  // namespace tandem::hw
