// The configuration-space side of a PCI function (PCI Local Bus Specification
// 3.0 chapter 6): a 256-byte type-0 header with read-only/writable and
// write-1-to-clear masks, the capabilities list, BARs that map their
// device's registers on the board's port-I/O or MMIO bus as the command
// register and the BAR address allow, INTx, and MSI/MSI-X messages.
// Chipset functions and, later, virtio devices derive from it.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "hw/io_device.h"
#include "hw/pci/pci_bus.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class PciDevice {
 public:
  // Header offsets and bits (PCI 3.0 6.1, 6.2).
  static constexpr unsigned kVendorId = 0x00, kDeviceId = 0x02, kCommand = 0x04, kStatus = 0x06,
                            kRevision = 0x08, kClassProg = 0x09, kHeaderType = 0x0E, kBar0 = 0x10,
                            kSubsystemVendorId = 0x2C, kSubsystemId = 0x2E, kCapabilityPointer = 0x34,
                            kInterruptLine = 0x3C, kInterruptPin = 0x3D;
  static constexpr uint16_t kCommandIo = 1u << 0, kCommandMemory = 1u << 1, kCommandMaster = 1u << 2,
                            kCommandIntxDisable = 1u << 10;
  static constexpr uint16_t kStatusInterrupt = 1u << 3, kStatusCapabilities = 1u << 4;
  static constexpr uint8_t kHeaderMultiFunction = 0x80;
  static constexpr uint8_t kCapMsi = 0x05, kCapMsix = 0x11;
  static constexpr int kBars = 6;

  enum class BarKind { kIo, kMemory32, kMemory64 };

  // class_code: base class << 16 | subclass << 8 | programming interface.
  PciDevice(std::string name, uint16_t vendor, uint16_t device, uint32_t class_code, uint8_t revision);
  virtual ~PciDevice();
  PciDevice(const PciDevice&) = delete;
  PciDevice& operator=(const PciDevice&) = delete;

  // A configuration cycle: offset + size stays within one dword.
  virtual uint32_t ConfigRead(unsigned offset, unsigned size);
  void ConfigWrite(unsigned offset, unsigned size, uint32_t value);

  // Power-on config space, BARs unmapped, INTx low; then DeviceReset().
  void Reset();
  // Saves or restores config space, INTx and MSI-X state and what the
  // derived device adds (VisitDeviceState); once loaded, the BARs are
  // mapped where the restored config space puts them.
  void VisitState(StateVisitor& v);

  const std::string& name() const { return name_; }
  int devfn() const { return devfn_; }
  // Where BAR index is mapped now, or kUnmapped.
  static constexpr uint64_t kUnmapped = ~0ull;
  uint64_t bar_address(int index) const { return bars_[index].mapped_at; }

  // Raises/lowers the function's INTx pin (the one in kInterruptPin).
  void SetIntx(bool level);
  // Sends MSI-X vector (when MSI-X is enabled) or MSI vector (when MSI is
  // enabled); false when neither is: the caller then uses INTx.
  bool NotifyMsi(unsigned vector);
  bool msi_enabled() const;
  bool msix_enabled() const;

 protected:
  // For derived devices: raw config-space helpers (no masks).
  uint8_t Get8(unsigned off) const { return config_[off]; }
  uint16_t Get16(unsigned off) const { return static_cast<uint16_t>(config_[off] | config_[off + 1] << 8); }
  uint32_t Get32(unsigned off) const { return Get16(off) | static_cast<uint32_t>(Get16(off + 2)) << 16; }
  void Set8(unsigned off, uint8_t v) { config_[off] = v; }
  void Set16(unsigned off, uint16_t v) { Set8(off, v & 0xFF), Set8(off + 1, v >> 8); }
  void Set32(unsigned off, uint32_t v) { Set16(off, v & 0xFFFF), Set16(off + 2, v >> 16); }
  // Which bits of [off, off + n) the guest may write (little-endian mask).
  void SetWritable(unsigned off, unsigned n, uint64_t mask);
  void SetWriteOneToClear(unsigned off, unsigned n, uint64_t mask);
  void SetInterruptPin(int pin);  // 1 = INTA .. 4 = INTD; makes kInterruptLine writable

  // Declares BAR index (a 64-bit BAR takes index + 1 too); size is a power of
  // two (at least 4 for I/O, 16 for memory). device sees offsets in the BAR.
  void AddBar(int index, BarKind kind, uint64_t size, IoDevice* device, bool prefetchable = false);
  // Appends a capability of size bytes (id and next pointer included) to
  // the list; returns its offset.
  unsigned AddCapability(uint8_t id, unsigned size);
  // MSI with vectors (1, 2, 4, .. 32) messages, 64-bit address.
  void AddMsi(unsigned vectors);
  // MSI-X with vectors entries; table and PBA in BAR bar_index (its own,
  // 32-bit memory).
  void AddMsix(unsigned vectors, int bar_index);

  // Hooks: a config write changed bytes [offset, offset + size); the device
  // was reset.
  virtual void ConfigWritten(unsigned offset, unsigned size) {}
  virtual void DeviceReset() {}
  // The derived device's own state, visited after config space (so a load
  // may re-derive what follows from config space, e.g. the PAM map).
  virtual void VisitDeviceState(StateVisitor& v) {}

  PciBus* bus() const { return bus_; }
  // Reports once per key per device through the bus's GuestLog (`-d
  // guest_errors` / `-d unimp`). Keys 0-7 are this class's (0-5: the BARs);
  // derived devices use 8-63.
  void LogOnce(LogCategory category, unsigned key, const std::string& what);

 private:
  friend class PciBus;
  struct Bar {
    BarKind kind = BarKind::kIo;
    uint64_t size = 0;  // 0: not implemented
    IoDevice* device = nullptr;
    uint64_t mapped_at = kUnmapped;
    bool logged = false;
  };
  class MsixRegion;

  void Plug(PciBus* bus, int devfn);
  uint64_t BarAddress(int index) const;  // where it should be, or kUnmapped
  void UpdateBars();
  void UpdateIntx();
  void DeliverMsix(unsigned vector);

  std::string name_;
  PciBus* bus_ = nullptr;
  int devfn_ = -1;
  std::array<uint8_t, 256> config_{};
  std::array<uint8_t, 256> wmask_{};
  std::array<uint8_t, 256> w1cmask_{};
  std::array<uint8_t, 256> reset_config_{};
  std::array<Bar, kBars> bars_{};
  unsigned next_capability_ = 0x40;
  bool intx_level_ = false;   // the function's own request
  bool intx_output_ = false;  // what the router was last told
  unsigned msi_cap_ = 0, msi_vectors_ = 0;
  unsigned msix_cap_ = 0, msix_vectors_ = 0;
  std::unique_ptr<MsixRegion> msix_;
  uint64_t logged_ = 0;  // LogOnce keys seen (bit per key < 64)
};

}  // namespace tandem::hw
