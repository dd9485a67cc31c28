// Modern virtio PCI transport (VIRTIO 1.2 4.1).
#include "hw/virtio/virtio_pci.h"

namespace tandem::hw::virtio {

namespace {
constexpr uint16_t kVirtioVendor = 0x1AF4;
constexpr uint16_t kModernDeviceBase = 0x1040;
constexpr uint16_t kSubsystemQemu = 0x1100;  // QEMU's subsystem ID for modern-only devices
constexpr uint8_t kCapVendor = 0x09;
constexpr unsigned kCapLength = 16;  // struct virtio_pci_cap
enum LogKey : unsigned { kLogFailure = 8, kLogQueueSize = 9, kLogFeatures = 10 };

uint64_t Bytes(const uint8_t* p, unsigned size) {
  uint64_t v = 0;
  for (unsigned i = 0; i < size; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}
}  // namespace

VirtioPci::VirtioPci(VirtioDevice& device, DmaMemory& dma, std::function<void()> wake, bool transitional)
    : PciDevice(std::string("virtio-") + device.name(), kVirtioVendor,
                transitional ? device.transitional_pci_id()
                             : static_cast<uint16_t>(kModernDeviceBase + device.device_id()),
                device.pci_class(), transitional ? 0 : 1),
      device_(device),
      dma_(dma),
      wake_(std::move(wake)),
      device_features_(device.features() | kFeatureVersion1 | kFeatureIndirectDesc | kFeatureEventIdx) {
  device_.set_transport(this);
  for (unsigned q = 0; q < device.num_queues(); ++q) queues_.emplace_back(device.queue_max_size());
  Set16(kSubsystemVendorId, kVirtioVendor);
  // A transitional device names its type in the subsystem ID (4.1.2.3).
  Set16(kSubsystemId, transitional ? device.device_id() : kSubsystemQemu);
  SetInterruptPin(1);
  if (transitional) {
    uint64_t size = 32;
    while (size < kLegacyQueueVector + 2 + device.config_size()) size <<= 1;
    AddBar(kLegacyBar, BarKind::kIo, size, &legacy_region_);
  }
  AddBar(kModernBar, BarKind::kMemory64, kModernBarSize, &region_, true);
  AddMsix(device.num_queues() + 1, kMsixBar);
  AddVirtioCap(kCapDevice, kDeviceOffset, device.config_size() ? device.config_size() : 4);
  AddVirtioCap(kCapNotify, kNotifyOffset, kNotifyMultiplier * device.num_queues(), 4);
  AddVirtioCap(kCapIsr, kIsrOffset, 1);
  AddVirtioCap(kCapCommon, kCommonOffset, kCommonSize);
}

VirtioPci::~VirtioPci() = default;

// struct virtio_pci_cap (4.1.4): vendor-specific capability naming a
// structure's BAR, offset and length; the notify one adds the multiplier.
void VirtioPci::AddVirtioCap(uint8_t type, uint64_t offset, uint64_t length, unsigned extra) {
  unsigned cap = AddCapability(kCapVendor, kCapLength + extra);
  Set8(cap + 2, static_cast<uint8_t>(kCapLength + extra));
  Set8(cap + 3, type);
  Set8(cap + 4, kModernBar);
  Set32(cap + 8, static_cast<uint32_t>(offset));
  Set32(cap + 12, static_cast<uint32_t>(length));
  if (type == kCapNotify) Set32(cap + 16, kNotifyMultiplier);
}

bool VirtioPci::accepting() const {
  uint8_t s = status();
  return !(s & kStatusNeedsReset) && ((s & kStatusDriverOk) || legacy_driver_.load(std::memory_order_acquire));
}

// Reading clears the ISR and deasserts INTx (4.1.4.5).
uint8_t VirtioPci::ReadIsr() {
  uint8_t isr = isr_.exchange(0, std::memory_order_acq_rel);
  if (!msix_enabled()) SetIntx(false);
  return isr;
}

void VirtioPci::Notify(unsigned q) {
  if (q >= queues_.size() || !accepting() || !queues_[q].ready()) return;
  device_.QueueNotify(q);
  DeliverPending();
}

uint64_t VirtioPci::RegionRead(uint64_t offset, unsigned size) {
  if (offset < kCommonOffset + kCommonSize) return CommonRead(static_cast<unsigned>(offset), size);
  if (offset == kIsrOffset) return ReadIsr();
  if (offset >= kDeviceOffset && offset < kDeviceOffset + 0x1000) {
    uint64_t at = offset - kDeviceOffset;
    if (at + size > device_.config_size()) return 0;
    return device_.ReadConfig(at, size);
  }
  return 0;
}

void VirtioPci::RegionWrite(uint64_t offset, unsigned size, uint64_t value) {
  if (offset < kCommonOffset + kCommonSize) return CommonWrite(static_cast<unsigned>(offset), size, value);
  if (offset >= kNotifyOffset && offset < kNotifyOffset + kNotifyMultiplier * queues_.size()) {
    // Each queue has its own notify address (queue_notify_off = q); the
    // value written is the queue index (4.1.5.2).
    Notify(static_cast<unsigned>((offset - kNotifyOffset) / kNotifyMultiplier));
  }
}

// The legacy interface (4.1.4.10): 32 feature bits, one page frame number
// per queue with the rings at fixed places after it (2.7.2), a fixed queue
// size, and no FEATURES_OK step.
uint64_t VirtioPci::LegacyRead(uint64_t offset, unsigned size) {
  legacy_driver_ = true;
  unsigned config = msix_enabled() ? kLegacyQueueVector + 2 : kLegacyConfigVector;
  if (offset >= config) {
    uint64_t at = offset - config;
    return at + size <= device_.config_size() ? device_.ReadConfig(at, size) : 0;
  }
  VirtQueue* q = selected();
  switch (offset) {
    case kLegacyHostFeatures:
      return static_cast<uint32_t>(device_features_);
    case kLegacyGuestFeatures:
      return static_cast<uint32_t>(driver_features_);
    case kLegacyQueuePfn:
      return q && q->config().enabled ? q->config().desc / kLegacyAlign : 0;
    case kLegacyQueueSize:
      return q ? q->max_size() : 0;
    case kLegacyQueueSelect:
      return queue_select_;
    case kLegacyStatus:
      return status();
    case kLegacyIsr:
      return ReadIsr();
    case kLegacyConfigVector:
      return config_vector_;
    case kLegacyQueueVector:
      return q ? q->config().msix_vector : kNoVector;
    default:
      return 0;
  }
}

void VirtioPci::LegacyWrite(uint64_t offset, unsigned size, uint64_t value) {
  legacy_driver_ = true;
  VirtQueue* q = selected();
  switch (offset) {
    case kLegacyGuestFeatures:
      driver_features_ = value & device_features_ & 0xFFFFFFFFull;
      for (VirtQueue& queue : queues_) queue.set_event_idx(driver_features_ & kFeatureEventIdx);
      break;
    case kLegacyQueuePfn:
      if (!q) break;
      if (value == 0) {  // 0 resets the queue
        q->Reset();
        q->set_event_idx(driver_features_ & kFeatureEventIdx);
      } else {
        VirtQueue::Config& c = q->config();
        c.size = q->max_size();
        c.desc = (value & 0xFFFFFFFF) * kLegacyAlign;
        c.driver = c.desc + 16ull * c.size;
        c.device = (c.driver + 6 + 2ull * c.size + kLegacyAlign - 1) & ~(kLegacyAlign - 1);
        c.enabled = true;
      }
      break;
    case kLegacyQueueSelect:
      queue_select_ = static_cast<uint16_t>(value);
      break;
    case kLegacyQueueNotify:
      Notify(static_cast<unsigned>(value & 0xFFFF));
      break;
    case kLegacyStatus:
      if ((value & 0xFF) == 0) {
        ResetTransport();
        legacy_driver_ = true;
      } else {
        status_.store(static_cast<uint8_t>((value & ~kStatusNeedsReset) | (status() & kStatusNeedsReset)),
                      std::memory_order_release);
      }
      break;
    case kLegacyConfigVector:
      config_vector_ = static_cast<uint16_t>(value);
      break;
    case kLegacyQueueVector:
      if (q) q->config().msix_vector = static_cast<uint16_t>(value);
      break;
    default:
      break;
  }
}

uint64_t VirtioPci::CommonRead(unsigned offset, unsigned size) {
  // Registers are read whole; a narrower read takes the bytes it covers.
  uint8_t regs[kCommonSize] = {};
  auto put = [&](unsigned at, unsigned n, uint64_t v) {
    for (unsigned i = 0; i < n; ++i) regs[at + i] = static_cast<uint8_t>(v >> (8 * i));
  };
  put(kDeviceFeatureSelect, 4, device_feature_select_);
  put(kDeviceFeature, 4, device_feature_select_ < 2 ? device_features_ >> (32 * device_feature_select_) : 0);
  put(kDriverFeatureSelect, 4, driver_feature_select_);
  put(kDriverFeature, 4, driver_feature_select_ < 2 ? driver_features_ >> (32 * driver_feature_select_) : 0);
  put(kConfigMsixVector, 2, config_vector_);
  put(kNumQueues, 2, queues_.size());
  put(kDeviceStatus, 1, status());
  put(kQueueSelect, 2, queue_select_);
  if (VirtQueue* q = selected()) {
    put(kQueueSize, 2, q->config().size);
    put(kQueueMsixVector, 2, q->config().msix_vector);
    put(kQueueEnable, 2, q->config().enabled);
    put(kQueueNotifyOff, 2, queue_select_);
    put(kQueueDesc, 8, q->config().desc);
    put(kQueueDriver, 8, q->config().driver);
    put(kQueueDevice, 8, q->config().device);
  } else {
    put(kQueueMsixVector, 2, kNoVector);
  }
  if (offset + size > kCommonSize) return 0;
  return Bytes(regs + offset, size);
}

void VirtioPci::CommonWrite(unsigned offset, unsigned size, uint64_t value) {
  // 64-bit queue addresses may be written as two dwords (4.1.3.1).
  auto merge64 = [&](uint64_t& reg, unsigned base) {
    unsigned shift = 8 * (offset - base);
    uint64_t mask = size >= 8 ? ~0ull : ((1ull << (8 * size)) - 1) << shift;
    reg = (reg & ~mask) | ((value << shift) & mask);
  };
  VirtQueue* q = selected();
  bool live = status() & kStatusDriverOk;
  switch (offset) {
    case kDeviceFeatureSelect:
      device_feature_select_ = static_cast<uint32_t>(value);
      break;
    case kDriverFeatureSelect:
      driver_feature_select_ = static_cast<uint32_t>(value);
      break;
    case kDriverFeature:
      if (driver_feature_select_ < 2 && !(status() & kStatusFeaturesOk)) {
        unsigned shift = 32 * driver_feature_select_;
        driver_features_ = (driver_features_ & ~(0xFFFFFFFFull << shift)) | (value & 0xFFFFFFFFull) << shift;
      }
      break;
    case kConfigMsixVector:
      config_vector_ = static_cast<uint16_t>(value);
      break;
    case kDeviceStatus:
      WriteStatus(static_cast<uint8_t>(value));
      break;
    case kQueueSelect:
      queue_select_ = static_cast<uint16_t>(value);
      break;
    case kQueueSize:
      if (q && !live) {
        uint16_t n = static_cast<uint16_t>(value);
        if (n == 0 || n > q->max_size()) {
          LogOnce(kLogGuestErrors, kLogQueueSize, "queue size " + std::to_string(n) + " beyond 1.." +
                                                      std::to_string(q->max_size()) + ": ignored");
        } else {
          q->config().size = n;
        }
      }
      break;
    case kQueueMsixVector:
      if (q) q->config().msix_vector = static_cast<uint16_t>(value);
      break;
    case kQueueEnable:
      // Only 1 may be written (4.1.4.3.2); a queue is disabled by a reset.
      if (q && (value & 1)) q->config().enabled = true;
      break;
    default:
      if (!q || live) break;
      if (offset >= kQueueDesc && offset < kQueueDesc + 8) merge64(q->config().desc, kQueueDesc);
      if (offset >= kQueueDriver && offset < kQueueDriver + 8) merge64(q->config().driver, kQueueDriver);
      if (offset >= kQueueDevice && offset < kQueueDevice + 8) merge64(q->config().device, kQueueDevice);
      break;
  }
}

void VirtioPci::WriteStatus(uint8_t value) {
  if (value == 0) {
    ResetTransport();
    return;
  }
  uint8_t old = status();
  // FEATURES_OK sticks only for a subset of what we offer that includes
  // VERSION_1 (3.1.1, 6.1): else the driver reads it back clear and gives up.
  if ((value & kStatusFeaturesOk) && !(old & kStatusFeaturesOk)) {
    bool ok = (driver_features_ & ~device_features_) == 0 && (driver_features_ & kFeatureVersion1);
    if (!ok) {
      LogOnce(kLogGuestErrors, kLogFeatures, "driver features not accepted (no VERSION_1, or not offered)");
      value &= static_cast<uint8_t>(~kStatusFeaturesOk);
    } else {
      for (VirtQueue& q : queues_) q.set_event_idx(driver_features_ & kFeatureEventIdx);
    }
  }
  // NEEDS_RESET is the device's to set.
  value = static_cast<uint8_t>((value & ~kStatusNeedsReset) | (old & kStatusNeedsReset));
  status_.store(value, std::memory_order_release);
}

void VirtioPci::ResetTransport() {
  device_.Reset();
  for (VirtQueue& q : queues_) q.Reset();
  driver_features_ = 0;
  device_feature_select_ = driver_feature_select_ = 0;
  queue_select_ = 0;
  config_vector_ = kNoVector;
  status_.store(0, std::memory_order_release);
  isr_.store(0, std::memory_order_release);
  pending_.store(0, std::memory_order_release);
  failure_logged_ = false;
  legacy_driver_ = false;
  SetIntx(false);
}

void VirtioPci::NotifyUsed(unsigned q) {
  if (!queues_[q].ShouldInterrupt(dma_)) return;
  isr_.fetch_or(1, std::memory_order_acq_rel);
  pending_.fetch_or(1ull << q, std::memory_order_acq_rel);
  if (wake_) wake_();
}

void VirtioPci::FailDevice(const std::string& why) {
  uint8_t old = status_.fetch_or(kStatusNeedsReset, std::memory_order_acq_rel);
  if (!failure_logged_) {
    failure_logged_ = true;
    LogOnce(kLogGuestErrors, kLogFailure, why + ": device needs reset");
  }
  if (old & kStatusNeedsReset) return;
  isr_.fetch_or(2, std::memory_order_acq_rel);
  pending_.fetch_or(kPendingConfig, std::memory_order_acq_rel);
  if (wake_) wake_();
}

void VirtioPci::DeliverPending() {
  uint64_t bits = pending_.exchange(0, std::memory_order_acq_rel);
  if (!bits) return;
  if (msix_enabled()) {
    for (unsigned q = 0; q < queues_.size(); ++q) {
      if ((bits >> q & 1) && queues_[q].config().msix_vector != kNoVector) NotifyMsi(queues_[q].config().msix_vector);
    }
    if ((bits & kPendingConfig) && config_vector_ != kNoVector) NotifyMsi(config_vector_);
    return;
  }
  SetIntx(isr_.load(std::memory_order_acquire) != 0);
}

void VirtioPci::VisitDeviceState(StateVisitor& v) {
  v(legacy_driver_, driver_features_, device_feature_select_, driver_feature_select_, queue_select_, config_vector_,
    status_, isr_, pending_, failure_logged_);
  for (VirtQueue& q : queues_) q.VisitState(v);
  device_.VisitState(v);
}

}  // namespace tandem::hw::virtio
