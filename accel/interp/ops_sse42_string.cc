// SSE4.2 packed string compares PCMPESTRI/PCMPESTRM/PCMPISTRI/PCMPISTRM
// (SDM vol. 2B 4.1 "Imm8 control byte operation for PCMPESTRI/PCMPESTRM/
// PCMPISTRI/PCMPISTRM"): element format, aggregation, polarity and output
// selection from imm8, lengths explicit (rAX/rDX) or up to the first zero.
// Their 16-byte memory operand needs no alignment (SDM vol. 1 12.10.3).
#include <cstdlib>

#include "accel/interp/flags.h"
#include "accel/interp/ops_sse.h"

namespace tandem::accel::interp::sse {

namespace {

using namespace x86;

enum class Length { kExplicit, kImplicit };
enum class Output { kIndex, kMask };

// Element i of v as imm8[1:0] reads it (unsigned/signed bytes/words).
int32_t Element(const V128& v, unsigned i, uint8_t imm) {
  switch (imm & 3) {
    case 0: return v.get<uint8_t>(i);
    case 1: return v.get<uint16_t>(i);
    case 2: return v.get<int8_t>(i);
    default: return v.get<int16_t>(i);
  }
}

unsigned ImplicitLength(const V128& v, unsigned n, uint8_t imm) {
  for (unsigned i = 0; i < n; ++i) {
    if (Element(v, i, imm) == 0) return i;
  }
  return n;
}

// |rAX| or |rDX| (64-bit with REX.W), at most n.
unsigned ExplicitLength(uint64_t reg, bool wide, unsigned n) {
  int64_t v = wide ? static_cast<int64_t>(reg) : static_cast<int64_t>(static_cast<int32_t>(reg));
  uint64_t mag = v < 0 ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  return mag > n ? n : static_cast<unsigned>(mag);
}

// IntRes2 of the comparison of op0 (a, length la) and op1 (b, length lb);
// bit i belongs to element i of op1.
uint32_t Compare(const V128& a, unsigned la, const V128& b, unsigned lb, uint8_t imm) {
  const unsigned n = (imm & 1) ? 8 : 16;
  uint32_t res = 0;
  switch ((imm >> 2) & 3) {
    case 0:  // equal any: op1[i] is one of op0's valid elements
      for (unsigned i = 0; i < lb; ++i) {
        for (unsigned j = 0; j < la; ++j) {
          if (Element(a, j, imm) == Element(b, i, imm)) {
            res |= 1u << i;
            break;
          }
        }
      }
      break;
    case 1:  // ranges: op0 holds pairs [lo, hi]
      for (unsigned i = 0; i < lb; ++i) {
        const int32_t x = Element(b, i, imm);
        for (unsigned j = 0; j + 1 < la; j += 2) {
          if (x >= Element(a, j, imm) && x <= Element(a, j + 1, imm)) {
            res |= 1u << i;
            break;
          }
        }
      }
      break;
    case 2:  // equal each: both invalid compares true, one invalid false
      for (unsigned i = 0; i < n; ++i) {
        bool va = i < la, vb = i < lb;
        bool m = (va && vb) ? Element(a, i, imm) == Element(b, i, imm) : (!va && !vb);
        if (m) res |= 1u << i;
      }
      break;
    default:  // equal ordered: op0 (the needle) starts at op1[i]
      for (unsigned i = 0; i < n; ++i) {
        bool m = true;
        for (unsigned k = 0; k + i < n && k < la; ++k) {
          if (k + i >= lb || Element(a, k, imm) != Element(b, k + i, imm)) {
            m = false;
            break;
          }
        }
        if (m) res |= 1u << i;
      }
      break;
  }
  switch ((imm >> 4) & 3) {
    case 1: res ^= (1u << n) - 1; break;          // negative
    case 3: res ^= (1u << lb) - 1; break;         // masked negative: valid elements of op1 only
    default: break;
  }
  return res;
}

template <Length kLength, Output kOutput>
void Pcmpstr(Cpu& cpu, const DecodedInsn& insn) {
  CheckSse(cpu);
  const uint8_t imm = Imm8(insn);
  const unsigned n = (imm & 1) ? 8 : 16;
  const V128 a = ReadVec(cpu, insn, 0);
  const V128 b = ReadVec(cpu, insn, 1, /*unaligned=*/true);
  unsigned la, lb;
  if (kLength == Length::kExplicit) {
    const bool wide = insn.operand_size == 64;
    la = ExplicitLength(cpu.s.gpr[kRax], wide, n);
    lb = ExplicitLength(cpu.s.gpr[kRdx], wide, n);
  } else {
    la = ImplicitLength(a, n, imm);
    lb = ImplicitLength(b, n, imm);
  }
  const uint32_t res = Compare(a, la, b, lb, imm);
  if (kOutput == Output::kIndex) {
    unsigned index = n;
    if (res) index = (imm & 0x40) ? 31 - __builtin_clz(res) : __builtin_ctz(res);
    cpu.WriteGpr(kRcx, 4, index);
  } else {
    V128 m;
    if (imm & 0x40) {
      for (unsigned i = 0; i < n; ++i) {
        if ((res >> i) & 1) {
          if (n == 8) {
            m.set<uint16_t>(i, 0xFFFF);
          } else {
            m.b[i] = 0xFF;
          }
        }
      }
    } else {
      m.set<uint32_t>(0, res);
    }
    std::memcpy(cpu.s.fx.xmm[0].data(), m.b, 16);
  }
  uint64_t f = (res ? kFlagCf : 0) | (lb < n ? kFlagZf : 0) | (la < n ? kFlagSf : 0) | ((res & 1) ? kFlagOf : 0);
  SetFlags(cpu.s, kArithFlags, f);
}

}  // namespace

void RegisterSse42StringHandlers(HandlerTable& t) {
  t[ZYDIS_MNEMONIC_PCMPESTRI] = Pcmpstr<Length::kExplicit, Output::kIndex>;
  t[ZYDIS_MNEMONIC_PCMPESTRM] = Pcmpstr<Length::kExplicit, Output::kMask>;
  t[ZYDIS_MNEMONIC_PCMPISTRI] = Pcmpstr<Length::kImplicit, Output::kIndex>;
  t[ZYDIS_MNEMONIC_PCMPISTRM] = Pcmpstr<Length::kImplicit, Output::kMask>;
}

}  // namespace tandem::accel::interp::sse
