// A virtio driver for device tests: the transport on a real PCI bus with
// real guest memory, programmed through config cycles and its memory BAR as
// a guest driver does (VIRTIO 1.2 3.1.1), split rings built in guest RAM,
// and a fake INTx router and MSI target.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstring>
#include <memory>
#include <vector>

#include "hw/bus.h"
#include "hw/dma_memory.h"
#include "hw/guest_memory.h"
#include "hw/memory_map.h"
#include "hw/pci/pci_bus.h"
#include "hw/virtio/virtio_pci.h"
#include "tests/hw/pci/pci_test_device.h"

namespace tandem::hw::testing {

class LevelRouter final : public PciIntxRouter {
 public:
  void SetIntx(int, int, bool l) override {
    if (l && !level) ++raised;
    level = l;
  }
  bool level = false;
  int raised = 0;
};

class VirtioFixture : public ::testing::Test {
 protected:
  static constexpr int kDevfn = 3 << 3;
  static constexpr uint64_t kRam = 16ull << 20;
  static constexpr uint64_t kBar4 = 0xE0000000, kBar1 = 0xE0100000, kBar0 = 0xC000;
  // Rings of queue 0 and the data area, in guest RAM.
  static constexpr uint64_t kDesc = 0x10000, kAvail = 0x11000, kUsed = 0x12000, kData = 0x20000;
  static constexpr uint16_t kQueueSize = 16;

  VirtioFixture()
      : memory_(std::move(GuestMemory::Create(*MemoryMap::Build(kRam, 0), {}).value())),
        pci_([](uint64_t base, uint64_t) { return base < kRam; }) {
    pci_.set_pio(&pio_);
    pci_.set_mmio(&mmio_);
    pci_.set_intx_router(&router_);
    pci_.set_msi_target(&msi_);
    pci_.set_log(&log_);
  }

  // Plugs the device in and maps its BARs (as firmware would).
  void Plug(virtio::VirtioDevice& device, bool transitional = true) {
    transport_ = std::make_unique<virtio::VirtioPci>(device, dma_, [this] { ++wakes_; }, transitional);
    ASSERT_TRUE(pci_.Attach(kDevfn, transport_.get()).ok());
    transport_->Reset();
    Cfg(0x20, 4, kBar4);  // BAR4 low, 64-bit
    Cfg(0x24, 4, 0);
    Cfg(0x14, 4, kBar1);  // BAR1: MSI-X
    Cfg(0x10, 4, kBar0);  // BAR0: the legacy I/O registers (transitional only)
    Cfg(PciDevice::kCommand, 2, PciDevice::kCommandIo | PciDevice::kCommandMemory | PciDevice::kCommandMaster);
  }

  uint32_t Cfg(unsigned off, unsigned size) { return pci_.ConfigRead(kDevfn, off, size); }
  void Cfg(unsigned off, unsigned size, uint32_t v) { pci_.ConfigWrite(kDevfn, off, size, v); }
  uint64_t Common(unsigned off, unsigned size) { return mmio_.Read(kBar4 + off, size); }
  void Common(unsigned off, unsigned size, uint64_t v) { mmio_.Write(kBar4 + off, size, v); }
  uint8_t Status() { return static_cast<uint8_t>(Common(virtio::VirtioPci::kDeviceStatus, 1)); }

  // Finds the virtio capability of `type` in config space; returns its offset (0: none).
  unsigned FindCap(uint8_t type) {
    for (unsigned cap = Cfg(PciDevice::kCapabilityPointer, 1); cap; cap = Cfg(cap + 1, 1)) {
      if (Cfg(cap, 1) == 0x09 && Cfg(cap + 3, 1) == type) return cap;
    }
    return 0;
  }

  // Feature negotiation and queue 0 set-up (3.1.1); driver_features as given.
  void Initialize(uint64_t driver_features) {
    using V = virtio::VirtioPci;
    Common(V::kDeviceStatus, 1, 0);
    Common(V::kDeviceStatus, 1, virtio::kStatusAcknowledge | virtio::kStatusDriver);
    Common(V::kDriverFeatureSelect, 4, 0);
    Common(V::kDriverFeature, 4, driver_features & 0xFFFFFFFF);
    Common(V::kDriverFeatureSelect, 4, 1);
    Common(V::kDriverFeature, 4, driver_features >> 32);
    Common(V::kDeviceStatus, 1, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
    ASSERT_TRUE(Status() & virtio::kStatusFeaturesOk);
    Common(V::kQueueSelect, 2, 0);
    Common(V::kQueueSize, 2, kQueueSize);
    Common(V::kQueueDesc, 4, kDesc);  // as two dwords, as Linux writes them
    Common(V::kQueueDesc + 4, 4, 0);
    Common(V::kQueueDriver, 8, kAvail);
    Common(V::kQueueDevice, 8, kUsed);
    Common(V::kQueueEnable, 2, 1);
    Common(V::kDeviceStatus, 1,
           virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk | virtio::kStatusDriverOk);
  }

  struct Desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
  };
  void WriteDesc(uint64_t table, unsigned i, Desc d) {
    uint8_t b[16];
    std::memcpy(b, &d.addr, 8);
    std::memcpy(b + 8, &d.len, 4);
    std::memcpy(b + 12, &d.flags, 2);
    std::memcpy(b + 14, &d.next, 2);
    memory_.WritePhys(table + 16 * i, b, 16);
  }
  // Makes descriptor `head` available (the chain is already in the table).
  void Offer(uint16_t head) {
    uint16_t idx = Read16(kAvail + 2);
    Write16(kAvail + 4 + 2 * (idx % kQueueSize), head);
    Write16(kAvail + 2, static_cast<uint16_t>(idx + 1));
  }
  // Builds a direct chain of buffers from descriptor `first` on and offers it.
  void OfferChain(uint16_t first, const std::vector<std::pair<uint64_t, std::pair<uint32_t, bool>>>& bufs) {
    for (size_t i = 0; i < bufs.size(); ++i) {
      uint16_t flags = (bufs[i].second.second ? 2 : 0) | (i + 1 < bufs.size() ? 1 : 0);
      WriteDesc(kDesc, static_cast<unsigned>(first + i),
                Desc{bufs[i].first, bufs[i].second.first, flags, static_cast<uint16_t>(first + i + 1)});
    }
    Offer(first);
  }
  void Notify(unsigned q) { mmio_.Write(kBar4 + virtio::VirtioPci::kNotifyOffset + 4 * q, 2, q); }
  uint16_t UsedIdx() { return Read16(kUsed + 2); }
  uint32_t UsedId(unsigned i) { return Read32(kUsed + 4 + 8 * i); }
  uint32_t UsedLen(unsigned i) { return Read32(kUsed + 8 + 8 * i); }

  uint16_t Read16(uint64_t a) {
    uint16_t v = 0;
    memory_.ReadPhys(a, &v, 2);
    return v;
  }
  uint32_t Read32(uint64_t a) {
    uint32_t v = 0;
    memory_.ReadPhys(a, &v, 4);
    return v;
  }
  void Write16(uint64_t a, uint16_t v) { memory_.WritePhys(a, &v, 2); }
  std::vector<uint8_t> ReadBytes(uint64_t a, size_t n) {
    std::vector<uint8_t> v(n);
    memory_.ReadPhys(a, v.data(), n);
    return v;
  }

  GuestMemory memory_;
  GuestMemoryDma dma_{memory_};
  struct StringSink final : CharSink {
    void Put(uint8_t c) override { text += static_cast<char>(c); }
    std::string text;
  } log_sink_;
  GuestLog log_{kLogGuestErrors, &log_sink_};
  Bus pio_{"pio"}, mmio_{"mmio"};
  PciBus pci_;
  LevelRouter router_;
  RecordingMsiTarget msi_;
  std::atomic<int> wakes_{0};
  std::unique_ptr<virtio::VirtioPci> transport_;
};

}  // namespace tandem::hw::testing
