// A tight guest loop shared by the engine benchmarks: 32-bit flat code that
// mixes ALU, a load, a store and a taken branch, then writes to a stop port.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include <benchmark/benchmark.h>

#include "accel/accelerator.h"
#include "accel/interp/interp_engine.h"
#include "accel/kvm/kvm_engine.h"
#include "hw/board.h"
#include "hw/io_device.h"

namespace tandem::bench {

inline constexpr uint16_t kStopPort = 0x510;   // unused by the PC board
inline constexpr uint64_t kCodeAddress = 0x10000;
inline constexpr uint64_t kInstructionsPerIteration = 6;

// Ends the run when the guest writes to it.
class StopDevice final : public hw::IoDevice {
 public:
  explicit StopDevice(hw::Board& board) : board_(board) {}
  uint64_t Read(uint64_t, unsigned) override { return 0; }
  void Write(uint64_t, unsigned, uint64_t value) override { board_.RequestExit(static_cast<int>(value)); }

 private:
  hw::Board& board_;
};

// loop: add eax,ebx; mov [esi],eax; mov ecx,[esi+4]; xor edx,ecx; dec edi; jnz loop
//       mov dx,kStopPort; out dx,al; hlt
inline std::vector<uint8_t> GuestLoopCode() {
  return {0x01, 0xD8, 0x89, 0x06, 0x8B, 0x4E, 0x04, 0x31, 0xCA, 0x4F, 0x75, 0xF4,
          0x66, 0xBA, kStopPort & 0xFF, kStopPort >> 8, 0xEE, 0xF4};
}

inline x86::CpuState GuestLoopState(uint32_t iterations) {
  x86::CpuState s = x86::Flat32State(kCodeAddress);
  s.gpr[x86::kRdi] = iterations;
  s.gpr[x86::kRsi] = 0x20000;
  s.gpr[x86::kRbx] = 3;
  s.gpr[x86::kRsp] = 0x8000;
  return s;
}

// Runs `code` at kCodeAddress in GuestLoopState(state.range(0)) on one engine
// for every benchmark iteration; `attach` registers extra devices on the board.
// Returns false (and marks the benchmark skipped) when the engine is missing.
template <typename Attach>
bool RunGuestCode(benchmark::State& state, bool use_kvm, const std::vector<uint8_t>& code, Attach attach) {
  if (use_kvm && !accel::kvm::Probe().available) {
    state.SkipWithError("kvm unavailable");
    return false;
  }
  auto board = hw::Board::Create(hw::BoardConfig{});
  StopDevice stop(**board);
  (void)(*board)->pio().Register(kStopPort, 1, &stop, "bench stop");
  attach(**board);
  (*board)->memory().WritePhys(kCodeAddress, code.data(), code.size());
  auto machine = use_kvm ? accel::kvm::CreateMachine(**board) : accel::interp::CreateMachine(**board);
  if (!machine.ok()) {
    state.SkipWithError(machine.message().c_str());
    return false;
  }
  auto engine = (*machine)->CreateVcpu(0);
  if (!engine.ok()) {
    state.SkipWithError(engine.message().c_str());
    return false;
  }
  for (auto _ : state) {
    (*board)->Reset();
    (*engine)->SetState(GuestLoopState(static_cast<uint32_t>(state.range(0))));
    (*engine)->Run();
  }
  return true;
}

}  // namespace tandem::bench
