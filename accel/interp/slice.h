// How a slice of a software vCPU's run ends (Cpu::RunSlice): the unit of
// work of `tandem lockstep` and of deterministic runs.
#pragma once

#include <cstdint>

namespace tandem::accel::interp {

// Why Cpu::RunSlice returned.
enum class SliceEnd : uint8_t { kBudget, kHalted, kStop, kTripleFault };

// How Cpu::RunSlice ends a slice.
struct SliceOptions {
  // Also end it after delivering a fault an instruction raised.
  bool stop_after_fault = false;
  // Deliver the interrupts pending once the budget has run (so the next
  // slice starts in their handler). Off for following KVM, whose single
  // step stops at the boundary with the interrupt not yet taken.
  bool deliver_at_end = true;
};

}  // namespace tandem::accel::interp
