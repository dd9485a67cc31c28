// User networking on libslirp, driven with raw Ethernet frames as the NIC
// would send them: slirp answers an ARP request for the host (10.0.2.2), a
// connection to a hostfwd port becomes a TCP SYN to the guest, and a busy
// host port is a user error.
#include "hw/net/slirp_backend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <vector>

namespace tandem::hw::net {
namespace {

constexpr uint8_t kGuestMac[6] = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56};

// Frames slirp sent to the guest; WaitFor blocks until one matches (the
// ctest timeout bounds a test that never sees it).
class Inbox {
 public:
  void Put(const uint8_t* f, size_t n) {
    std::lock_guard<std::mutex> lock(mutex_);
    frames_.emplace_back(f, f + n);
    cv_.notify_all();
  }
  std::vector<uint8_t> WaitFor(const std::function<bool(const std::vector<uint8_t>&)>& match) {
    std::unique_lock<std::mutex> lock(mutex_);
    for (size_t seen = 0;; cv_.wait(lock)) {
      for (; seen < frames_.size(); ++seen) {
        if (match(frames_[seen])) return frames_[seen];
      }
    }
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::vector<uint8_t>> frames_;
};

uint16_t Be16(const std::vector<uint8_t>& f, size_t at) { return static_cast<uint16_t>(f[at] << 8 | f[at + 1]); }

// An ARP request from the guest (10.0.2.15) for `target`.
std::vector<uint8_t> ArpRequest(const char* target) {
  std::vector<uint8_t> f(42, 0);
  std::fill(f.begin(), f.begin() + 6, 0xFF);
  std::copy(kGuestMac, kGuestMac + 6, f.begin() + 6);
  f[12] = 0x08, f[13] = 0x06;                  // ARP
  f[14] = 0, f[15] = 1, f[16] = 8, f[17] = 0;  // Ethernet, IPv4
  f[18] = 6, f[19] = 4, f[20] = 0, f[21] = 1;  // request
  std::copy(kGuestMac, kGuestMac + 6, f.begin() + 22);
  inet_pton(AF_INET, "10.0.2.15", &f[28]);
  inet_pton(AF_INET, target, &f[38]);
  return f;
}

uint16_t FreePort() {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  close(s);
  return ntohs(a.sin_port);
}

HostForward Forward(uint16_t host_port, uint16_t guest_port) {
  HostForward f;
  inet_pton(AF_INET, "127.0.0.1", &f.host_addr);
  f.host_port = host_port;
  f.guest_port = guest_port;
  return f;
}

TEST(SlirpBackendTest, AnswersArpForTheHost) {
  auto backend = SlirpBackend::Create({});
  ASSERT_TRUE(backend.ok()) << backend.message();
  Inbox inbox;
  (*backend)->Start([&](const uint8_t* f, size_t n) { inbox.Put(f, n); });
  auto arp = ArpRequest("10.0.2.2");
  (*backend)->Send(arp.data(), arp.size());
  auto reply = inbox.WaitFor([](const auto& f) { return f.size() >= 42 && Be16(f, 12) == 0x0806 && Be16(f, 20) == 2; });
  EXPECT_TRUE(std::equal(kGuestMac, kGuestMac + 6, reply.begin()));  // to the guest
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &reply[28], ip, sizeof ip);
  EXPECT_STREQ(ip, "10.0.2.2");  // sender: the host alias
}

TEST(SlirpBackendTest, HostForwardBecomesSynToTheGuest) {
  uint16_t port = FreePort();
  auto backend = SlirpBackend::Create({Forward(port, 8080)});
  ASSERT_TRUE(backend.ok()) << backend.message();
  Inbox inbox;
  (*backend)->Start([&](const uint8_t* f, size_t n) { inbox.Put(f, n); });
  // The guest announces itself (slirp learns its MAC from the request).
  auto arp = ArpRequest("10.0.2.2");
  (*backend)->Send(arp.data(), arp.size());
  int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a);  // EINPROGRESS: slirp accepts on its thread
  auto syn = inbox.WaitFor([](const auto& f) {
    return f.size() >= 54 && Be16(f, 12) == 0x0800 && f[23] == 6 && (f[47] & 0x02);  // IPv4, TCP, SYN
  });
  char ip[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, &syn[30], ip, sizeof ip);
  EXPECT_STREQ(ip, "10.0.2.15");
  EXPECT_EQ(Be16(syn, 36), 8080);  // destination port
  close(s);
}

TEST(SlirpBackendTest, BusyHostPortIsAnError) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(listen(s, 1), 0);
  socklen_t len = sizeof a;
  getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
  auto backend = SlirpBackend::Create({Forward(ntohs(a.sin_port), 22)});
  ASSERT_FALSE(backend.ok());
  EXPECT_NE(backend.message().find(std::to_string(ntohs(a.sin_port))), std::string::npos) << backend.message();
  close(s);
}

}  // namespace
}  // namespace tandem::hw::net
