// A host TAP interface as the NIC's wire (Linux /dev/net/tun, IFF_TAP |
// IFF_NO_PI, as QEMU's -nic tap,ifname=): the interface must exist or the
// process must be allowed to create it (CAP_NET_ADMIN); tandem does not
// configure it (no script=).
//
// Threading: a reader thread polls the TAP fd and hands frames to the
// receiver holding no lock of ours; Send() (vCPU thread) is one
// non-blocking write(2), dropping the frame when the host queue is full.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <thread>

#include "hw/status.h"
#include "hw/virtio/virtio_net.h"

namespace tandem::hw::net {

class TapBackend final : public virtio::NetBackend {
 public:
  // Fails (a user error) when the interface cannot be opened.
  static Result<std::unique_ptr<TapBackend>> Open(const std::string& ifname);
  ~TapBackend() override;

  void Send(const uint8_t* frame, size_t len) override;
  void Start(Receiver receiver) override;

 private:
  TapBackend(int fd, int stop_fd) : fd_(fd), stop_fd_(stop_fd) {}
  void Loop();

  int fd_;
  int stop_fd_;  // eventfd: the destructor -> Loop()
  Receiver receiver_;
  std::thread thread_;
};

}  // namespace tandem::hw::net
