// virtio-net (VIRTIO 1.2 5.1).
#include "hw/virtio/virtio_net.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "hw/net/inet_checksum.h"

namespace tandem::hw::virtio {

namespace {
// LogOnce keys of the transport's range left to the device (virtio_pci.cc uses 8-10).
enum LogKey : unsigned { kLogBadCsum = 16 };
}  // namespace

VirtioNet::VirtioNet(std::unique_ptr<NetBackend> backend, std::mutex& device_lock, Mac mac)
    : backend_(std::move(backend)), device_lock_(device_lock), mac_(mac) {}

void VirtioNet::Start() {
  backend_->Start([this](const uint8_t* frame, size_t len) { Deliver(frame, len); });
}

// The backend's thread calls Deliver() until the backend is gone.
VirtioNet::~VirtioNet() { backend_.reset(); }

// struct virtio_net_config (5.1.4): mac, then status.
uint64_t VirtioNet::ReadConfig(uint64_t offset, unsigned size) {
  uint8_t c[kConfigSize] = {};
  std::memcpy(c, mac_.data(), mac_.size());
  c[6] = kStatusLinkUp;
  uint64_t v = 0;
  for (unsigned i = 0; i < size && offset + i < kConfigSize; ++i) v |= static_cast<uint64_t>(c[offset + i]) << (8 * i);
  return v;
}

unsigned VirtioNet::header_size() const {
  return (transport()->driver_features() & kFeatureVersion1) ? kHeaderSize : kLegacyHeaderSize;
}

void VirtioNet::QueueNotify(unsigned q) {
  if (q == kTxQueue) {
    Transmit();
  } else if (q == kRxQueue) {
    FlushPending();  // new receive buffers
  }
}

void VirtioNet::Reset() {
  pending_.clear();  // the driver forgot its buffers; frames for it are lost as on a link reset
}

// Each chain is a header and a frame in device-readable buffers (any layout,
// 5.1.6.2). Of the header only NEEDS_CSUM matters (no segmentation offload
// was offered): the checksum from csum_start on goes in at csum_offset.
void VirtioNet::Transmit() {
  VirtioPci& t = *transport();
  if (!t.accepting()) return;
  VirtQueue& queue = t.queue(kTxQueue);
  const unsigned hdr = header_size();
  VirtChain chain;
  std::string error;
  std::vector<uint8_t> packet;
  bool used = false;
  while (queue.Pop(t.dma(), chain, error)) {
    packet.clear();
    for (const VirtBuffer& b : chain.buffers) {
      if (b.device_writable || packet.size() >= hdr + kMaxFrame + 4) continue;
      size_t at = packet.size();
      size_t n = std::min<size_t>(b.len, hdr + kMaxFrame + 4 - at);  // room for a QinQ tag
      packet.resize(at + n);
      if (!t.dma().Read(b.addr, packet.data() + at, n)) {
        t.FailDevice("transmit buffer at " + HexString(b.addr) + " is not in RAM");
        return;
      }
    }
    if (packet.size() > hdr) {
      if ((packet[0] & kHdrNeedsCsum) && (t.driver_features() & kFeatureCsum)) {
        const size_t start = packet[6] | packet[7] << 8, offset = packet[8] | packet[9] << 8;
        if (!net::CompleteChecksum(packet.data() + hdr, packet.size() - hdr, start, offset)) {
          t.LogDeviceError(kLogBadCsum,
                           "transmit checksum at " + std::to_string(start) + "+" + std::to_string(offset) +
                               " beyond the frame: sent as it is");
        }
      }
      backend_->Send(packet.data() + hdr, packet.size() - hdr);
    }
    if (!queue.Push(t.dma(), chain.head, 0, error)) break;
    used = true;
  }
  if (!error.empty()) t.FailDevice(error);
  if (used) t.NotifyUsed(kTxQueue);
}

void VirtioNet::Deliver(const uint8_t* frame, size_t len) {
  std::lock_guard<std::mutex> lock(device_lock_);
  if (!transport()->accepting() || !transport()->queue(kRxQueue).ready()) {
    ++dropped_;  // no driver: the frame is lost on the wire
    return;
  }
  if (pending_.size() >= kMaxPending) {
    ++dropped_;
    return;
  }
  pending_.emplace_back(frame, frame + len);
  FlushPending();
}

void VirtioNet::FlushPending() {
  VirtioPci& t = *transport();
  if (pending_.empty() || !t.accepting()) return;
  VirtQueue& queue = t.queue(kRxQueue);
  const unsigned hdr = header_size();
  std::string error;
  bool used = false;
  while (!pending_.empty()) {
    VirtChain chain;
    if (!queue.Pop(t.dma(), chain, error)) break;
    const std::vector<uint8_t>& frame = pending_.front();
    // virtio_net_hdr: no GSO; num_buffers 1 (12-byte form); DATA_VALID when
    // the driver takes it and the host found the TCP/UDP checksum right, as
    // a NIC with receive checksum offload says.
    std::vector<uint8_t> packet(hdr, 0);
    if (hdr == kHeaderSize) packet[10] = 1;
    if ((t.driver_features() & kFeatureGuestCsum) && net::TransportChecksumValid(frame.data(), frame.size())) {
      packet[0] = kHdrDataValid;
    }
    packet.insert(packet.end(), frame.begin(), frame.end());
    uint32_t written = 0;
    if (chain.writable_bytes < packet.size()) {
      ++dropped_;  // buffer too small (we offered no segmentation offloads, so 1518 bytes fit in a proper one)
    } else {
      for (const VirtBuffer& b : chain.buffers) {
        if (!b.device_writable || written == packet.size()) continue;
        uint32_t n = static_cast<uint32_t>(std::min<size_t>(b.len, packet.size() - written));
        if (!t.dma().Write(b.addr, packet.data() + written, n)) {
          t.FailDevice("receive buffer at " + HexString(b.addr) + " is not writable RAM");
          return;
        }
        written += n;
      }
    }
    pending_.pop_front();
    if (!queue.Push(t.dma(), chain.head, written, error)) break;
    used = true;
  }
  if (!error.empty()) t.FailDevice(error);
  if (used) t.NotifyUsed(kRxQueue);
}

}  // namespace tandem::hw::virtio
