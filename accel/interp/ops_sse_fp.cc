// SSE/SSE2 floating point (SDM vol. 2; vol. 1 11.5 for exceptions):
// ADD/SUB/MUL/DIV/MIN/MAX/SQRT PS/PD/SS/SD, RCP/RSQRT PS/SS, CMPxx with the
// imm8 predicates 0-7, COMISS/COMISD/UCOMISS/UCOMISD and the conversions.
// Each operation runs as the same instruction on the host (x86-64, SSE2)
// with the guest's rounding, DAZ and FTZ in the host MXCSR and every
// exception masked, so results are bit-exact; the flags it raised are merged
// into the guest MXCSR, and one the guest left unmasked raises #XM
// (CR4.OSXMMEXCPT) or #UD without writing the destination.
#include "accel/interp/flags.h"
#include "accel/interp/ops_sse.h"
#include "accel/interp/ops_sse_host.h"

namespace tandem::accel::interp::sse {

namespace {

using namespace x86;

// CVTSI2SS/CVTSI2SD: op0.low = (float/double) r/m32 or r/m64. Inline asm
// keeps the compiler from running both widths and merging their flags.
template <bool kDouble>
void IntToFp(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  __m128i a = ToHost(ReadVec(cpu, insn, 0));
  int64_t v = static_cast<int64_t>(SignExtend(cpu.ReadOperand(insn, 1), insn.op[1].size));
  int32_t v32 = static_cast<int32_t>(v);
  const bool wide = insn.op[1].size == 8;
  {
    GuestMxcsr env(cpu);
    Pin(a);
    if (kDouble) {
      if (wide) {
        asm volatile("cvtsi2sdq %1, %0" : "+x"(a) : "r"(v));
      } else {
        asm volatile("cvtsi2sdl %1, %0" : "+x"(a) : "r"(v32));
      }
    } else {
      if (wide) {
        asm volatile("cvtsi2ssq %1, %0" : "+x"(a) : "r"(v));
      } else {
        asm volatile("cvtsi2ssl %1, %0" : "+x"(a) : "r"(v32));
      }
    }
    env.Finish();
  }
  WriteVec(cpu, insn, 0, FromHost(a));
}

// CVT(T)SS2SI / CVT(T)SD2SI into a 32- or 64-bit register.
#define TANDEM_SSE_CVT2SI(insn)                                        \
  if (wide) {                                                          \
    asm volatile(insn " %1, %0" : "=r"(r) : "x"(b));                   \
  } else {                                                             \
    int32_t r32;                                                       \
    asm volatile(insn " %1, %0" : "=r"(r32) : "x"(b));                 \
    r = static_cast<uint32_t>(r32);                                    \
  }
template <bool kDouble, bool kTruncate>
void FpToInt(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  __m128i b = ToHost(ReadVec(cpu, insn, 1));
  const bool wide = insn.op[0].size == 8;
  int64_t r;
  {
    GuestMxcsr env(cpu);
    Pin(b);
    if (kDouble) {
      if (kTruncate) {
        TANDEM_SSE_CVT2SI("cvttsd2si")
      } else {
        TANDEM_SSE_CVT2SI("cvtsd2si")
      }
    } else {
      if (kTruncate) {
        TANDEM_SSE_CVT2SI("cvttss2si")
      } else {
        TANDEM_SSE_CVT2SI("cvtss2si")
      }
    }
    env.Finish();
  }
  cpu.WriteOperand(insn, 0, static_cast<uint64_t>(r));
}
#undef TANDEM_SSE_CVT2SI

// COMISS/COMISD (signal on any NaN) and UCOMISS/UCOMISD (on SNaN only):
// ZF/PF/CF as unordered 111, less 001, equal 100, greater 000; OF/SF/AF 0.
template <bool kDouble, bool kUnordered>
void Comis(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  __m128i a = ToHost(ReadVec(cpu, insn, 0));
  __m128i b = ToHost(ReadVec(cpu, insn, 1));
  uint8_t z, p, c;
  {
    GuestMxcsr env(cpu);
    Pin(a);
    Pin(b);
    if (kDouble && kUnordered) {
      asm volatile("ucomisd %3, %4\n\tsetz %0\n\tsetp %1\n\tsetc %2" : "=q"(z), "=q"(p), "=q"(c) : "x"(b), "x"(a) : "cc");
    } else if (kDouble) {
      asm volatile("comisd %3, %4\n\tsetz %0\n\tsetp %1\n\tsetc %2" : "=q"(z), "=q"(p), "=q"(c) : "x"(b), "x"(a) : "cc");
    } else if (kUnordered) {
      asm volatile("ucomiss %3, %4\n\tsetz %0\n\tsetp %1\n\tsetc %2" : "=q"(z), "=q"(p), "=q"(c) : "x"(b), "x"(a) : "cc");
    } else {
      asm volatile("comiss %3, %4\n\tsetz %0\n\tsetp %1\n\tsetc %2" : "=q"(z), "=q"(p), "=q"(c) : "x"(b), "x"(a) : "cc");
    }
    env.Finish();
  }
  uint64_t f = (z ? kFlagZf : 0) | (p ? kFlagPf : 0) | (c ? kFlagCf : 0);
  SetFlags(cpu.s, kArithFlags, f);
}

// CMPPS/CMPPD/CMPSS/CMPSD: imm8[2:0] selects EQ LT LE UNORD NEQ NLT NLE ORD.
#define TANDEM_SSE_CMP(sfx, cast)                           \
  [](__m128i a, __m128i b, uint8_t imm) -> __m128i {        \
    switch (imm & 7) {                                      \
      case 0: return Int(_mm_cmpeq_##sfx(cast(a), cast(b)));    \
      case 1: return Int(_mm_cmplt_##sfx(cast(a), cast(b)));    \
      case 2: return Int(_mm_cmple_##sfx(cast(a), cast(b)));    \
      case 3: return Int(_mm_cmpunord_##sfx(cast(a), cast(b))); \
      case 4: return Int(_mm_cmpneq_##sfx(cast(a), cast(b)));   \
      case 5: return Int(_mm_cmpnlt_##sfx(cast(a), cast(b)));   \
      case 6: return Int(_mm_cmpnle_##sfx(cast(a), cast(b)));   \
      default: return Int(_mm_cmpord_##sfx(cast(a), cast(b)));  \
    }                                                       \
  }

constexpr auto kCmpPs = TANDEM_SSE_CMP(ps, Ps);
constexpr auto kCmpPd = TANDEM_SSE_CMP(pd, Pd);
constexpr auto kCmpSs = TANDEM_SSE_CMP(ss, Ps);
constexpr auto kCmpSd = TANDEM_SSE_CMP(sd, Pd);
#undef TANDEM_SSE_CMP

}  // namespace

void CmpsdXmm(Cpu& cpu, const DecodedInsn& insn) { Fp<kCmpSd>(cpu, insn); }

// The four forms of a binary arithmetic instruction: op##PS ... op##SD. They
// run as inline asm, not intrinsics: the compiler treats ADD/MUL as
// commutative and may swap the operands, which changes which NaN comes out.
#define TANDEM_SSE_ASM2(insn)                       \
  [](__m128i a, __m128i b, uint8_t) {               \
    asm volatile(insn " %1, %0" : "+x"(a) : "x"(b)); \
    return a;                                       \
  }
#define TANDEM_SSE_ARITH(NAME, op)                                                 \
  t[ZYDIS_MNEMONIC_##NAME##PS] = Fp<TANDEM_SSE_ASM2(#op "ps")>; \
  t[ZYDIS_MNEMONIC_##NAME##PD] = Fp<TANDEM_SSE_ASM2(#op "pd")>; \
  t[ZYDIS_MNEMONIC_##NAME##SS] = Fp<TANDEM_SSE_ASM2(#op "ss")>; \
  t[ZYDIS_MNEMONIC_##NAME##SD] = Fp<TANDEM_SSE_ASM2(#op "sd")>;

void RegisterSseFpHandlers(HandlerTable& t) {
  TANDEM_SSE_ARITH(ADD, add)
  TANDEM_SSE_ARITH(SUB, sub)
  TANDEM_SSE_ARITH(MUL, mul)
  TANDEM_SSE_ARITH(DIV, div)
  TANDEM_SSE_ARITH(MIN, min)
  TANDEM_SSE_ARITH(MAX, max)
  t[ZYDIS_MNEMONIC_SQRTPS] = Fp<[](__m128i, __m128i b, uint8_t) { return Int(_mm_sqrt_ps(Ps(b))); }>;
  t[ZYDIS_MNEMONIC_SQRTPD] = Fp<[](__m128i, __m128i b, uint8_t) { return Int(_mm_sqrt_pd(Pd(b))); }>;
  t[ZYDIS_MNEMONIC_SQRTSS] = Fp<[](__m128i a, __m128i b, uint8_t) {
    return Int(_mm_move_ss(Ps(a), _mm_sqrt_ss(Ps(b))));
  }>;
  t[ZYDIS_MNEMONIC_SQRTSD] = Fp<[](__m128i a, __m128i b, uint8_t) { return Int(_mm_sqrt_sd(Pd(a), Pd(b))); }>;
  t[ZYDIS_MNEMONIC_RCPPS] = Fp<[](__m128i, __m128i b, uint8_t) { return Int(_mm_rcp_ps(Ps(b))); }>;
  t[ZYDIS_MNEMONIC_RCPSS] = Fp<[](__m128i a, __m128i b, uint8_t) {
    return Int(_mm_move_ss(Ps(a), _mm_rcp_ss(Ps(b))));
  }>;
  t[ZYDIS_MNEMONIC_RSQRTPS] = Fp<[](__m128i, __m128i b, uint8_t) { return Int(_mm_rsqrt_ps(Ps(b))); }>;
  t[ZYDIS_MNEMONIC_RSQRTSS] = Fp<[](__m128i a, __m128i b, uint8_t) {
    return Int(_mm_move_ss(Ps(a), _mm_rsqrt_ss(Ps(b))));
  }>;

  t[ZYDIS_MNEMONIC_CMPPS] = Fp<kCmpPs>;
  t[ZYDIS_MNEMONIC_CMPPD] = Fp<kCmpPd>;
  t[ZYDIS_MNEMONIC_CMPSS] = Fp<kCmpSs>;
  // CMPSD xmm shares its mnemonic with the string CMPSD: SseStringFormHandler.
  t[ZYDIS_MNEMONIC_COMISS] = Comis<false, false>;
  t[ZYDIS_MNEMONIC_COMISD] = Comis<true, false>;
  t[ZYDIS_MNEMONIC_UCOMISS] = Comis<false, true>;
  t[ZYDIS_MNEMONIC_UCOMISD] = Comis<true, true>;

  // Conversions.
  t[ZYDIS_MNEMONIC_CVTSI2SS] = IntToFp<false>;
  t[ZYDIS_MNEMONIC_CVTSI2SD] = IntToFp<true>;
  t[ZYDIS_MNEMONIC_CVTSS2SI] = FpToInt<false, false>;
  t[ZYDIS_MNEMONIC_CVTTSS2SI] = FpToInt<false, true>;
  t[ZYDIS_MNEMONIC_CVTSD2SI] = FpToInt<true, false>;
  t[ZYDIS_MNEMONIC_CVTTSD2SI] = FpToInt<true, true>;
  t[ZYDIS_MNEMONIC_CVTSS2SD] = Fp<[](__m128i a, __m128i b, uint8_t) { return Int(_mm_cvtss_sd(Pd(a), Ps(b))); }>;
  t[ZYDIS_MNEMONIC_CVTSD2SS] = Fp<[](__m128i a, __m128i b, uint8_t) { return Int(_mm_cvtsd_ss(Ps(a), Pd(b))); }>;
  t[ZYDIS_MNEMONIC_CVTPS2PD] = Fp<[](__m128i, __m128i b, uint8_t) { return Int(_mm_cvtps_pd(Ps(b))); }>;
  t[ZYDIS_MNEMONIC_CVTPD2PS] = Fp<[](__m128i, __m128i b, uint8_t) { return Int(_mm_cvtpd_ps(Pd(b))); }>;
  t[ZYDIS_MNEMONIC_CVTDQ2PS] = Fp<[](__m128i, __m128i b, uint8_t) { return Int(_mm_cvtepi32_ps(b)); }>;
  t[ZYDIS_MNEMONIC_CVTPS2DQ] = Fp<[](__m128i, __m128i b, uint8_t) { return _mm_cvtps_epi32(Ps(b)); }>;
  t[ZYDIS_MNEMONIC_CVTTPS2DQ] = Fp<[](__m128i, __m128i b, uint8_t) { return _mm_cvttps_epi32(Ps(b)); }>;
  t[ZYDIS_MNEMONIC_CVTDQ2PD] = Fp<[](__m128i, __m128i b, uint8_t) { return Int(_mm_cvtepi32_pd(b)); }>;
  t[ZYDIS_MNEMONIC_CVTPD2DQ] = Fp<[](__m128i, __m128i b, uint8_t) { return _mm_cvtpd_epi32(Pd(b)); }>;
  t[ZYDIS_MNEMONIC_CVTTPD2DQ] = Fp<[](__m128i, __m128i b, uint8_t) { return _mm_cvttpd_epi32(Pd(b)); }>;
  // MMX <-> XMM conversions: MMX values sit in the low 8 bytes; lanes beyond
  // the two converted are zeroed first so they raise nothing.
  t[ZYDIS_MNEMONIC_CVTPI2PS] = Fp<[](__m128i a, __m128i b, uint8_t) {
    return Int(_mm_shuffle_ps(_mm_cvtepi32_ps(_mm_move_epi64(b)), Ps(a), 0xE4));
  }>;
  t[ZYDIS_MNEMONIC_CVTPI2PD] = Fp<[](__m128i, __m128i b, uint8_t) { return Int(_mm_cvtepi32_pd(b)); }>;
  t[ZYDIS_MNEMONIC_CVTPS2PI] = Fp<[](__m128i, __m128i b, uint8_t) { return _mm_cvtps_epi32(Ps(_mm_move_epi64(b))); }>;
  t[ZYDIS_MNEMONIC_CVTTPS2PI] = Fp<[](__m128i, __m128i b, uint8_t) {
    return _mm_cvttps_epi32(Ps(_mm_move_epi64(b)));
  }>;
  t[ZYDIS_MNEMONIC_CVTPD2PI] = Fp<[](__m128i, __m128i b, uint8_t) { return _mm_cvtpd_epi32(Pd(b)); }>;
  t[ZYDIS_MNEMONIC_CVTTPD2PI] = Fp<[](__m128i, __m128i b, uint8_t) { return _mm_cvttpd_epi32(Pd(b)); }>;
}

#undef TANDEM_SSE_ARITH
#undef TANDEM_SSE_ASM2

}  // namespace tandem::accel::interp::sse
