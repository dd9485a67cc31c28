// The monitors of `tandem run` (--qmp): a MachineControl over the run
// loop's board and vCPU threads, and the servers that use it. The run loop
// creates one Monitors before starting the vCPUs and tells it about resets
// it performs; everything else happens on the monitors' own threads.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "accel/accelerator.h"
#include "accel/vcpu_threads.h"
#include "cli/run_options.h"
#include "hw/board.h"
#include "monitor/machine_control.h"
#include "monitor/gdb_server.h"
#include "monitor/qmp_server.h"

namespace tandem::cli {

// Stop/cont pause and resume the world through VcpuThreads (nesting with the
// run loop's own pauses); reset and quit of a running machine are board
// requests the run loop handles as it handles the guest's, while a stopped
// machine is reset at once (the run loop's ResetMachine, injected); reads
// pause the world for a moment.
// Lock order: mutex_ before VcpuThreads' lock (Stop() pauses with it held).
class RunControl final : public monitor::MachineControl {
 public:
  // `reset_machine` resets board and vCPUs with the world paused.
  RunControl(hw::Board& board, accel::VcpuThreads& threads, std::vector<accel::Vcpu*> vcpus, std::string engine,
             std::function<Status()> reset_machine);
  monitor::RunState State() override;
  bool Stop() override;
  Result<bool> Cont() override;
  // Running, the run loop resets at once; stopped, this does, and the
  // machine stays stopped in its reset state (as QEMU's system_reset).
  void Reset() override;
  void Powerdown() override;
  void Quit() override;
  std::vector<monitor::CpuInfo> Cpus() override;
  Result<x86::CpuState> GetState(int cpu) override;
  bool ReadPhysical(uint64_t address, void* out, size_t size) override;
  monitor::EngineInfo Engine() override;
  Status SetState(int cpu, const x86::CpuState& state) override;
  bool WritePhysical(uint64_t address, const void* data, size_t size) override;
  Status SetDebug(bool single_step, const std::vector<uint64_t>& breakpoints) override;
  Status SaveSnapshot(const std::string& path) override;
  // -S: the vCPUs stay stopped ("prelaunch") until the first cont. Before
  // VcpuThreads::Start().
  void HoldAtStart();
  // A vCPU stopped for the debugger: the machine stays stopped (the run
  // loop's own pause ends as usual).
  void HoldForDebugger();
  bool quit_requested() const { return quit_.load(); }
  // Whether a Reset() is waiting for the run loop (then clears it): that
  // reset already had its QMP event.
  bool TakeHostReset() { return host_reset_.exchange(false); }

 private:
  hw::Board& board_;
  accel::VcpuThreads& threads_;
  std::vector<accel::Vcpu*> vcpus_;
  std::string engine_;
  std::function<Status()> reset_machine_;
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::mutex mutex_;
  bool stopped_ = false;  // this control holds one VcpuThreads pause
  bool prelaunch_ = false;  // stopped since the start (-S), never continued
  std::atomic<bool> quit_{false};
  std::atomic<bool> host_reset_{false};
};

class Monitors {
 public:
  // Nothing when neither --qmp nor --gdb/-s/-S is given; a usage error for
  // a malformed one.
  // With wait=on, returns once a QMP client has connected.
  static Result<std::unique_ptr<Monitors>> Start(const RunOptions& opt, hw::Board& board,
                                                 accel::VcpuThreads& threads,
                                                 const std::vector<std::unique_ptr<accel::Vcpu>>& vcpus,
                                                 const std::string& engine, std::function<Status()> reset_machine);
  // Sends SHUTDOWN for an end the guest caused, then closes the servers.
  ~Monitors();
  // The run loop reset the machine for the guest (RESET event).
  void GuestReset();
  // The run loop got RunOutcome::kDebug from `vcpu`: the machine stays
  // stopped and the debugger hears of it.
  void DebugStopped(int vcpu);

 private:
  Monitors(hw::Board& board, accel::VcpuThreads& threads, std::vector<accel::Vcpu*> vcpus, const std::string& engine,
           std::function<Status()> reset_machine)
      : board_(board), control_(board, threads, std::move(vcpus), engine, std::move(reset_machine)) {}
  hw::Board& board_;
  RunControl control_;
  std::unique_ptr<monitor::GdbServer> gdb_;
  std::unique_ptr<monitor::QmpServer> qmp_;  // declared last: stops first
};

}  // namespace tandem::cli
