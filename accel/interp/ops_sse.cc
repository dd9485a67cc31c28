// SSE/SSE2 data movement and 128-bit (and MMX 64-bit) integer instructions
// (SDM vol. 2; vol. 1 ch. 9-11): MOVAPS..MOVDQU, MOVSS/MOVSD, MOVD/MOVQ,
// MOVHPS/MOVLPS..., the packed integer arithmetic, compares, shifts, packs,
// unpacks and shuffles, the bitwise PS/PD forms and SHUFPS/UNPCKxPS. Every
// integer instruction also runs on MMX registers (0F without 66), which alias
// the x87 registers' mantissas. The floating-point half is ops_sse_fp.cc.
#include "accel/interp/ops_sse.h"

#include <algorithm>
#include <cstdlib>
#include <limits>
#include <type_traits>

#include "accel/interp/flags.h"

namespace tandem::accel::interp::sse {

using namespace x86;

// ---- checks and operand access ----

void CheckSse(Cpu& cpu) {
  if ((cpu.s.cr0 & kCr0Em) || !(cpu.s.cr4 & kCr4Osfxsr)) Raise(kUD);
  if (cpu.s.cr0 & kCr0Ts) Raise(kNM);
}

namespace {

// MMX instructions and EMMS report a pending unmasked x87 exception (FSW.ES)
// as #MF, like the waiting x87 instructions (with CR0.NE=0 it is ignored, as
// ops_x87.cc does).
void CheckMmx(Cpu& cpu) {
  if (cpu.s.cr0 & kCr0Em) Raise(kUD);
  if (cpu.s.cr0 & kCr0Ts) Raise(kNM);
  if ((cpu.s.fx.fsw & 0x80) && (cpu.s.cr0 & kCr0Ne)) Raise(kMF);
}

}  // namespace

void EnterMmx(Cpu& cpu) {
  CheckMmx(cpu);
  FxState& fx = cpu.s.fx;
  const unsigned top = (fx.fsw >> 11) & 7;
  if (top != 0) {
    // st[] is in stack order (ST(i) = physical register (TOP + i) & 7); with
    // TOP = 0 it is in physical order, which is where MMi lives.
    auto old = fx.st;
    for (unsigned p = 0; p < 8; ++p) fx.st[p] = old[(p - top) & 7];
    fx.fsw &= static_cast<uint16_t>(~(7u << 11));
  }
  fx.ftw = 0xFF;
}

void CheckOperands(Cpu& cpu, const DecodedInsn& insn) {
  bool xmm = false, mmx = false;
  for (int i = 0; i < insn.operand_count; ++i) {
    xmm |= IsXmm(insn.op[i]);
    mmx |= IsMmx(insn.op[i]);
  }
  if (xmm) CheckSse(cpu);
  if (mmx) EnterMmx(cpu);
}

namespace {

uint64_t NextLinear(const Cpu& cpu, uint64_t linear) {
  return Is64BitCode(cpu.s) ? linear + 8 : (linear + 8) & 0xFFFFFFFFull;
}

}  // namespace

V128 ReadVec(Cpu& cpu, const DecodedInsn& insn, int i, bool unaligned) {
  const Operand& o = insn.op[i];
  V128 v;
  if (IsXmm(o)) {
    std::memcpy(v.b, cpu.s.fx.xmm[o.reg].data(), 16);
    return v;
  }
  if (IsMmx(o)) {
    std::memcpy(v.b, cpu.s.fx.st[o.reg & 7].data(), 8);
    return v;
  }
  if (o.kind != OperandKind::kMem) Raise(kUD);
  const uint64_t ea = cpu.EffectiveAddress(insn, i);
  if (o.size <= 8) {
    uint64_t x = cpu.ReadMem(o.seg, ea, o.size);
    std::memcpy(v.b, &x, o.size);
    return v;
  }
  if (!unaligned && (ea & 15)) Raise(kGP, 0);
  const uint64_t linear = cpu.Linearize(o.seg, ea, 16, Access::kRead);
  uint64_t lo = cpu.ReadLinear(linear, 8);
  uint64_t hi = cpu.ReadLinear(NextLinear(cpu, linear), 8);
  v.set<uint64_t>(0, lo);
  v.set<uint64_t>(1, hi);
  return v;
}

void WriteVec(Cpu& cpu, const DecodedInsn& insn, int i, const V128& v, bool unaligned) {
  const Operand& o = insn.op[i];
  if (IsXmm(o)) {
    std::memcpy(cpu.s.fx.xmm[o.reg].data(), v.b, 16);
    return;
  }
  if (IsMmx(o)) {
    auto& r = cpu.s.fx.st[o.reg & 7];
    std::memcpy(r.data(), v.b, 8);
    r[8] = r[9] = 0xFF;  // SDM vol. 1 9.5.1: exponent all ones
    return;
  }
  if (o.kind != OperandKind::kMem) Raise(kUD);
  const uint64_t ea = cpu.EffectiveAddress(insn, i);
  if (o.size <= 8) {
    uint64_t x = 0;
    std::memcpy(&x, v.b, o.size);
    cpu.WriteMem(o.seg, ea, o.size, x);
    return;
  }
  if (!unaligned && (ea & 15)) Raise(kGP, 0);
  // Both halves are checked before either is written, so a fault leaves
  // memory unchanged.
  const uint64_t linear = cpu.Linearize(o.seg, ea, 16, Access::kWrite);
  const uint64_t hi_linear = NextLinear(cpu, linear);
  cpu.Translate(linear, Access::kWrite, cpu.cpl() == 3);
  cpu.Translate(hi_linear + 7, Access::kWrite, cpu.cpl() == 3);
  cpu.WriteLinear(linear, 8, v.get<uint64_t>(0));
  cpu.WriteLinear(hi_linear, 8, v.get<uint64_t>(1));
}

namespace {

// ---- moves ----

// op0 <- op1, 16 bytes (or 8 with MMX registers).
template <bool kUnaligned>
void MoveWhole(Cpu& cpu, const DecodedInsn& insn) {
  CheckOperands(cpu, insn);
  WriteVec(cpu, insn, 0, ReadVec(cpu, insn, 1, kUnaligned), kUnaligned);
}

// MOVSS/MOVSD: register forms merge the low element; loads zero the rest.
template <unsigned N>
void MoveScalar(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  if (insn.op[0].kind == OperandKind::kMem || insn.op[1].kind == OperandKind::kMem) {
    WriteVec(cpu, insn, 0, ReadVec(cpu, insn, 1));
    return;
  }
  V128 d = ReadVec(cpu, insn, 0);
  V128 s = ReadVec(cpu, insn, 1);
  std::memcpy(d.b, s.b, N);
  WriteVec(cpu, insn, 0, d);
}

// MOVD/MOVQ in all forms, MOVQ2DQ/MOVDQ2Q: the low min(dst, src) bytes,
// zero-extended into a vector register.
void MovdMovq(Cpu& cpu, const DecodedInsn& insn) {
  CheckOperands(cpu, insn);
  const Operand& d = insn.op[0];
  const Operand& s = insn.op[1];
  const unsigned w = std::min<unsigned>(std::min<unsigned>(d.size, s.size), 8);
  uint64_t v;
  if (IsVecReg(s) || (s.kind == OperandKind::kMem && IsVecReg(d))) {
    v = ReadVec(cpu, insn, 1).get<uint64_t>(0);
  } else {
    v = cpu.ReadOperand(insn, 1);
  }
  v &= SizeMask(w);
  if (IsVecReg(d)) {
    V128 r;
    r.set<uint64_t>(0, v);
    WriteVec(cpu, insn, 0, r);
  } else {
    cpu.WriteOperand(insn, 0, v);
  }
}

// MOVLPS/MOVLPD/MOVHPS/MOVHPD (load and store), MOVHLPS, MOVLHPS.
template <unsigned kDstHalf, unsigned kSrcHalf>
void MoveHalf(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  if (insn.op[0].kind == OperandKind::kMem) {  // store: the register's half
    V128 s = ReadVec(cpu, insn, 1);
    V128 r;
    r.set<uint64_t>(0, s.get<uint64_t>(kSrcHalf));
    WriteVec(cpu, insn, 0, r);
    return;
  }
  V128 d = ReadVec(cpu, insn, 0);
  V128 s = ReadVec(cpu, insn, 1);
  d.set<uint64_t>(kDstHalf, s.get<uint64_t>(insn.op[1].kind == OperandKind::kMem ? 0 : kSrcHalf));
  WriteVec(cpu, insn, 0, d);
}

// MOVLPS/MOVLPD: load into the low half, store the low half.
void MovLow(Cpu& cpu, const DecodedInsn& insn) { MoveHalf<0, 0>(cpu, insn); }
// MOVHPS/MOVHPD: load into the high half, store the high half.
void MovHigh(Cpu& cpu, const DecodedInsn& insn) { MoveHalf<1, 1>(cpu, insn); }

void Movnti(Cpu& cpu, const DecodedInsn& insn) { cpu.WriteOperand(insn, 0, cpu.ReadOperand(insn, 1)); }

// MASKMOVDQU/MASKMOVQ: bytes of op0 whose op1 byte has bit 7 set go to DS:rDI.
void Maskmov(Cpu& cpu, const DecodedInsn& insn) {
  CheckOperands(cpu, insn);
  const unsigned bytes = VecBytes(insn.op[0]);
  V128 v = ReadVec(cpu, insn, 0);
  V128 m = ReadVec(cpu, insn, 1);
  const uint64_t amask = SizeMask(AddressBytes(insn));
  const uint64_t di = cpu.s.gpr[kRdi] & amask;
  for (unsigned i = 0; i < bytes; ++i) {
    if (m.b[i] & 0x80) cpu.WriteMem(kDs, (di + i) & amask, 1, v.b[i]);
  }
}

template <typename T>
void MoveMask(Cpu& cpu, const DecodedInsn& insn) {
  CheckOperands(cpu, insn);
  V128 v = ReadVec(cpu, insn, 1);
  const unsigned n = VecBytes(insn.op[1]) / sizeof(T);
  uint64_t mask = 0;
  for (unsigned i = 0; i < n; ++i) {
    if (v.get<T>(i) >> (sizeof(T) * 8 - 1)) mask |= 1u << i;
  }
  cpu.WriteOperand(insn, 0, mask);
}

// ---- packed integer operations ----


template <typename T>
T Average(T a, T b) {
  return static_cast<T>((unsigned{a} + b + 1) >> 1);
}

template <typename T, typename Wide>
T MulHigh(T a, T b) {
  return static_cast<T>((Wide{a} * b) >> 16);
}

V128 Pmuludq(const V128& a, const V128& b, unsigned bytes, uint8_t) {
  V128 r;
  for (unsigned i = 0; i < bytes / 8; ++i) {
    r.set<uint64_t>(i, uint64_t{a.get<uint32_t>(2 * i)} * b.get<uint32_t>(2 * i));
  }
  return r;
}

V128 Pmaddwd(const V128& a, const V128& b, unsigned bytes, uint8_t) {
  V128 r;
  for (unsigned i = 0; i < bytes / 4; ++i) {
    int64_t s = int64_t{a.get<int16_t>(2 * i)} * b.get<int16_t>(2 * i) +
                int64_t{a.get<int16_t>(2 * i + 1)} * b.get<int16_t>(2 * i + 1);
    r.set<uint32_t>(i, static_cast<uint32_t>(s));
  }
  return r;
}

V128 Psadbw(const V128& a, const V128& b, unsigned bytes, uint8_t) {
  V128 r;
  for (unsigned q = 0; q < bytes / 8; ++q) {
    unsigned sum = 0;
    for (unsigned i = 0; i < 8; ++i) sum += std::abs(int{a.b[q * 8 + i]} - int{b.b[q * 8 + i]});
    r.set<uint64_t>(q, sum);
  }
  return r;
}

// PUNPCKL*/UNPCKL*: interleave the low halves; PUNPCKH*: the high halves.
template <typename T, bool kHigh>
V128 Unpack(const V128& a, const V128& b, unsigned bytes, uint8_t) {
  V128 r;
  const unsigned n = bytes / sizeof(T) / 2;
  const unsigned base = kHigh ? n : 0;
  for (unsigned i = 0; i < n; ++i) {
    r.set<T>(2 * i, a.get<T>(base + i));
    r.set<T>(2 * i + 1, b.get<T>(base + i));
  }
  return r;
}

// PACKSSWB/PACKSSDW/PACKUSWB: narrow with saturation, op0's lanes first.
template <typename From, typename To>
V128 Pack(const V128& a, const V128& b, unsigned bytes, uint8_t) {
  V128 r;
  const unsigned n = bytes / sizeof(From);
  for (unsigned i = 0; i < n; ++i) {
    r.set<To>(i, Sat<To>(a.get<From>(i)));
    r.set<To>(n + i, Sat<To>(b.get<From>(i)));
  }
  return r;
}

// PSHUFD (dwords of op1) and PSHUFW (MMX words).
template <typename T>
V128 Pshuf(const V128&, const V128& b, unsigned bytes, uint8_t imm) {
  V128 r;
  for (unsigned i = 0; i < bytes / sizeof(T); ++i) r.set<T>(i, b.get<T>((imm >> (2 * i)) & 3));
  return r;
}

// PSHUFLW (kHigh = false) / PSHUFHW: shuffle the words of one half, copy the other.
template <bool kHigh>
V128 PshufHalf(const V128&, const V128& b, unsigned, uint8_t imm) {
  V128 r = b;
  const unsigned base = kHigh ? 4 : 0;
  for (unsigned i = 0; i < 4; ++i) r.set<uint16_t>(base + i, b.get<uint16_t>(base + ((imm >> (2 * i)) & 3)));
  return r;
}

V128 Shufps(const V128& a, const V128& b, unsigned, uint8_t imm) {
  V128 r;
  r.set<uint32_t>(0, a.get<uint32_t>(imm & 3));
  r.set<uint32_t>(1, a.get<uint32_t>((imm >> 2) & 3));
  r.set<uint32_t>(2, b.get<uint32_t>((imm >> 4) & 3));
  r.set<uint32_t>(3, b.get<uint32_t>((imm >> 6) & 3));
  return r;
}

V128 Shufpd(const V128& a, const V128& b, unsigned, uint8_t imm) {
  V128 r;
  r.set<uint64_t>(0, a.get<uint64_t>(imm & 1));
  r.set<uint64_t>(1, b.get<uint64_t>((imm >> 1) & 1));
  return r;
}

// PSLL/PSRL/PSRA W/D/Q by imm8 or by the low 64 bits of op1.
enum class ShiftKind { kLeft, kRight, kArith };
template <typename T, ShiftKind kKind>
void ShiftLanes(Cpu& cpu, const DecodedInsn& insn) {
  CheckOperands(cpu, insn);
  const unsigned bytes = VecBytes(insn.op[0]);
  V128 a = ReadVec(cpu, insn, 0);
  const uint64_t count =
      insn.op[1].kind == OperandKind::kImm ? (insn.op[1].imm & 0xFF) : ReadVec(cpu, insn, 1).get<uint64_t>(0);
  constexpr unsigned kBits = sizeof(T) * 8;
  using S = std::make_signed_t<T>;
  V128 r;
  for (unsigned i = 0; i < bytes / sizeof(T); ++i) {
    T v = a.get<T>(i);
    T out;
    if (kKind == ShiftKind::kArith) {
      out = static_cast<T>(static_cast<S>(v) >> std::min<uint64_t>(count, kBits - 1));
    } else if (count >= kBits) {
      out = 0;
    } else {
      out = kKind == ShiftKind::kLeft ? static_cast<T>(v << count) : static_cast<T>(v >> count);
    }
    r.set<T>(i, out);
  }
  WriteVec(cpu, insn, 0, r);
}

// PSLLDQ/PSRLDQ: whole-register byte shifts.
template <bool kLeft>
void ShiftBytes(Cpu& cpu, const DecodedInsn& insn) {
  CheckOperands(cpu, insn);
  V128 a = ReadVec(cpu, insn, 0);
  const unsigned n = static_cast<unsigned>(insn.op[1].imm & 0xFF);
  V128 r;
  for (unsigned i = 0; i < 16; ++i) {
    if (kLeft) {
      if (i >= n) r.b[i] = a.b[i - n];
    } else {
      if (i + n < 16) r.b[i] = a.b[i + n];
    }
  }
  WriteVec(cpu, insn, 0, r);
}

void Pinsrw(Cpu& cpu, const DecodedInsn& insn) {
  CheckOperands(cpu, insn);
  V128 a = ReadVec(cpu, insn, 0);
  const unsigned lanes = VecBytes(insn.op[0]) / 2;
  a.set<uint16_t>(Imm8(insn) & (lanes - 1), static_cast<uint16_t>(cpu.ReadOperand(insn, 1)));
  WriteVec(cpu, insn, 0, a);
}

void Pextrw(Cpu& cpu, const DecodedInsn& insn) {
  // The m16 destination (66 0F 3A 15) is SSE4.1: #UD unless CPUID.01H:ECX[19].
  if (insn.op[0].kind == OperandKind::kMem && !(cpu.board.cpuid().Query(1, 0).ecx & (1u << 19))) Raise(kUD);
  CheckOperands(cpu, insn);
  V128 a = ReadVec(cpu, insn, 1);
  const unsigned lanes = VecBytes(insn.op[1]) / 2;
  cpu.WriteOperand(insn, 0, a.get<uint16_t>(Imm8(insn) & (lanes - 1)));
}

// EMMS: all x87 registers empty. An MMX instruction: CR0.EM is #UD, a
// pending x87 exception #MF.
void Emms(Cpu& cpu, const DecodedInsn&) {
  CheckMmx(cpu);
  cpu.s.fx.ftw = 0;
}

}  // namespace

void MovsdXmm(Cpu& cpu, const DecodedInsn& insn) { MoveScalar<8>(cpu, insn); }

}  // namespace tandem::accel::interp::sse

namespace tandem::accel::interp {

Handler SseStringFormHandler(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSD: return sse::MovsdXmm;
    case ZYDIS_MNEMONIC_CMPSD: return sse::CmpsdXmm;
    default: return nullptr;
  }
}

void RegisterSseHandlers(HandlerTable& t) {
  using namespace sse;
  // Moves.
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVAPS, ZYDIS_MNEMONIC_MOVAPD, ZYDIS_MNEMONIC_MOVDQA, ZYDIS_MNEMONIC_MOVNTPS,
                          ZYDIS_MNEMONIC_MOVNTPD, ZYDIS_MNEMONIC_MOVNTDQ}) {
    t[m] = MoveWhole<false>;
  }
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_MOVUPS, ZYDIS_MNEMONIC_MOVUPD, ZYDIS_MNEMONIC_MOVDQU}) t[m] = MoveWhole<true>;
  t[ZYDIS_MNEMONIC_MOVNTQ] = MoveWhole<true>;
  t[ZYDIS_MNEMONIC_MOVSS] = MoveScalar<4>;
  t[ZYDIS_MNEMONIC_MOVD] = MovdMovq;
  t[ZYDIS_MNEMONIC_MOVQ] = MovdMovq;
  t[ZYDIS_MNEMONIC_MOVQ2DQ] = MovdMovq;
  t[ZYDIS_MNEMONIC_MOVDQ2Q] = MovdMovq;
  t[ZYDIS_MNEMONIC_MOVLPS] = MovLow;
  t[ZYDIS_MNEMONIC_MOVLPD] = MovLow;
  t[ZYDIS_MNEMONIC_MOVHPS] = MovHigh;
  t[ZYDIS_MNEMONIC_MOVHPD] = MovHigh;
  t[ZYDIS_MNEMONIC_MOVHLPS] = MoveHalf<0, 1>;
  t[ZYDIS_MNEMONIC_MOVLHPS] = MoveHalf<1, 0>;
  t[ZYDIS_MNEMONIC_MOVNTI] = Movnti;
  t[ZYDIS_MNEMONIC_EMMS] = Emms;  // replaces ops_fpu_state.cc's, which gives #NM for CR0.EM
  t[ZYDIS_MNEMONIC_MASKMOVDQU] = Maskmov;
  t[ZYDIS_MNEMONIC_MASKMOVQ] = Maskmov;
  t[ZYDIS_MNEMONIC_PMOVMSKB] = MoveMask<uint8_t>;
  t[ZYDIS_MNEMONIC_MOVMSKPS] = MoveMask<uint32_t>;
  t[ZYDIS_MNEMONIC_MOVMSKPD] = MoveMask<uint64_t>;

  // Bitwise (the PS/PD forms are the same bits).
  constexpr auto kAnd = [](uint64_t a, uint64_t b) { return a & b; };
  constexpr auto kAndn = [](uint64_t a, uint64_t b) { return ~a & b; };
  constexpr auto kOr = [](uint64_t a, uint64_t b) { return a | b; };
  constexpr auto kXor = [](uint64_t a, uint64_t b) { return a ^ b; };
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_PAND, ZYDIS_MNEMONIC_ANDPS, ZYDIS_MNEMONIC_ANDPD}) t[m] = Packed<uint64_t, kAnd>;
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_PANDN, ZYDIS_MNEMONIC_ANDNPS, ZYDIS_MNEMONIC_ANDNPD}) {
    t[m] = Packed<uint64_t, kAndn>;
  }
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_POR, ZYDIS_MNEMONIC_ORPS, ZYDIS_MNEMONIC_ORPD}) t[m] = Packed<uint64_t, kOr>;
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_PXOR, ZYDIS_MNEMONIC_XORPS, ZYDIS_MNEMONIC_XORPD}) t[m] = Packed<uint64_t, kXor>;

  // Wrapping add/subtract.
  constexpr auto kAdd = [](auto a, auto b) { return a + b; };
  constexpr auto kSub = [](auto a, auto b) { return a - b; };
  t[ZYDIS_MNEMONIC_PADDB] = Packed<uint8_t, kAdd>;
  t[ZYDIS_MNEMONIC_PADDW] = Packed<uint16_t, kAdd>;
  t[ZYDIS_MNEMONIC_PADDD] = Packed<uint32_t, kAdd>;
  t[ZYDIS_MNEMONIC_PADDQ] = Packed<uint64_t, kAdd>;
  t[ZYDIS_MNEMONIC_PSUBB] = Packed<uint8_t, kSub>;
  t[ZYDIS_MNEMONIC_PSUBW] = Packed<uint16_t, kSub>;
  t[ZYDIS_MNEMONIC_PSUBD] = Packed<uint32_t, kSub>;
  t[ZYDIS_MNEMONIC_PSUBQ] = Packed<uint64_t, kSub>;
  // Saturating add/subtract.
  t[ZYDIS_MNEMONIC_PADDSB] = Packed<int8_t, [](int8_t a, int8_t b) { return Sat<int8_t>(a + b); }>;
  t[ZYDIS_MNEMONIC_PADDSW] = Packed<int16_t, [](int16_t a, int16_t b) { return Sat<int16_t>(a + b); }>;
  t[ZYDIS_MNEMONIC_PADDUSB] = Packed<uint8_t, [](uint8_t a, uint8_t b) { return Sat<uint8_t>(a + b); }>;
  t[ZYDIS_MNEMONIC_PADDUSW] = Packed<uint16_t, [](uint16_t a, uint16_t b) { return Sat<uint16_t>(a + b); }>;
  t[ZYDIS_MNEMONIC_PSUBSB] = Packed<int8_t, [](int8_t a, int8_t b) { return Sat<int8_t>(a - b); }>;
  t[ZYDIS_MNEMONIC_PSUBSW] = Packed<int16_t, [](int16_t a, int16_t b) { return Sat<int16_t>(a - b); }>;
  t[ZYDIS_MNEMONIC_PSUBUSB] = Packed<uint8_t, [](uint8_t a, uint8_t b) { return Sat<uint8_t>(a - b); }>;
  t[ZYDIS_MNEMONIC_PSUBUSW] = Packed<uint16_t, [](uint16_t a, uint16_t b) { return Sat<uint16_t>(a - b); }>;
  // Compares.
  t[ZYDIS_MNEMONIC_PCMPEQB] = Packed<uint8_t, [](uint8_t a, uint8_t b) { return Mask<uint8_t>(a == b); }>;
  t[ZYDIS_MNEMONIC_PCMPEQW] = Packed<uint16_t, [](uint16_t a, uint16_t b) { return Mask<uint16_t>(a == b); }>;
  t[ZYDIS_MNEMONIC_PCMPEQD] = Packed<uint32_t, [](uint32_t a, uint32_t b) { return Mask<uint32_t>(a == b); }>;
  t[ZYDIS_MNEMONIC_PCMPGTB] = Packed<int8_t, [](int8_t a, int8_t b) { return Mask<int8_t>(a > b); }>;
  t[ZYDIS_MNEMONIC_PCMPGTW] = Packed<int16_t, [](int16_t a, int16_t b) { return Mask<int16_t>(a > b); }>;
  t[ZYDIS_MNEMONIC_PCMPGTD] = Packed<int32_t, [](int32_t a, int32_t b) { return Mask<int32_t>(a > b); }>;
  // Min/max/average.
  constexpr auto kMin = [](auto a, auto b) { return std::min(a, b); };
  constexpr auto kMax = [](auto a, auto b) { return std::max(a, b); };
  t[ZYDIS_MNEMONIC_PMINUB] = Packed<uint8_t, kMin>;
  t[ZYDIS_MNEMONIC_PMAXUB] = Packed<uint8_t, kMax>;
  t[ZYDIS_MNEMONIC_PMINSW] = Packed<int16_t, kMin>;
  t[ZYDIS_MNEMONIC_PMAXSW] = Packed<int16_t, kMax>;
  t[ZYDIS_MNEMONIC_PAVGB] = Packed<uint8_t, Average<uint8_t>>;
  t[ZYDIS_MNEMONIC_PAVGW] = Packed<uint16_t, Average<uint16_t>>;
  // Multiplies.
  t[ZYDIS_MNEMONIC_PMULLW] = Packed<int16_t, [](int16_t a, int16_t b) { return int32_t{a} * b; }>;
  t[ZYDIS_MNEMONIC_PMULHW] = Packed<int16_t, MulHigh<int16_t, int32_t>>;
  t[ZYDIS_MNEMONIC_PMULHUW] = Packed<uint16_t, MulHigh<uint16_t, uint32_t>>;
  t[ZYDIS_MNEMONIC_PMULUDQ] = VecOp<Pmuludq>;
  t[ZYDIS_MNEMONIC_PMADDWD] = VecOp<Pmaddwd>;
  t[ZYDIS_MNEMONIC_PSADBW] = VecOp<Psadbw>;
  // Shifts.
  t[ZYDIS_MNEMONIC_PSLLW] = ShiftLanes<uint16_t, ShiftKind::kLeft>;
  t[ZYDIS_MNEMONIC_PSLLD] = ShiftLanes<uint32_t, ShiftKind::kLeft>;
  t[ZYDIS_MNEMONIC_PSLLQ] = ShiftLanes<uint64_t, ShiftKind::kLeft>;
  t[ZYDIS_MNEMONIC_PSRLW] = ShiftLanes<uint16_t, ShiftKind::kRight>;
  t[ZYDIS_MNEMONIC_PSRLD] = ShiftLanes<uint32_t, ShiftKind::kRight>;
  t[ZYDIS_MNEMONIC_PSRLQ] = ShiftLanes<uint64_t, ShiftKind::kRight>;
  t[ZYDIS_MNEMONIC_PSRAW] = ShiftLanes<uint16_t, ShiftKind::kArith>;
  t[ZYDIS_MNEMONIC_PSRAD] = ShiftLanes<uint32_t, ShiftKind::kArith>;
  t[ZYDIS_MNEMONIC_PSLLDQ] = ShiftBytes<true>;
  t[ZYDIS_MNEMONIC_PSRLDQ] = ShiftBytes<false>;
  // Unpacks, packs, shuffles.
  t[ZYDIS_MNEMONIC_PUNPCKLBW] = VecOp<Unpack<uint8_t, false>>;
  t[ZYDIS_MNEMONIC_PUNPCKLWD] = VecOp<Unpack<uint16_t, false>>;
  t[ZYDIS_MNEMONIC_PUNPCKLDQ] = VecOp<Unpack<uint32_t, false>>;
  t[ZYDIS_MNEMONIC_PUNPCKLQDQ] = VecOp<Unpack<uint64_t, false>>;
  t[ZYDIS_MNEMONIC_PUNPCKHBW] = VecOp<Unpack<uint8_t, true>>;
  t[ZYDIS_MNEMONIC_PUNPCKHWD] = VecOp<Unpack<uint16_t, true>>;
  t[ZYDIS_MNEMONIC_PUNPCKHDQ] = VecOp<Unpack<uint32_t, true>>;
  t[ZYDIS_MNEMONIC_PUNPCKHQDQ] = VecOp<Unpack<uint64_t, true>>;
  t[ZYDIS_MNEMONIC_UNPCKLPS] = VecOp<Unpack<uint32_t, false>>;
  t[ZYDIS_MNEMONIC_UNPCKHPS] = VecOp<Unpack<uint32_t, true>>;
  t[ZYDIS_MNEMONIC_UNPCKLPD] = VecOp<Unpack<uint64_t, false>>;
  t[ZYDIS_MNEMONIC_UNPCKHPD] = VecOp<Unpack<uint64_t, true>>;
  t[ZYDIS_MNEMONIC_PACKSSWB] = VecOp<Pack<int16_t, int8_t>>;
  t[ZYDIS_MNEMONIC_PACKSSDW] = VecOp<Pack<int32_t, int16_t>>;
  t[ZYDIS_MNEMONIC_PACKUSWB] = VecOp<Pack<int16_t, uint8_t>>;
  t[ZYDIS_MNEMONIC_PSHUFD] = VecOp<Pshuf<uint32_t>>;
  t[ZYDIS_MNEMONIC_PSHUFW] = VecOp<Pshuf<uint16_t>>;
  t[ZYDIS_MNEMONIC_PSHUFLW] = VecOp<PshufHalf<false>>;
  t[ZYDIS_MNEMONIC_PSHUFHW] = VecOp<PshufHalf<true>>;
  t[ZYDIS_MNEMONIC_SHUFPS] = VecOp<Shufps>;
  t[ZYDIS_MNEMONIC_SHUFPD] = VecOp<Shufpd>;
  t[ZYDIS_MNEMONIC_PINSRW] = Pinsrw;
  t[ZYDIS_MNEMONIC_PEXTRW] = Pextrw;

  RegisterSseFpHandlers(t);
}

}  // namespace tandem::accel::interp
