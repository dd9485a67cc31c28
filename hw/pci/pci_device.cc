// PCI function config space, BARs, INTx, MSI and MSI-X (PCI 3.0 chapter 6).
#include "hw/pci/pci_device.h"

#include <cstdio>
#include <vector>

namespace tandem::hw {

namespace {
// MSI capability (PCI 3.0 6.8.1), the 64-bit form without per-vector masking.
constexpr unsigned kMsiControl = 2, kMsiAddressLow = 4, kMsiAddressHigh = 8, kMsiData = 12, kMsiSize = 14;
constexpr uint16_t kMsiEnable = 1u << 0, kMsi64Bit = 1u << 7;
// MSI-X capability (PCI 3.0 6.8.2).
constexpr unsigned kMsixControl = 2, kMsixTable = 4, kMsixPba = 8, kMsixSize = 12;
constexpr uint16_t kMsixFunctionMask = 1u << 14, kMsixEnable = 1u << 15;
constexpr uint32_t kMsixEntryMasked = 1u << 0;
constexpr unsigned kBarEnd = PciDevice::kBar0 + 4 * PciDevice::kBars;

enum LogKey : unsigned { kLogMsiNoTarget = 6, kLogMsixAccess = 7 };  // 0-5: the BARs

bool Touches(unsigned offset, unsigned size, unsigned lo, unsigned hi) { return offset < hi && offset + size > lo; }
}  // namespace

// The MSI-X table (16 bytes per vector: address, data, vector control) and
// the pending-bit array behind it, in the device's MSI-X BAR.
class PciDevice::MsixRegion final : public IoDevice {
 public:
  MsixRegion(PciDevice& owner, unsigned vectors)
      : owner_(owner), table_(vectors * 4), pba_((vectors + 63) / 64) {
    Reset();
  }
  uint64_t pba_offset() const { return (table_.size() * 4 + 7) & ~7ull; }
  uint64_t size() const {
    uint64_t need = pba_offset() + pba_.size() * 8, size = 4096;
    while (size < need) size <<= 1;
    return size;
  }
  void Reset() {
    std::fill(table_.begin(), table_.end(), 0);
    for (size_t v = 0; v < table_.size() / 4; ++v) table_[v * 4 + 3] = kMsixEntryMasked;
    std::fill(pba_.begin(), pba_.end(), 0);
  }
  // The sizes are the device's own: only the contents travel.
  void VisitState(StateVisitor& v) {
    v.Raw(table_.data(), table_.size() * sizeof table_[0]);
    v.Raw(pba_.data(), pba_.size() * sizeof pba_[0]);
  }
  bool masked(unsigned v) const { return table_[v * 4 + 3] & kMsixEntryMasked; }
  uint64_t address(unsigned v) const { return table_[v * 4] | static_cast<uint64_t>(table_[v * 4 + 1]) << 32; }
  uint32_t data(unsigned v) const { return table_[v * 4 + 2]; }
  bool pending(unsigned v) const { return pba_[v / 64] >> (v % 64) & 1; }
  void set_pending(unsigned v, bool on) {
    pba_[v / 64] = on ? pba_[v / 64] | (1ull << (v % 64)) : pba_[v / 64] & ~(1ull << (v % 64));
  }

  uint64_t Read(uint64_t offset, unsigned size) override {
    uint64_t value = 0;
    for (unsigned i = 0; i < size; ++i) value |= static_cast<uint64_t>(ReadByte(offset + i)) << (8 * i);
    return value;
  }
  void Write(uint64_t offset, unsigned size, uint64_t value) override {
    if (offset + size > table_.size() * 4) return;  // the PBA is read-only
    for (unsigned i = 0; i < size; ++i) {
      uint64_t at = offset + i;
      uint32_t& word = table_[at / 4];
      unsigned shift = 8 * (at % 4);
      word = (word & ~(0xFFu << shift)) | static_cast<uint32_t>((value >> (8 * i)) & 0xFF) << shift;
    }
    owner_.DeliverMsix(~0u);  // an unmasked entry may have a pending message
  }

 private:
  uint8_t ReadByte(uint64_t at) const {
    if (at < table_.size() * 4) return static_cast<uint8_t>(table_[at / 4] >> (8 * (at % 4)));
    if (at >= pba_offset() && at < pba_offset() + pba_.size() * 8) {
      uint64_t i = at - pba_offset();
      return static_cast<uint8_t>(pba_[i / 8] >> (8 * (i % 8)));
    }
    return 0;
  }
  PciDevice& owner_;
  std::vector<uint32_t> table_;
  std::vector<uint64_t> pba_;
};

PciDevice::PciDevice(std::string name, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision)
    : name_(std::move(name)) {
  Set16(kVendorId, vendor);
  Set16(kDeviceId, device);
  Set8(kRevision, revision);
  Set8(kClassProg, class_code & 0xFF);
  Set16(kClassProg + 1, static_cast<uint16_t>(class_code >> 8));
  SetWritable(kCommand, 2, kCommandIo | kCommandMemory | kCommandMaster | kCommandIntxDisable);
  // Status: the error bits are write-1-to-clear (none is ever set here).
  SetWriteOneToClear(kStatus, 2, 0xF900);
}

PciDevice::~PciDevice() = default;

void PciDevice::Plug(PciBus* bus, int devfn) {
  bus_ = bus;
  devfn_ = devfn;
  reset_config_ = config_;
}

void PciDevice::SetWritable(unsigned off, unsigned n, uint64_t mask) {
  for (unsigned i = 0; i < n; ++i) wmask_[off + i] = static_cast<uint8_t>(mask >> (8 * i));
}

void PciDevice::SetWriteOneToClear(unsigned off, unsigned n, uint64_t mask) {
  for (unsigned i = 0; i < n; ++i) w1cmask_[off + i] = static_cast<uint8_t>(mask >> (8 * i));
}

void PciDevice::SetInterruptPin(int pin) {
  Set8(kInterruptPin, static_cast<uint8_t>(pin));
  SetWritable(kInterruptLine, 1, 0xFF);
}

void PciDevice::AddBar(int index, BarKind kind, uint64_t size, IoDevice* device, bool prefetchable) {
  Bar& bar = bars_[index];
  bar.kind = kind;
  bar.size = size;
  bar.device = device;
  unsigned off = kBar0 + 4 * index;
  switch (kind) {
    case BarKind::kIo:
      Set32(off, 1);
      SetWritable(off, 4, ~(size - 1) & 0xFFFFFFFCu);
      break;
    case BarKind::kMemory32:
      Set32(off, prefetchable ? 8 : 0);
      SetWritable(off, 4, ~(size - 1) & 0xFFFFFFF0u);
      break;
    case BarKind::kMemory64:
      Set32(off, (prefetchable ? 8 : 0) | 4);
      SetWritable(off, 4, ~(size - 1) & 0xFFFFFFF0u);
      SetWritable(off + 4, 4, ~(size - 1) >> 32);
      break;
  }
}

unsigned PciDevice::AddCapability(uint8_t id, unsigned size) {
  unsigned off = next_capability_;
  next_capability_ = (off + size + 3) & ~3u;
  Set8(off, id);
  Set8(off + 1, Get8(kCapabilityPointer));  // the new one heads the list
  Set8(kCapabilityPointer, static_cast<uint8_t>(off));
  Set16(kStatus, Get16(kStatus) | kStatusCapabilities);
  return off;
}

void PciDevice::AddMsi(unsigned vectors) {
  msi_cap_ = AddCapability(kCapMsi, kMsiSize);
  msi_vectors_ = vectors;
  unsigned log2 = 0;
  while ((1u << log2) < vectors) ++log2;
  Set16(msi_cap_ + kMsiControl, static_cast<uint16_t>(kMsi64Bit | log2 << 1));
  SetWritable(msi_cap_ + kMsiControl, 2, kMsiEnable | 0x70);
  SetWritable(msi_cap_ + kMsiAddressLow, 4, 0xFFFFFFFCu);
  SetWritable(msi_cap_ + kMsiAddressHigh, 4, 0xFFFFFFFFu);
  SetWritable(msi_cap_ + kMsiData, 2, 0xFFFF);
}

void PciDevice::AddMsix(unsigned vectors, int bar_index) {
  msix_ = std::make_unique<MsixRegion>(*this, vectors);
  msix_vectors_ = vectors;
  msix_cap_ = AddCapability(kCapMsix, kMsixSize);
  Set16(msix_cap_ + kMsixControl, static_cast<uint16_t>(vectors - 1));
  SetWritable(msix_cap_ + kMsixControl, 2, kMsixEnable | kMsixFunctionMask);
  Set32(msix_cap_ + kMsixTable, static_cast<uint32_t>(bar_index));
  Set32(msix_cap_ + kMsixPba, static_cast<uint32_t>(msix_->pba_offset()) | static_cast<uint32_t>(bar_index));
  AddBar(bar_index, BarKind::kMemory32, msix_->size(), msix_.get());
}

uint32_t PciDevice::ConfigRead(unsigned offset, unsigned size) {
  uint32_t value = 0;
  for (unsigned i = 0; i < size && offset + i < config_.size(); ++i) value |= uint32_t{config_[offset + i]} << (8 * i);
  return value;
}

void PciDevice::ConfigWrite(unsigned offset, unsigned size, uint32_t value) {
  if (offset + size > config_.size()) return;
  for (unsigned i = 0; i < size; ++i) {
    uint8_t byte = static_cast<uint8_t>(value >> (8 * i));
    uint8_t& c = config_[offset + i];
    c = static_cast<uint8_t>((c & ~wmask_[offset + i]) | (byte & wmask_[offset + i]));
    c = static_cast<uint8_t>(c & ~(byte & w1cmask_[offset + i]));
  }
  if (Touches(offset, size, kCommand, kCommand + 2) || Touches(offset, size, kBar0, kBarEnd)) UpdateBars();
  if (Touches(offset, size, kCommand, kCommand + 2)) UpdateIntx();
  if (msix_cap_ && Touches(offset, size, msix_cap_ + kMsixControl, msix_cap_ + kMsixControl + 2)) {
    DeliverMsix(~0u);
    UpdateIntx();
  }
  if (msi_cap_ && Touches(offset, size, msi_cap_ + kMsiControl, msi_cap_ + kMsiControl + 2)) UpdateIntx();
  ConfigWritten(offset, size);
}

void PciDevice::Reset() {
  config_ = reset_config_;
  UpdateBars();
  intx_level_ = false;
  UpdateIntx();
  if (msix_) msix_->Reset();
  DeviceReset();
}

void PciDevice::VisitState(StateVisitor& v) {
  v(config_, intx_level_, intx_output_);
  if (msix_) msix_->VisitState(v);
  if (v.loading()) UpdateBars();
  VisitDeviceState(v);
}

void PciDevice::LogOnce(LogCategory category, unsigned key, const std::string& what) {
  GuestLog* log = bus_ ? bus_->log() : nullptr;
  if (!log || !log->enabled(category) || (key < 64 && (logged_ >> key & 1))) return;
  if (key < 64) logged_ |= 1ull << key;
  log->Log(category, "tandem: PCI %02x.%x %s: %s", devfn_ >> 3, devfn_ & 7, name_.c_str(), what.c_str());
}

// As QEMU's pci_bar_address: decode disabled, an address of 0, a range that
// wraps or (32-bit) ends at 4 GiB, or an I/O range beyond 64 KiB is unmapped;
// a BAR being sized (all-ones written) is one of these.
uint64_t PciDevice::BarAddress(int index) const {
  const Bar& bar = bars_[index];
  uint16_t command = Get16(kCommand);
  unsigned off = kBar0 + 4 * index;
  uint64_t addr;
  if (bar.kind == BarKind::kIo) {
    if (!(command & kCommandIo)) return kUnmapped;
    addr = Get32(off) & ~3u;
    uint64_t last = addr + bar.size - 1;
    if (addr == 0 || last >= 0x10000) return kUnmapped;
    return addr;
  }
  if (!(command & kCommandMemory)) return kUnmapped;
  addr = Get32(off) & ~0xFu;
  if (bar.kind == BarKind::kMemory64) addr |= static_cast<uint64_t>(Get32(off + 4)) << 32;
  uint64_t last = addr + bar.size - 1;
  if (addr == 0 || last < addr || last == ~0ull) return kUnmapped;
  if (bar.kind == BarKind::kMemory32 && last >= 0xFFFFFFFFu) return kUnmapped;
  return addr;
}

// Unmaps every BAR that moved or was disabled before mapping any at its new
// place, so two BARs swapping addresses do not collide with themselves.
void PciDevice::UpdateBars() {
  if (!bus_) return;
  uint64_t want[kBars];
  for (int i = 0; i < kBars; ++i) {
    Bar& bar = bars_[i];
    want[i] = bar.size ? BarAddress(i) : kUnmapped;
    if (bar.mapped_at == want[i] || bar.mapped_at == kUnmapped) continue;
    Bus* target = bar.kind == BarKind::kIo ? bus_->pio() : bus_->mmio();
    if (target) target->Unregister(bar.mapped_at, bar.device);
    bar.mapped_at = kUnmapped;
  }
  for (int i = 0; i < kBars; ++i) {
    Bar& bar = bars_[i];
    if (want[i] == kUnmapped || bar.mapped_at == want[i]) continue;
    bool io = bar.kind == BarKind::kIo;
    Bus* target = io ? bus_->pio() : bus_->mmio();
    char where[96];
    std::snprintf(where, sizeof where, "BAR%d (%s) at 0x%llx, %llu bytes", i, io ? "I/O" : "memory",
                  static_cast<unsigned long long>(want[i]), static_cast<unsigned long long>(bar.size));
    if (!io && bus_->OverlapsMemory(want[i], bar.size)) {
      LogOnce(kLogGuestErrors, i, std::string(where) + " overlaps guest RAM/ROM: not mapped");
      continue;
    }
    if (!target) continue;
    Status s = target->Register(want[i], bar.size, bar.device, name_ + " BAR" + std::to_string(i));
    if (!s.ok()) {
      LogOnce(kLogGuestErrors, i, std::string(where) + " not mapped: " + s.message());
      continue;
    }
    bar.mapped_at = want[i];
  }
}

bool PciDevice::msi_enabled() const { return msi_cap_ && (Get16(msi_cap_ + kMsiControl) & kMsiEnable); }
bool PciDevice::msix_enabled() const { return msix_cap_ && (Get16(msix_cap_ + kMsixControl) & kMsixEnable); }

void PciDevice::SetIntx(bool level) {
  intx_level_ = level;
  UpdateIntx();
}

// The pin follows the request unless INTx is disabled in the command
// register or MSI/MSI-X replaces it (PCI 3.0 6.8); the status bit always
// shows the request.
void PciDevice::UpdateIntx() {
  uint16_t status = Get16(kStatus);
  Set16(kStatus, intx_level_ ? status | kStatusInterrupt : status & ~kStatusInterrupt);
  bool out = intx_level_ && !(Get16(kCommand) & kCommandIntxDisable) && !msi_enabled() && !msix_enabled();
  int pin = Get8(kInterruptPin);
  if (out == intx_output_ || pin < 1 || pin > 4) return;
  intx_output_ = out;
  if (bus_ && bus_->intx_router()) bus_->intx_router()->SetIntx(devfn_, pin - 1, out);
}

bool PciDevice::NotifyMsi(unsigned vector) {
  if (msix_enabled()) {
    if (vector >= msix_vectors_) return true;
    msix_->set_pending(vector, true);
    DeliverMsix(vector);
    return true;
  }
  if (!msi_enabled()) return false;
  unsigned enabled = 1u << ((Get16(msi_cap_ + kMsiControl) >> 4) & 7);
  if (vector >= enabled) return true;
  if (!(Get16(kCommand) & kCommandMaster)) return true;  // no bus mastering: the write never happens
  uint64_t address = Get32(msi_cap_ + kMsiAddressLow) | static_cast<uint64_t>(Get32(msi_cap_ + kMsiAddressHigh)) << 32;
  uint32_t data = (Get16(msi_cap_ + kMsiData) & ~(enabled - 1)) | vector;
  if (bus_ && bus_->msi_target()) {
    bus_->msi_target()->Deliver(address, data);
  } else {
    LogOnce(kLogGuestErrors, kLogMsiNoTarget, "MSI with nowhere to go");
  }
  return true;
}

// Sends the pending MSI-X messages of vector (every vector for ~0u) that are
// no longer masked (PCI 3.0 6.8.2.9).
void PciDevice::DeliverMsix(unsigned vector) {
  if (!msix_ || !msix_enabled()) return;
  if (Get16(msix_cap_ + kMsixControl) & kMsixFunctionMask) return;
  if (!(Get16(kCommand) & kCommandMaster)) return;
  unsigned first = vector == ~0u ? 0 : vector, last = vector == ~0u ? msix_vectors_ : vector + 1;
  for (unsigned v = first; v < last; ++v) {
    if (!msix_->pending(v) || msix_->masked(v)) continue;
    msix_->set_pending(v, false);
    if (bus_ && bus_->msi_target()) bus_->msi_target()->Deliver(msix_->address(v), msix_->data(v));
  }
}

}  // namespace tandem::hw
