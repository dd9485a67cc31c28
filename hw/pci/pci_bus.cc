// PCI bus 0 and configuration mechanism #1 (PCI 3.0 3.2.2.3.2).
#include "hw/pci/pci_bus.h"

#include "hw/pci/pci_device.h"

namespace tandem::hw {

namespace {
constexpr uint32_t kEnable = 1u << 31;
constexpr uint8_t kRcrResetCpu = 1u << 2;
constexpr uint8_t kRcrWritable = 0x02;  // SRST (hard reset type); RST_CPU acts, not kept
}  // namespace

Status PciBus::Attach(int devfn, PciDevice* device) {
  if (devfn < 0 || devfn >= 256 || devices_[devfn]) {
    return Status::Error("PCI: devfn " + std::to_string(devfn) + " is taken or invalid");
  }
  devices_[devfn] = device;
  device->Plug(this, devfn);
  return Status();
}

uint32_t PciBus::ConfigRead(int devfn, unsigned offset, unsigned size) {
  PciDevice* d = device(devfn);
  if (!d) return size >= 4 ? 0xFFFFFFFFu : (1u << (8 * size)) - 1;
  return d->ConfigRead(offset, size);
}

void PciBus::ConfigWrite(int devfn, unsigned offset, unsigned size, uint32_t value) {
  if (PciDevice* d = device(devfn)) d->ConfigWrite(offset, size, value);
}

void PciBus::Reset() {
  for (PciDevice* d : devices_) {
    if (d) d->Reset();
  }
}

uint64_t PciConfigPorts::Read(uint64_t offset, unsigned size) {
  uint64_t ones = size >= 8 ? ~0ull : (1ull << (8 * size)) - 1;
  if (offset == 0 && size == 4) return address_;
  if (offset == 1 && size == 1) return reset_control_;
  if (offset < 4) return ones;
  if (!(address_ & kEnable) || offset + size > 8) return ones;
  unsigned bus = (address_ >> 16) & 0xFF;
  if (bus != 0) return ones;
  unsigned reg = (address_ & 0xFC) + static_cast<unsigned>(offset - 4);
  return bus_.ConfigRead((address_ >> 8) & 0xFF, reg, size);
}

void PciConfigPorts::Write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset == 0 && size == 4) {
    address_ = static_cast<uint32_t>(value) & 0x80FFFFFCu;
    return;
  }
  if (offset == 1 && size == 1) {
    reset_control_ = static_cast<uint8_t>(value) & kRcrWritable;
    if ((value & kRcrResetCpu) && request_reset_) request_reset_();
    return;
  }
  if (offset < 4 || !(address_ & kEnable) || offset + size > 8) return;
  if (((address_ >> 16) & 0xFF) != 0) return;
  unsigned reg = (address_ & 0xFC) + static_cast<unsigned>(offset - 4);
  bus_.ConfigWrite((address_ >> 8) & 0xFF, reg, size, static_cast<uint32_t>(value));
}

void PciBus::VisitState(StateVisitor& v) {
  for (int devfn = 0; devfn < 256; ++devfn) {
    if (!devices_[devfn]) continue;
    uint16_t at = static_cast<uint16_t>(devfn);
    v(at);
    if (at != devfn) return v.Fail("the PCI functions differ from this board's");
    devices_[devfn]->VisitState(v);
  }
}

}  // namespace tandem::hw
