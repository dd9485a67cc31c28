// A latched request for a vCPU to leave its run loop (Vcpu::Kick), with an
// eventfd that ends the vCPU's HLT wait at once (Board::WaitForEvent polls it),
// as kvmtool's pause signal and QEMU's qemu_cpu_kick do for their vCPU threads.
// Header-only: both engine libraries use it.
#pragma once

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <thread>

namespace tandem::accel {

class KickLatch {
 public:
  KickLatch() : fd_(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) {}
  ~KickLatch() {
    if (fd_ >= 0) close(fd_);
  }
  KickLatch(const KickLatch&) = delete;
  KickLatch& operator=(const KickLatch&) = delete;

  // Any thread: latches the request and wakes a wait on wake_fd().
  void Set() {
    requested_.store(true, std::memory_order_release);
    if (fd_ >= 0) {
      uint64_t one = 1;
      (void)!write(fd_, &one, sizeof one);
    }
  }
  // Any thread: ends a HLT wait on wake_fd() without asking Run() to return
  // (an interrupt for the vCPU; it looks at its interrupt pins after waking).
  // Free on the vCPU's own thread, which is not waiting.
  void Wake() {
    if (owner_.load(std::memory_order_relaxed) == std::this_thread::get_id()) return;
    if (fd_ >= 0) {
      uint64_t one = 1;
      (void)!write(fd_, &one, sizeof one);
    }
  }
  // The vCPU thread, when Run() starts: Wake() from it costs nothing.
  void SetOwner() { owner_.store(std::this_thread::get_id(), std::memory_order_relaxed); }
  bool OnOwnerThread() const { return owner_.load(std::memory_order_relaxed) == std::this_thread::get_id(); }
  // The vCPU thread, at instruction boundaries: whether a request is latched.
  bool pending() const { return requested_.load(std::memory_order_acquire); }
  // The vCPU thread: clears the latch (and the eventfd); true if it was set.
  bool Take() {
    if (!requested_.exchange(false, std::memory_order_acq_rel)) return false;
    if (fd_ >= 0) {
      uint64_t count;
      (void)!read(fd_, &count, sizeof count);
    }
    return true;
  }
  // The vCPU thread, before it sleeps on wake_fd(): drops a stale wake-up
  // (a Set() racing an earlier Take()) and says whether it may sleep, i.e.
  // no request is latched. A Set() after this leaves wake_fd() readable.
  bool ReadyToWait() {
    if (fd_ >= 0) {
      uint64_t count;
      (void)!read(fd_, &count, sizeof count);
    }
    return !pending();
  }
  // Readable while a request is latched; -1 if the host refused an eventfd
  // (then a HLT wait ends only at its timeout).
  int wake_fd() const { return fd_; }

 private:
  std::atomic<bool> requested_{false};
  std::atomic<std::thread::id> owner_{};
  int fd_ = -1;
};

}  // namespace tandem::accel
