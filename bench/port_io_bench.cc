// The cost of one port-I/O round trip: through the board's bus alone,
// through a CPU socket (the bus under the device lock), and from a guest
// IN/OUT instruction on each engine.
#include <benchmark/benchmark.h>

#include "bench/guest_loop.h"
#include "hw/board.h"

namespace tandem::bench {
namespace {

constexpr uint16_t kScratchPort = 0x531;

class ScratchDevice final : public hw::IoDevice {
 public:
  uint64_t Read(uint64_t, unsigned) override { return value_; }
  void Write(uint64_t, unsigned, uint64_t value) override { value_ = value; }

 private:
  uint64_t value_ = 0;
};

void BM_BusRoundTrip(benchmark::State& state) {
  auto board = hw::Board::Create(hw::BoardConfig{});
  ScratchDevice scratch;
  (void)(*board)->pio().Register(kScratchPort, 1, &scratch, "scratch");
  uint64_t v = 0;
  for (auto _ : state) {
    (*board)->pio().Write(kScratchPort, 1, v);
    v = (*board)->pio().Read(kScratchPort, 1) + 1;
  }
  benchmark::DoNotOptimize(v);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_BusRoundTrip);

// The same through CPU 0's socket, which takes the board's device lock for
// each access (what several vCPUs cost a single-CPU guest's port I/O).
void BM_SocketRoundTrip(benchmark::State& state) {
  auto board = hw::Board::Create(hw::BoardConfig{});
  ScratchDevice scratch;
  (void)(*board)->pio().Register(kScratchPort, 1, &scratch, "scratch");
  hw::CpuSocket& cpu = (*board)->cpu(0);
  uint64_t v = 0;
  for (auto _ : state) {
    cpu.PioWrite(kScratchPort, 1, v);
    v = cpu.PioRead(kScratchPort, 1) + 1;
  }
  benchmark::DoNotOptimize(v);
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_SocketRoundTrip);

// loop: mov dx,kScratchPort; out dx,al; in al,dx; dec edi; jnz loop; then stop.
void GuestPortLoop(benchmark::State& state, bool use_kvm) {
  ScratchDevice scratch;
  std::vector<uint8_t> code = {0x66, 0xBA, kScratchPort & 0xFF, kScratchPort >> 8, 0xEE, 0xEC, 0x4F,
                               0x75, 0xF7, 0x66, 0xBA, kStopPort & 0xFF, kStopPort >> 8, 0xEE, 0xF4};
  auto attach = [&](hw::Board& board) { (void)board.pio().Register(kScratchPort, 1, &scratch, "scratch"); };
  // Two port accesses per iteration.
  if (RunGuestCode(state, use_kvm, code, attach)) state.SetItemsProcessed(state.iterations() * state.range(0) * 2);
}

void BM_InterpGuestPortIo(benchmark::State& state) { GuestPortLoop(state, false); }
void BM_KvmGuestPortIo(benchmark::State& state) { GuestPortLoop(state, true); }
BENCHMARK(BM_InterpGuestPortIo)->Arg(100000)->Unit(benchmark::kMillisecond);
BENCHMARK(BM_KvmGuestPortIo)->Arg(20000)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace tandem::bench
