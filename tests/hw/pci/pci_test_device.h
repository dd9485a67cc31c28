// A PCI function for tests: one I/O BAR, one 32-bit and one 64-bit memory BAR
// backed by a recording register file, an interrupt pin, MSI and MSI-X.
#pragma once

#include <cstdint>
#include <utility>
#include <vector>

#include "hw/pci/pci_bus.h"
#include "hw/pci/pci_device.h"

namespace tandem::hw::testing {

class Registers final : public IoDevice {
 public:
  uint64_t Read(uint64_t offset, unsigned size) override { return 0xA0 + offset; }
  void Write(uint64_t offset, unsigned size, uint64_t value) override { writes.push_back({offset, value}); }
  std::vector<std::pair<uint64_t, uint64_t>> writes;
};

class TestPciDevice final : public PciDevice {
 public:
  TestPciDevice() : PciDevice("test device", 0x1AF4, 0x1000, 0x020000, 0x01) {
    AddBar(0, BarKind::kIo, 0x20, &io);
    AddBar(1, BarKind::kMemory32, 0x1000, &mmio);
    AddBar(2, BarKind::kMemory64, 0x4000, &mmio64, true);
    SetInterruptPin(1);
  }
  using PciDevice::AddMsi;
  using PciDevice::AddMsix;
  Registers io, mmio, mmio64;
};

class RecordingMsiTarget final : public MsiTarget {
 public:
  void Deliver(uint64_t address, uint32_t data) override { messages.push_back({address, data}); }
  std::vector<std::pair<uint64_t, uint32_t>> messages;
};

}  // namespace tandem::hw::testing
