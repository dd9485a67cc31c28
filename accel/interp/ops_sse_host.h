// Running SSE floating-point work on the host (internal to accel/interp):
// the guest's MXCSR rounding, DAZ and FTZ go into the host MXCSR with every
// exception masked, so results are bit-exact; the raised flags merge into the
// guest MXCSR and an unmasked one raises #XM or #UD (SDM vol. 1 11.5).
#pragma once

#include <immintrin.h>

#include "accel/interp/ops_sse.h"

namespace tandem::accel::interp::sse {

inline constexpr uint32_t kFlagsMask = 0x3F;        // IE DE ZE OE UE PE
inline constexpr uint32_t kPreComputation = 0x07;   // IE DE ZE
inline constexpr uint32_t kAllMasked = 0x1F80;

inline __m128i ToHost(const V128& v) {
  __m128i x;
  std::memcpy(&x, v.b, 16);
  return x;
}
inline V128 FromHost(__m128i x) {
  V128 v;
  std::memcpy(v.b, &x, 16);
  return v;
}
inline __m128 Ps(__m128i x) { return _mm_castsi128_ps(x); }
inline __m128d Pd(__m128i x) { return _mm_castsi128_pd(x); }
inline __m128i Int(__m128 x) { return _mm_castps_si128(x); }
inline __m128i Int(__m128d x) { return _mm_castpd_si128(x); }
inline __m128i Int(__m128i x) { return x; }

// Keeps the compiler from moving host floating-point work across the MXCSR
// switches: values pass through these empty asm statements in order.
template <typename T>
inline void Pin(T& v) {
  if constexpr (sizeof(T) == 16) {
    asm volatile("" : "+x"(v));
  } else {
    asm volatile("" : "+r"(v));
  }
}

inline uint32_t GetCsr() {
  uint32_t v;
  asm volatile("stmxcsr %0" : "=m"(v));
  return v;
}
inline void SetCsr(uint32_t v) { asm volatile("ldmxcsr %0" : : "m"(v)); }

// The guest's MXCSR control bits on the host for the lifetime of the object.
class GuestMxcsr {
 public:
  explicit GuestMxcsr(Cpu& cpu) : cpu_(cpu), host_(GetCsr()) {
    SetCsr((cpu.s.fx.mxcsr & 0xFFC0) | kAllMasked);
  }
  ~GuestMxcsr() {
    if (!done_) SetCsr(host_);
  }
  // Collects the raised flags into the guest MXCSR; raises #XM/#UD for an
  // unmasked one (SDM vol. 1 11.5.1: pre-computation exceptions suppress the
  // post-computation ones).
  void Finish() {
    uint32_t flags = GetCsr() & kFlagsMask;
    SetCsr(host_);
    done_ = true;
    uint32_t& mxcsr = cpu_.s.fx.mxcsr;
    const uint32_t unmasked = flags & ~(mxcsr >> 7) & kFlagsMask;
    if (unmasked) {
      if (unmasked & kPreComputation) flags &= kPreComputation;
      mxcsr |= flags;
      Raise((cpu_.s.cr4 & x86::kCr4Osxmmexcpt) ? x86::kXM : x86::kUD);
    }
    mxcsr |= flags;
  }

 private:
  Cpu& cpu_;
  uint32_t host_;
  bool done_ = false;
};

// op0 = Op(op0, op1, imm8) computed on the host under the guest's MXCSR.
template <auto Op>
void Fp(Cpu& cpu, const DecodedInsn& insn) {
  CheckOperands(cpu, insn);
  __m128i a = ToHost(ReadVec(cpu, insn, 0));
  __m128i b = ToHost(ReadVec(cpu, insn, 1));
  uint8_t imm = insn.operand_count > 2 ? static_cast<uint8_t>(insn.op[2].imm) : 0;
  __m128i r;
  {
    GuestMxcsr env(cpu);
    Pin(a);
    Pin(b);
    r = Op(a, b, imm);
    Pin(r);
    env.Finish();
  }
  WriteVec(cpu, insn, 0, FromHost(r));
}

}  // namespace tandem::accel::interp::sse
