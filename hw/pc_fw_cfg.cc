// Item layouts as QEMU fills them for x86 (fw_cfg_arch_create and
// fw_cfg_init_io_dma): integers little-endian, FW_CFG_NUMA a zero node count
// followed by one zero per possible CPU, the legacy ACPI/SMBIOS entry lists
// empty (a u16 count of 0), IRQ0 overridden to GSI 2.
#include "hw/pc_fw_cfg.h"

namespace tandem::hw {
namespace {

void PutLe(std::vector<uint8_t>& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<uint8_t>(value >> (8 * i)));
}

std::vector<uint8_t> Le(uint64_t value, int bytes) {
  std::vector<uint8_t> out;
  PutLe(out, value, bytes);
  return out;
}

}  // namespace

std::vector<uint8_t> E820File(const MemoryMap& map) {
  std::vector<uint8_t> out;
  for (const E820Entry& e : map.E820()) {
    PutLe(out, e.addr, 8);
    PutLe(out, e.size, 8);
    PutLe(out, static_cast<uint32_t>(e.type), 4);
  }
  return out;
}

Status PopulatePcFwCfg(FwCfg& fw_cfg, const MemoryMap& map, const AcpiTables& acpi, const PcFwCfgConfig& config) {
  const auto cpus = static_cast<uint16_t>(config.cpu_count);
  fw_cfg.SetItem(FwCfg::kUuid, std::vector<uint8_t>(16, 0));
  fw_cfg.SetU64(FwCfg::kRamSize, map.ram_size());
  fw_cfg.SetU16(FwCfg::kNoGraphic, 1);
  fw_cfg.SetU16(FwCfg::kNbCpus, cpus);
  fw_cfg.SetU16(FwCfg::kMaxCpus, cpus);
  fw_cfg.SetU16(FwCfg::kBootMenu, 0);
  fw_cfg.SetItem(FwCfg::kNuma, std::vector<uint8_t>(8 * (1 + size_t{cpus}), 0));
  fw_cfg.SetU16(FwCfg::kX86AcpiTables, 0);
  fw_cfg.SetU16(FwCfg::kX86SmbiosEntries, 0);
  fw_cfg.SetU32(FwCfg::kX86Irq0Override, 1);

  std::vector<std::pair<std::string, std::vector<uint8_t>>> files = {
      {"etc/e820", E820File(map)},
      {"bootorder", std::vector<uint8_t>(config.bootorder.begin(), config.bootorder.end())},
      {"etc/boot-fail-wait", Le(config.boot_fail_wait_ms, 4)},
      {"etc/boot-cpus", Le(cpus, 2)},
      {AcpiTables::kTablesFile, acpi.tables},
      {AcpiTables::kRsdpFile, acpi.rsdp},
      {AcpiTables::kLoaderFile, acpi.loader},
  };
  if (config.sercon_port) files.push_back({"etc/sercon-port", Le(config.sercon_port, 2)});
  for (const auto& [name, rom] : config.option_roms) files.push_back({"genroms/" + name, rom});
  for (auto& [name, data] : files) {
    if (Status s = fw_cfg.AddFile(name, std::move(data)); !s.ok()) return s;
  }
  return Status();
}

}  // namespace tandem::hw
