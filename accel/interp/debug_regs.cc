// Hardware breakpoints for the interpreter (SDM vol. 3A 17.2 debug registers,
// 17.3.1 debug exception conditions, 6.8.3 MOV SS blocking). I/O breakpoints
// (R/W = 10) trigger only with CR4.DE, which defines that encoding (17.2.5).
#include "accel/interp/debug_regs.h"

#include "accel/interp/system_internal.h"

namespace tandem::accel::interp {

using namespace x86;

namespace {

enum BreakType : unsigned { kExecute = 0, kWrite = 1, kIo = 2, kReadWrite = 3 };

bool Enabled(uint64_t dr7, int n) { return (dr7 >> (2 * n)) & 3; }
unsigned Type(uint64_t dr7, int n) { return (dr7 >> (16 + 4 * n)) & 3; }
// LEN encodings 00, 01, 10, 11 are 1, 2, 8 and 4 bytes (SDM 17.2.5).
unsigned Length(uint64_t dr7, int n) {
  static constexpr unsigned kLength[4] = {1, 2, 8, 4};
  return kLength[(dr7 >> (18 + 4 * n)) & 3];
}

}  // namespace

void UpdateDebugState(Cpu& cpu) {
  const uint64_t dr7 = cpu.s.dr[7];
  DebugState& d = cpu.debug_;
  d.armed = false;
  d.data_armed = false;
  d.io_armed = false;
  for (int n = 0; n < 4; ++n) {
    if (!Enabled(dr7, n)) continue;
    switch (Type(dr7, n)) {
      case kExecute: d.armed = true; break;
      case kWrite:
      case kReadWrite: d.armed = d.data_armed = true; break;
      case kIo:
        if (cpu.s.cr4 & kCr4De) d.armed = d.io_armed = true;
        break;
    }
  }
  // Held hits still need the checking path to be delivered.
  if (d.held) d.armed = true;
}

bool DebugBeforeInstruction(Cpu& cpu) {
  CpuState& s = cpu.s;
  DebugState& d = cpu.debug_;
  d.hits = d.held;
  d.held = 0;
  if (s.rflags & kFlagRf) return false;
  const uint64_t dr7 = s.dr[7];
  uint64_t linear = s.seg[kCs].base + s.rip;
  if (!Mode64(s)) linear &= 0xFFFFFFFF;
  uint64_t match = 0;
  for (int n = 0; n < 4; ++n) {
    if (Enabled(dr7, n) && Type(dr7, n) == kExecute && s.dr[n] == linear) match |= 1u << n;
  }
  if (!match) return false;
  // A fault: RIP stays on the instruction and the pushed RF is 0, unlike other
  // faults, so the handler sets RF in the image to step over it (17.3.1.1).
  d.hits = 0;
  s.dr[6] = (s.dr[6] & ~0xFull) | match;
  s.dr[7] &= ~kDr7Gd;
  cpu.DeliverEvent(kDB, Cpu::EventKind::kException);
  return true;
}

void DebugAfterInstruction(Cpu& cpu, const DecodedInsn& insn, bool step) {
  DebugState& d = cpu.debug_;
  uint64_t hits = d.hits;
  d.hits = 0;
  // ICEBP raises its own #DB: a trap held over MOV SS / POP SS is dropped,
  // not taken again in the handler. INT n, INT3, INTO, SYSCALL and SYSENTER
  // enter their handler and the held #DB follows there; a fault drops it
  // (Linux's tools/testing/selftests/x86/mov_ss_trap.c records what CPUs do).
  if (insn.mnemonic == ZYDIS_MNEMONIC_INT1) hits = 0;
  if (!hits && !step) return;
  if (cpu.s.interrupt_shadow && insn.mnemonic != ZYDIS_MNEMONIC_STI) {
    // MOV SS / POP SS hold data breakpoints back until after the next instruction (6.8.3).
    d.held = static_cast<uint8_t>(hits);
    d.armed = true;
    return;
  }
  DeliverDebugTrap(cpu, hits | (step ? kDr6Bs : 0));
}

void CheckDataBreakpoints(Cpu& cpu, uint64_t linear, unsigned size, bool write) {
  const CpuState& s = cpu.s;
  const uint64_t dr7 = s.dr[7];
  const uint64_t last = linear + size - 1;
  for (int n = 0; n < 4; ++n) {
    if (!Enabled(dr7, n)) continue;
    const unsigned type = Type(dr7, n);
    if (type == kExecute || type == kIo || (type == kWrite && !write)) continue;
    // The breakpoint covers its aligned LEN-byte range; any overlapping byte hits.
    const unsigned len = Length(dr7, n);
    const uint64_t base = s.dr[n] & ~static_cast<uint64_t>(len - 1);
    if (linear <= base + len - 1 && last >= base) cpu.debug_.hits |= 1u << n;
  }
}

void CheckIoBreakpoints(Cpu& cpu, uint16_t port, unsigned size) {
  const CpuState& s = cpu.s;
  const uint64_t dr7 = s.dr[7];
  const unsigned last = port + size - 1u;
  for (int n = 0; n < 4; ++n) {
    if (!Enabled(dr7, n) || Type(dr7, n) != kIo) continue;
    // Like a data breakpoint, over the port range DRn[15:0] and LEN name.
    const unsigned len = Length(dr7, n);
    const unsigned base = static_cast<uint16_t>(s.dr[n]) & ~(len - 1);
    if (port <= base + len - 1 && last >= base) cpu.debug_.hits |= 1u << n;
  }
}

void DeliverDebugTrap(Cpu& cpu, uint64_t dr6_bits) {
  CpuState& s = cpu.s;
  s.dr[6] = (s.dr[6] & ~0xFull) | dr6_bits;
  s.dr[7] &= ~kDr7Gd;
  cpu.DeliverEvent(kDB, Cpu::EventKind::kException);
}

void RaiseGeneralDetect(Cpu& cpu) {
  CpuState& s = cpu.s;
  s.dr[6] = (s.dr[6] & ~0xFull) | kDr6Bd;
  s.dr[7] &= ~kDr7Gd;
  Raise(kDB);
}

}  // namespace tandem::accel::interp
