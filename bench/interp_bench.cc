// Guest instructions per second on a tight loop (ALU, load, store, taken
// branch), for each engine available here, in 32-bit and in 64-bit code, and
// on a 64-bit loop of locked read-modify-writes (host atomics, issue #11).
#include <benchmark/benchmark.h>

#include "bench/guest_loop.h"
#include "hw/loader/linux_boot.h"

namespace tandem::bench {
namespace {

void RunLoop(benchmark::State& state, bool use_kvm, bool with_jit = false) {
  if (RunGuestCode(state, use_kvm, GuestLoopCode(), [](hw::Board&) {}, with_jit)) {
    state.SetItemsProcessed(state.iterations() * state.range(0) * kInstructionsPerIteration);
  }
}

void BM_InterpGuestLoop(benchmark::State& state) { RunLoop(state, false); }
void BM_KvmGuestLoop(benchmark::State& state) { RunLoop(state, true); }
BENCHMARK(BM_InterpGuestLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KvmGuestLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);
void BM_Jit32GuestLoop(benchmark::State& state) { RunLoop(state, false, true); }
BENCHMARK(BM_Jit32GuestLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);

// The same loop in 64-bit code (DEC EDI as FF CF: 4F is a REX prefix there).
const std::vector<uint8_t> kLoop64 = {0x01, 0xD8, 0x89, 0x06, 0x8B, 0x4E, 0x04, 0x31, 0xCA, 0xFF, 0xCF, 0x75, 0xF3,
                                      0x66, 0xBA, kStopPort & 0xFF, kStopPort >> 8, 0xEE, 0xF4};
// loop: lock add [rsi],ebx; lock xadd [rsi+4],ecx; lock inc dword [rsi+8];
//       xchg [rsi+12],edx; dec edi; jnz loop (6 instructions, 4 locked)
const std::vector<uint8_t> kLockedLoop64 = {0xF0, 0x01, 0x1E, 0xF0, 0x0F, 0xC1, 0x4E, 0x04, 0xF0, 0xFF, 0x46, 0x08,
                                            0x87, 0x56, 0x0C, 0xFF, 0xCF, 0x75, 0xED,
                                            0x66, 0xBA, kStopPort & 0xFF, kStopPort >> 8, 0xEE, 0xF4};

void RunLoop64(benchmark::State& state, bool with_jit, const std::vector<uint8_t>& code = kLoop64) {
  auto board = hw::Board::Create(hw::BoardConfig{});
  StopDevice stop(**board);
  (void)(*board)->pio().Register(kStopPort, 1, &stop, "bench stop");
  auto machine = accel::interp::CreateMachine(**board, with_jit);
  if (!machine.ok()) {
    state.SkipWithError(machine.message().c_str());
    return;
  }
  auto engine = (*machine)->CreateVcpu(0);
  if (!engine.ok()) {
    state.SkipWithError(engine.message().c_str());
    return;
  }
  for (auto _ : state) {
    (*board)->Reset();
    (*board)->memory().WritePhys(kCodeAddress, code.data(), code.size());
    x86::CpuState s;
    if (!hw::EnterFlat64((*board)->memory(), kCodeAddress, &s)) {
      state.SkipWithError("no room for page tables");
      return;
    }
    const x86::CpuState loop = GuestLoopState(static_cast<uint32_t>(state.range(0)));
    s.gpr = loop.gpr;
    (*engine)->SetState(s);
    (*engine)->Run();
  }
  state.SetItemsProcessed(state.iterations() * state.range(0) * kInstructionsPerIteration);
}

void BM_Interp64GuestLoop(benchmark::State& state) { RunLoop64(state, false); }
void BM_Jit64GuestLoop(benchmark::State& state) { RunLoop64(state, true); }
BENCHMARK(BM_Interp64GuestLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Jit64GuestLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);
void BM_Interp64LockedLoop(benchmark::State& state) { RunLoop64(state, false, kLockedLoop64); }
void BM_Jit64LockedLoop(benchmark::State& state) { RunLoop64(state, true, kLockedLoop64); }
BENCHMARK(BM_Interp64LockedLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_Jit64LockedLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tandem::bench
