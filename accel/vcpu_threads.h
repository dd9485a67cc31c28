// Runs a machine's vCPUs, one host thread each (QEMU's per-vCPU threads,
// kvmtool's kvm_cpu__start), and stops the world: kvmtool's kvm__pause and
// kvm__continue, every vCPU out of its run loop at an instruction boundary
// (a KVM vCPU out of KVM_RUN), the machine still, then running again.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "accel/accelerator.h"

namespace tandem::accel {

// Threading and lock order: mutex_ guards every field below. It is taken
// before a vCPU's own locks (Pause() calls Vcpu::Kick() with it held) and
// never the other way round; no vCPU thread holds it while running guest
// code or device code. The Vcpu objects must outlive this object.
class VcpuThreads {
 public:
  // A vCPU left its run loop for a reason its owner must handle.
  struct Exit {
    int vcpu = 0;
    RunOutcome outcome;
  };

  explicit VcpuThreads(std::vector<Vcpu*> vcpus);
  ~VcpuThreads();  // Stop()
  VcpuThreads(const VcpuThreads&) = delete;
  VcpuThreads& operator=(const VcpuThreads&) = delete;

  // Starts one host thread per vCPU, each calling Vcpu::Run() until stopped.
  void Start();

  // Blocks until some vCPU's Run() returns for anything but a kick (board
  // stop request, triple fault, halt, engine error) and returns that exit
  // with the world paused, as Pause() leaves it: the caller goes on with
  // Resume() or Stop(). Exits of other vCPUs reported meanwhile stay queued
  // for the next call (the board's stop state says whether one still
  // matters, e.g. after a reset it handled).
  Exit WaitForExit();

  // Stops the world: returns once no vCPU is inside Run(); each was kicked
  // out at an instruction boundary and waits. Any thread may pause, also a
  // vCPU thread of this set (its own vCPU then counts as paused: it is the
  // caller). Pauses nest: the world runs again after as many Resume()s.
  void Pause();
  void Resume();
  // Pause(), fn() with the world still, Resume().
  void WhilePaused(const std::function<void()>& fn);

  // Ends every vCPU thread (kicking the running ones) and joins them. Idempotent.
  void Stop();

  // The host thread id (gettid) of each vCPU's thread, in vCPU order (QMP's
  // query-cpus-fast "thread-id"). Called before Start(), it waits for
  // Start() (or Stop(), then the ids are 0).
  std::vector<long> thread_ids();

 private:
  struct Slot {
    Vcpu* vcpu = nullptr;
    bool parked = true;     // not inside Run()
    bool reported = false;  // its exit waits in exits_: stays parked until Resume()
    long thread_id = 0;
    std::thread thread;
  };
  void ThreadMain(size_t i);
  bool AllParkedExcept(const Slot* self) const;
  Slot* CallerSlot();

  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<Slot> slots_;
  std::deque<Exit> exits_;
  int pause_count_ = 0;
  bool started_ = false;
  bool stopping_ = false;
};

}  // namespace tandem::accel
