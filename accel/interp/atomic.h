// Locked read-modify-write accesses for the interpreter on a multi-threaded
// host (SDM vol. 3A 9.1.2.2 software-controlled bus locking, 9.1.2 which
// instructions lock): LOCK-prefixed ALU/bit instructions, XADD, CMPXCHG,
// XCHG with memory and CMPXCHG8B/16B are atomic against the other vCPU
// threads that share the board's RAM.
//
// A locked operand inside one page of RAM changes through a host
// compare-and-swap loop on its host pointer: the new value (and the flags)
// are computed from the value the swap actually replaced. The host's LOCK
// CMPXCHG is atomic even for a misaligned operand or one crossing a cache
// line (a host bus lock: slow, correct), and it is what the JIT's native
// LOCK instructions do on the same bytes, so the two engines agree.
// CMPXCHG16B uses the host's CMPXCHG16B when it has one.
//
// A locked operand that spans two pages (a guest split lock), or lies in MMIO
// or ROM, or a CMPXCHG16B on a host without CMPXCHG16B, takes the machine's
// LockedAccessDomain mutex around a plain read and write instead. That is
// atomic against other locked accesses on the mutex path (the same
// instruction on another vCPU takes the same path, and the JIT hands page
// crossings and MMIO to the interpreter), not against a host-atomic access by
// another vCPU to overlapping bytes within one page: guests do not mix the
// two on one location. (QEMU runs such accesses with every other vCPU
// stopped, cpu_exec_step_atomic; the machine's pause could do that if a
// guest ever needs it.)
#pragma once

#include <cstdint>
#include <mutex>

#include "accel/interp/cpu.h"

namespace tandem::accel::interp {

// One per machine, shared by all its vCPUs (InterpMachine owns it; a Cpu made
// without one owns a private one, enough for a single vCPU).
// Threading: held only for one locked instruction's read and write, and only
// by the vCPU thread doing it. Lock order: it is taken before anything an
// MMIO device takes inside the access; nothing takes it while holding
// another lock. A guest fault inside unwinds through std::lock_guard.
struct LockedAccessDomain {
  std::mutex mutex;
  // The host has CMPXCHG16B (CPUID.01H:ECX.CX16): the interpreter runs on
  // any x86-64 host and the first ones lacked it (JIT hosts, with BMI2, all
  // have it). Set before the vCPUs run; tests clear it to take the mutex path.
  bool host_cmpxchg16b = HostHasCmpxchg16b();
  static bool HostHasCmpxchg16b();
};

// Where a locked operand lives (mmu.cc BeginLocked).
struct LockedTarget {
  uint8_t* host = nullptr;     // RAM within one page; nullptr: the mutex path
  uint64_t linear = 0;
  uint64_t code_phys = ~0ull;  // the page when it holds cached code, else ~0
};

// Linearizes seg:offset for a write of size bytes (an RMW needs write
// rights), records data breakpoints, and translates it as a write (setting
// the dirty bit, as the locked write-back of a failed CMPXCHG also does).
// Drops cached code of the page first when it holds any. Raises #GP/#SS/#PF.
LockedTarget BeginLocked(Cpu& cpu, int seg, uint64_t offset, unsigned size);
// After the host-atomic change: tells other vCPUs about a code-page write.
void EndLocked(Cpu& cpu, const LockedTarget& t);
// The mutex path's plain accesses (both pages are checked before either is
// written; no second data-breakpoint check).
uint64_t LockedFallbackRead(Cpu& cpu, uint64_t linear, unsigned size);
void LockedFallbackWrite(Cpu& cpu, uint64_t linear, unsigned size, uint64_t value);

namespace detail {

// The operand is not necessarily aligned: the host's LOCK CMPXCHG and MOV
// work on any address, which GCC's __atomic builtins on x86-64 compile to.
template <typename T, typename F>
inline uint64_t CasLoop(uint8_t* p, F& f) {
  T* q = reinterpret_cast<T*>(p);
  T old = __atomic_load_n(q, __ATOMIC_RELAXED);
  while (!__atomic_compare_exchange_n(q, &old, static_cast<T>(f(static_cast<uint64_t>(old))), false,
                                      __ATOMIC_SEQ_CST, __ATOMIC_RELAXED)) {
  }
  return old;
}

}  // namespace detail

// Atomically replaces the size-byte (1, 2, 4 or 8) operand at seg:offset by
// f(old) and returns old. f may run more than once (a CAS retry); its last
// call is the one whose result was stored, so flags it computes into
// captured variables are those of the value actually replaced.
template <typename F>
uint64_t LockedRmw(Cpu& cpu, int seg, uint64_t offset, unsigned size, F&& f) {
  const LockedTarget t = BeginLocked(cpu, seg, offset, size);
  if (t.host) [[likely]] {
    uint64_t old;
    switch (size) {
      case 1: old = detail::CasLoop<uint8_t>(t.host, f); break;
      case 2: old = detail::CasLoop<uint16_t>(t.host, f); break;
      case 4: old = detail::CasLoop<uint32_t>(t.host, f); break;
      default: old = detail::CasLoop<uint64_t>(t.host, f); break;
    }
    if (t.code_phys != ~0ull) [[unlikely]] EndLocked(cpu, t);
    return old;
  }
  std::lock_guard<std::mutex> hold(cpu.locked_.mutex);
  const uint64_t old = LockedFallbackRead(cpu, t.linear, size);
  LockedFallbackWrite(cpu, t.linear, size, f(old));
  return old;
}

// LockedRmw on the instruction's memory operand i.
template <typename F>
uint64_t LockedRmwOperand(Cpu& cpu, const DecodedInsn& insn, int i, F&& f) {
  return LockedRmw(cpu, insn.op[i].seg, cpu.EffectiveAddress(insn, i), insn.op[i].size, f);
}

// A LOCK prefix on an instruction whose operand i is in memory (the decoder
// rejects LOCK anywhere else with #UD).
inline bool LockedMemory(const DecodedInsn& insn, int i) {
  return insn.lock && insn.op[i].kind == OperandKind::kMem;
}

// CMPXCHG8B/16B on the 8- or 16-byte operand at seg:offset: compares it with
// expected (lo, hi halves of `half` bytes each); when equal stores desired
// and returns true, else loads the current value into expected.
bool LockedCompareExchangeDouble(Cpu& cpu, int seg, uint64_t offset, unsigned half, uint64_t expected[2],
                                 const uint64_t desired[2]);

}  // namespace tandem::accel::interp
