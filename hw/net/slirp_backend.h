// User-mode networking on libslirp (Debian's libslirp-dev), as QEMU's
// `-nic user`: the guest is on 10.0.2.0/24, gets 10.0.2.15 by DHCP, reaches
// the host (and through it the world) at 10.0.2.2 and DNS at 10.0.2.3;
// host ports forward into the guest (hostfwd). IPv4 only.
//
// Threading: slirp lives on its own thread and is touched only there (after
// Create() has set it up). Send() (vCPU thread, device lock held) only queues
// the frame under inbox_mutex_, a leaf lock, and wakes the thread; frames for
// the guest go to the receiver from the slirp thread holding no lock of ours.
#pragma once

#include <netinet/in.h>
#include <poll.h>

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "hw/net/nic_config.h"
#include "hw/status.h"
#include "hw/virtio/virtio_net.h"

struct Slirp;

namespace tandem::hw::net {

class SlirpBackend final : public virtio::NetBackend {
 public:
  // Fails (a user error) when a forwarded host port cannot be bound.
  static Result<std::unique_ptr<SlirpBackend>> Create(const std::vector<HostForward>& forwards);
  ~SlirpBackend() override;

  void Send(const uint8_t* frame, size_t len) override;
  void Start(Receiver receiver) override;

 private:
  struct Timer;
  SlirpBackend();
  void Loop();
  void Kick();
  // Runs due timers; returns ms until the next one (or `cap`).
  uint32_t RunTimers(uint32_t cap);

  friend struct SlirpCallbacks;  // libslirp's C callbacks (slirp_backend.cc)

  Slirp* slirp_ = nullptr;
  Receiver receiver_;
  int wake_fd_ = -1;  // eventfd: Send()/Notify()/stop -> the loop
  std::vector<std::unique_ptr<Timer>> timers_;  // slirp thread only
  std::vector<::pollfd>* pollfds_ = nullptr;  // during one loop pass

  std::mutex inbox_mutex_;  // leaf lock: guards inbox_
  std::deque<std::vector<uint8_t>> inbox_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace tandem::hw::net
