// The Intel 82441FX PCI and memory controller (i440FX datasheet, order
// 290549): host bridge 00:00.0 (8086:1237) with the PAM registers 0x59-0x5F
// that shadow 0xC0000-0xFFFFF (3.2.18) and the SMRAM register 0x72 (3.2.24),
// kept closed. The PAM state goes to the board through set_shadow, which
// switches the guest-physical map on every engine.
#pragma once

#include <functional>

#include "hw/memory_map.h"
#include "hw/pci/pci_device.h"

namespace tandem::hw {

class I440fx final : public PciDevice {
 public:
  static constexpr unsigned kPam0 = 0x59, kPamCount = 7, kSmram = 0x72;

  // reset_pam: the PAM registers at power-on (7 bytes from 0x59); zeros on
  // real hardware, a board booting without firmware sets up the shadow area
  // as firmware would have.
  I440fx(std::function<void(const MemoryMap::ShadowModes&)> set_shadow, std::array<uint8_t, kPamCount> reset_pam);

  // The PAM registers that give modes (for a board without firmware).
  static std::array<uint8_t, kPamCount> PamFor(const MemoryMap::ShadowModes& modes);
  MemoryMap::ShadowModes shadow() const;

 private:
  void ConfigWritten(unsigned offset, unsigned size) override;
  void DeviceReset() override { ApplyPam(); }
  void VisitDeviceState(StateVisitor& v) override {
    if (v.loading()) ApplyPam();
  }
  void ApplyPam();

  std::function<void(const MemoryMap::ShadowModes&)> set_shadow_;
};

}  // namespace tandem::hw
