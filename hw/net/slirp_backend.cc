// User-mode networking on libslirp (slirp/libslirp.h; QEMU's net/slirp.c
// is the reference for the addresses and the poll loop).
#include "hw/net/slirp_backend.h"

#include <arpa/inet.h>
#include <poll.h>
#include <slirp/libslirp.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace tandem::hw::net {

namespace {
in_addr Ip(const char* text) {
  in_addr a{};
  inet_pton(AF_INET, text, &a);
  return a;
}

int64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

short ToPoll(int events) {
  short e = 0;
  if (events & SLIRP_POLL_IN) e |= POLLIN;
  if (events & SLIRP_POLL_OUT) e |= POLLOUT;
  if (events & SLIRP_POLL_PRI) e |= POLLPRI;
  if (events & SLIRP_POLL_ERR) e |= POLLERR;
  if (events & SLIRP_POLL_HUP) e |= POLLHUP;
  return e;
}

int FromPoll(short revents) {
  int e = 0;
  if (revents & POLLIN) e |= SLIRP_POLL_IN;
  if (revents & POLLOUT) e |= SLIRP_POLL_OUT;
  if (revents & POLLPRI) e |= SLIRP_POLL_PRI;
  if (revents & POLLERR) e |= SLIRP_POLL_ERR;
  if (revents & POLLHUP) e |= SLIRP_POLL_HUP;
  return e;
}
}  // namespace

// A slirp timer: either a callback (timer_new) or an id for
// slirp_handle_timer (timer_new_opaque). expire_ms < 0: not armed.
struct SlirpBackend::Timer {
  SlirpTimerCb cb = nullptr;
  SlirpTimerId id = SLIRP_TIMER_RA;
  void* cb_opaque = nullptr;
  int64_t expire_ms = -1;
};

struct SlirpCallbacks {
  static SlirpBackend& Self(void* opaque) { return *static_cast<SlirpBackend*>(opaque); }
  static ssize_t SendPacket(const void* buf, size_t len, void* opaque) {
    SlirpBackend& self = Self(opaque);
    if (self.receiver_) self.receiver_(static_cast<const uint8_t*>(buf), len);
    return static_cast<ssize_t>(len);
  }
  // What the guest sent that slirp could not make sense of: slirp's own
  // diagnostics, not a tandem failure; dropped as QEMU does without -d.
  static void GuestError(const char*, void*) {}
  static int64_t ClockNs(void*) { return MonotonicNs(); }
  static void* TimerNew(SlirpTimerCb cb, void* cb_opaque, void* opaque) {
    auto t = std::make_unique<SlirpBackend::Timer>();
    t->cb = cb;
    t->cb_opaque = cb_opaque;
    Self(opaque).timers_.push_back(std::move(t));
    return Self(opaque).timers_.back().get();
  }
  static void* TimerNewOpaque(SlirpTimerId id, void* cb_opaque, void* opaque) {
    auto t = std::make_unique<SlirpBackend::Timer>();
    t->id = id;
    t->cb_opaque = cb_opaque;
    Self(opaque).timers_.push_back(std::move(t));
    return Self(opaque).timers_.back().get();
  }
  static void TimerFree(void* timer, void* opaque) {
    auto& timers = Self(opaque).timers_;
    std::erase_if(timers, [timer](const auto& t) { return t.get() == timer; });
  }
  static void TimerMod(void* timer, int64_t expire_ms, void*) {
    static_cast<SlirpBackend::Timer*>(timer)->expire_ms = expire_ms;
  }
  static void RegisterPollFd(int, void*) {}
  static void UnregisterPollFd(int, void*) {}
  static void Notify(void* opaque) { Self(opaque).Kick(); }
  static int AddPoll(int fd, int events, void* opaque) {
    auto& fds = *Self(opaque).pollfds_;
    fds.push_back(pollfd{fd, ToPoll(events), 0});
    return static_cast<int>(fds.size() - 1);
  }
  static int GetRevents(int idx, void* opaque) { return FromPoll((*Self(opaque).pollfds_)[idx].revents); }
};

namespace {
const SlirpCb kCallbacks = {
    .send_packet = SlirpCallbacks::SendPacket,
    .guest_error = SlirpCallbacks::GuestError,
    .clock_get_ns = SlirpCallbacks::ClockNs,
    .timer_new = SlirpCallbacks::TimerNew,
    .timer_free = SlirpCallbacks::TimerFree,
    .timer_mod = SlirpCallbacks::TimerMod,
    .register_poll_fd = SlirpCallbacks::RegisterPollFd,
    .unregister_poll_fd = SlirpCallbacks::UnregisterPollFd,
    .notify = SlirpCallbacks::Notify,
    .init_completed = nullptr,
    .timer_new_opaque = SlirpCallbacks::TimerNewOpaque,
};
}  // namespace

SlirpBackend::SlirpBackend() : wake_fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}

Result<std::unique_ptr<SlirpBackend>> SlirpBackend::Create(const std::vector<HostForward>& forwards) {
  std::unique_ptr<SlirpBackend> self(new SlirpBackend());
  if (self->wake_fd_ < 0) return Status::Error("user networking: eventfd failed");
  SlirpConfig cfg{};
  cfg.version = 4;
  cfg.in_enabled = true;
  cfg.vnetwork = Ip("10.0.2.0");
  cfg.vnetmask = Ip("255.255.255.0");
  cfg.vhost = Ip("10.0.2.2");
  cfg.vdhcp_start = Ip("10.0.2.15");
  cfg.vnameserver = Ip("10.0.2.3");
  cfg.vhostname = "tandem";
  self->slirp_ = slirp_new(&cfg, &kCallbacks, self.get());
  if (!self->slirp_) return Status::Error("user networking: slirp_new failed");
  for (const HostForward& f : forwards) {
    in_addr guest = f.guest_addr.s_addr ? f.guest_addr : cfg.vdhcp_start;
    if (slirp_add_hostfwd(self->slirp_, f.udp, f.host_addr, f.host_port, guest, f.guest_port) < 0) {
      char host[INET_ADDRSTRLEN] = {};
      inet_ntop(AF_INET, &f.host_addr, host, sizeof host);
      return Status::Error(std::string("hostfwd: cannot listen on ") + (f.udp ? "udp " : "tcp ") + host + ":" +
                           std::to_string(f.host_port) + " (in use?)");
    }
  }
  return self;
}

SlirpBackend::~SlirpBackend() {
  stop_.store(true, std::memory_order_release);
  Kick();
  if (thread_.joinable()) thread_.join();
  if (slirp_) slirp_cleanup(slirp_);
  if (wake_fd_ >= 0) close(wake_fd_);
}

void SlirpBackend::Start(Receiver receiver) {
  receiver_ = std::move(receiver);
  thread_ = std::thread([this] { Loop(); });
}

void SlirpBackend::Send(const uint8_t* frame, size_t len) {
  {
    std::lock_guard<std::mutex> lock(inbox_mutex_);
    if (inbox_.size() >= 1024) return;  // the slirp thread is behind: drop, as a full NIC queue would
    inbox_.emplace_back(frame, frame + len);
  }
  Kick();
}

void SlirpBackend::Kick() {
  uint64_t one = 1;
  ssize_t r = write(wake_fd_, &one, sizeof one);
  (void)r;  // a full counter means a wake-up is already pending
}

uint32_t SlirpBackend::RunTimers(uint32_t cap) {
  int64_t now_ms = MonotonicNs() / 1000000;
  // A timer callback may free or re-arm timers: collect the due ones first.
  std::vector<Timer> due;
  for (auto& t : timers_) {
    if (t->expire_ms >= 0 && t->expire_ms <= now_ms) {
      t->expire_ms = -1;
      due.push_back(*t);
    }
  }
  for (const Timer& t : due) {
    if (t.cb) {
      t.cb(t.cb_opaque);
    } else {
      slirp_handle_timer(slirp_, t.id, t.cb_opaque);
    }
  }
  uint32_t wait = cap;
  for (auto& t : timers_) {
    if (t->expire_ms >= 0) wait = std::min<uint32_t>(wait, static_cast<uint32_t>(std::max<int64_t>(0, t->expire_ms - now_ms)));
  }
  return wait;
}

void SlirpBackend::Loop() {
  std::vector<pollfd> fds;
  pollfds_ = &fds;
  while (!stop_.load(std::memory_order_acquire)) {
    std::deque<std::vector<uint8_t>> frames;
    {
      std::lock_guard<std::mutex> lock(inbox_mutex_);
      frames.swap(inbox_);
    }
    for (const auto& f : frames) slirp_input(slirp_, f.data(), static_cast<int>(f.size()));
    uint32_t timeout = RunTimers(1000);
    fds.clear();
    fds.push_back(pollfd{wake_fd_, POLLIN, 0});
    slirp_pollfds_fill(slirp_, &timeout, SlirpCallbacks::AddPoll, this);
    int n = poll(fds.data(), fds.size(), static_cast<int>(timeout));
    if (fds[0].revents & POLLIN) {
      uint64_t v;
      ssize_t r = read(wake_fd_, &v, sizeof v);
      (void)r;
    }
    slirp_pollfds_poll(slirp_, n < 0, SlirpCallbacks::GetRevents, this);
  }
  pollfds_ = nullptr;
}

}  // namespace tandem::hw::net
