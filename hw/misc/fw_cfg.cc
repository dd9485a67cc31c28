// QEMU fw_cfg (docs/specs/fw_cfg.rst; the DMA semantics of
// hw/nvram/fw_cfg.c: a transfer past an item's end reads zeros, a failed
// memory access sets the error bit, writes to items are refused).
#include "hw/misc/fw_cfg.h"

#include <algorithm>
#include <string>
#include <cstring>

namespace tandem::hw {
namespace {

// The selector's bit 14 asks for write access; QEMU ignores it when picking
// the item (FW_CFG_ENTRY_MASK keeps the arch-local bit 15).
constexpr uint16_t kWriteChannel = 0x4000;
constexpr uint16_t kMaxFiles = 0x1000;
constexpr uint64_t kZeroChunk = 65536;

uint32_t LoadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

uint64_t LoadBe64(const uint8_t* p) { return (uint64_t{LoadBe32(p)} << 32) | LoadBe32(p + 4); }

void StoreBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

std::vector<uint8_t> Le(uint64_t value, size_t bytes) {
  std::vector<uint8_t> out(bytes);
  for (size_t i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(value >> (8 * i));
  return out;
}

}  // namespace

FwCfg::FwCfg(DmaMemory& dma) : dma_(dma) {
  SetItem(kSignature, {'Q', 'E', 'M', 'U'});
  SetU32(kId, kIdTraditional | kIdDma);
  RebuildDirectory();
}

void FwCfg::SetItem(uint16_t key, std::vector<uint8_t> data) { items_[key & ~kWriteChannel] = std::move(data); }
void FwCfg::SetU16(uint16_t key, uint16_t value) { SetItem(key, Le(value, 2)); }
void FwCfg::SetU32(uint16_t key, uint32_t value) { SetItem(key, Le(value, 4)); }
void FwCfg::SetU64(uint16_t key, uint64_t value) { SetItem(key, Le(value, 8)); }

Status FwCfg::AddFile(const std::string& name, std::vector<uint8_t> data) {
  if (name.empty() || name.size() >= kFileNameMax || name.find('\0') != std::string::npos) {
    return Status::Error("fw_cfg: bad file name '" + name + "'");
  }
  if (files_.count(name)) return Status::Error("fw_cfg: file '" + name + "' added twice");
  if (files_.size() >= kMaxFiles) return Status::Error("fw_cfg: too many files");
  files_.emplace(name, std::move(data));
  RebuildDirectory();
  return Status();
}

uint16_t FwCfg::FileSelector(const std::string& name) const {
  auto it = files_.find(name);
  if (it == files_.end()) return 0;
  return static_cast<uint16_t>(kFileFirst + std::distance(files_.begin(), it));
}

void FwCfg::RebuildDirectory() {
  std::vector<uint8_t> dir(4 + files_.size() * 64, 0);
  StoreBe32(dir.data(), static_cast<uint32_t>(files_.size()));
  file_by_index_.clear();
  uint8_t* entry = dir.data() + 4;
  for (const auto& [name, data] : files_) {
    const uint16_t select = static_cast<uint16_t>(kFileFirst + file_by_index_.size());
    StoreBe32(entry, static_cast<uint32_t>(data.size()));
    entry[4] = static_cast<uint8_t>(select >> 8);
    entry[5] = static_cast<uint8_t>(select);
    std::memcpy(entry + 8, name.data(), name.size());
    entry += 64;
    file_by_index_.push_back(&data);
  }
  items_[kFileDir] = std::move(dir);
}

void FwCfg::Select(uint16_t key) {
  selector_ = key;
  offset_ = 0;
  if (!Current() && log_) {
    const unsigned item = key & ~kWriteChannel;
    log_->LogOnce(kLogGuestErrors, "fw_cfg item " + std::to_string(item),
                  "tandem: fw_cfg: the guest selected item 0x%x, which does not exist; it reads as 0", item);
  }
}

const std::vector<uint8_t>* FwCfg::Current() const {
  uint16_t key = selector_ & ~kWriteChannel;
  if (key >= kFileFirst && key < kArchLocal) {
    size_t index = key - kFileFirst;
    return index < file_by_index_.size() ? file_by_index_[index] : nullptr;
  }
  auto it = items_.find(key);
  return it == items_.end() ? nullptr : &it->second;
}

uint8_t FwCfg::ReadDataByte() {
  const std::vector<uint8_t>* data = Current();
  if (!data || offset_ >= data->size()) return 0;
  return (*data)[offset_++];
}

uint64_t FwCfg::Read(uint64_t offset, unsigned size) {
  uint64_t value = 0;
  if (offset < kDmaOffset) {
    if (offset > kDataOffset) return 0;
    // Wider reads return consecutive bytes of the item, first byte lowest.
    for (unsigned i = 0; i < size; ++i) value |= uint64_t{ReadDataByte()} << (8 * i);
    return value;
  }
  // The DMA register reads back "QEMU CFG" in big-endian order.
  for (unsigned i = 0; i < size; ++i) {
    uint64_t at = offset - kDmaOffset + i;
    if (at < 8) value |= uint64_t(static_cast<uint8_t>(kDmaSignature[at])) << (8 * i);
  }
  return value;
}

void FwCfg::Write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset == kSelectorOffset && size >= 2) {
    Select(static_cast<uint16_t>(value));
    return;
  }
  // The DMA address is a big-endian register: the port bus hands us its
  // bytes in little-endian order. Writing the low half (or all 8 bytes at
  // once) starts the transfer.
  if (offset == kDmaOffset && size == 4) {
    dma_address_ = uint64_t{__builtin_bswap32(static_cast<uint32_t>(value))} << 32;
    return;
  }
  if (offset == kDmaOffset + 4 && size == 4) {
    uint64_t address = dma_address_ | __builtin_bswap32(static_cast<uint32_t>(value));
    dma_address_ = 0;
    DmaTransfer(address);
    return;
  }
  if (offset == kDmaOffset && size == 8) {
    dma_address_ = 0;
    DmaTransfer(__builtin_bswap64(value));
    return;
  }
  // Data port writes are ignored since QEMU 2.4; odd widths do nothing.
  if (log_) {
    log_->LogOnce(kLogGuestErrors, "fw_cfg write", "tandem: fw_cfg: ignored %u-byte write at offset %llu", size,
                  static_cast<unsigned long long>(offset));
  }
}

void FwCfg::DmaTransfer(uint64_t descriptor) {
  uint8_t access[16];
  if (!dma_.Read(descriptor, access, sizeof access)) {
    uint8_t error[4];
    StoreBe32(error, kDmaError);
    dma_.Write(descriptor, error, sizeof error);
    if (log_) {
      log_->LogOnce(kLogGuestErrors, "fw_cfg descriptor", "tandem: fw_cfg: DMA descriptor at 0x%llx is not in RAM",
                    static_cast<unsigned long long>(descriptor));
    }
    return;
  }
  uint32_t control = LoadBe32(access);
  uint64_t length = LoadBe32(access + 4);
  uint64_t address = LoadBe64(access + 8);
  if (control & kDmaSelect) Select(static_cast<uint16_t>(control >> 16));

  bool read = false, write = false;
  if (control & kDmaRead) {
    read = true;
  } else if (control & kDmaWrite) {
    write = true;
  } else if (!(control & kDmaSkip)) {
    length = 0;
  }

  uint32_t result = 0;
  bool outside_ram = false;
  while (length > 0 && !(result & kDmaError)) {
    const std::vector<uint8_t>* data = Current();
    uint64_t len;
    if (!data || offset_ >= data->size()) {
      // Past the item's end (or no item): reads give zeros, writes fail.
      len = std::min(length, kZeroChunk);
      if (read) {
        static const uint8_t kZeros[kZeroChunk] = {};
        if (!dma_.Write(address, kZeros, len)) {
          result |= kDmaError;
          outside_ram = true;
        }
      }
      if (write) result |= kDmaError;
    } else {
      len = std::min<uint64_t>(length, data->size() - offset_);
      if (read && !dma_.Write(address, data->data() + offset_, len)) {
        result |= kDmaError;
        outside_ram = true;
      }
      if (write) result |= kDmaError;  // no item is writable
      offset_ += static_cast<uint32_t>(len);
    }
    address += len;
    length -= len;
  }
  if (outside_ram && log_) {
    log_->LogOnce(kLogGuestErrors, "fw_cfg DMA", "tandem: fw_cfg: DMA to 0x%llx outside RAM; error bit set",
                  static_cast<unsigned long long>(address));
  }
  uint8_t done[4];
  StoreBe32(done, result);
  dma_.Write(descriptor, done, sizeof done);
}

void FwCfg::Reset() {
  selector_ = kSignature;
  offset_ = 0;
  dma_address_ = 0;
}

void FwCfg::VisitState(StateVisitor& v) { v(selector_, offset_, dma_address_); }

}  // namespace tandem::hw
