// The PIIX4 power-management function 00:01.3 (8086:7113; Intel 82371AB
// datasheet, order 290562, 3.3 "Power Management Function"): PMBA (0x40)
// places the ACPI register block (hw/misc/acpi_pm) on the port bus while
// PMREGMISC (0x80) bit 0 enables it; the SCI is on the ISA IRQ in the
// interrupt line register (0x3C, 9 at power-on as on QEMU's board).
// The SMBus registers (0x90 SMBBA, 0xD2 SMBHSTCFG) are stored only. There
// is no SMM: DEVACTB (0x58) has APMC_EN set from power-on, as QEMU's PIIX4
// does without SMM, so SeaBIOS takes SMM as set up and leaves SMRAM closed.
#pragma once

#include "hw/misc/acpi_pm.h"
#include "hw/pci/pci_device.h"

namespace tandem::hw {

class Piix4Pm final : public PciDevice {
 public:
  static constexpr unsigned kPmBase = 0x40, kDeviceActivityB = 0x58, kPmRegMisc = 0x80, kSmbusBase = 0x90,
                            kSmbusHostConfig = 0xD2;
  static constexpr uint32_t kApmcEnable = 1u << 25;
  static constexpr uint8_t kPmIoEnable = 1u << 0;
  static constexpr uint8_t kDefaultSci = 9;

  explicit Piix4Pm(AcpiPm& pm);

  // Where the PM registers are on the port bus now, or kUnmapped.
  uint64_t pm_base() const { return mapped_at_; }
  int sci_irq() const { return Get8(kInterruptLine); }

 private:
  void ConfigWritten(unsigned offset, unsigned size) override;
  void DeviceReset() override { UpdatePmIo(); }
  void VisitDeviceState(StateVisitor& v) override {
    if (v.loading()) UpdatePmIo();
  }
  void UpdatePmIo();

  AcpiPm& pm_;
  uint64_t mapped_at_ = kUnmapped;
};

}  // namespace tandem::hw
