// Probes the host CPU's choice of undefined flags (host_flags.h).
#include "accel/interp/host_flags.h"

namespace tandem::accel::interp {

namespace {

constexpr uint64_t kAf = 1u << 4;
constexpr uint64_t kSzp = (1u << 7) | (1u << 6) | (1u << 2);

#if defined(__x86_64__)
// RFLAGS after SHL by 1 and after IMUL, from `flags_in` (only arithmetic bits).
uint64_t AfterShift(uint64_t flags_in) {
  uint64_t value = 0x40, out;
  asm volatile("pushq %2\n\tpopfq\n\tshlq $1, %1\n\tpushfq\n\tpopq %0" : "=r"(out), "+r"(value) : "r"(flags_in) : "cc");
  return out;
}
uint64_t AfterMultiply(uint64_t flags_in) {
  uint64_t value = 3, out;  // 3 * 5 = 15: SF = ZF = 0, PF = 1 from the result
  asm volatile("pushq %2\n\tpopfq\n\timulq $5, %1, %1\n\tpushfq\n\tpopq %0" : "=r"(out), "+r"(value) : "r"(flags_in)
               : "cc");
  return out;
}

HostUndefinedFlags::Rule AfRule(uint64_t (*run)(uint64_t)) {
  const bool from_clear = run(0) & kAf, from_set = run(kAf) & kAf;
  if (from_clear && from_set) return HostUndefinedFlags::Rule::kSet;
  if (!from_clear && from_set) return HostUndefinedFlags::Rule::kKept;
  return HostUndefinedFlags::Rule::kClear;
}
#endif

}  // namespace

HostUndefinedFlags HostUndefinedFlags::Probe() {
  HostUndefinedFlags h;
#if defined(__x86_64__)
  h.shift_af = AfRule(AfterShift);
  h.mul_af = AfRule(AfterMultiply);
  // Kept: SF, ZF set going in survive, and PF clear going in stays clear.
  const uint64_t in = (1u << 7) | (1u << 6);
  h.mul_keeps_szp = (AfterMultiply(in) & kSzp) == in;
#endif
  return h;
}

}  // namespace tandem::accel::interp
