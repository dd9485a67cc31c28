#include "accel/deterministic_runner.h"

#include <algorithm>

namespace tandem::accel {

DeterministicRunner::Exit DeterministicRunner::Run() {
  hw::HostClock wall;
  for (;;) {
    bool all_idle = true;
    for (Vcpu* vcpu : vcpus_) {
      RunOutcome outcome = vcpu->RunSlice(kSliceInstructions);
      if (outcome.kind != RunOutcome::Kind::kSliceDone) return Exit{vcpu->index(), std::move(outcome)};
      all_idle = all_idle && outcome.idle;
    }
    if (all_idle) {
      // Nothing runs until the next timer: jump there.
      const uint64_t next = board_.NextDeadlineNs();
      if (next == hw::TimedDevice::kNoDeadline) {
        return Exit{0, RunOutcome{RunOutcome::Kind::kHalted, "every vCPU waits and no timer is due"}};
      }
      clock_.Set(std::max(next, clock_.NowNs() + 1));
    } else {
      clock_.Advance(kSliceInstructions);
    }
    board_.Poll();
    if (board_.stop_requested()) return Exit{0, RunOutcome{RunOutcome::Kind::kBoardStop, ""}};
    if (wall_limit_ns_ && wall.NowNs() >= wall_limit_ns_) {
      return Exit{0, RunOutcome{RunOutcome::Kind::kBoardStop, ""}, true};
    }
  }
}

}  // namespace tandem::accel
