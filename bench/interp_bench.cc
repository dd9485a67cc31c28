// Guest instructions per second on a tight loop (ALU, load, store, taken
// branch), for each engine available here.
#include <benchmark/benchmark.h>

#include "bench/guest_loop.h"

namespace tandem::bench {
namespace {

void RunLoop(benchmark::State& state, bool use_kvm) {
  if (RunGuestCode(state, use_kvm, GuestLoopCode(), [](hw::Board&) {})) {
    state.SetItemsProcessed(state.iterations() * state.range(0) * kInstructionsPerIteration);
  }
}

void BM_InterpGuestLoop(benchmark::State& state) { RunLoop(state, false); }
void BM_KvmGuestLoop(benchmark::State& state) { RunLoop(state, true); }
BENCHMARK(BM_InterpGuestLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KvmGuestLoop)->Arg(1000000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tandem::bench
