// The accelerator interface and the accelerator list (after QEMU's
// accel_list): each entry has a name, an availability probe that says why it
// is unavailable, and a factory for its engine's Machine, which creates the
// vCPUs. Engines are folders behind this interface: accel/kvm, accel/interp.
// accel/vcpu_threads.h runs the vCPUs, one host thread each, and pauses them.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hw/board.h"
#include "hw/status.h"
#include "target-x86/cpu_state.h"

namespace tandem::accel {

// Why Vcpu::Run() returned.
struct RunOutcome {
  enum class Kind {
    kBoardStop,   // the board asked to stop: exit, reset request or timeout
    kTripleFault, // shutdown: the board should reset (or end with --no-reboot)
    kHalted,      // HLT with interrupts disabled and no NMI pending: nothing the
                  // board has can wake the vCPU, e.g. Linux's `poweroff -f` without ACPI
    kError,       // the engine cannot go on (KVM internal error, failed entry)
    kKicked,      // Vcpu::Kick() asked Run() to return (the vCPU is at an
                  // instruction boundary, its state complete)
    kDebug,       // stopped for a debugger (Vcpu::SetDebug): at a breakpoint,
                  // before the instruction there, or after one single step
    kSliceDone,   // RunSlice() ran its budget, or found the vCPU idle
  };
  Kind kind = Kind::kBoardStop;
  std::string message;  // for kTripleFault/kError: what happened, with a register dump
  // kSliceDone: the vCPU waits for an interrupt or a startup IPI, so only
  // time (or another vCPU) can move it on.
  bool idle = false;
};

// What a debugger (the gdbstub) asks of a vCPU's run loop.
struct DebugConfig {
  bool single_step = false;          // Run() returns kDebug after one instruction
  std::vector<uint64_t> breakpoints; // linear addresses (CS base + RIP): Run()
                                     // returns kDebug before executing there
};

// One vCPU of a Machine (Firecracker's vstate/vcpu.rs, kvmtool's kvm-cpu.c).
//
// Threading: Run(), SetState() and GetState() are called by one thread at a
// time, and never while Run() is under way on another thread (VcpuThreads
// pauses the vCPU first). Kick() may be called from any thread at any time.
class Vcpu {
 public:
  virtual ~Vcpu() = default;
  // 0 is the bootstrap processor.
  virtual int index() const = 0;
  // Replaces the vCPU state (at reset, or after a loader prepared it).
  virtual void SetState(const x86::CpuState& state) = 0;
  virtual x86::CpuState GetState() = 0;
  // Runs until the board asks to stop, Kick() is called, or the vCPU cannot go on.
  virtual RunOutcome Run() = 0;
  // Deterministic mode (accel/deterministic_runner.h): runs about `budget`
  // instructions on the calling thread without polling the board or waiting
  // for time to pass, and returns kSliceDone (idle when halted or waiting
  // for a SIPI) or an exit as Run() would. Only engines that count
  // instructions offer it.
  virtual bool can_run_slices() const { return false; }
  virtual RunOutcome RunSlice(uint64_t budget) {
    (void)budget;
    return RunOutcome{RunOutcome::Kind::kError, "this engine cannot run instruction slices"};
  }
  // Makes Run() return kKicked soon: at the next instruction boundary, out of
  // KVM_RUN, out of a HLT wait. A kick while Run() is not under way makes the
  // next Run() return at once (it is latched, and consumed by that return).
  virtual void Kick() = 0;
  // Guest instructions retired so far, where the engine can count them (0 otherwise).
  virtual uint64_t instructions_retired() const { return 0; }
  // Engine-specific figures for --stats ("1234 blocks translated, ..."), or "".
  virtual std::string stats() const { return ""; }
  // Single-step and breakpoints for a debugger, called like SetState (never
  // while Run() is under way). An empty config ends debugging. Engines
  // without support say so (KVM's KVM_SET_GUEST_DEBUG is not wired yet).
  virtual Status SetDebug(const DebugConfig& config) {
    if (!config.single_step && config.breakpoints.empty()) return Status();
    return Status::Error("this engine cannot single-step or stop at breakpoints");
  }
};

// The machine-level part of an engine, created once per board (Firecracker's
// vstate/vm.rs, kvmtool's kvm.c): the board's memory as the engine sees it
// (KVM's VM fd and memory slots; the interpreter's shared code-page state).
// It must outlive the vCPUs it creates; creating vCPUs is done before any runs.
class Machine {
 public:
  virtual ~Machine() = default;
  virtual std::string_view name() const = 0;
  // Creates vCPU `index` (0 ... board CPU count - 1) in its reset state.
  virtual Result<std::unique_ptr<Vcpu>> CreateVcpu(int index) = 0;
};

struct Availability {
  bool available = false;
  std::string reason;  // why not, when unavailable; a caveat, when available
  // Works, but worse than an engine further down the list may be (kvm_pvm):
  // `auto` takes it only when nothing else is available; naming it still
  // selects it.
  bool degraded = false;
};

struct Accelerator {
  std::string name;
  std::string description;
  std::function<Availability()> probe;
  std::function<Result<std::unique_ptr<Machine>>(hw::Board&)> create;  // the machine part
};

// Every accelerator tandem knows, best first.
std::vector<Accelerator> AcceleratorList();

// The result of resolving an --accel value against the list.
struct Choice {
  const Accelerator* accelerator = nullptr;
  std::vector<std::string> fallbacks;  // "kvm: /dev/kvm: No such file or directory"
  std::string caveat;                  // the chosen one's probe note, if any
  std::vector<std::string> passed_over;  // degraded ones `auto` did not take, with why
};

// Resolves "auto", "kvm", "kvm:interp" and the like: tries the named
// accelerators in order and picks the first available one. Fails with the
// probes' reasons when none is available, or for an unknown name.
Result<Choice> ChooseAccelerator(const std::vector<Accelerator>& list, const std::string& spec);

// The accelerator called `name`, or an error that lists the known names.
Result<const Accelerator*> FindAccelerator(const std::vector<Accelerator>& list, const std::string& name);

}  // namespace tandem::accel
