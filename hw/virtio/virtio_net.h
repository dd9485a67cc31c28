// virtio-net, the network device (VIRTIO 1.2 5.1): one receive and one
// transmit queue, a MAC address and the link status in configuration space,
// checksum offload both ways (CSUM, GUEST_CSUM: the host computes and checks
// TCP/UDP checksums, sparing the guest a pass over every byte; no
// segmentation offloads) and no mergeable receive buffers. Frames go to and
// come from a NetBackend (hw/net), so the device knows nothing of slirp or TAP.
//
// Threading and lock order: transmit runs on the vCPU thread in
// QueueNotify(1) (the device lock held by the board); Send() only hands the
// frame to the backend, which must not block and must not take the device
// lock. Receive runs on the backend's thread: Deliver() takes the device lock
// (so the backend calls it holding none of its own locks) and puts the frame
// in a posted buffer, or keeps it (at most kMaxPending frames) until the
// driver posts one.
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "hw/virtio/virtio_pci.h"

namespace tandem::hw::virtio {

// Where the NIC's frames go: user networking, a TAP device, a test's fake.
class NetBackend {
 public:
  // Called by the backend (its own thread) with one Ethernet frame for the guest.
  using Receiver = std::function<void(const uint8_t* frame, size_t len)>;
  virtual ~NetBackend() = default;
  // One Ethernet frame from the guest (no FCS). Must not block.
  virtual void Send(const uint8_t* frame, size_t len) = 0;
  // Starts delivering frames for the guest to `receiver`; called once.
  virtual void Start(Receiver receiver) = 0;
};

class VirtioNet final : public VirtioDevice {
 public:
  // Feature bits (5.1.3).
  static constexpr uint64_t kFeatureCsum = 1ull << 0, kFeatureGuestCsum = 1ull << 1, kFeatureMac = 1ull << 5,
                            kFeatureStatus = 1ull << 16;
  // virtio_net_hdr flags (5.1.6).
  static constexpr uint8_t kHdrNeedsCsum = 1, kHdrDataValid = 2;
  static constexpr uint16_t kStatusLinkUp = 1;
  static constexpr unsigned kConfigSize = 8;  // mac[6], le16 status
  static constexpr unsigned kRxQueue = 0, kTxQueue = 1;
  static constexpr uint16_t kQueueSize = 256;
  // struct virtio_net_hdr (5.1.6): 12 bytes with VIRTIO_F_VERSION_1 (num_buffers
  // always present), 10 for a legacy driver without MRG_RXBUF.
  static constexpr unsigned kHeaderSize = 12, kLegacyHeaderSize = 10;
  // Frames held for the guest while it has no receive buffer posted.
  static constexpr size_t kMaxPending = 256;
  // Ethernet frame without FCS, with a VLAN tag (Linux's GOOD_PACKET_LEN).
  static constexpr size_t kMaxFrame = 1518;
  using Mac = std::array<uint8_t, 6>;

  VirtioNet(std::unique_ptr<NetBackend> backend, std::mutex& device_lock, Mac mac);
  ~VirtioNet() override;

  const char* name() const override { return "net"; }
  uint16_t transitional_pci_id() const override { return 0x1000; }
  uint16_t device_id() const override { return 1; }
  uint32_t pci_class() const override { return 0x020000; }  // Ethernet controller, as QEMU
  uint64_t features() const override { return kFeatureCsum | kFeatureGuestCsum | kFeatureMac | kFeatureStatus; }
  unsigned num_queues() const override { return 2; }
  uint16_t queue_max_size() const override { return kQueueSize; }
  unsigned config_size() const override { return kConfigSize; }
  uint64_t ReadConfig(uint64_t offset, unsigned size) override;
  void QueueNotify(unsigned q) override;
  void Reset() override;
  // Frames held for the guest travel with it; the backend's own state
  // (slirp's connections) does not.
  void VisitState(StateVisitor& v) override { v(pending_); }

  // Starts the backend's receive path into this device, once it is plugged
  // into its transport.
  void Start();
  // A frame from the backend for the guest (backend thread; takes the device lock).
  void Deliver(const uint8_t* frame, size_t len);
  // Frames dropped because no buffer came in time or they did not fit.
  uint64_t dropped() const { return dropped_; }
  size_t pending() const { return pending_.size(); }

 private:
  unsigned header_size() const;
  void Transmit();
  // Moves held frames into posted buffers (device lock held).
  void FlushPending();

  std::unique_ptr<NetBackend> backend_;
  std::mutex& device_lock_;
  Mac mac_;
  // Guarded by the device lock:
  std::deque<std::vector<uint8_t>> pending_;
  uint64_t dropped_ = 0;
};

}  // namespace tandem::hw::virtio
