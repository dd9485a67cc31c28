// PCI bus 0 of tandem's board and configuration mechanism #1 (PCI Local Bus
// Specification 3.0, 3.2.2.3.2): the CONFIG_ADDRESS register at 0xCF8 and the
// CONFIG_DATA window at 0xCFC-0xCFF, as the i440FX decodes them. The bus also
// gives its devices what they need outside config space: the port-I/O and
// MMIO buses their BARs map on, the INTx router (the PIIX3) and the MSI
// target (the local APIC).
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "hw/bus.h"
#include "hw/guest_log.h"
#include "hw/io_device.h"
#include "hw/state_visitor.h"
#include "hw/status.h"

namespace tandem::hw {

class PciDevice;

// Where a device's INTx pin goes: the ISA bridge's PIRQ steering.
class PciIntxRouter {
 public:
  virtual ~PciIntxRouter() = default;
  // pin: 0 = INTA .. 3 = INTD; level: asserted.
  virtual void SetIntx(int devfn, int pin, bool level) = 0;
};

// Where a memory write of an MSI/MSI-X message lands (PCI 3.0 6.8; the
// address is 0xFEExxxxx for the local APIC, SDM vol. 3A 10.11).
class MsiTarget {
 public:
  virtual ~MsiTarget() = default;
  virtual void Deliver(uint64_t address, uint32_t data) = 0;
};

class PciBus {
 public:
  // overlaps_memory(base, size): whether guest RAM/ROM covers any of the
  // range; a memory BAR there is refused. Empty: nothing is memory.
  explicit PciBus(std::function<bool(uint64_t, uint64_t)> overlaps_memory = {})
      : overlaps_memory_(std::move(overlaps_memory)) {}
  PciBus(const PciBus&) = delete;
  PciBus& operator=(const PciBus&) = delete;

  // The buses BARs map on; set before the guest runs.
  void set_pio(Bus* pio) { pio_ = pio; }
  void set_mmio(Bus* mmio) { mmio_ = mmio; }
  void set_intx_router(PciIntxRouter* router) { intx_router_ = router; }
  void set_msi_target(MsiTarget* target) { msi_target_ = target; }
  // Where the devices report what the guest got wrong (nullptr: nowhere).
  void set_log(GuestLog* log) { log_ = log; }
  GuestLog* log() const { return log_; }
  Bus* pio() const { return pio_; }
  Bus* mmio() const { return mmio_; }
  PciIntxRouter* intx_router() const { return intx_router_; }
  MsiTarget* msi_target() const { return msi_target_; }
  bool OverlapsMemory(uint64_t base, uint64_t size) const {
    return overlaps_memory_ && overlaps_memory_(base, size);
  }

  // Plugs device in at devfn (device << 3 | function); its current config
  // space becomes its power-on state. Fails when devfn is taken.
  Status Attach(int devfn, PciDevice* device);
  PciDevice* device(int devfn) const { return devfn >= 0 && devfn < 256 ? devices_[devfn] : nullptr; }

  // A configuration cycle on bus 0 (other buses and absent functions read
  // all-ones; writes to them are dropped). offset + size stays in one dword.
  uint32_t ConfigRead(int devfn, unsigned offset, unsigned size);
  void ConfigWrite(int devfn, unsigned offset, unsigned size, uint32_t value);

  // Every device to its power-on state (BARs unmapped).
  void Reset();
  // Every device's state (PciDevice::VisitState), in devfn order.
  void VisitState(StateVisitor& v);

 private:
  std::function<bool(uint64_t, uint64_t)> overlaps_memory_;
  Bus* pio_ = nullptr;
  Bus* mmio_ = nullptr;
  PciIntxRouter* intx_router_ = nullptr;
  MsiTarget* msi_target_ = nullptr;
  GuestLog* log_ = nullptr;
  std::array<PciDevice*, 256> devices_{};
};

// Configuration mechanism #1 on 8 ports: offset 0 CONFIG_ADDRESS (dword
// accesses only, as the i440FX latches it), offset 1 also the PIIX3's reset
// control register 0xCF9 (byte), offsets 4-7 CONFIG_DATA.
class PciConfigPorts final : public IoDevice {
 public:
  static constexpr uint64_t kSize = 8;
  // request_reset: RCR bit 2 (RST_CPU) written as 1.
  PciConfigPorts(PciBus& bus, std::function<void()> request_reset)
      : bus_(bus), request_reset_(std::move(request_reset)) {}

  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;
  void Reset() {
    address_ = 0;
    reset_control_ = 0;
  }
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v) { v(address_, reset_control_); }

 private:
  PciBus& bus_;
  std::function<void()> request_reset_;
  uint32_t address_ = 0;
  uint8_t reset_control_ = 0;
};

}  // namespace tandem::hw
