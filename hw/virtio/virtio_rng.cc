// virtio-rng (VIRTIO 1.2 5.4).
#include "hw/virtio/virtio_rng.h"

#include <sys/random.h>

#include <algorithm>
#include <vector>

namespace tandem::hw::virtio {

namespace {
// One request gets at most this much (Linux asks for 64 bytes or a page).
constexpr uint64_t kMaxRequest = 4096;

size_t HostRandom(uint8_t* buf, size_t n) {
  ssize_t got = getrandom(buf, n, GRND_NONBLOCK);
  return got > 0 ? static_cast<size_t>(got) : 0;
}
}  // namespace

VirtioRng::Source VirtioRng::Seeded(uint64_t seed) {
  return [state = seed | 1](uint8_t* buf, size_t n) mutable {
    for (size_t i = 0; i < n; ++i) {
      state ^= state >> 12;
      state ^= state << 25;
      state ^= state >> 27;
      buf[i] = static_cast<uint8_t>((state * 0x2545F4914F6CDD1Dull) >> 56);
    }
    return n;
  };
}

VirtioRng::VirtioRng(Source source) : source_(source ? std::move(source) : Source(HostRandom)) {}

void VirtioRng::QueueNotify(unsigned q) {
  VirtioPci& t = *transport();
  VirtQueue& queue = t.queue(q);
  VirtChain chain;
  std::string error;
  std::vector<uint8_t> bytes;
  bool used = false;
  while (queue.Pop(t.dma(), chain, error)) {
    uint32_t written = 0;
    for (const VirtBuffer& b : chain.buffers) {
      if (!b.device_writable) continue;
      uint64_t want = std::min<uint64_t>(b.len, kMaxRequest - written);
      if (want == 0) break;
      bytes.resize(want);
      size_t got = source_(bytes.data(), want);
      if (got && !t.dma().Write(b.addr, bytes.data(), got)) {
        t.FailDevice("entropy buffer at " + HexString(b.addr) + " is not writable RAM");
        return;
      }
      written += static_cast<uint32_t>(got);
      if (got < want) break;
    }
    if (!queue.Push(t.dma(), chain.head, written, error)) break;
    used = true;
  }
  if (!error.empty()) t.FailDevice(error);
  if (used) t.NotifyUsed(q);
}

}  // namespace tandem::hw::virtio
