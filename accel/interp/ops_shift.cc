// Shifts and rotates: SHL/SAL SHR SAR ROL ROR RCL RCR by 1, CL or imm8, and
// SHLD/SHRD (SDM vol. 2 "SAL/SAR/SHL/SHR", "RCL/RCR/ROL/ROR", "SHLD", "SHRD").
// The count is masked to 5 bits (6 with a 64-bit operand); a masked count of
// 0 changes nothing. OF follows the count-1 rule for every count, as the
// hardware's "undefined" OF does on current Intel parts; AF is the host's
// (host_flags.h).
#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

namespace tandem::accel::interp {

namespace {

using namespace x86;

enum class Sh { kShl, kShr, kSar, kRol, kRor, kRcl, kRcr };

// The arithmetic flags of a shift by a nonzero count, AF as the host sets it.
void ShiftFlags(Cpu& cpu, uint64_t flags) {
  uint64_t mask = kArithFlags;
  HostUndefinedFlags::Apply(cpu.undefined_flags.shift_af, kFlagAf, &mask, &flags);
  SetFlags(cpu.s, mask, flags);
}

template <Sh op>
void Shift(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  const unsigned bits = size * 8;
  const uint64_t m = SizeMask(size);
  const uint64_t sign = SignBit(size);
  unsigned count = cpu.ReadOperand(insn, 1) & (size == 8 ? 0x3F : 0x1F);
  const uint64_t a = cpu.ReadOperand(insn, 0);
  if (count == 0) {
    // Flags and value stay, but a 32-bit register is still written (zero-extended).
    if (size == 4 && insn.op[0].kind == OperandKind::kReg) cpu.WriteOperand(insn, 0, a);
    return;
  }
  uint64_t r;
  bool cf = cpu.s.rflags & kFlagCf;
  bool of;
  switch (op) {
    case Sh::kShl:
      if (count < bits) {
        r = (a << count) & m;
        cf = (a >> (bits - count)) & 1;
      } else {
        r = 0;
        cf = count == bits ? (a & 1) : 0;
      }
      of = ((r & sign) != 0) != cf;
      break;
    case Sh::kShr:
      r = count < bits ? a >> count : 0;
      cf = count <= bits ? (a >> (count - 1)) & 1 : 0;
      of = a & sign;
      break;
    case Sh::kSar: {
      int64_t sa = static_cast<int64_t>(SignExtend(a, size));
      r = static_cast<uint64_t>(sa >> (count < 64 ? count : 63)) & m;
      cf = (sa >> (count - 1 < 63 ? count - 1 : 63)) & 1;
      of = false;
      break;
    }
    case Sh::kRol: {
      unsigned c = count % bits;
      r = c ? ((a << c) | (a >> (bits - c))) & m : a;
      cf = r & 1;
      of = ((r & sign) != 0) != cf;
      break;
    }
    case Sh::kRor: {
      unsigned c = count % bits;
      r = c ? ((a >> c) | (a << (bits - c))) & m : a;
      cf = r & sign;
      of = ((r & sign) != 0) != ((r & (sign >> 1)) != 0);
      break;
    }
    case Sh::kRcl: {
      unsigned c = size == 1 ? count % 9 : size == 2 ? count % 17 : count;
      r = a;
      for (unsigned i = 0; i < c; ++i) {
        bool out = r & sign;
        r = ((r << 1) | cf) & m;
        cf = out;
      }
      of = ((r & sign) != 0) != cf;
      break;
    }
    case Sh::kRcr: {
      unsigned c = size == 1 ? count % 9 : size == 2 ? count % 17 : count;
      of = ((a & sign) != 0) != cf;
      r = a;
      for (unsigned i = 0; i < c; ++i) {
        bool out = r & 1;
        r = (r >> 1) | (cf ? sign : 0);
        cf = out;
      }
      break;
    }
  }
  cpu.WriteOperand(insn, 0, r);
  uint64_t flags = (cf ? kFlagCf : 0) | (of ? kFlagOf : 0);
  if constexpr (op == Sh::kShl || op == Sh::kShr || op == Sh::kSar) {
    ShiftFlags(cpu, flags | SzpFlags(r, size));
  } else {
    SetFlags(cpu.s, kFlagCf | kFlagOf, flags);
  }
}

// SHLD dst, src, count / SHRD dst, src, count.
template <bool kLeft>
void DoubleShift(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  const unsigned bits = size * 8;
  const uint64_t m = SizeMask(size);
  const uint64_t sign = SignBit(size);
  unsigned count = cpu.ReadOperand(insn, 2) & (size == 8 ? 0x3F : 0x1F);
  const uint64_t a = cpu.ReadOperand(insn, 0);
  const uint64_t b = cpu.ReadOperand(insn, 1);
  if (count == 0) {
    // Flags and value stay, but a 32-bit register is still written (zero-extended).
    if (size == 4 && insn.op[0].kind == OperandKind::kReg) cpu.WriteOperand(insn, 0, a);
    return;
  }
  uint64_t r;
  bool cf;
  if (kLeft) {
    unsigned __int128 cat = (static_cast<unsigned __int128>(a) << bits) | b;
    r = static_cast<uint64_t>((cat << count) >> bits) & m;
    cf = count <= bits ? (a >> (bits - count)) & 1 : (b >> (2 * bits - count)) & 1;
  } else {
    unsigned __int128 cat = (static_cast<unsigned __int128>(b) << bits) | a;
    r = static_cast<uint64_t>(cat >> count) & m;
    cf = count <= bits ? (a >> (count - 1)) & 1 : (b >> (count - bits - 1)) & 1;
  }
  bool of = ((r ^ a) & sign) != 0;
  cpu.WriteOperand(insn, 0, r);
  ShiftFlags(cpu, SzpFlags(r, size) | (cf ? kFlagCf : 0) | (of ? kFlagOf : 0));
}

}  // namespace

void RegisterShiftHandlers(HandlerTable& t) {
  t[ZYDIS_MNEMONIC_SHL] = Shift<Sh::kShl>;
  t[ZYDIS_MNEMONIC_SHR] = Shift<Sh::kShr>;
  t[ZYDIS_MNEMONIC_SAR] = Shift<Sh::kSar>;
  t[ZYDIS_MNEMONIC_ROL] = Shift<Sh::kRol>;
  t[ZYDIS_MNEMONIC_ROR] = Shift<Sh::kRor>;
  t[ZYDIS_MNEMONIC_RCL] = Shift<Sh::kRcl>;
  t[ZYDIS_MNEMONIC_RCR] = Shift<Sh::kRcr>;
  t[ZYDIS_MNEMONIC_SHLD] = DoubleShift<true>;
  t[ZYDIS_MNEMONIC_SHRD] = DoubleShift<false>;
}

}  // namespace tandem::accel::interp
