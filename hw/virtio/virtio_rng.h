// virtio-rng, the entropy device (VIRTIO 1.2 5.4): one request queue whose
// device-writable buffers are filled from the host's getrandom(2).
// Requests are served at once on the vCPU thread (getrandom does not block
// once the host pool is initialized; a short read returns what it got).
#pragma once

#include <functional>

#include "hw/virtio/virtio_pci.h"

namespace tandem::hw::virtio {

class VirtioRng final : public VirtioDevice {
 public:
  // fill(buf, n): bytes produced (the host's getrandom by default; tests
  // pass a fixed pattern).
  using Source = std::function<size_t(uint8_t*, size_t)>;
  explicit VirtioRng(Source source = {});
  // A repeatable source (xorshift64* from `seed`): two boards given the same
  // seed hand their guests the same bytes (lockstep, --deterministic).
  static Source Seeded(uint64_t seed);
  static constexpr uint64_t kRepeatableSeed = 0x7A6E64656D;

  const char* name() const override { return "rng"; }
  uint16_t transitional_pci_id() const override { return 0x1005; }
  uint16_t device_id() const override { return 4; }
  uint32_t pci_class() const override { return 0xFF0000; }  // as QEMU: "other"
  uint64_t features() const override { return 0; }
  unsigned num_queues() const override { return 1; }
  uint16_t queue_max_size() const override { return 64; }
  void QueueNotify(unsigned q) override;

 private:
  Source source_;
};

}  // namespace tandem::hw::virtio
