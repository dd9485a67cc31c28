// ALU, shift and multiply/divide handlers against values worked out from the
// SDM's definitions (and checked on hardware for the flag cases).
#include <gtest/gtest.h>

#include "accel/interp/flags.h"
#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

using namespace x86;

constexpr uint64_t kAllArith = kArithFlags;

struct Out {
  uint64_t rax, rbx, rdx;
  uint64_t flags;  // arithmetic flags only
};

// Runs one instruction with the given inputs in flat 32-bit mode.
Out Run1(std::vector<uint8_t> code, uint64_t rax, uint64_t rbx, uint64_t flags_in = 0, uint64_t rdx = 0,
         uint64_t rcx = 0) {
  Machine m(code);
  m.reg(kRax) = rax;
  m.reg(kRbx) = rbx;
  m.reg(kRcx) = rcx;
  m.reg(kRdx) = rdx;
  m.s.rflags = 2 | flags_in;
  m.Step();
  EXPECT_EQ(m.s.rip, kCode + code.size());
  return {m.reg(kRax), m.reg(kRbx), m.reg(kRdx), m.s.rflags & kAllArith};
}

TEST(InterpAlu, AddFlags) {
  auto o = Run1({0x01, 0xD8}, 0x7FFFFFFF, 1);  // add eax, ebx
  EXPECT_EQ(o.rax, 0x80000000u);
  EXPECT_EQ(o.flags, kFlagOf | kFlagSf | kFlagAf | kFlagPf);
  o = Run1({0x01, 0xD8}, 0xFFFFFFFF, 1);
  EXPECT_EQ(o.rax, 0u);
  EXPECT_EQ(o.flags, kFlagCf | kFlagZf | kFlagAf | kFlagPf);
  o = Run1({0x01, 0xD8}, 0x80000000, 0x80000000);
  EXPECT_EQ(o.flags, kFlagCf | kFlagOf | kFlagZf | kFlagPf);
  o = Run1({0x01, 0xD8}, 1, 2);
  EXPECT_EQ(o.rax, 3u);
  EXPECT_EQ(o.flags, kFlagPf);
}

// The sized handlers' flags (AluSized: the host's own instruction on x86-64)
// are the portable rules' flags, at every size, on values around each
// carry, overflow, sign, zero and nibble boundary.
template <unsigned kSize>
void ExpectAluSizedMatchesRules() {
  const uint64_t m = SizeMask(kSize);
  const uint64_t sign = SignBit(kSize);
  std::vector<uint64_t> values;
  for (uint64_t base : {uint64_t{0}, uint64_t{1}, uint64_t{0xF}, uint64_t{0x10}, sign - 1, sign, m}) {
    for (uint64_t d : {uint64_t{0}, uint64_t{1}, uint64_t{2}, m}) values.push_back((base + d) & m);
  }
  values.push_back(0x5A5A5A5A5A5A5A5Aull & m);
  values.push_back(0x123456789ABCDEF1ull & m);
  for (uint64_t a : values) {
    for (uint64_t b : values) {
      SCOPED_TRACE(::testing::Message() << "size " << kSize << " a " << std::hex << a << " b " << b);
      uint64_t want, got;
      uint64_t r = AddWithFlags(a, b, false, kSize, &want);
      EXPECT_EQ((AluSized<HostAlu::kAdd, kSize>(a, b, &got)), r);
      EXPECT_EQ(got, want);
      r = SubWithFlags(a, b, false, kSize, &want);
      EXPECT_EQ((AluSized<HostAlu::kSub, kSize>(a, b, &got)), r);
      EXPECT_EQ(got, want);
      EXPECT_EQ((AluSized<HostAlu::kAnd, kSize>(a, b, &got)), a & b);
      EXPECT_EQ(got, LogicFlags(a & b, kSize));
      EXPECT_EQ((AluSized<HostAlu::kOr, kSize>(a, b, &got)), a | b);
      EXPECT_EQ(got, LogicFlags(a | b, kSize));
      EXPECT_EQ((AluSized<HostAlu::kXor, kSize>(a, b, &got)), a ^ b);
      EXPECT_EQ(got, LogicFlags(a ^ b, kSize));
    }
    uint64_t want, got;
    uint64_t r = AddWithFlags(a, 1, false, kSize, &want);
    EXPECT_EQ((AluSized<HostAlu::kInc, kSize>(a, 0, &got)), r);
    EXPECT_EQ(got & ~kFlagCf, want & ~kFlagCf);
    r = SubWithFlags(a, 1, false, kSize, &want);
    EXPECT_EQ((AluSized<HostAlu::kDec, kSize>(a, 0, &got)), r);
    EXPECT_EQ(got & ~kFlagCf, want & ~kFlagCf);
  }
}

TEST(InterpAlu, SizedFlagsMatchTheRules) {
  ExpectAluSizedMatchesRules<1>();
  ExpectAluSizedMatchesRules<2>();
  ExpectAluSizedMatchesRules<4>();
  ExpectAluSizedMatchesRules<8>();
}

TEST(InterpAlu, AdcSbbUseCarry) {
  auto o = Run1({0x11, 0xD8}, 0xFFFFFFFF, 0, kFlagCf);  // adc eax, ebx
  EXPECT_EQ(o.rax, 0u);
  EXPECT_EQ(o.flags & (kFlagCf | kFlagZf | kFlagAf), kFlagCf | kFlagZf | kFlagAf);
  o = Run1({0x11, 0xD8}, 0xFFFFFFFF, 0xFFFFFFFF, kFlagCf);
  EXPECT_EQ(o.rax, 0xFFFFFFFFu);
  EXPECT_TRUE(o.flags & kFlagCf);
  o = Run1({0x19, 0xD8}, 0, 0, kFlagCf);  // sbb eax, ebx
  EXPECT_EQ(o.rax, 0xFFFFFFFFu);
  EXPECT_EQ(o.flags, kFlagCf | kFlagSf | kFlagAf | kFlagPf);
  o = Run1({0x19, 0xD8}, 5, 5, kFlagCf);
  EXPECT_EQ(o.rax, 0xFFFFFFFFu);
  EXPECT_TRUE(o.flags & kFlagCf);
}

TEST(InterpAlu, SubCmpFlags) {
  auto o = Run1({0x29, 0xD8}, 0x80000000, 1);  // sub eax, ebx
  EXPECT_EQ(o.rax, 0x7FFFFFFFu);
  EXPECT_EQ(o.flags, kFlagOf | kFlagAf | kFlagPf);
  o = Run1({0x39, 0xD8}, 3, 5);  // cmp eax, ebx
  EXPECT_EQ(o.rax, 3u);
  EXPECT_EQ(o.flags, kFlagCf | kFlagSf | kFlagAf);
  o = Run1({0x39, 0xD8}, 7, 7);
  EXPECT_EQ(o.flags, kFlagZf | kFlagPf);
}

TEST(InterpAlu, LogicClearsCarryAndOverflow) {
  auto o = Run1({0x85, 0xC0}, 0x80, 0, kFlagCf | kFlagOf);  // test eax, eax
  EXPECT_EQ(o.flags, 0u);  // 0x80: one bit set -> PF clear
  o = Run1({0x31, 0xC0}, 0x1234, 0, kFlagCf);  // xor eax, eax
  EXPECT_EQ(o.rax, 0u);
  EXPECT_EQ(o.flags, kFlagZf | kFlagPf);
  o = Run1({0x09, 0xD8}, 0xF0, 0x0F);  // or eax, ebx
  EXPECT_EQ(o.rax, 0xFFu);
  o = Run1({0x21, 0xD8}, 0xF0, 0x3C);  // and eax, ebx
  EXPECT_EQ(o.rax, 0x30u);
}

TEST(InterpAlu, ByteRegistersAndImmediates) {
  auto o = Run1({0x80, 0xC4, 0xFF}, 0x12345678, 0);  // add ah, 0xff
  EXPECT_EQ(o.rax, 0x12345578u);
  EXPECT_TRUE(o.flags & kFlagCf);
  o = Run1({0x83, 0xE8, 0x01}, 0, 0);  // sub eax, 1 (imm8 sign-extended)
  EXPECT_EQ(o.rax, 0xFFFFFFFFu);
  o = Run1({0x66, 0x83, 0xC0, 0xFF}, 0xABCD0001, 0);  // add ax, -1
  EXPECT_EQ(o.rax, 0xABCD0000u);
  EXPECT_EQ(o.flags, kFlagCf | kFlagZf | kFlagAf | kFlagPf);
}

TEST(InterpAlu, IncDecNegNot) {
  auto o = Run1({0x40}, 0x7FFFFFFF, 0, kFlagCf);  // inc eax keeps CF
  EXPECT_EQ(o.rax, 0x80000000u);
  EXPECT_EQ(o.flags, kFlagCf | kFlagOf | kFlagSf | kFlagAf | kFlagPf);
  o = Run1({0x48}, 0, 0);  // dec eax
  EXPECT_EQ(o.rax, 0xFFFFFFFFu);
  EXPECT_EQ(o.flags, kFlagSf | kFlagAf | kFlagPf);
  o = Run1({0xF7, 0xD8}, 5, 0);  // neg eax
  EXPECT_EQ(o.rax, 0xFFFFFFFBu);
  EXPECT_TRUE(o.flags & kFlagCf);
  o = Run1({0xF7, 0xD8}, 0, 0);
  EXPECT_EQ(o.flags, kFlagZf | kFlagPf);
  o = Run1({0xF7, 0xD0}, 0x0F0F0F0F, 0, kFlagCf);  // not eax: flags untouched
  EXPECT_EQ(o.rax, 0xF0F0F0F0u);
  EXPECT_EQ(o.flags, kFlagCf);
}

TEST(InterpAlu, MemoryDestination) {
  // add dword [0x20000], 5 ; lock inc dword [0x20000]
  Machine m({0x83, 0x05, 0x00, 0x00, 0x02, 0x00, 0x05, 0xF0, 0xFF, 0x05, 0x00, 0x00, 0x02, 0x00});
  m.Write(kData, 4, 10);
  m.Step(2);
  EXPECT_EQ(m.Read(kData, 4), 16u);
}

TEST(InterpAlu, DecimalAdjust) {
  auto o = Run1({0x27}, 0x0F, 0);  // daa: 0x0F -> 0x15
  EXPECT_EQ(o.rax, 0x15u);
  EXPECT_EQ(o.flags & (kFlagAf | kFlagCf), kFlagAf);
  o = Run1({0x27}, 0x9A, 0);  // daa: 0x9A -> 0x00, CF
  EXPECT_EQ(o.rax, 0x00u);
  EXPECT_TRUE(o.flags & kFlagCf);
  o = Run1({0x2F}, 0x0F, 0);  // das: 0x0F -> 0x09
  EXPECT_EQ(o.rax, 0x09u);
  o = Run1({0x37}, 0x000B, 0);  // aaa: AX 0x000B -> 0x0101
  EXPECT_EQ(o.rax, 0x0101u);
  EXPECT_TRUE(o.flags & kFlagCf);
  o = Run1({0xD4, 0x0A}, 0x4F, 0);  // aam: 79 -> AH 7, AL 9
  EXPECT_EQ(o.rax, 0x0709u);
  o = Run1({0xD5, 0x0A}, 0x0709, 0);  // aad: -> 79
  EXPECT_EQ(o.rax, 79u);
}

TEST(InterpShift, ShiftsByOneClAndImmediate) {
  auto o = Run1({0xD1, 0xE0}, 0x80000001, 0);  // shl eax, 1
  EXPECT_EQ(o.rax, 2u);
  EXPECT_EQ(o.flags & (kFlagCf | kFlagOf | kFlagZf), kFlagCf | kFlagOf);
  o = Run1({0xC1, 0xE8, 0x04}, 0x80000018, 0);  // shr eax, 4
  EXPECT_EQ(o.rax, 0x08000001u);
  EXPECT_TRUE(o.flags & kFlagCf);
  o = Run1({0xD3, 0xF8}, 0x80000000, 0, 0, 0, 31);  // sar eax, cl (31)
  EXPECT_EQ(o.rax, 0xFFFFFFFFu);
  EXPECT_FALSE(o.flags & kFlagCf);
  o = Run1({0xD3, 0xE0}, 0x1234, 0, kFlagCf, 0, 32);  // shl eax, cl: count masked to 0
  EXPECT_EQ(o.rax, 0x1234u);
  EXPECT_EQ(o.flags, kFlagCf);
  o = Run1({0xC0, 0xE0, 0x09}, 0xFF, 0);  // shl al, 9 -> 0, CF = 0
  EXPECT_EQ(o.rax & 0xFF, 0u);
  EXPECT_FALSE(o.flags & kFlagCf);
}

TEST(InterpShift, Rotates) {
  auto o = Run1({0xD0, 0xC0}, 0x81, 0);  // rol al, 1
  EXPECT_EQ(o.rax, 0x03u);
  EXPECT_EQ(o.flags & (kFlagCf | kFlagOf), kFlagCf | kFlagOf);
  o = Run1({0xC1, 0xC8, 0x08}, 0x12345678, 0);  // ror eax, 8
  EXPECT_EQ(o.rax, 0x78123456u);
  EXPECT_FALSE(o.flags & kFlagCf);
  o = Run1({0xD0, 0xD0}, 0x80, 0, 0);  // rcl al, 1 with CF=0
  EXPECT_EQ(o.rax, 0x00u);
  EXPECT_TRUE(o.flags & kFlagCf);
  o = Run1({0xD0, 0xD8}, 0x01, 0, kFlagCf);  // rcr al, 1 with CF=1
  EXPECT_EQ(o.rax, 0x80u);
  EXPECT_TRUE(o.flags & kFlagCf);
  o = Run1({0xC0, 0xD0, 0x09}, 0x55, 0, kFlagCf);  // rcl al, 9 = identity (mod 9)
  EXPECT_EQ(o.rax, 0x55u);
  EXPECT_TRUE(o.flags & kFlagCf);
}

TEST(InterpShift, DoubleShifts) {
  auto o = Run1({0x0F, 0xA4, 0xD8, 0x08}, 0x12345678, 0x9ABCDEF0);  // shld eax, ebx, 8
  EXPECT_EQ(o.rax, 0x3456789Au);
  o = Run1({0x0F, 0xAC, 0xD8, 0x08}, 0x12345678, 0x9ABCDEF0);  // shrd eax, ebx, 8
  EXPECT_EQ(o.rax, 0xF0123456u);
  EXPECT_FALSE(o.flags & kFlagCf);
}

TEST(InterpMulDiv, MultiplyForms) {
  auto o = Run1({0xF7, 0xE3}, 0x80000000, 4);  // mul ebx
  EXPECT_EQ(o.rax, 0u);
  EXPECT_EQ(o.rdx, 2u);
  EXPECT_EQ(o.flags & (kFlagCf | kFlagOf), kFlagCf | kFlagOf);
  o = Run1({0xF6, 0xE3}, 0x10, 0x10);  // mul bl -> ax = 0x100
  EXPECT_EQ(o.rax & 0xFFFF, 0x100u);
  o = Run1({0xF7, 0xEB}, 0xFFFFFFFF, 5);  // imul ebx: -1 * 5
  EXPECT_EQ(o.rax, 0xFFFFFFFBu);
  EXPECT_EQ(o.rdx, 0xFFFFFFFFu);
  EXPECT_EQ(o.flags & (kFlagCf | kFlagOf), 0u);
  o = Run1({0x0F, 0xAF, 0xC3}, 0x10000, 0x10000);  // imul eax, ebx: overflow
  EXPECT_EQ(o.rax, 0u);
  EXPECT_EQ(o.flags & (kFlagCf | kFlagOf), kFlagCf | kFlagOf);
  o = Run1({0x6B, 0xC3, 0xFD}, 0, 7);  // imul eax, ebx, -3
  EXPECT_EQ(o.rax, static_cast<uint32_t>(-21));
  o = Run1({0x69, 0xC3, 0x00, 0x01, 0x00, 0x00}, 0, 7);  // imul eax, ebx, 256
  EXPECT_EQ(o.rax, 7u * 256);
}

TEST(InterpMulDiv, Divide) {
  auto o = Run1({0xF7, 0xF3}, 100, 7, 0, 0);  // div ebx
  EXPECT_EQ(o.rax, 14u);
  EXPECT_EQ(o.rdx, 2u);
  o = Run1({0xF7, 0xF3}, 0, 0x10, 0, 1);  // edx:eax = 2^32 / 16
  EXPECT_EQ(o.rax, 0x10000000u);
  o = Run1({0xF7, 0xFB}, static_cast<uint32_t>(-100), 7, 0, 0xFFFFFFFF);  // idiv ebx
  EXPECT_EQ(o.rax, static_cast<uint32_t>(-14));
  EXPECT_EQ(o.rdx, static_cast<uint32_t>(-2));
  o = Run1({0xF6, 0xF3}, 0x0105, 0x10);  // div bl: ax=0x105 / 16
  EXPECT_EQ(o.rax & 0xFFFF, 0x0510u);    // ah = rem 5, al = 0x10
}

// #DE goes through the real-mode IVT: a division by zero and a quotient
// overflow both land in the handler with the faulting IP pushed.
TEST(InterpMulDiv, DivideErrorIsDelivered) {
  for (uint32_t edx : {0u, 1u}) {
    Machine m({0x66, 0xF7, 0xF3}, Mode::kReal);  // div ebx
    m.Write(0, 4, 0x20000100);                   // IVT[0] = 2000:0100
    m.reg(kRax) = 5;
    m.reg(kRdx) = edx;
    m.reg(kRbx) = edx ? 1 : 0;  // overflow: (2^32+5)/1
    m.Step();
    EXPECT_EQ(m.s.seg[kCs].selector, 0x2000);
    EXPECT_EQ(m.s.rip, 0x100u);
    EXPECT_EQ(m.reg(kRsp), 0x8000u - 6);
    EXPECT_EQ(m.Read(0x8000 - 6, 2), 0u);  // IP of the DIV
    EXPECT_EQ(m.Read(0x8000 - 4, 2), kCode >> 4);
  }
}

}  // namespace
}  // namespace tandem::accel::interp::testing
