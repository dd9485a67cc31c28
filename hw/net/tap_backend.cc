// TAP backend (Linux Documentation/networking/tuntap.rst).
#include "hw/net/tap_backend.h"

#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace tandem::hw::net {

Result<std::unique_ptr<TapBackend>> TapBackend::Open(const std::string& ifname) {
  if (ifname.empty() || ifname.size() >= IFNAMSIZ) {
    return Status::Error("--nic tap: ifname= wants an interface name of 1-" + std::to_string(IFNAMSIZ - 1) + " bytes");
  }
  int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return Status::Error(std::string("--nic tap: /dev/net/tun: ") + std::strerror(errno));
  ifreq ifr{};
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  std::memcpy(ifr.ifr_name, ifname.data(), ifname.size());
  if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
    int e = errno;
    close(fd);
    return Status::Error("--nic tap: cannot attach to " + ifname + ": " + std::strerror(e));
  }
  int stop_fd = eventfd(0, EFD_CLOEXEC);
  if (stop_fd < 0) {
    close(fd);
    return Status::Error("--nic tap: eventfd failed");
  }
  return std::unique_ptr<TapBackend>(new TapBackend(fd, stop_fd));
}

TapBackend::~TapBackend() {
  uint64_t one = 1;
  ssize_t r = write(stop_fd_, &one, sizeof one);
  (void)r;
  if (thread_.joinable()) thread_.join();
  close(stop_fd_);
  close(fd_);
}

void TapBackend::Start(Receiver receiver) {
  receiver_ = std::move(receiver);
  thread_ = std::thread([this] { Loop(); });
}

void TapBackend::Send(const uint8_t* frame, size_t len) {
  ssize_t r = write(fd_, frame, len);  // EAGAIN: the host queue is full, the frame is lost
  (void)r;
}

void TapBackend::Loop() {
  std::vector<uint8_t> buf(65536);
  for (;;) {
    pollfd fds[2] = {{fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
    if (fds[1].revents) return;
    if (!(fds[0].revents & POLLIN)) continue;
    for (;;) {
      ssize_t n = read(fd_, buf.data(), buf.size());
      if (n <= 0) break;
      receiver_(buf.data(), static_cast<size_t>(n));
    }
  }
}

}  // namespace tandem::hw::net
