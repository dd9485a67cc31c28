// libFuzzer harness for what a guest controls in virtio (VIRTIO 1.2 2.7 split
// virtqueues, 5.2 virtio-blk): the first input byte picks
//   even: the virtqueue walker alone, on a 64 KiB guest-memory buffer whose
//         ring addresses, queue size and contents come from the input;
//   odd:  virtio-blk behind the PCI transport on 2 MiB of guest RAM filled
//         from the input, its queue 0 at input-chosen addresses, a snapshot=on
//         image (the host file never changes), one notification.
// Bugs show as sanitizer reports (out-of-bounds access, overflow, a crash);
// a malformed ring must end in an error value or DEVICE_NEEDS_RESET.
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "hw/bus.h"
#include "hw/dma_memory.h"
#include "hw/guest_log.h"
#include "hw/guest_memory.h"
#include "hw/memory_map.h"
#include "hw/pci/pci_bus.h"
#include "hw/virtio/virtio_blk.h"
#include "hw/virtio/virtio_pci.h"
#include "hw/virtio/virtqueue.h"

namespace {

using namespace tandem::hw;

// A little-endian reader over the input that yields zeros once it runs out.
class Input {
 public:
  Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  uint64_t Take(unsigned bytes) {
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; ++i) v |= static_cast<uint64_t>(pos_ < size_ ? data_[pos_++] : 0) << (8 * i);
    return v;
  }
  const uint8_t* rest() const { return data_ + pos_; }
  size_t left() const { return size_ - pos_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

// Guest memory of a fixed size; accesses outside it fail as DMA outside RAM does.
class BufferDma final : public DmaMemory {
 public:
  explicit BufferDma(size_t size) : ram_(size) {}
  bool Read(uint64_t gpa, void* out, uint64_t size) override {
    if (!Inside(gpa, size)) return false;
    std::memcpy(out, ram_.data() + gpa, size);
    return true;
  }
  bool Write(uint64_t gpa, const void* in, uint64_t size) override {
    if (!Inside(gpa, size)) return false;
    std::memcpy(ram_.data() + gpa, in, size);
    return true;
  }
  std::vector<uint8_t>& ram() { return ram_; }

 private:
  bool Inside(uint64_t gpa, uint64_t size) const { return gpa <= ram_.size() && size <= ram_.size() - gpa; }
  std::vector<uint8_t> ram_;
};

// An address: anywhere in RAM or just past it, at RAM's end, or (most often)
// 16-byte aligned inside the part the input filled.
uint64_t Address(Input& in, uint64_t ram, uint64_t filled) {
  uint32_t raw = static_cast<uint32_t>(in.Take(4));
  switch (raw >> 30) {
    case 0: return raw % (ram + 64);
    case 1: return ram - (raw % 64);
    default: return (raw & 0xFFFF) * 16 % filled;
  }
}

void FuzzQueue(Input& in) {
  constexpr size_t kRam = 64 << 10;
  BufferDma dma(kRam);
  virtio::VirtQueue q(256);
  q.config().size = static_cast<uint16_t>(in.Take(2));
  q.config().desc = Address(in, kRam, kRam);
  q.config().driver = Address(in, kRam, kRam);
  q.config().device = Address(in, kRam, kRam);
  q.config().enabled = true;
  q.set_event_idx(in.Take(1) & 1);
  std::memcpy(dma.ram().data(), in.rest(), std::min(in.left(), kRam));
  for (int i = 0; i < 64; ++i) {
    virtio::VirtChain chain;
    std::string error;
    if (!q.Pop(dma, chain, error)) break;
    uint64_t readable = 0, writable = 0;
    for (const virtio::VirtBuffer& b : chain.buffers) (b.device_writable ? writable : readable) += b.len;
    if (readable != chain.readable_bytes || writable != chain.writable_bytes) std::abort();  // the walker's own sums
    if (!q.Push(dma, chain.head, static_cast<uint32_t>(std::min<uint64_t>(writable, UINT32_MAX)), error)) break;
    q.ShouldInterrupt(dma);
  }
}

class NoIntx final : public PciIntxRouter {
 public:
  void SetIntx(int, int, bool) override {}
};
class NoMsi final : public MsiTarget {
 public:
  void Deliver(uint64_t, uint32_t) override {}
};

// The image virtio-blk serves: 64 sectors in a temporary file, opened with
// snapshot=on so guest writes stay in memory.
const std::string& ImagePath() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/tandem-virtio-fuzz-XXXXXX";
    int fd = mkstemp(p.data());
    if (fd < 0 || ftruncate(fd, 64 * 512) != 0) std::abort();
    close(fd);
    std::atexit([] { unlink(ImagePath().c_str()); });
    return p;
  }();
  return path;
}

void FuzzBlk(Input& in) {
  constexpr uint64_t kRam = 2 << 20;  // MemoryMap's minimum
  constexpr uint64_t kBar4 = 0xE0000000;
  constexpr int kDevfn = 3 << 3;
  auto map = MemoryMap::Build(kRam, 0);
  if (!map.ok()) std::abort();
  auto memory = GuestMemory::Create(*map, {});
  if (!memory.ok()) std::abort();
  GuestMemoryDma dma(*memory);
  GuestLog log;
  Bus pio("pio", &log), mmio("mmio", &log);
  NoIntx intx;
  NoMsi msi;
  PciBus pci([](uint64_t base, uint64_t) { return base < kRam; });
  pci.set_pio(&pio);
  pci.set_mmio(&mmio);
  pci.set_intx_router(&intx);
  pci.set_msi_target(&msi);
  pci.set_log(&log);

  DriveConfig config;
  config.path = ImagePath();
  config.snapshot = true;
  auto image = RawImage::Open(config);
  if (!image.ok()) std::abort();
  std::mutex device_lock;
  virtio::VirtioBlk blk(std::move(*image), device_lock, "fuzz");
  virtio::VirtioPci transport(blk, dma, {}, true);
  if (!pci.Attach(kDevfn, &transport).ok()) std::abort();
  transport.Reset();
  pci.ConfigWrite(kDevfn, 0x20, 4, kBar4);
  pci.ConfigWrite(kDevfn, 0x24, 4, 0);
  pci.ConfigWrite(kDevfn, PciDevice::kCommand, 2, PciDevice::kCommandMemory | PciDevice::kCommandMaster);

  using V = virtio::VirtioPci;
  auto common = [&](unsigned off, unsigned size, uint64_t v) { mmio.Write(kBar4 + off, size, v); };
  const uint64_t features = in.Take(8) | virtio::kFeatureVersion1;
  const uint16_t size = static_cast<uint16_t>(in.Take(2));
  const uint64_t desc = Address(in, kRam, 64 << 10), driver = Address(in, kRam, 64 << 10),
                 device = Address(in, kRam, 64 << 10);
  // The rings and buffers the input describes live in its first 64 KiB; the
  // rest of RAM stays zero.
  memory->WritePhys(0, in.rest(), std::min<size_t>(in.left(), 64 << 10));
  common(V::kDeviceStatus, 1, virtio::kStatusAcknowledge | virtio::kStatusDriver);
  common(V::kDriverFeatureSelect, 4, 0);
  common(V::kDriverFeature, 4, features & 0xFFFFFFFF);
  common(V::kDriverFeatureSelect, 4, 1);
  common(V::kDriverFeature, 4, features >> 32);
  common(V::kDeviceStatus, 1, virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk);
  common(V::kQueueSelect, 2, 0);
  common(V::kQueueSize, 2, size);
  common(V::kQueueDesc, 8, desc);
  common(V::kQueueDriver, 8, driver);
  common(V::kQueueDevice, 8, device);
  common(V::kQueueEnable, 2, 1);
  common(V::kDeviceStatus, 1,
         virtio::kStatusAcknowledge | virtio::kStatusDriver | virtio::kStatusFeaturesOk | virtio::kStatusDriverOk);
  mmio.Write(kBar4 + V::kNotifyOffset, 2, 0);
  blk.WaitIdle();  // the worker pops, serves and completes under device_lock
  transport.AdvanceTo(0);  // what Board::Poll does on the vCPU thread
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  Input in(data + 1, size - 1);
  if (data[0] & 1) {
    FuzzBlk(in);
  } else {
    FuzzQueue(in);
  }
  return 0;
}
