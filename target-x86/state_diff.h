// Every field of x86::CpuState by name, in 64-bit pieces, to compare the
// states of two engines (`tandem lockstep`) and to print them side by side.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "target-x86/cpu_state.h"

namespace tandem::x86 {

struct FieldPair {
  std::string name;  // "rax", "cs.base", "xmm3.hi", "msr.efer"
  uint64_t a = 0, b = 0;
};

// Every field, in CpuState's order.
std::vector<FieldPair> AllFields(const CpuState& a, const CpuState& b);
// Only the fields that differ; empty when the states are equal.
std::vector<FieldPair> DiffStates(const CpuState& a, const CpuState& b);
// DiffStates(a, b).empty(), without building names (once per compared slice).
bool SameState(const CpuState& a, const CpuState& b);

}  // namespace tandem::x86
