// What a monitor (QMP, later the gdbstub) asks of a running machine: the
// run state, stop/cont, reset, the power button, quit, and reads of CPU
// state and memory. The run loop implements it (cli/run_control.h); unit
// tests drive the monitors with a fake.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "hw/status.h"
#include "target-x86/cpu_state.h"

namespace tandem::monitor {

// QEMU's RunState values a client can see (qapi/run-state.json).
enum class RunState { kPrelaunch, kRunning, kPaused, kShutdown };
const char* RunStateName(RunState state);  // "prelaunch", "running", ...

struct CpuInfo {
  int index = 0;
  long thread_id = 0;  // the host thread running it (0 before it started)
};

struct EngineInfo {
  std::string name;           // "kvm", "jit", "interp"
  uint64_t instructions = 0;  // retired so far, summed over vCPUs (0 where not counted)
  double seconds = 0;         // since the machine started
  bool kvm_present = false;   // /dev/kvm usable on this host
};

// Threading: every method may be called from a monitor's own thread while
// the vCPUs run; implementations take care of pausing them where needed.
class MachineControl {
 public:
  virtual ~MachineControl() = default;
  virtual RunState State() = 0;
  // Pauses every vCPU; false if already paused (QEMU then sends no STOP event).
  virtual bool Stop() = 0;
  // Runs them again; false if they were running. An error when the machine
  // cannot run (it is shutting down).
  virtual Result<bool> Cont() = 0;
  // A reset as from the reset button; the machine stays paused if it was.
  virtual void Reset() = 0;
  // Presses the ACPI power button (the guest decides what to do).
  virtual void Powerdown() = 0;
  // Ends the emulator as soon as the run loop sees it (exit status 0).
  virtual void Quit() = 0;
  virtual std::vector<CpuInfo> Cpus() = 0;
  // `cpu`'s state, taken with the world stopped for a moment.
  virtual Result<x86::CpuState> GetState(int cpu) = 0;
  // Guest-physical memory; false where no RAM or ROM is.
  virtual bool ReadPhysical(uint64_t address, void* out, size_t size) = 0;
  virtual EngineInfo Engine() = 0;

  // Writes a snapshot of the whole machine (hw/snapshot.h) to `path`, with
  // the world paused for the time it takes; the run state is left as it was.
  virtual Status SaveSnapshot(const std::string& path) { return Status::Error("this machine cannot save snapshots"); }

  // For debuggers (the gdbstub); the defaults say the machine cannot.
  // Replaces `cpu`'s state; only while stopped.
  virtual Status SetState(int cpu, const x86::CpuState& state) { return Status::Error("cannot set CPU state"); }
  virtual bool WritePhysical(uint64_t address, const void* data, size_t size) { return false; }
  // Single-step and breakpoints (linear addresses) for every vCPU, from the
  // next cont on; a vCPU that stops for them holds the machine stopped and
  // is reported to the debugger (DebugStopSink). Only while stopped.
  virtual Status SetDebug(bool single_step, const std::vector<uint64_t>& breakpoints) {
    return Status::Error("this machine cannot single-step or stop at breakpoints");
  }
};

// Where the machine reports that a vCPU stopped for the debugger.
class DebugStopSink {
 public:
  virtual ~DebugStopSink() = default;
  // Any thread; the machine is stopped (MachineControl::State() is kPaused).
  virtual void DebugStopped(int cpu) = 0;
};

}  // namespace tandem::monitor
