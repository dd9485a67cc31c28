// Locked accesses that are not a plain CAS loop (see atomic.h): the code-page
// note after one, and CMPXCHG8B/16B (SDM vol. 2 CMPXCHG8B/CMPXCHG16B).
#include "accel/interp/atomic.h"

#include <cpuid.h>

namespace tandem::accel::interp {

bool LockedAccessDomain::HostHasCmpxchg16b() {
  unsigned a, b, c, d;
  return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_CMPXCHG16B);
}

namespace {

// LOCK CMPXCHG16B on p (16-byte aligned): true when it held lo:hi and now
// holds new_lo:new_hi, else lo:hi receive what it holds.
bool HostCmpxchg16b(uint8_t* p, uint64_t& lo, uint64_t& hi, uint64_t new_lo, uint64_t new_hi) {
  bool equal;
  asm volatile("lock cmpxchg16b %1"
               : "=@ccz"(equal), "+m"(*reinterpret_cast<unsigned __int128*>(p)), "+a"(lo), "+d"(hi)
               : "b"(new_lo), "c"(new_hi)
               : "memory");
  return equal;
}

}  // namespace

void EndLocked(Cpu& cpu, const LockedTarget& t) {
  if (t.code_phys != ~0ull) cpu.NoteOwnCodeWrite(t.code_phys);
}

bool LockedCompareExchangeDouble(Cpu& cpu, int seg, uint64_t offset, unsigned half, uint64_t expected[2],
                                 const uint64_t desired[2]) {
  const LockedTarget t = BeginLocked(cpu, seg, offset, 2 * half);
  if (t.host && half == 4) {
    // The 8-byte form: one 64-bit compare-and-swap (a failed one stores
    // nothing; the locked write-back of the old value is invisible).
    uint64_t old = expected[0] | expected[1] << 32;
    const uint64_t want = desired[0] | desired[1] << 32;
    const bool equal = __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(t.host), &old, want, false,
                                                   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
    expected[0] = old & 0xFFFFFFFF;
    expected[1] = old >> 32;
    EndLocked(cpu, t);
    return equal;
  }
  // (The offset is aligned, Cmpxchg8b16b checks; a segment base that is
  // not would make the host instruction fault.)
  if (t.host && cpu.locked_.host_cmpxchg16b && !(reinterpret_cast<uintptr_t>(t.host) & 15)) {
    const bool equal = HostCmpxchg16b(t.host, expected[0], expected[1], desired[0], desired[1]);
    EndLocked(cpu, t);
    return equal;
  }
  // MMIO, ROM, a split CMPXCHG8B, or a host without CMPXCHG16B (atomic.h).
  std::lock_guard<std::mutex> hold(cpu.locked_.mutex);
  const uint64_t lo = LockedFallbackRead(cpu, t.linear, half);
  const uint64_t hi = LockedFallbackRead(cpu, t.linear + half, half);
  const bool equal = lo == expected[0] && hi == expected[1];
  // The locked write-back stores the old value when they differ.
  LockedFallbackWrite(cpu, t.linear, half, equal ? desired[0] : lo);
  LockedFallbackWrite(cpu, t.linear + half, half, equal ? desired[1] : hi);
  expected[0] = lo;
  expected[1] = hi;
  return equal;
}

}  // namespace tandem::accel::interp
