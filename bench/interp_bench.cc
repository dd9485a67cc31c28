// Guest instructions per second on a tight loop (ALU, load, store, taken
// branch), for each engine available here.
#include <benchmark/benchmark.h>

#include "accel/interp/interp_engine.h"
#include "accel/kvm/kvm_engine.h"
#include "bench/guest_loop.h"

namespace tandem::bench {
namespace {

void RunLoop(benchmark::State& state, bool use_kvm) {
  if (use_kvm && !accel::kvm::Probe().available) {
    state.SkipWithError("kvm unavailable");
    return;
  }
  auto board = hw::Board::Create(hw::BoardConfig{});
  StopDevice stop(**board);
  (void)(*board)->pio().Register(kStopPort, 1, &stop, "bench stop");
  (*board)->memory().WritePhys(kCodeAddress, GuestLoopCode().data(), GuestLoopCode().size());
  auto engine = use_kvm ? accel::kvm::CreateEngine(**board) : accel::interp::CreateEngine(**board);
  if (!engine.ok()) {
    state.SkipWithError(engine.message().c_str());
    return;
  }
  const uint32_t iterations = static_cast<uint32_t>(state.range(0));
  for (auto _ : state) {
    (*board)->Reset();
    (*engine)->SetState(GuestLoopState(iterations));
    (*engine)->Run();
  }
  state.SetItemsProcessed(state.iterations() * iterations * kInstructionsPerIteration);
}

void BM_InterpGuestLoop(benchmark::State& state) { RunLoop(state, false); }
void BM_KvmGuestLoop(benchmark::State& state) { RunLoop(state, true); }
BENCHMARK(BM_InterpGuestLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KvmGuestLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tandem::bench
