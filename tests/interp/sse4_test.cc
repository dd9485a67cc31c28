// SSE3/SSSE3/SSE4.1/SSE4.2 handlers (ops_sse4.cc, ops_sse42_string.cc) with
// answers that do not come from the host: the CRC-32C check value, string
// compares worked through by hand from SDM vol. 2B 4.1, and the CR0/CR4
// checks. tests/diff compares them all against the host CPU.
#include <gtest/gtest.h>

#include <cstring>
#include <string>

#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

using namespace x86;

struct V2Machine : Machine {
  explicit V2Machine(const std::vector<uint8_t>& code) : Machine(code, Mode::kLong64) { s.cr4 |= kCr4Osfxsr; }
  void SetXmm(int i, const void* bytes16) { std::memcpy(s.fx.xmm[i].data(), bytes16, 16); }
  void SetXmmString(int i, const std::string& str) {
    uint8_t b[16] = {};
    std::memcpy(b, str.data(), std::min<size_t>(16, str.size()));
    SetXmm(i, b);
  }
  uint64_t Lo(int i) const {
    uint64_t v;
    std::memcpy(&v, s.fx.xmm[i].data(), 8);
    return v;
  }
};

// CRC-32C("123456789") = 0xE3069283 with the usual ~0 start and final
// inversion (RFC 3720 B.4 check value); CRC32 needs no SSE state.
TEST(InterpSse4, Crc32cCheckValue) {
  // crc32 eax, byte [rbx] ; inc rbx ; loop back 9 times via rcx
  const std::vector<uint8_t> code = {
      0xF2, 0x0F, 0x38, 0xF0, 0x03,  // crc32 eax, byte [rbx]
      0x48, 0xFF, 0xC3,              // inc rbx
      0xE2, 0xF6,                    // loop -10
  };
  V2Machine m(code);
  m.s.cr4 &= ~kCr4Osfxsr;  // not an SSE-state instruction
  const char* text = "123456789";
  for (int i = 0; i < 9; ++i) m.Write(kData + i, 1, static_cast<uint8_t>(text[i]));
  m.s.gpr[kRax] = 0xFFFFFFFF'00000000ull | 0xFFFFFFFFu;
  m.s.gpr[kRbx] = kData;
  m.s.gpr[kRcx] = 9;
  for (int i = 0; i < 27; ++i) ASSERT_EQ(m.Run(), -1) << i;
  EXPECT_EQ(m.s.gpr[kRax], 0xFFFFFFFFu ^ 0xE3069283u);  // upper half zeroed by the 32-bit write
}

// pcmpistri xmm1, xmm2, imm8 = 66 0F 3A 63 CA ib.
TEST(InterpSse4, PcmpistriWorkedExamples) {
  struct Case {
    uint8_t imm;
    const char* needle;    // xmm1
    const char* haystack;  // xmm2
    uint32_t ecx;
    uint64_t flags;  // CF ZF SF OF
  };
  const Case cases[] = {
      // equal any, "aeiou" in "xyzzyeu": first match at 5; haystack has a 0 (ZF), needle too (SF).
      {0x00, "aeiou", "xyzzyeu", 5, kFlagCf | kFlagZf | kFlagSf},
      // ... most significant match (imm8[6]): 6.
      {0x40, "aeiou", "xyzzyeu", 6, kFlagCf | kFlagZf | kFlagSf},
      // ranges "az": first byte outside [a, z] with negative polarity -> index 3 ('_').
      {0x14, "az", "abc_def", 3, kFlagCf | kFlagZf | kFlagSf},
      // equal each (strcmp): first difference at 2; masked negative polarity.
      {0x38, "abcd", "abXd", 2, kFlagCf | kFlagZf | kFlagSf},
      // equal ordered (strstr): "lo" in "hello world" at 3; OF = IntRes2[0] = 0.
      {0x0C, "lo", "hello world", 3, kFlagCf | kFlagZf | kFlagSf},
      // no match: ECX = 16, CF = 0.
      {0x0C, "zz", "hello world", 16, kFlagZf | kFlagSf},
      // a match at 0 sets OF.
      {0x0C, "he", "hello world", 0, kFlagCf | kFlagZf | kFlagSf | kFlagOf},
  };
  for (const Case& c : cases) {
    V2Machine m({0x66, 0x0F, 0x3A, 0x63, 0xCA, c.imm});
    m.SetXmmString(1, c.needle);
    m.SetXmmString(2, c.haystack);
    m.s.rflags = 2 | kFlagAf | kFlagPf;
    ASSERT_EQ(m.Run(), -1);
    EXPECT_EQ(m.s.gpr[kRcx], c.ecx) << std::hex << int{c.imm} << " " << c.needle << " / " << c.haystack;
    EXPECT_EQ(m.s.rflags & kArithFlags, c.flags) << std::hex << int{c.imm} << " " << c.needle;
  }
}

// pcmpestrm xmm1, xmm2, 0x40 (equal any, byte mask): lengths from EAX/EDX.
TEST(InterpSse4, PcmpestrmByteMaskWithExplicitLengths) {
  V2Machine m({0x66, 0x0F, 0x3A, 0x60, 0xCA, 0x40});
  m.SetXmmString(1, "ab");
  m.SetXmmString(2, "abcabcabcabcabca");
  m.s.gpr[kRax] = 2;
  m.s.gpr[kRdx] = static_cast<uint64_t>(-4);  // |-4| = 4 valid bytes
  ASSERT_EQ(m.Run(), -1);
  EXPECT_EQ(m.Lo(0), 0xFF00FFFFull);  // a b . a, the rest invalid
  EXPECT_EQ(m.s.rflags & kArithFlags, kFlagCf | kFlagZf | kFlagSf | kFlagOf);
}

TEST(InterpSse4, PshufbReversesAndZeroes) {
  V2Machine m({0x66, 0x0F, 0x38, 0x00, 0xC1});  // pshufb xmm0, xmm1
  uint8_t data[16], idx[16];
  for (int i = 0; i < 16; ++i) data[i] = static_cast<uint8_t>(0xA0 + i), idx[i] = static_cast<uint8_t>(15 - i);
  idx[0] = 0x80;  // bit 7: zero
  m.SetXmm(0, data);
  m.SetXmm(1, idx);
  ASSERT_EQ(m.Run(), -1);
  EXPECT_EQ(m.Lo(0), 0xA8A9AAABACADAE00ull);
}

// ROUNDSS with the precision exception unmasked: an inexact result raises
// #XM (CR4.OSXMMEXCPT) and leaves the destination alone, unless imm8[3]
// suppresses it (SDM vol. 2 ROUNDSS, "Precision Mask").
TEST(InterpSse4, RoundPrecisionSuppression) {
  const float in = 1.5f, two = 2.0f;
  uint32_t in_bits, two_bits;
  std::memcpy(&in_bits, &in, 4);
  std::memcpy(&two_bits, &two, 4);
  for (uint8_t imm : {0x00, 0x08}) {
    V2Machine m({0x66, 0x0F, 0x3A, 0x0A, 0xC1, imm});  // roundss xmm0, xmm1, imm8
    m.s.cr4 |= kCr4Osxmmexcpt;
    m.s.fx.mxcsr = 0x1F80 & ~0x1000u;  // PM clear
    uint8_t src[16] = {}, dst[16] = {};
    std::memcpy(src, &in_bits, 4);
    m.SetXmm(1, src);
    m.SetXmm(0, dst);
    if (imm == 0x00) {
      EXPECT_EQ(m.Run(), kXM);
      EXPECT_EQ(m.Lo(0), 0u);
      EXPECT_TRUE(m.s.fx.mxcsr & 0x20);  // PE
    } else {
      EXPECT_EQ(m.Run(), -1);
      EXPECT_EQ(m.Lo(0), two_bits);  // round to nearest even
      EXPECT_FALSE(m.s.fx.mxcsr & 0x20);
    }
  }
}

// SSE-state instructions check CR0.EM/TS and CR4.OSFXSR like SSE2 ones;
// MMX forms of SSSE3 check CR0.EM/TS only.
TEST(InterpSse4, ControlRegisterChecks) {
  const std::vector<uint8_t> ptest = {0x66, 0x0F, 0x38, 0x17, 0xC1};
  const std::vector<uint8_t> pshufb_mm = {0x0F, 0x38, 0x00, 0xC1};
  {
    V2Machine m(ptest);
    m.s.cr4 &= ~kCr4Osfxsr;
    EXPECT_EQ(m.Run(), kUD);
  }
  {
    V2Machine m(ptest);
    m.s.cr0 |= kCr0Ts;
    EXPECT_EQ(m.Run(), kNM);
  }
  {
    V2Machine m(pshufb_mm);
    m.s.cr4 &= ~kCr4Osfxsr;
    EXPECT_EQ(m.Run(), -1);
  }
  {
    V2Machine m(pshufb_mm);
    m.s.cr0 |= kCr0Em;
    EXPECT_EQ(m.Run(), kUD);
  }
  {
    V2Machine m({0x66, 0x0F, 0x3A, 0x08, 0xC1, 0x00});  // roundps xmm0, xmm1, 0
    m.s.cr0 |= kCr0Em;
    EXPECT_EQ(m.Run(), kUD);
  }
}

}  // namespace
}  // namespace tandem::accel::interp::testing
