// Multiply and divide: MUL, IMUL (one, two and three operands), DIV, IDIV
// (SDM vol. 2). Division by zero and quotient overflow raise #DE. For MUL and
// IMUL, CF = OF = "the high half is significant"; SF/ZF/PF/AF (undefined
// architecturally) are the host's (host_flags.h): from the low half of the
// result and AF clear, or kept.
#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

namespace tandem::accel::interp {

namespace {

using namespace x86;
using u128 = unsigned __int128;
using i128 = __int128;

// The implicit accumulator pair: AL/AH for bytes (AX), else rAX/rDX.
uint64_t ReadAcc(Cpu& cpu, unsigned size) { return cpu.ReadGpr(kRax, size); }

void WriteWide(Cpu& cpu, unsigned size, uint64_t lo, uint64_t hi) {
  if (size == 1) {
    cpu.WriteGpr(kRax, 2, (lo & 0xFF) | ((hi & 0xFF) << 8));
  } else {
    cpu.WriteGpr(kRax, size, lo);
    cpu.WriteGpr(kRdx, size, hi);
  }
}

void MulFlags(Cpu& cpu, bool overflow, uint64_t lo, unsigned size) {
  const HostUndefinedFlags& host = cpu.undefined_flags;
  uint64_t mask = kArithFlags, flags = overflow ? kFlagCf | kFlagOf : 0;
  if (host.mul_keeps_szp) {
    mask &= ~(kFlagSf | kFlagZf | kFlagPf);
  } else {
    flags |= SzpFlags(lo & SizeMask(size), size);
  }
  HostUndefinedFlags::Apply(host.mul_af, kFlagAf, &mask, &flags);
  SetFlags(cpu.s, mask, flags);
}

void Mul(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  u128 p = static_cast<u128>(ReadAcc(cpu, size)) * cpu.ReadOperand(insn, 0);
  uint64_t lo, hi;
  if (size == 8) {
    lo = static_cast<uint64_t>(p);
    hi = static_cast<uint64_t>(p >> 64);
  } else {
    lo = static_cast<uint64_t>(p) & SizeMask(size);
    hi = static_cast<uint64_t>(p >> (size * 8)) & SizeMask(size);
  }
  WriteWide(cpu, size, lo, hi);
  MulFlags(cpu, hi != 0, lo, size);
}

void Imul(Cpu& cpu, const DecodedInsn& insn) {
  if (insn.operand_count == 1) {
    const unsigned size = insn.op[0].size;
    i128 a = static_cast<int64_t>(SignExtend(ReadAcc(cpu, size), size));
    i128 b = static_cast<int64_t>(SignExtend(cpu.ReadOperand(insn, 0), size));
    i128 p = a * b;
    uint64_t lo = static_cast<uint64_t>(p) & SizeMask(size);
    uint64_t hi = static_cast<uint64_t>(static_cast<u128>(p) >> (size * 8)) & SizeMask(size);
    WriteWide(cpu, size, lo, hi);
    bool overflow = p != static_cast<int64_t>(SignExtend(lo, size));
    MulFlags(cpu, overflow, lo, size);
    return;
  }
  // IMUL r, r/m and IMUL r, r/m, imm: the product truncated to the destination.
  const unsigned size = insn.op[0].size;
  int src = insn.operand_count == 3 ? 1 : 0;
  int mul = insn.operand_count == 3 ? 2 : 1;
  i128 a = static_cast<int64_t>(SignExtend(cpu.ReadOperand(insn, src), size));
  i128 b = static_cast<int64_t>(SignExtend(cpu.ReadOperand(insn, mul), insn.op[mul].size));
  i128 p = a * b;
  uint64_t lo = static_cast<uint64_t>(p) & SizeMask(size);
  cpu.WriteOperand(insn, 0, lo);
  MulFlags(cpu, p != static_cast<int64_t>(SignExtend(lo, size)), lo, size);
}

void Div(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  uint64_t divisor = cpu.ReadOperand(insn, 0);
  if (divisor == 0) Raise(kDE);
  u128 dividend;
  if (size == 1) {
    dividend = cpu.ReadGpr(kRax, 2);
  } else {
    dividend = (static_cast<u128>(cpu.ReadGpr(kRdx, size)) << (size * 8)) | cpu.ReadGpr(kRax, size);
  }
  u128 q = dividend / divisor;
  u128 rem = dividend % divisor;
  if (q > SizeMask(size)) Raise(kDE);
  WriteWide(cpu, size, static_cast<uint64_t>(q), static_cast<uint64_t>(rem));
}

void Idiv(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  int64_t divisor = static_cast<int64_t>(SignExtend(cpu.ReadOperand(insn, 0), size));
  if (divisor == 0) Raise(kDE);
  i128 dividend;
  if (size == 1) {
    dividend = static_cast<int16_t>(cpu.ReadGpr(kRax, 2));
  } else if (size == 8) {
    dividend = static_cast<i128>((static_cast<u128>(cpu.ReadGpr(kRdx, 8)) << 64) | cpu.ReadGpr(kRax, 8));
  } else {
    uint64_t raw = (cpu.ReadGpr(kRdx, size) << (size * 8)) | cpu.ReadGpr(kRax, size);
    dividend = static_cast<int64_t>(SignExtend(raw, size * 2));
  }
  // The 128-by-64 case cannot overflow i128 except for INT128_MIN / -1,
  // which the range check below rejects anyway.
  if (divisor == -1 && dividend == static_cast<i128>(static_cast<u128>(1) << 127)) Raise(kDE);
  i128 q = dividend / divisor;
  i128 rem = dividend % divisor;
  const i128 max = static_cast<i128>(SizeMask(size) >> 1);
  if (q > max || q < -max - 1) Raise(kDE);
  WriteWide(cpu, size, static_cast<uint64_t>(q) & SizeMask(size), static_cast<uint64_t>(rem) & SizeMask(size));
}

}  // namespace

void RegisterMulDivHandlers(HandlerTable& t) {
  t[ZYDIS_MNEMONIC_MUL] = Mul;
  t[ZYDIS_MNEMONIC_IMUL] = Imul;
  t[ZYDIS_MNEMONIC_DIV] = Div;
  t[ZYDIS_MNEMONIC_IDIV] = Idiv;
}

}  // namespace tandem::accel::interp
