// Integer arithmetic and logic: ADD ADC SUB SBB AND OR XOR CMP TEST INC DEC
// NEG NOT (SDM vol. 2). LOCK needs nothing more on one interpreted vCPU.
#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

namespace tandem::accel::interp {

namespace {

using x86::kArithFlags;
using x86::kFlagCf;

enum class Op { kAdd, kAdc, kSub, kSbb, kCmp, kAnd, kOr, kXor, kTest };

template <Op op>
void Binary(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  const uint64_t a = cpu.ReadOperand(insn, 0);
  const uint64_t b = cpu.ReadOperand(insn, 1);
  const bool cf = cpu.s.rflags & kFlagCf;
  uint64_t flags, r;
  switch (op) {
    case Op::kAdd: r = AddWithFlags(a, b, false, size, &flags); break;
    case Op::kAdc: r = AddWithFlags(a, b, cf, size, &flags); break;
    case Op::kSub:
    case Op::kCmp: r = SubWithFlags(a, b, false, size, &flags); break;
    case Op::kSbb: r = SubWithFlags(a, b, cf, size, &flags); break;
    case Op::kAnd:
    case Op::kTest: r = a & b & SizeMask(size); flags = LogicFlags(r, size); break;
    case Op::kOr: r = (a | b) & SizeMask(size); flags = LogicFlags(r, size); break;
    case Op::kXor: r = (a ^ b) & SizeMask(size); flags = LogicFlags(r, size); break;
  }
  if constexpr (op != Op::kCmp && op != Op::kTest) cpu.WriteOperand(insn, 0, r);
  SetFlags(cpu.s, kArithFlags, flags);
}

// INC/DEC leave CF alone.
template <bool kInc>
void IncDec(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  uint64_t flags;
  uint64_t a = cpu.ReadOperand(insn, 0);
  uint64_t r = kInc ? AddWithFlags(a, 1, false, size, &flags) : SubWithFlags(a, 1, false, size, &flags);
  cpu.WriteOperand(insn, 0, r);
  SetFlags(cpu.s, kArithFlags & ~kFlagCf, flags);
}

void Neg(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  uint64_t flags;
  uint64_t r = SubWithFlags(0, cpu.ReadOperand(insn, 0), false, size, &flags);
  cpu.WriteOperand(insn, 0, r);
  SetFlags(cpu.s, kArithFlags, flags);  // CF = (source != 0), as 0 - source borrows
}

void Not(Cpu& cpu, const DecodedInsn& insn) {
  cpu.WriteOperand(insn, 0, ~cpu.ReadOperand(insn, 0) & SizeMask(insn.op[0].size));
}

}  // namespace

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
}

}  // namespace tandem::accel::interp
