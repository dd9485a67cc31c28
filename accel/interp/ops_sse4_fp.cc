// SSE3 and SSE4.1 floating point (SDM vol. 2; vol. 1 11.5 for exceptions):
// ADDSUBPS/PD, HADDPS/PD, HSUBPS/PD, ROUNDPS/PD/SS/SD and DPPS/DPPD. Like
// ops_sse_fp.cc they run as the same instruction on the host under the
// guest's MXCSR (ops_sse_host.h), so NaN choice, rounding, DAZ/FTZ and the
// flags are bit-exact; imm8 forms pick a host instruction compiled for that
// immediate. A host without SSE3/SSE4.1 leaves them unregistered: the guest
// gets #UD (logged once by the decoder) instead of the host a SIGILL.
#include <utility>

#include "accel/interp/ops_sse.h"
#include "accel/interp/ops_sse_host.h"

namespace tandem::accel::interp::sse {

namespace {

constexpr uint32_t kEcxSse3 = 1u << 0, kEcxSse41 = 1u << 19;

using HostFn = __m128i (*)(__m128i a, __m128i b);

#define TANDEM_SSE_ASM2(insn)                        \
  [](__m128i a, __m128i b, uint8_t) {                \
    asm volatile(insn " %1, %0" : "+x"(a) : "x"(b)); \
    return a;                                        \
  }

// One host instruction per immediate: "op $imm, b, a" (a is the destination).
#define TANDEM_SSE_IMM_FN(NAME, insn)                                          \
  template <unsigned kImm>                                                     \
  __m128i NAME(__m128i a, __m128i b) {                                         \
    asm volatile(insn " %2, %1, %0" : "+x"(a) : "x"(b), "i"(kImm));            \
    return a;                                                                  \
  }
TANDEM_SSE_IMM_FN(RoundPs, "roundps")
TANDEM_SSE_IMM_FN(RoundPd, "roundpd")
TANDEM_SSE_IMM_FN(RoundSs, "roundss")
TANDEM_SSE_IMM_FN(RoundSd, "roundsd")
TANDEM_SSE_IMM_FN(Dpps, "dpps")
TANDEM_SSE_IMM_FN(Dppd, "dppd")
#undef TANDEM_SSE_IMM_FN

// A plain array: std::array<HostFn> would drop __m128i's vector attributes.
template <size_t N>
struct Table {
  HostFn fn[N];
};
template <template <unsigned> class Wrap, size_t... I>
constexpr Table<sizeof...(I)> MakeTable(std::index_sequence<I...>) {
  return {{Wrap<I>::kFn...}};
}

#define TANDEM_SSE_WRAP(NAME)        \
  template <unsigned kImm>           \
  struct NAME##Of {                  \
    static constexpr HostFn kFn = NAME<kImm>; \
  };
TANDEM_SSE_WRAP(RoundPs)
TANDEM_SSE_WRAP(RoundPd)
TANDEM_SSE_WRAP(RoundSs)
TANDEM_SSE_WRAP(RoundSd)
TANDEM_SSE_WRAP(Dpps)
TANDEM_SSE_WRAP(Dppd)
#undef TANDEM_SSE_WRAP

// ROUND*: imm8[3:0] (rounding control, MXCSR.RC select, precision
// suppression); bits 7:4 are ignored by the hardware, so 16 variants.
constexpr auto kRoundPs = MakeTable<RoundPsOf>(std::make_index_sequence<16>());
constexpr auto kRoundPd = MakeTable<RoundPdOf>(std::make_index_sequence<16>());
constexpr auto kRoundSs = MakeTable<RoundSsOf>(std::make_index_sequence<16>());
constexpr auto kRoundSd = MakeTable<RoundSdOf>(std::make_index_sequence<16>());
// DPPS uses all eight imm8 bits; DPPD bits 5:4 and 1:0 (the rest ignored).
constexpr auto kDpps = MakeTable<DppsOf>(std::make_index_sequence<256>());
constexpr auto kDppd = MakeTable<DppdOf>(std::make_index_sequence<256>());

template <const auto& kTable>
__m128i ByImm(__m128i a, __m128i b, uint8_t imm) {
  constexpr size_t n = sizeof(kTable.fn) / sizeof(kTable.fn[0]);
  return kTable.fn[imm % n](a, b);
}

}  // namespace

void RegisterSse4FpHandlers(HandlerTable& t, uint32_t leaf1_ecx) {
  if ((leaf1_ecx & kEcxSse3) && __builtin_cpu_supports("sse3")) {
    t[ZYDIS_MNEMONIC_ADDSUBPS] = Fp<TANDEM_SSE_ASM2("addsubps")>;
    t[ZYDIS_MNEMONIC_ADDSUBPD] = Fp<TANDEM_SSE_ASM2("addsubpd")>;
    t[ZYDIS_MNEMONIC_HADDPS] = Fp<TANDEM_SSE_ASM2("haddps")>;
    t[ZYDIS_MNEMONIC_HADDPD] = Fp<TANDEM_SSE_ASM2("haddpd")>;
    t[ZYDIS_MNEMONIC_HSUBPS] = Fp<TANDEM_SSE_ASM2("hsubps")>;
    t[ZYDIS_MNEMONIC_HSUBPD] = Fp<TANDEM_SSE_ASM2("hsubpd")>;
  }
  if ((leaf1_ecx & kEcxSse41) && __builtin_cpu_supports("sse4.1")) {
    t[ZYDIS_MNEMONIC_ROUNDPS] = Fp<ByImm<kRoundPs>>;
    t[ZYDIS_MNEMONIC_ROUNDPD] = Fp<ByImm<kRoundPd>>;
    t[ZYDIS_MNEMONIC_ROUNDSS] = Fp<ByImm<kRoundSs>>;
    t[ZYDIS_MNEMONIC_ROUNDSD] = Fp<ByImm<kRoundSd>>;
    t[ZYDIS_MNEMONIC_DPPS] = Fp<ByImm<kDpps>>;
    t[ZYDIS_MNEMONIC_DPPD] = Fp<ByImm<kDppd>>;
  }
}

#undef TANDEM_SSE_ASM2

}  // namespace tandem::accel::interp::sse
