// Deterministic mode (`tandem run --deterministic`): every vCPU on the
// calling thread, in turn, in fixed instruction slices, with the board's
// clock advanced by instructions rather than by the host (one nanosecond per
// slice instruction, as QEMU's -icount shift=0), so the same guest gives
// the same transcript run after run whatever the host does. Engines that
// cannot count instructions (KVM) cannot run this way.
#pragma once

#include <cstdint>
#include <vector>

#include "accel/accelerator.h"
#include "hw/board.h"
#include "hw/clock.h"

namespace tandem::accel {

class DeterministicRunner {
 public:
  static constexpr uint64_t kSliceInstructions = 4096;

  // `clock` must be the board's clock. wall_limit_ns: host nanoseconds
  // (CLOCK_MONOTONIC) after which Run() ends the guest as a timeout; 0: none.
  DeterministicRunner(std::vector<Vcpu*> vcpus, hw::Board& board, hw::ManualClock& clock,
                      uint64_t wall_limit_ns = 0)
      : vcpus_(std::move(vcpus)), board_(board), clock_(clock), wall_limit_ns_(wall_limit_ns) {}

  struct Exit {
    int vcpu = 0;
    RunOutcome outcome;
    bool wall_timeout = false;  // wall_limit_ns passed
  };
  // Runs the vCPUs round-robin until one exits (board stop, triple fault,
  // halt for good, error), every vCPU waits with nothing due (a kHalted exit
  // of vCPU 0), or the wall-clock limit passes.
  Exit Run();

 private:
  std::vector<Vcpu*> vcpus_;
  hw::Board& board_;
  hw::ManualClock& clock_;
  uint64_t wall_limit_ns_;
};

}  // namespace tandem::accel
