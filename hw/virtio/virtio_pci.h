// The virtio PCI transport (VIRTIO 1.2 4.1 "Virtio Over PCI Bus"), as QEMU's
// virtio-*-pci devices: the common, notify, ISR and device-specific
// configuration structures in a 64-bit memory BAR (BAR4, QEMU's layout),
// MSI-X in BAR1, INTx through the ISR. A transitional device (the default)
// also has the legacy interface in I/O BAR0 (4.1.4.10 "Legacy Interfaces: A
// Note on PCI Device Layout"; device IDs 0x1000-0x103F, the virtio device
// ID in the subsystem ID, revision 0), for drivers older than virtio 1.0; a
// non-transitional one is device 0x1040 + virtio device ID, revision 1.
//
// Threading: guest register accesses, Reset() and AdvanceTo() run on a vCPU
// thread. A device may complete requests on its own worker thread: it calls
// queue(), dma() and NotifyUsed()/FailDevice() holding the board's device
// lock (Board::device_lock()). Interrupts themselves are only raised on the
// vCPU side: NotifyUsed() records them (atomics) and wakes the board, whose
// Poll() calls AdvanceTo(), so the interrupt controllers never see a second
// thread.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "hw/clock.h"
#include "hw/dma_memory.h"
#include "hw/io_device.h"
#include "hw/pci/pci_device.h"
#include "hw/virtio/virtqueue.h"

namespace tandem::hw::virtio {

// Feature bits of the transport (VIRTIO 1.2 6).
inline constexpr uint64_t kFeatureIndirectDesc = 1ull << 28;
inline constexpr uint64_t kFeatureEventIdx = 1ull << 29;
inline constexpr uint64_t kFeatureVersion1 = 1ull << 32;

// Device status bits (2.1).
inline constexpr uint8_t kStatusAcknowledge = 1, kStatusDriver = 2, kStatusDriverOk = 4, kStatusFeaturesOk = 8,
                         kStatusNeedsReset = 64, kStatusFailed = 128;

class VirtioPci;

// A virtio device type (block, entropy): what the transport asks of it.
class VirtioDevice {
 public:
  virtual ~VirtioDevice() = default;
  virtual const char* name() const = 0;
  virtual uint16_t device_id() const = 0;  // VIRTIO 1.2 5: 2 block, 4 entropy
  virtual uint32_t pci_class() const = 0;  // base << 16 | sub << 8 | prog-if
  // Device-specific feature bits; the transport adds its own.
  virtual uint64_t features() const = 0;
  virtual unsigned num_queues() const = 0;
  virtual uint16_t queue_max_size() const = 0;
  virtual unsigned config_size() const { return 0; }
  // Device-specific configuration space (read-only here).
  virtual uint64_t ReadConfig(uint64_t offset, unsigned size) { return 0; }
  // The driver notified queue q (vCPU thread).
  virtual void QueueNotify(unsigned q) = 0;
  // Snapshots: Quiesce() returns once no request is in flight (the vCPUs
  // are paused, the device lock is not held); VisitState() then saves or
  // restores what the device keeps beside its transport and queues.
  virtual void Quiesce() {}
  virtual void VisitState(StateVisitor& v) {}
  // A device reset (status 0 written, or the board reset): drop in-flight work.
  virtual void Reset() {}
  // The transitional PCI device ID (4.1.2.3: 0x1001 block, 0x1005 entropy).
  virtual uint16_t transitional_pci_id() const = 0;
  void set_transport(VirtioPci* transport) { transport_ = transport; }

 protected:
  VirtioPci* transport() const { return transport_; }

 private:
  VirtioPci* transport_ = nullptr;
};

class VirtioPci final : public PciDevice, public TimedDevice {
 public:
  // BAR4 layout: one 4 KiB page per structure, as QEMU.
  static constexpr int kLegacyBar = 0, kMsixBar = 1, kModernBar = 4;
  // The legacy header in BAR0 (4.1.4.10): registers, then (with MSI-X
  // enabled) the two vector registers, then the device configuration.
  static constexpr unsigned kLegacyHostFeatures = 0x00, kLegacyGuestFeatures = 0x04, kLegacyQueuePfn = 0x08,
                            kLegacyQueueSize = 0x0C, kLegacyQueueSelect = 0x0E, kLegacyQueueNotify = 0x10,
                            kLegacyStatus = 0x12, kLegacyIsr = 0x13, kLegacyConfigVector = 0x14,
                            kLegacyQueueVector = 0x16;
  static constexpr uint64_t kLegacyAlign = 4096;  // the legacy ring layout's alignment (2.7.2)
  static constexpr uint64_t kCommonOffset = 0x0000, kIsrOffset = 0x1000, kDeviceOffset = 0x2000,
                            kNotifyOffset = 0x3000, kModernBarSize = 0x4000;
  static constexpr uint32_t kNotifyMultiplier = 4;
  static constexpr uint16_t kNoVector = 0xFFFF;
  // Common configuration registers (4.1.4.3).
  static constexpr unsigned kDeviceFeatureSelect = 0x00, kDeviceFeature = 0x04, kDriverFeatureSelect = 0x08,
                            kDriverFeature = 0x0C, kConfigMsixVector = 0x10, kNumQueues = 0x12,
                            kDeviceStatus = 0x14, kConfigGeneration = 0x15, kQueueSelect = 0x16,
                            kQueueSize = 0x18, kQueueMsixVector = 0x1A, kQueueEnable = 0x1C,
                            kQueueNotifyOff = 0x1E, kQueueDesc = 0x20, kQueueDriver = 0x28,
                            kQueueDevice = 0x30, kCommonSize = 0x38;
  // Capability types (4.1.4).
  static constexpr uint8_t kCapCommon = 1, kCapNotify = 2, kCapIsr = 3, kCapDevice = 4;

  // wake: called from a worker thread after NotifyUsed(), so that a halted
  // vCPU polls the board (empty: nothing to wake, e.g. in unit tests).
  VirtioPci(VirtioDevice& device, DmaMemory& dma, std::function<void()> wake = {}, bool transitional = true);
  ~VirtioPci() override;

  VirtioDevice& device() { return device_; }
  DmaMemory& dma() { return dma_; }
  VirtQueue& queue(unsigned q) { return queues_[q]; }
  uint64_t driver_features() const { return driver_features_; }
  uint8_t status() const { return status_.load(std::memory_order_acquire); }
  // Whether the device may consume buffers now: DRIVER_OK (or a legacy
  // driver, which may use queues before it), and no DEVICE_NEEDS_RESET.
  bool accepting() const;

  // The device put buffers on queue q's used ring: interrupt the driver when
  // it wants one. Any thread (workers hold the device lock).
  void NotifyUsed(unsigned q);
  // The rings are unusable (2.1.2): sets DEVICE_NEEDS_RESET, tells the
  // driver (a configuration change interrupt) and logs once. Any thread.
  void FailDevice(const std::string& why);
  // A device's one-time line about what its driver got wrong (-d
  // guest_errors); keys 16-63 are the device's (PciDevice::LogOnce).
  void LogDeviceError(unsigned key, const std::string& what) { LogOnce(kLogGuestErrors, key, what); }
  // Raises what NotifyUsed()/FailDevice() recorded (vCPU thread).
  void DeliverPending();

  // TimedDevice: a pending interrupt is a deadline that has passed.
  void AdvanceTo(uint64_t) override { DeliverPending(); }
  uint64_t NextDeadlineNs() const override {
    return pending_.load(std::memory_order_acquire) ? 0 : kNoDeadline;
  }

 private:
  // BAR4 (modern) or BAR0 (legacy) on the bus.
  class Region final : public IoDevice {
   public:
    Region(VirtioPci& owner, bool legacy) : owner_(owner), legacy_(legacy) {}
    uint64_t Read(uint64_t offset, unsigned size) override {
      return legacy_ ? owner_.LegacyRead(offset, size) : owner_.RegionRead(offset, size);
    }
    void Write(uint64_t offset, unsigned size, uint64_t value) override {
      legacy_ ? owner_.LegacyWrite(offset, size, value) : owner_.RegionWrite(offset, size, value);
    }

   private:
    VirtioPci& owner_;
    bool legacy_;
  };

  void AddVirtioCap(uint8_t type, uint64_t offset, uint64_t length, unsigned extra = 0);
  uint64_t RegionRead(uint64_t offset, unsigned size);
  void RegionWrite(uint64_t offset, unsigned size, uint64_t value);
  uint64_t CommonRead(unsigned offset, unsigned size);
  void CommonWrite(unsigned offset, unsigned size, uint64_t value);
  uint64_t LegacyRead(uint64_t offset, unsigned size);
  void LegacyWrite(uint64_t offset, unsigned size, uint64_t value);
  uint8_t ReadIsr();
  void Notify(unsigned q);
  void WriteStatus(uint8_t value);
  void ResetTransport();
  void DeviceReset() override { ResetTransport(); }
  void VisitDeviceState(StateVisitor& v) override;
  VirtQueue* selected() { return queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr; }

  static constexpr uint64_t kPendingConfig = 1ull << 63;

  VirtioDevice& device_;
  DmaMemory& dma_;
  std::function<void()> wake_;
  Region region_{*this, false};
  Region legacy_region_{*this, true};
  std::atomic<bool> legacy_driver_{false};  // the driver uses BAR0
  std::vector<VirtQueue> queues_;
  uint64_t device_features_;
  uint64_t driver_features_ = 0;
  uint32_t device_feature_select_ = 0, driver_feature_select_ = 0;
  uint16_t queue_select_ = 0;
  uint16_t config_vector_ = kNoVector;
  std::atomic<uint8_t> status_{0};
  std::atomic<uint8_t> isr_{0};
  std::atomic<uint64_t> pending_{0};  // bit q: queue q; kPendingConfig
  bool failure_logged_ = false;
};

}  // namespace tandem::hw::virtio
