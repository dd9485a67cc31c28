// Integer arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC
// NEG NOT, and the BCD adjustments DAA DAS AAA AAS AAM AAD with SALC (SDM
// vol. 2). With LOCK the memory operand changes atomically against other
// vCPU threads (atomic.h).
#include "accel/interp/atomic.h"
#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

namespace tandem::accel::interp {

namespace {

using x86::kArithFlags;
using x86::kFlagCf;

enum class Op { kAdd, kAdc, kSub, kSbb, kCmp, kAnd, kOr, kXor, kTest };

template <Op op>
uint64_t Apply(uint64_t a, uint64_t b, bool cf, unsigned size, uint64_t* flags) {
  uint64_t r;
  switch (op) {
    case Op::kAdd: return AddWithFlags(a, b, false, size, flags);
    case Op::kAdc: return AddWithFlags(a, b, cf, size, flags);
    case Op::kSub:
    case Op::kCmp: return SubWithFlags(a, b, false, size, flags);
    case Op::kSbb: return SubWithFlags(a, b, cf, size, flags);
    case Op::kAnd:
    case Op::kTest: r = a & b & SizeMask(size); break;
    case Op::kOr: r = (a | b) & SizeMask(size); break;
    case Op::kXor: r = (a ^ b) & SizeMask(size); break;
  }
  *flags = LogicFlags(r, size);
  return r;
}

template <Op op>
void Binary(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  const bool cf = cpu.s.rflags & kFlagCf;
  uint64_t flags;
  if (LockedMemory(insn, 0)) [[unlikely]] {
    const uint64_t b = cpu.ReadOperand(insn, 1);
    LockedRmwOperand(cpu, insn, 0, [&](uint64_t a) { return Apply<op>(a, b, cf, size, &flags); });
  } else {
    const uint64_t a = cpu.ReadOperand(insn, 0);
    const uint64_t b = cpu.ReadOperand(insn, 1);
    const uint64_t r = Apply<op>(a, b, cf, size, &flags);
    if constexpr (op != Op::kCmp && op != Op::kTest) cpu.WriteOperand(insn, 0, r);
  }
  SetFlags(cpu.s, kArithFlags, flags);
}

// Binary without LOCK at one operand size: the flag arithmetic folds to
// constants (SpecializedAluHandler picks it at decode time).
template <Op op, unsigned kSize>
void BinarySized(Cpu& cpu, const DecodedInsn& insn) {
  const bool cf = cpu.s.rflags & kFlagCf;
  uint64_t flags;
  const uint64_t a = cpu.ReadOperand(insn, 0);
  const uint64_t b = cpu.ReadOperand(insn, 1);
  const uint64_t r = Apply<op>(a, b, cf, kSize, &flags);
  if constexpr (op != Op::kCmp && op != Op::kTest) cpu.WriteOperand(insn, 0, r);
  SetFlags(cpu.s, kArithFlags, flags);
}

// Replaces operand 0 by f(old), atomically with LOCK.
template <typename F>
void Modify(Cpu& cpu, const DecodedInsn& insn, F&& f) {
  if (LockedMemory(insn, 0)) [[unlikely]] {
    LockedRmwOperand(cpu, insn, 0, f);
  } else {
    cpu.WriteOperand(insn, 0, f(cpu.ReadOperand(insn, 0)));
  }
}

// INC/DEC leave CF alone.
template <bool kInc>
void IncDec(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  uint64_t flags;
  Modify(cpu, insn, [&](uint64_t a) {
    return kInc ? AddWithFlags(a, 1, false, size, &flags) : SubWithFlags(a, 1, false, size, &flags);
  });
  if (kInc && cpu.planted_fault == PlantedFault::kIncParity) [[unlikely]] flags ^= x86::kFlagPf;
  SetFlags(cpu.s, kArithFlags & ~kFlagCf, flags);
}

template <bool kInc, unsigned kSize>
void IncDecSized(Cpu& cpu, const DecodedInsn& insn) {
  uint64_t flags;
  const uint64_t a = cpu.ReadOperand(insn, 0);
  const uint64_t r = kInc ? AddWithFlags(a, 1, false, kSize, &flags) : SubWithFlags(a, 1, false, kSize, &flags);
  cpu.WriteOperand(insn, 0, r);
  if (kInc && cpu.planted_fault == PlantedFault::kIncParity) [[unlikely]] flags ^= x86::kFlagPf;
  SetFlags(cpu.s, kArithFlags & ~kFlagCf, flags);
}

// The instance of a template over the operand size for size bytes.
template <template <unsigned> class F>
Handler BySize(unsigned size) {
  switch (size) {
    case 1: return F<1>::handler;
    case 2: return F<2>::handler;
    case 4: return F<4>::handler;
    case 8: return F<8>::handler;
    default: return nullptr;
  }
}

template <Op op>
struct BinaryOf {
  template <unsigned kSize>
  struct At {
    static constexpr Handler handler = BinarySized<op, kSize>;
  };
};

template <bool kInc>
struct IncDecOf {
  template <unsigned kSize>
  struct At {
    static constexpr Handler handler = IncDecSized<kInc, kSize>;
  };
};

void Neg(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  uint64_t flags;
  Modify(cpu, insn, [&](uint64_t a) { return SubWithFlags(0, a, false, size, &flags); });
  SetFlags(cpu.s, kArithFlags, flags);  // CF = (source != 0), as 0 - source borrows
}

void Not(Cpu& cpu, const DecodedInsn& insn) {
  const uint64_t mask = SizeMask(insn.op[0].size);
  Modify(cpu, insn, [mask](uint64_t a) { return ~a & mask; });
}

// ---- BCD (legacy modes only; Zydis rejects them in 64-bit mode) ----

using x86::kFlagAf;
using x86::kRax;

uint64_t Al(const Cpu& cpu) { return cpu.s.gpr[kRax] & 0xFF; }
uint64_t Ah(const Cpu& cpu) { return (cpu.s.gpr[kRax] >> 8) & 0xFF; }

void Daa(Cpu& cpu, const DecodedInsn&) {
  const uint64_t old_al = Al(cpu);
  const bool old_cf = cpu.s.rflags & kFlagCf;
  uint64_t al = old_al;
  uint64_t flags = 0;
  if ((al & 0xF) > 9 || (cpu.s.rflags & kFlagAf)) {
    al += 6;
    if (old_cf || al > 0xFF) flags |= kFlagCf;
    flags |= kFlagAf;
  }
  if (old_al > 0x99 || old_cf) {
    al += 0x60;
    flags |= kFlagCf;
  } else {
    flags &= ~kFlagCf;
  }
  al &= 0xFF;
  cpu.WriteGpr(kRax, 1, al);
  SetFlags(cpu.s, kArithFlags, flags | SzpFlags(al, 1));
}

void Das(Cpu& cpu, const DecodedInsn&) {
  const uint64_t old_al = Al(cpu);
  const bool old_cf = cpu.s.rflags & kFlagCf;
  uint64_t al = old_al;
  uint64_t flags = 0;
  if ((al & 0xF) > 9 || (cpu.s.rflags & kFlagAf)) {
    if (old_cf || al < 6) flags |= kFlagCf;
    al -= 6;
    flags |= kFlagAf;
  }
  if (old_al > 0x99 || old_cf) {
    al -= 0x60;
    flags |= kFlagCf;
  }
  al &= 0xFF;
  cpu.WriteGpr(kRax, 1, al);
  SetFlags(cpu.s, kArithFlags, flags | SzpFlags(al, 1));
}

template <bool kAdd>
void AsciiAdjust(Cpu& cpu, const DecodedInsn&) {
  uint64_t ax = cpu.s.gpr[kRax] & 0xFFFF;
  uint64_t flags = 0;
  if ((ax & 0xF) > 9 || (cpu.s.rflags & kFlagAf)) {
    if (kAdd) {
      ax += 0x106;
    } else {
      // AX <- AX - 6 (the borrow out of AL reaches AH), then AH <- AH - 1.
      ax = (ax - 6) & 0xFFFF;
      ax = (ax & 0xFF) | ((((ax >> 8) - 1) & 0xFF) << 8);
    }
    flags = kFlagAf | kFlagCf;
  }
  ax = (ax & 0xFF00) | (ax & 0x0F);
  cpu.WriteGpr(kRax, 2, ax);
  SetFlags(cpu.s, kArithFlags, flags | SzpFlags(ax & 0xFF, 1));
}

void Aam(Cpu& cpu, const DecodedInsn& insn) {
  const uint64_t base = insn.op[0].imm & 0xFF;
  if (base == 0) Raise(x86::kDE);
  const uint64_t al = Al(cpu);
  const uint64_t r = al % base;
  cpu.WriteGpr(kRax, 2, ((al / base) << 8) | r);
  SetFlags(cpu.s, kArithFlags, SzpFlags(r, 1));
}

void Aad(Cpu& cpu, const DecodedInsn& insn) {
  const uint64_t r = (Al(cpu) + Ah(cpu) * (insn.op[0].imm & 0xFF)) & 0xFF;
  cpu.WriteGpr(kRax, 2, r);
  SetFlags(cpu.s, kArithFlags, SzpFlags(r, 1));
}

void Salc(Cpu& cpu, const DecodedInsn&) { cpu.WriteGpr(kRax, 1, (cpu.s.rflags & kFlagCf) ? 0xFF : 0); }

}  // namespace

Handler SpecializedAluHandler(const DecodedInsn& insn) {
  if (insn.lock || insn.operand_count == 0) return nullptr;
  const unsigned size = insn.op[0].size;
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_ADD: return BySize<BinaryOf<Op::kAdd>::At>(size);
    case ZYDIS_MNEMONIC_ADC: return BySize<BinaryOf<Op::kAdc>::At>(size);
    case ZYDIS_MNEMONIC_SUB: return BySize<BinaryOf<Op::kSub>::At>(size);
    case ZYDIS_MNEMONIC_SBB: return BySize<BinaryOf<Op::kSbb>::At>(size);
    case ZYDIS_MNEMONIC_CMP: return BySize<BinaryOf<Op::kCmp>::At>(size);
    case ZYDIS_MNEMONIC_AND: return BySize<BinaryOf<Op::kAnd>::At>(size);
    case ZYDIS_MNEMONIC_OR: return BySize<BinaryOf<Op::kOr>::At>(size);
    case ZYDIS_MNEMONIC_XOR: return BySize<BinaryOf<Op::kXor>::At>(size);
    case ZYDIS_MNEMONIC_TEST: return BySize<BinaryOf<Op::kTest>::At>(size);
    case ZYDIS_MNEMONIC_INC: return BySize<IncDecOf<true>::At>(size);
    case ZYDIS_MNEMONIC_DEC: return BySize<IncDecOf<false>::At>(size);
    default: return nullptr;
  }
}

void RegisterAluHandlers(HandlerTable& t) {
  t[ZYDIS_MNEMONIC_ADD] = Binary<Op::kAdd>;
  t[ZYDIS_MNEMONIC_ADC] = Binary<Op::kAdc>;
  t[ZYDIS_MNEMONIC_SUB] = Binary<Op::kSub>;
  t[ZYDIS_MNEMONIC_SBB] = Binary<Op::kSbb>;
  t[ZYDIS_MNEMONIC_CMP] = Binary<Op::kCmp>;
  t[ZYDIS_MNEMONIC_AND] = Binary<Op::kAnd>;
  t[ZYDIS_MNEMONIC_OR] = Binary<Op::kOr>;
  t[ZYDIS_MNEMONIC_XOR] = Binary<Op::kXor>;
  t[ZYDIS_MNEMONIC_TEST] = Binary<Op::kTest>;
  t[ZYDIS_MNEMONIC_INC] = IncDec<true>;
  t[ZYDIS_MNEMONIC_DEC] = IncDec<false>;
  t[ZYDIS_MNEMONIC_NEG] = Neg;
  t[ZYDIS_MNEMONIC_NOT] = Not;
  t[ZYDIS_MNEMONIC_DAA] = Daa;
  t[ZYDIS_MNEMONIC_DAS] = Das;
  t[ZYDIS_MNEMONIC_AAA] = AsciiAdjust<true>;
  t[ZYDIS_MNEMONIC_AAS] = AsciiAdjust<false>;
  t[ZYDIS_MNEMONIC_AAM] = Aam;
  t[ZYDIS_MNEMONIC_AAD] = Aad;
  t[ZYDIS_MNEMONIC_SALC] = Salc;
}

}  // namespace tandem::accel::interp
