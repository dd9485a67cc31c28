#include "accel/vcpu_threads.h"

#include <unistd.h>

namespace tandem::accel {

namespace {
// The VcpuThreads slot the current thread runs, so Pause() from a vCPU thread
// does not wait for the caller itself.
thread_local const void* t_slot = nullptr;
}  // namespace

VcpuThreads::VcpuThreads(std::vector<Vcpu*> vcpus) : slots_(vcpus.size()) {
  for (size_t i = 0; i < vcpus.size(); ++i) slots_[i].vcpu = vcpus[i];
}

VcpuThreads::~VcpuThreads() { Stop(); }

void VcpuThreads::Start() {
  std::unique_lock<std::mutex> lock(mutex_);
  if (started_ || stopping_) return;
  started_ = true;
  for (size_t i = 0; i < slots_.size(); ++i) slots_[i].thread = std::thread(&VcpuThreads::ThreadMain, this, i);
  // Every thread has said who it is before Start() returns (thread_ids()).
  changed_.wait(lock, [&] {
    for (const Slot& slot : slots_) {
      if (slot.thread_id == 0) return false;
    }
    return true;
  });
}

void VcpuThreads::ThreadMain(size_t i) {
  Slot& slot = slots_[i];
  t_slot = &slot;
  std::unique_lock<std::mutex> lock(mutex_);
  slot.thread_id = gettid();
  changed_.notify_all();
  for (;;) {
    while (!stopping_ && (pause_count_ > 0 || slot.reported)) {
      slot.parked = true;
      changed_.notify_all();
      changed_.wait(lock);
    }
    if (stopping_) break;
    slot.parked = false;
    lock.unlock();
    RunOutcome outcome = slot.vcpu->Run();
    lock.lock();
    if (outcome.kind != RunOutcome::Kind::kKicked) {
      exits_.push_back(Exit{slot.vcpu->index(), std::move(outcome)});
      slot.reported = true;
    }
  }
  slot.parked = true;
  changed_.notify_all();
}

bool VcpuThreads::AllParkedExcept(const Slot* self) const {
  for (const Slot& slot : slots_) {
    if (&slot != self && !slot.parked) return false;
  }
  return true;
}

VcpuThreads::Slot* VcpuThreads::CallerSlot() {
  for (Slot& slot : slots_) {
    if (t_slot == &slot) return &slot;
  }
  return nullptr;
}

void VcpuThreads::Pause() {
  Slot* self = CallerSlot();
  std::unique_lock<std::mutex> lock(mutex_);
  ++pause_count_;
  for (Slot& slot : slots_) {
    if (&slot != self && !slot.parked) slot.vcpu->Kick();
  }
  changed_.wait(lock, [&] { return AllParkedExcept(self); });
}

void VcpuThreads::Resume() {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pause_count_ > 0 && --pause_count_ == 0) {
    for (Slot& slot : slots_) slot.reported = false;
    changed_.notify_all();
  }
}

void VcpuThreads::WhilePaused(const std::function<void()>& fn) {
  Pause();
  fn();
  Resume();
}

VcpuThreads::Exit VcpuThreads::WaitForExit() {
  Exit exit;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return !exits_.empty(); });
    exit = std::move(exits_.front());
    exits_.pop_front();
  }
  Pause();
  return exit;
}

std::vector<long> VcpuThreads::thread_ids() {
  std::unique_lock<std::mutex> lock(mutex_);
  // A monitor may ask before the run loop called Start() (a QMP client that
  // connected with wait=on): the answer waits for the threads.
  changed_.wait(lock, [&] {
    if (stopping_) return true;
    if (!started_) return false;
    for (const Slot& slot : slots_) {
      if (slot.thread_id == 0) return false;
    }
    return true;
  });
  std::vector<long> ids;
  for (const Slot& slot : slots_) ids.push_back(slot.thread_id);
  return ids;
}

void VcpuThreads::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    for (Slot& slot : slots_) {
      if (!slot.parked) slot.vcpu->Kick();
    }
    changed_.notify_all();
  }
  for (Slot& slot : slots_) {
    if (slot.thread.joinable()) slot.thread.join();
  }
}

}  // namespace tandem::accel
