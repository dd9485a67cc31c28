// What the host CPU leaves in the arithmetic flags the SDM calls undefined
// (vol. 2 "SAL/SAR/SHL/SHR", "SHLD", "MUL", "IMUL": AF, and SF/ZF/PF of
// multiplies), for the families the JIT replays natively. The interpreter
// gives the same, so that interp, jit and KVM agree on one host also where
// a guest saves such flags (an exception frame, PUSHF): AMD parts set AF
// after a shift and keep SF/ZF/AF/PF over a multiply; the interpreter's
// fallback (another host architecture) is what Intel documents in practice.
#pragma once

#include <cstdint>

namespace tandem::accel::interp {

struct HostUndefinedFlags {
  enum class Rule : uint8_t { kClear, kSet, kKept };
  Rule shift_af = Rule::kClear;  // SHL/SHR/SAR/SHLD/SHRD with a nonzero count
  Rule mul_af = Rule::kClear;    // MUL/IMUL
  bool mul_keeps_szp = false;    // MUL/IMUL keep SF/ZF/PF (else from the low half)

  // Runs the instructions once on this CPU (x86-64 hosts; elsewhere the defaults).
  static HostUndefinedFlags Probe();

  // RFLAGS bits an instruction of the family sets: `mask` to replace, `bits` in it.
  static void Apply(Rule rule, uint64_t flag, uint64_t* mask, uint64_t* bits) {
    if (rule == Rule::kKept) *mask &= ~flag;
    if (rule == Rule::kSet) *bits |= flag;
  }
};

}  // namespace tandem::accel::interp
