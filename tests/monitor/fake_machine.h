// A fake machine for the monitor tests: 1 MiB of patterned RAM, two vCPUs
// whose state is one CpuState (RCX says which vCPU was asked), and counters
// for what the monitors asked of it. Thread-safe where the servers' threads
// and the test's meet (run state, debug settings).
#pragma once

#include <atomic>
#include <cstring>
#include <mutex>
#include <vector>

#include "monitor/machine_control.h"

namespace tandem::monitor::testing {

class FakeMachine final : public MachineControl {
 public:
  FakeMachine() : ram(1 << 20) {
    for (size_t i = 0; i < ram.size(); ++i) ram[i] = static_cast<uint8_t>(i * 7 + (i >> 12));
    state.rip = 0x1234abcd;
    state.gpr[0] = 0xfeedface;
  }
  RunState State() override {
    std::lock_guard<std::mutex> lock(mutex);
    return run_state;
  }
  bool Stop() override {
    std::lock_guard<std::mutex> lock(mutex);
    if (run_state != RunState::kRunning) return false;
    run_state = RunState::kPaused;
    return true;
  }
  Result<bool> Cont() override {
    std::lock_guard<std::mutex> lock(mutex);
    if (run_state == RunState::kShutdown) return Status::Error("the machine is shutting down");
    bool was = run_state != RunState::kRunning;
    run_state = RunState::kRunning;
    return was;
  }
  void Reset() override { ++resets; }
  void Powerdown() override { ++powerdowns; }
  void Quit() override {
    std::lock_guard<std::mutex> lock(mutex);
    ++quits;
    run_state = RunState::kShutdown;
  }
  std::vector<CpuInfo> Cpus() override { return {{0, 4242}, {1, 4243}}; }
  Result<x86::CpuState> GetState(int cpu) override {
    x86::CpuState s = state;
    s.gpr[1] = static_cast<uint64_t>(cpu);
    return s;
  }
  bool ReadPhysical(uint64_t address, void* out, size_t size) override {
    if (address > ram.size() || size > ram.size() - address) return false;
    std::memcpy(out, ram.data() + address, size);
    return true;
  }
  EngineInfo Engine() override { return {"interp", 5'000'000, 2.0, false}; }
  Status SetState(int cpu, const x86::CpuState& s) override {
    state = s;
    return Status();
  }
  bool WritePhysical(uint64_t address, const void* data, size_t size) override {
    if (address > ram.size() || size > ram.size() - address) return false;
    std::memcpy(ram.data() + address, data, size);
    return true;
  }
  Status SetDebug(bool step, const std::vector<uint64_t>& bps) override {
    std::lock_guard<std::mutex> lock(mutex);
    single_step = step;
    breakpoints = bps;
    return Status();
  }

  std::mutex mutex;
  RunState run_state = RunState::kRunning;
  std::atomic<int> resets{0}, powerdowns{0}, quits{0};
  std::vector<uint8_t> ram;
  x86::CpuState state;
  bool single_step = false;
  std::vector<uint64_t> breakpoints;
};

}  // namespace tandem::monitor::testing
