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
// constants (SpecializedAluHandler picks it at decode time). kReg: operand 0
// is a direct general register (IsDirectGpr); operand 1 one too, or an
// immediate with kImm.
enum class Form { kAny, kReg, kRegReg, kRegImm };

// Apply at a size fixed at compile time: the host computes the flags where
// AluSized can (all but ADC and SBB).
template <Op op, unsigned kSize>
uint64_t ApplySized(uint64_t a, uint64_t b, const x86::CpuState& s, uint64_t* flags) {
  switch (op) {
    case Op::kAdd: return AluSized<HostAlu::kAdd, kSize>(a, b, flags);
    case Op::kSub:
    case Op::kCmp: return AluSized<HostAlu::kSub, kSize>(a, b, flags);
    case Op::kAnd:
    case Op::kTest: return AluSized<HostAlu::kAnd, kSize>(a, b, flags);
    case Op::kOr: return AluSized<HostAlu::kOr, kSize>(a, b, flags);
    case Op::kXor: return AluSized<HostAlu::kXor, kSize>(a, b, flags);
    default: return Apply<op>(a, b, s.rflags & kFlagCf, kSize, flags);
  }
}

template <Op op, unsigned kSize, Form kForm>
void BinarySized(Cpu& cpu, const DecodedInsn& insn) {
  uint64_t flags;
  uint64_t a, b;
  if constexpr (kForm == Form::kAny) {
    a = cpu.ReadOperand(insn, 0);
    b = cpu.ReadOperand(insn, 1);
  } else {
    a = GetGpr<kSize>(cpu.s, insn.op[0].reg);
    b = kForm == Form::kRegReg ? GetGpr<kSize>(cpu.s, insn.op[1].reg) : insn.op[1].imm;
  }
  const uint64_t r = ApplySized<op, kSize>(a, b, cpu.s, &flags);
  if constexpr (op != Op::kCmp && op != Op::kTest) {
    if constexpr (kForm == Form::kAny) {
      cpu.WriteOperand(insn, 0, r);
    } else {
      SetGpr<kSize>(cpu.s, insn.op[0].reg, r);
    }
  }
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

template <bool kInc, unsigned kSize, Form kForm>
void IncDecSized(Cpu& cpu, const DecodedInsn& insn) {
  uint64_t flags;
  const uint64_t a = kForm == Form::kAny ? cpu.ReadOperand(insn, 0) : GetGpr<kSize>(cpu.s, insn.op[0].reg);
  const uint64_t r = AluSized<kInc ? HostAlu::kInc : HostAlu::kDec, kSize>(a, 1, &flags);
  if constexpr (kForm == Form::kAny) {
    cpu.WriteOperand(insn, 0, r);
  } else {
    SetGpr<kSize>(cpu.s, insn.op[0].reg, r);
  }
  if (kInc && cpu.planted_fault == PlantedFault::kIncParity) [[unlikely]] flags ^= x86::kFlagPf;
  SetFlags(cpu.s, kArithFlags & ~kFlagCf, flags);
}

// The instance of F<size, form> for size bytes.
template <template <unsigned, Form> class F, Form kForm>
Handler BySize(unsigned size) {
  switch (size) {
    case 1: return F<1, kForm>::handler;
    case 2: return F<2, kForm>::handler;
    case 4: return F<4, kForm>::handler;
    case 8: return F<8, kForm>::handler;
    default: return nullptr;
  }
}

template <Op op>
struct BinaryOf {
  template <unsigned kSize, Form kForm>
  struct At {
    static constexpr Handler handler = BinarySized<op, kSize, kForm>;
  };
};

template <bool kInc>
struct IncDecOf {
  template <unsigned kSize, Form kForm>
  struct At {
    static constexpr Handler handler = IncDecSized<kInc, kSize, kForm>;
  };
};

template <template <unsigned, Form> class F>
Handler ByForm(unsigned size, Form form) {
  switch (form) {
    case Form::kRegReg: return BySize<F, Form::kRegReg>(size);
    case Form::kRegImm: return BySize<F, Form::kRegImm>(size);
    default: return BySize<F, Form::kAny>(size);
  }
}

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
  Form form = Form::kAny;
  if (IsDirectGpr(insn.op[0])) {
    if (insn.operand_count == 1) {
      form = Form::kReg;
    } else if (IsDirectGpr(insn.op[1]) && insn.op[1].size == size) {
      form = Form::kRegReg;
    } else if (insn.op[1].kind == OperandKind::kImm) {
      form = Form::kRegImm;
    }
  }
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_ADD: return ByForm<BinaryOf<Op::kAdd>::At>(size, form);
    case ZYDIS_MNEMONIC_ADC: return ByForm<BinaryOf<Op::kAdc>::At>(size, form);
    case ZYDIS_MNEMONIC_SUB: return ByForm<BinaryOf<Op::kSub>::At>(size, form);
    case ZYDIS_MNEMONIC_SBB: return ByForm<BinaryOf<Op::kSbb>::At>(size, form);
    case ZYDIS_MNEMONIC_CMP: return ByForm<BinaryOf<Op::kCmp>::At>(size, form);
    case ZYDIS_MNEMONIC_AND: return ByForm<BinaryOf<Op::kAnd>::At>(size, form);
    case ZYDIS_MNEMONIC_OR: return ByForm<BinaryOf<Op::kOr>::At>(size, form);
    case ZYDIS_MNEMONIC_XOR: return ByForm<BinaryOf<Op::kXor>::At>(size, form);
    case ZYDIS_MNEMONIC_TEST: return ByForm<BinaryOf<Op::kTest>::At>(size, form);
    case ZYDIS_MNEMONIC_INC:
      return form == Form::kReg ? BySize<IncDecOf<true>::At, Form::kReg>(size)
                                : BySize<IncDecOf<true>::At, Form::kAny>(size);
    case ZYDIS_MNEMONIC_DEC:
      return form == Form::kReg ? BySize<IncDecOf<false>::At, Form::kReg>(size)
                                : BySize<IncDecOf<false>::At, Form::kAny>(size);
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
