// SSE3, SSSE3, SSE4.1 and SSE4.2 integer and data-movement instructions
// (SDM vol. 2; vol. 1 ch. 12): MOVDDUP/MOVSxDUP/LDDQU, the SSSE3 set on MMX
// and XMM registers, PMOVSX/ZX, blends, PTEST, PEXTR/PINSR, INSERTPS,
// PHMINPOSUW, MPSADBW, PCMPGTQ and CRC32. Floating point is ops_sse4_fp.cc,
// the string compares ops_sse42_string.cc.
#include <cstdlib>
#include <type_traits>

#include "accel/interp/flags.h"
#include "accel/interp/ops_sse.h"

namespace tandem::accel::interp::sse {

namespace {

using namespace x86;

constexpr uint32_t kEcxSse3 = 1u << 0, kEcxSsse3 = 1u << 9, kEcxSse41 = 1u << 19, kEcxSse42 = 1u << 20;

// ---- SSE3 moves ----

// MOVDDUP: the low qword (m64 loads need no alignment) in both halves.
V128 Movddup(const V128&, const V128& b, unsigned, uint8_t) {
  V128 r;
  r.set<uint64_t>(0, b.get<uint64_t>(0));
  r.set<uint64_t>(1, b.get<uint64_t>(0));
  return r;
}

// MOVSLDUP (kOdd = false) / MOVSHDUP: the even (odd) dwords duplicated.
template <bool kOdd>
V128 MovsDup(const V128&, const V128& b, unsigned, uint8_t) {
  V128 r;
  for (unsigned i = 0; i < 4; ++i) r.set<uint32_t>(i, b.get<uint32_t>((i & ~1u) + kOdd));
  return r;
}

// LDDQU (unaligned) and MOVNTDQA (aligned): a memory-only 16-byte load.
template <bool kUnaligned>
void LoadOnly(Cpu& cpu, const DecodedInsn& insn) {
  if (insn.op[1].kind != OperandKind::kMem) Raise(kUD);
  CheckSse(cpu);
  WriteVec(cpu, insn, 0, ReadVec(cpu, insn, 1, kUnaligned));
}

// ---- SSSE3 (MMX: 8 bytes, XMM: 16) ----

V128 Pshufb(const V128& a, const V128& b, unsigned bytes, uint8_t) {
  V128 r;
  for (unsigned i = 0; i < bytes; ++i) r.b[i] = (b.b[i] & 0x80) ? 0 : a.b[b.b[i] & (bytes - 1)];
  return r;
}

// PHADD*/PHSUB*: pairs of op0 fill the low half, pairs of op1 the high half.
template <typename T, auto Op>
V128 Horizontal(const V128& a, const V128& b, unsigned bytes, uint8_t) {
  V128 r;
  const unsigned half = bytes / sizeof(T) / 2;
  for (unsigned i = 0; i < half; ++i) {
    r.set<T>(i, static_cast<T>(Op(a.get<T>(2 * i), a.get<T>(2 * i + 1))));
    r.set<T>(half + i, static_cast<T>(Op(b.get<T>(2 * i), b.get<T>(2 * i + 1))));
  }
  return r;
}

// PMADDUBSW: unsigned bytes of op0 times signed bytes of op1, adjacent
// products summed with signed saturation.
V128 Pmaddubsw(const V128& a, const V128& b, unsigned bytes, uint8_t) {
  V128 r;
  for (unsigned i = 0; i < bytes / 2; ++i) {
    int32_t s = int32_t{a.b[2 * i]} * b.get<int8_t>(2 * i) + int32_t{a.b[2 * i + 1]} * b.get<int8_t>(2 * i + 1);
    r.set<int16_t>(i, Sat<int16_t>(s));
  }
  return r;
}

int16_t Pmulhrsw(int16_t a, int16_t b) { return static_cast<int16_t>((((int32_t{a} * b) >> 14) + 1) >> 1); }

template <typename T>
T Psign(T a, T b) {
  // Negated in the unsigned type: the most negative value stays as it is.
  if (b < 0) return static_cast<T>(0u - static_cast<std::make_unsigned_t<T>>(a));
  return b == 0 ? T{0} : a;
}

// PABSB/W/D: |op1| (the most negative value stays as it is).
template <typename T>
V128 Pabs(const V128&, const V128& b, unsigned bytes, uint8_t) {
  V128 r;
  using U = std::make_unsigned_t<T>;
  for (unsigned i = 0; i < bytes / sizeof(T); ++i) {
    T v = b.get<T>(i);
    r.set<U>(i, v < 0 ? static_cast<U>(U{0} - static_cast<U>(v)) : static_cast<U>(v));
  }
  return r;
}

// PALIGNR: op0:op1 (op0 high) shifted right by imm8 bytes, the low half kept.
V128 Palignr(const V128& a, const V128& b, unsigned bytes, uint8_t imm) {
  uint8_t cat[32];
  std::memcpy(cat, b.b, bytes);
  std::memcpy(cat + bytes, a.b, bytes);
  V128 r;
  for (unsigned i = 0; i < bytes; ++i) r.b[i] = i + imm < 2 * bytes ? cat[i + imm] : 0;
  return r;
}

// ---- SSE4.1 ----

// PMOVSX/PMOVZX: the low elements of op1 widened (memory operands are the
// narrow size, so Zydis's operand size is what ReadVec loads).
template <typename From, typename To>
V128 Pmovx(const V128&, const V128& b, unsigned, uint8_t) {
  V128 r;
  for (unsigned i = 0; i < 16 / sizeof(To); ++i) r.set<To>(i, static_cast<To>(b.get<From>(i)));
  return r;
}

V128 Pmuldq(const V128& a, const V128& b, unsigned, uint8_t) {
  V128 r;
  for (unsigned i = 0; i < 2; ++i) r.set<int64_t>(i, int64_t{a.get<int32_t>(2 * i)} * b.get<int32_t>(2 * i));
  return r;
}

// PBLENDW/BLENDPS/BLENDPD: imm8 bit i picks element i of op1.
template <typename T>
V128 Blend(const V128& a, const V128& b, unsigned, uint8_t imm) {
  V128 r;
  for (unsigned i = 0; i < 16 / sizeof(T); ++i) r.set<T>(i, (imm >> i) & 1 ? b.get<T>(i) : a.get<T>(i));
  return r;
}

// BLENDVPS/BLENDVPD/PBLENDVB: the sign bit of each element of the implicit
// XMM0 picks op1's element.
template <typename T>
void BlendVar(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  V128 a = ReadVec(cpu, insn, 0);
  V128 b = ReadVec(cpu, insn, 1);
  V128 m;
  std::memcpy(m.b, cpu.s.fx.xmm[0].data(), 16);
  V128 r;
  for (unsigned i = 0; i < 16 / sizeof(T); ++i) {
    r.set<T>(i, (m.get<T>(i) >> (sizeof(T) * 8 - 1)) ? b.get<T>(i) : a.get<T>(i));
  }
  WriteVec(cpu, insn, 0, r);
}

// PTEST: ZF = (op0 AND op1) == 0, CF = (NOT op0 AND op1) == 0; OF, SF, AF,
// PF cleared.
void Ptest(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  V128 a = ReadVec(cpu, insn, 0);
  V128 b = ReadVec(cpu, insn, 1);
  uint64_t and_ = (a.get<uint64_t>(0) & b.get<uint64_t>(0)) | (a.get<uint64_t>(1) & b.get<uint64_t>(1));
  uint64_t andn = (~a.get<uint64_t>(0) & b.get<uint64_t>(0)) | (~a.get<uint64_t>(1) & b.get<uint64_t>(1));
  SetFlags(cpu.s, kArithFlags, (and_ ? 0 : kFlagZf) | (andn ? 0 : kFlagCf));
}

// PEXTRB/PEXTRD/PEXTRQ/EXTRACTPS: an element to r/m (a register is
// zero-extended).
template <typename T>
void Extract(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  V128 a = ReadVec(cpu, insn, 1);
  cpu.WriteOperand(insn, 0, a.get<T>(Imm8(insn) & (16 / sizeof(T) - 1)));
}

// PINSRB/PINSRD/PINSRQ: the low bytes of r/m into the element imm8 picks.
template <typename T>
void Insert(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  V128 a = ReadVec(cpu, insn, 0);
  a.set<T>(Imm8(insn) & (16 / sizeof(T) - 1), static_cast<T>(cpu.ReadOperand(insn, 1)));
  WriteVec(cpu, insn, 0, a);
}

// INSERTPS: dword imm8[7:6] of op1 (or the m32) into dword imm8[5:4], then
// the dwords in imm8[3:0] zeroed.
void Insertps(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  const uint8_t imm = Imm8(insn);
  V128 a = ReadVec(cpu, insn, 0);
  V128 b = ReadVec(cpu, insn, 1);
  const uint32_t v = insn.op[1].kind == OperandKind::kMem ? b.get<uint32_t>(0) : b.get<uint32_t>(imm >> 6);
  a.set<uint32_t>((imm >> 4) & 3, v);
  for (unsigned i = 0; i < 4; ++i) {
    if ((imm >> i) & 1) a.set<uint32_t>(i, 0);
  }
  WriteVec(cpu, insn, 0, a);
}

// PHMINPOSUW: the smallest unsigned word of op1 and its (lowest) index.
V128 Phminposuw(const V128&, const V128& b, unsigned, uint8_t) {
  unsigned best = 0;
  for (unsigned i = 1; i < 8; ++i) {
    if (b.get<uint16_t>(i) < b.get<uint16_t>(best)) best = i;
  }
  V128 r;
  r.set<uint16_t>(0, b.get<uint16_t>(best));
  r.set<uint16_t>(1, static_cast<uint16_t>(best));
  return r;
}

// MPSADBW: eight sums of absolute differences of 4-byte windows of op0
// (from byte 4 * imm8[2]) against the op1 dword imm8[1:0].
V128 Mpsadbw(const V128& a, const V128& b, unsigned, uint8_t imm) {
  const unsigned ao = ((imm >> 2) & 1) * 4, bo = (imm & 3) * 4;
  V128 r;
  for (unsigned i = 0; i < 8; ++i) {
    unsigned sum = 0;
    for (unsigned j = 0; j < 4; ++j) sum += std::abs(int{a.b[ao + i + j]} - int{b.b[bo + j]});
    r.set<uint16_t>(i, static_cast<uint16_t>(sum));
  }
  return r;
}

// ---- SSE4.2 ----

// CRC32: CRC-32C (Castagnoli, reflected polynomial 0x82F63B78) of the source
// bytes, least significant first, onto the low 32 bits of op0; the result is
// zero-extended into a 64-bit destination. No flags change.
void Crc32(Cpu& cpu, const DecodedInsn& insn) {
  uint32_t crc = static_cast<uint32_t>(cpu.ReadOperand(insn, 0));
  uint64_t src = cpu.ReadOperand(insn, 1);
  for (unsigned i = 0; i < insn.op[1].size; ++i) {
    crc ^= static_cast<uint8_t>(src >> (8 * i));
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  cpu.WriteOperand(insn, 0, crc);
}

}  // namespace

void RegisterSse4Handlers(HandlerTable& t, uint32_t leaf1_ecx) {
  constexpr auto kAdd = [](auto a, auto b) { return a + b; };
  constexpr auto kSub = [](auto a, auto b) { return a - b; };
  constexpr auto kMin = [](auto a, auto b) { return std::min(a, b); };
  constexpr auto kMax = [](auto a, auto b) { return std::max(a, b); };
  if (leaf1_ecx & kEcxSse3) {
    t[ZYDIS_MNEMONIC_MOVDDUP] = VecOp<Movddup>;
    t[ZYDIS_MNEMONIC_MOVSLDUP] = VecOp<MovsDup<false>>;
    t[ZYDIS_MNEMONIC_MOVSHDUP] = VecOp<MovsDup<true>>;
    t[ZYDIS_MNEMONIC_LDDQU] = LoadOnly<true>;
    // MONITOR/MWAIT stay unregistered (#UD): CPUID.01H:ECX.MONITOR is 0.
  }
  if (leaf1_ecx & kEcxSsse3) {
    t[ZYDIS_MNEMONIC_PSHUFB] = VecOp<Pshufb>;
    t[ZYDIS_MNEMONIC_PHADDW] = VecOp<Horizontal<uint16_t, kAdd>>;
    t[ZYDIS_MNEMONIC_PHADDD] = VecOp<Horizontal<uint32_t, kAdd>>;
    t[ZYDIS_MNEMONIC_PHADDSW] = VecOp<Horizontal<int16_t, [](int16_t a, int16_t b) { return Sat<int16_t>(a + b); }>>;
    t[ZYDIS_MNEMONIC_PHSUBW] = VecOp<Horizontal<uint16_t, kSub>>;
    t[ZYDIS_MNEMONIC_PHSUBD] = VecOp<Horizontal<uint32_t, kSub>>;
    t[ZYDIS_MNEMONIC_PHSUBSW] = VecOp<Horizontal<int16_t, [](int16_t a, int16_t b) { return Sat<int16_t>(a - b); }>>;
    t[ZYDIS_MNEMONIC_PMADDUBSW] = VecOp<Pmaddubsw>;
    t[ZYDIS_MNEMONIC_PMULHRSW] = Packed<int16_t, Pmulhrsw>;
    t[ZYDIS_MNEMONIC_PSIGNB] = Packed<int8_t, Psign<int8_t>>;
    t[ZYDIS_MNEMONIC_PSIGNW] = Packed<int16_t, Psign<int16_t>>;
    t[ZYDIS_MNEMONIC_PSIGND] = Packed<int32_t, Psign<int32_t>>;
    t[ZYDIS_MNEMONIC_PABSB] = VecOp<Pabs<int8_t>>;
    t[ZYDIS_MNEMONIC_PABSW] = VecOp<Pabs<int16_t>>;
    t[ZYDIS_MNEMONIC_PABSD] = VecOp<Pabs<int32_t>>;
    t[ZYDIS_MNEMONIC_PALIGNR] = VecOp<Palignr>;
  }
  if (leaf1_ecx & kEcxSse41) {
    t[ZYDIS_MNEMONIC_PMOVSXBW] = VecOp<Pmovx<int8_t, int16_t>>;
    t[ZYDIS_MNEMONIC_PMOVSXBD] = VecOp<Pmovx<int8_t, int32_t>>;
    t[ZYDIS_MNEMONIC_PMOVSXBQ] = VecOp<Pmovx<int8_t, int64_t>>;
    t[ZYDIS_MNEMONIC_PMOVSXWD] = VecOp<Pmovx<int16_t, int32_t>>;
    t[ZYDIS_MNEMONIC_PMOVSXWQ] = VecOp<Pmovx<int16_t, int64_t>>;
    t[ZYDIS_MNEMONIC_PMOVSXDQ] = VecOp<Pmovx<int32_t, int64_t>>;
    t[ZYDIS_MNEMONIC_PMOVZXBW] = VecOp<Pmovx<uint8_t, uint16_t>>;
    t[ZYDIS_MNEMONIC_PMOVZXBD] = VecOp<Pmovx<uint8_t, uint32_t>>;
    t[ZYDIS_MNEMONIC_PMOVZXBQ] = VecOp<Pmovx<uint8_t, uint64_t>>;
    t[ZYDIS_MNEMONIC_PMOVZXWD] = VecOp<Pmovx<uint16_t, uint32_t>>;
    t[ZYDIS_MNEMONIC_PMOVZXWQ] = VecOp<Pmovx<uint16_t, uint64_t>>;
    t[ZYDIS_MNEMONIC_PMOVZXDQ] = VecOp<Pmovx<uint32_t, uint64_t>>;
    t[ZYDIS_MNEMONIC_PMULLD] = Packed<int32_t, [](int32_t a, int32_t b) { return int64_t{a} * b; }>;
    t[ZYDIS_MNEMONIC_PMULDQ] = VecOp<Pmuldq>;
    t[ZYDIS_MNEMONIC_PMINSB] = Packed<int8_t, kMin>;
    t[ZYDIS_MNEMONIC_PMINSD] = Packed<int32_t, kMin>;
    t[ZYDIS_MNEMONIC_PMINUW] = Packed<uint16_t, kMin>;
    t[ZYDIS_MNEMONIC_PMINUD] = Packed<uint32_t, kMin>;
    t[ZYDIS_MNEMONIC_PMAXSB] = Packed<int8_t, kMax>;
    t[ZYDIS_MNEMONIC_PMAXSD] = Packed<int32_t, kMax>;
    t[ZYDIS_MNEMONIC_PMAXUW] = Packed<uint16_t, kMax>;
    t[ZYDIS_MNEMONIC_PMAXUD] = Packed<uint32_t, kMax>;
    t[ZYDIS_MNEMONIC_PBLENDW] = VecOp<Blend<uint16_t>>;
    t[ZYDIS_MNEMONIC_BLENDPS] = VecOp<Blend<uint32_t>>;
    t[ZYDIS_MNEMONIC_BLENDPD] = VecOp<Blend<uint64_t>>;
    t[ZYDIS_MNEMONIC_PBLENDVB] = BlendVar<uint8_t>;
    t[ZYDIS_MNEMONIC_BLENDVPS] = BlendVar<uint32_t>;
    t[ZYDIS_MNEMONIC_BLENDVPD] = BlendVar<uint64_t>;
    t[ZYDIS_MNEMONIC_PTEST] = Ptest;
    t[ZYDIS_MNEMONIC_PEXTRB] = Extract<uint8_t>;
    t[ZYDIS_MNEMONIC_PEXTRD] = Extract<uint32_t>;
    t[ZYDIS_MNEMONIC_PEXTRQ] = Extract<uint64_t>;
    t[ZYDIS_MNEMONIC_EXTRACTPS] = Extract<uint32_t>;
    t[ZYDIS_MNEMONIC_PINSRB] = Insert<uint8_t>;
    t[ZYDIS_MNEMONIC_PINSRD] = Insert<uint32_t>;
    t[ZYDIS_MNEMONIC_PINSRQ] = Insert<uint64_t>;
    t[ZYDIS_MNEMONIC_INSERTPS] = Insertps;
    t[ZYDIS_MNEMONIC_PCMPEQQ] = Packed<uint64_t, [](uint64_t a, uint64_t b) { return Mask<uint64_t>(a == b); }>;
    t[ZYDIS_MNEMONIC_PACKUSDW] = VecOp<[](const V128& a, const V128& b, unsigned, uint8_t) {
      V128 r;
      for (unsigned i = 0; i < 4; ++i) {
        r.set<uint16_t>(i, Sat<uint16_t>(a.get<int32_t>(i)));
        r.set<uint16_t>(4 + i, Sat<uint16_t>(b.get<int32_t>(i)));
      }
      return r;
    }>;
    t[ZYDIS_MNEMONIC_PHMINPOSUW] = VecOp<Phminposuw>;
    t[ZYDIS_MNEMONIC_MPSADBW] = VecOp<Mpsadbw>;
    t[ZYDIS_MNEMONIC_MOVNTDQA] = LoadOnly<false>;
  }
  if (leaf1_ecx & kEcxSse42) {
    t[ZYDIS_MNEMONIC_PCMPGTQ] = Packed<int64_t, [](int64_t a, int64_t b) { return Mask<int64_t>(a > b); }>;
    t[ZYDIS_MNEMONIC_CRC32] = Crc32;
    RegisterSse42StringHandlers(t);
  }
  RegisterSse4FpHandlers(t, leaf1_ecx);
}

}  // namespace tandem::accel::interp::sse
