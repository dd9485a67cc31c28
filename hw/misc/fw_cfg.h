// QEMU's firmware configuration device (fw_cfg) as x86 machines have it, after
// QEMU's docs/specs/fw_cfg.rst: a 12-port window with the 16-bit selector at
// offset 0, the data byte at offset 1 (each read advances) and the DMA
// address register at offsets 4-11 (big-endian; writing its low half starts
// a transfer described by a FWCfgDmaAccess in guest RAM), plus the file
// directory (key 0x19) through which firmware finds named blobs.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "hw/dma_memory.h"
#include "hw/guest_log.h"
#include "hw/io_device.h"
#include "hw/status.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class FwCfg final : public IoDevice {
 public:
  // Offsets in the port window.
  static constexpr uint64_t kSelectorOffset = 0, kDataOffset = 1, kDmaOffset = 4, kSize = 12;

  // Item keys (QEMU's include/standard-headers/linux/qemu_fw_cfg.h).
  static constexpr uint16_t kSignature = 0x00, kId = 0x01, kUuid = 0x02, kRamSize = 0x03,
                            kNoGraphic = 0x04, kNbCpus = 0x05, kNuma = 0x0D, kBootMenu = 0x0E,
                            kMaxCpus = 0x0F, kFileDir = 0x19, kFileFirst = 0x20;
  static constexpr uint16_t kArchLocal = 0x8000;  // x86: ACPI tables, SMBIOS, IRQ0 override, e820
  static constexpr uint16_t kX86AcpiTables = kArchLocal + 0, kX86SmbiosEntries = kArchLocal + 1,
                            kX86Irq0Override = kArchLocal + 2;
  // FW_CFG_ID bits: the traditional port interface and the DMA interface.
  static constexpr uint32_t kIdTraditional = 1u << 0, kIdDma = 1u << 1;
  // FWCfgDmaAccess control bits.
  static constexpr uint32_t kDmaError = 1u << 0, kDmaRead = 1u << 1, kDmaSkip = 1u << 2,
                            kDmaSelect = 1u << 3, kDmaWrite = 1u << 4;
  static constexpr size_t kFileNameMax = 56;  // including the terminating NUL
  static constexpr char kDmaSignature[] = "QEMU CFG";

  // The device reaches guest memory for DMA only through `dma`.
  explicit FwCfg(DmaMemory& dma);
  FwCfg(const FwCfg&) = delete;
  FwCfg& operator=(const FwCfg&) = delete;

  // Adds a numbered item (read-only); replaces an existing one.
  void SetItem(uint16_t key, std::vector<uint8_t> data);
  // Little-endian integer items, as QEMU's fw_cfg_add_i16/i32/i64.
  void SetU16(uint16_t key, uint16_t value);
  void SetU32(uint16_t key, uint32_t value);
  void SetU64(uint16_t key, uint64_t value);

  // Adds a named file to the directory. Files are listed sorted by name and
  // numbered from kFileFirst in that order (as QEMU does). Fails on an empty,
  // too long or duplicate name.
  Status AddFile(const std::string& name, std::vector<uint8_t> data);

  // The selector number of a file, or 0 when there is none by that name.
  uint16_t FileSelector(const std::string& name) const;

  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  // Power-on state: the signature selected, offset 0, no DMA address.
  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

  // Where the guest's misuse (unknown items, DMA outside RAM) is reported,
  // once each, as guest_errors; nullptr: nowhere.
  void set_log(GuestLog* log) { log_ = log; }

 private:
  void Select(uint16_t key);
  const std::vector<uint8_t>* Current() const;
  uint8_t ReadDataByte();
  void DmaTransfer(uint64_t address);
  void RebuildDirectory();

  DmaMemory& dma_;
  std::map<uint16_t, std::vector<uint8_t>> items_;         // keys below kFileFirst and arch-local ones
  std::map<std::string, std::vector<uint8_t>> files_;      // sorted by name
  std::vector<const std::vector<uint8_t>*> file_by_index_;  // selector - kFileFirst -> data
  uint16_t selector_ = kSignature;
  uint32_t offset_ = 0;
  uint64_t dma_address_ = 0;
  GuestLog* log_ = nullptr;
};

}  // namespace tandem::hw
