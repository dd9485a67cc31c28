// Data-movement, bit and stack handlers (ops_move.cc) in 32- and 64-bit code.
#include <gtest/gtest.h>

#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

using namespace x86;

TEST(InterpMove, ExtendLeaXchgXadd) {
  // movzx eax, bl; movsx ecx, bl; lea edx, [eax+ebx*2+0x10]; xchg eax, ebx; xadd eax, ebx
  Machine m({0x0F, 0xB6, 0xC3, 0x0F, 0xBE, 0xCB, 0x8D, 0x54, 0x58, 0x10, 0x87, 0xD8, 0x0F, 0xC1, 0xD8});
  m.reg(kRbx) = 0x123480;
  m.Step(2);
  EXPECT_EQ(m.reg(kRax), 0x80u);
  EXPECT_EQ(m.reg(kRcx), 0xFFFFFF80u);
  m.Step();
  EXPECT_EQ(m.reg(kRdx), 0x80u + 2 * 0x123480u + 0x10);
  m.Step();
  EXPECT_EQ(m.reg(kRax), 0x123480u);
  EXPECT_EQ(m.reg(kRbx), 0x80u);
  m.Step();  // xadd: ebx = old eax, eax = sum
  EXPECT_EQ(m.reg(kRbx), 0x123480u);
  EXPECT_EQ(m.reg(kRax), 0x123500u);
}

TEST(InterpMove, CmpxchgAndCmpxchg8b) {
  // cmpxchg [0x20000], ecx (twice); cmpxchg8b [0x20000]
  Machine m({0x0F, 0xB1, 0x0D, 0x00, 0x00, 0x02, 0x00, 0x0F, 0xB1, 0x0D, 0x00, 0x00, 0x02, 0x00,
             0x0F, 0xC7, 0x0D, 0x00, 0x00, 0x02, 0x00});
  m.Write(kData, 4, 5);
  m.reg(kRax) = 5;
  m.reg(kRcx) = 9;
  m.Step();
  EXPECT_EQ(m.Read(kData, 4), 9u);
  EXPECT_TRUE(m.flag(kFlagZf));
  m.Step();  // now [mem] = 9 != eax = 5: eax = 9
  EXPECT_EQ(m.reg(kRax), 9u);
  EXPECT_FALSE(m.flag(kFlagZf));
  m.Write(kData + 4, 4, 0xAABBCCDD);
  m.reg(kRdx) = 0xAABBCCDD;
  m.reg(kRbx) = 0x11111111;
  m.reg(kRcx) = 0x22222222;
  m.Step();
  EXPECT_TRUE(m.flag(kFlagZf));
  EXPECT_EQ(m.Read(kData, 8), 0x2222222211111111u);
}

TEST(InterpMove, ConvertsSwapsAndConditionals) {
  // bswap eax; cwde; cdq; cmovz eax, ebx; setz cl
  Machine m({0x0F, 0xC8, 0x98, 0x99, 0x0F, 0x44, 0xC3, 0x0F, 0x94, 0xC1});
  m.reg(kRax) = 0x0080FF12;
  m.Step();
  EXPECT_EQ(m.reg(kRax), 0x12FF8000u);
  m.Step();
  EXPECT_EQ(m.reg(kRax), 0xFFFF8000u);
  m.Step();
  EXPECT_EQ(m.reg(kRdx), 0xFFFFFFFFu);
  m.reg(kRbx) = 42;
  m.s.rflags |= kFlagZf;
  m.Step(2);
  EXPECT_EQ(m.reg(kRax), 42u);
  EXPECT_EQ(m.reg(kRcx) & 0xFF, 1u);
}

TEST(InterpMove, BitTestsAddressMemoryBitStrings) {
  // bts [0x20000], eax; bt [0x20000], eax; bsf ecx, ebx; bsr edx, ebx
  Machine m({0x0F, 0xAB, 0x05, 0x00, 0x00, 0x02, 0x00, 0x0F, 0xA3, 0x05, 0x00, 0x00, 0x02, 0x00,
             0x0F, 0xBC, 0xCB, 0x0F, 0xBD, 0xD3});
  m.reg(kRax) = 35;  // dword at +4, bit 3
  m.Step();
  EXPECT_EQ(m.Read(kData + 4, 4), 8u);
  EXPECT_FALSE(m.flag(kFlagCf));
  m.Step();
  EXPECT_TRUE(m.flag(kFlagCf));
  m.reg(kRbx) = 0x00F0'0100;
  m.Step(2);
  EXPECT_EQ(m.reg(kRcx), 8u);
  EXPECT_EQ(m.reg(kRdx), 23u);
  EXPECT_FALSE(m.flag(kFlagZf));
}

TEST(InterpMove, NegativeBitOffsetGoesBelowTheOperand) {
  Machine m({0x0F, 0xAB, 0x05, 0x00, 0x00, 0x02, 0x00});  // bts [0x20000], eax
  m.reg(kRax) = static_cast<uint32_t>(-1);               // bit 31 of the dword at -4
  m.Step();
  EXPECT_EQ(m.Read(kData - 4, 4), 0x80000000u);
}

TEST(InterpMove, PushPopPushaEnterLeave) {
  // push eax; pop ebx; push dword [0x20000]; pop dword [0x20004]; pusha; popa; enter 8,0; leave
  Machine m({0x50, 0x5B, 0xFF, 0x35, 0x00, 0x00, 0x02, 0x00, 0x8F, 0x05, 0x04, 0x00, 0x02, 0x00, 0x60, 0x61,
             0xC8, 0x08, 0x00, 0x00, 0xC9});
  m.reg(kRax) = 0xCAFE;
  m.Step(2);
  EXPECT_EQ(m.reg(kRbx), 0xCAFEu);
  EXPECT_EQ(m.reg(kRsp), 0x8000u);
  m.Write(kData, 4, 0x12345678);
  m.Step(2);
  EXPECT_EQ(m.Read(kData + 4, 4), 0x12345678u);
  m.reg(kRsi) = 0x5151;
  m.Step();  // pusha
  EXPECT_EQ(m.reg(kRsp), 0x8000u - 32);
  EXPECT_EQ(m.Read(0x8000 - 4, 4), 0xCAFEu);     // eax first
  EXPECT_EQ(m.Read(0x8000 - 20, 4), 0x8000u);    // original esp
  m.reg(kRsi) = 0;
  m.Step();  // popa
  EXPECT_EQ(m.reg(kRsi), 0x5151u);
  EXPECT_EQ(m.reg(kRsp), 0x8000u);
  m.reg(kRbp) = 0x7777;
  m.Step();  // enter 8, 0
  EXPECT_EQ(m.reg(kRbp), 0x8000u - 4);
  EXPECT_EQ(m.reg(kRsp), 0x8000u - 12);
  m.Step();  // leave
  EXPECT_EQ(m.reg(kRbp), 0x7777u);
  EXPECT_EQ(m.reg(kRsp), 0x8000u);
}

TEST(InterpMove, XlatUsesAlAsIndex) {
  Machine m({0xD7});
  m.reg(kRbx) = kData;
  m.reg(kRax) = 0x1203;
  m.Write(kData + 3, 1, 0x99);
  m.Step();
  EXPECT_EQ(m.reg(kRax), 0x1299u);
}

TEST(InterpMove, LongModeRegistersAndRipRelative) {
  // mov rax, rax; mov eax, eax (zero-extends); mov dil, al; push r8; pop r9;
  // movsxd rcx, dword [rip+0x100]; mov ax, 0xffff
  Machine m({0x48, 0x89, 0xC0, 0x89, 0xC0, 0x40, 0x88, 0xC7, 0x41, 0x50, 0x41, 0x59,
             0x48, 0x63, 0x0D, 0x00, 0x01, 0x00, 0x00, 0x66, 0xB8, 0xFF, 0xFF},
            Mode::kLong64);
  m.reg(kRax) = 0xFFFFFFFF'80000012ull;
  m.reg(kRdi) = 0x1111;
  m.reg(kR8) = 0x1'0000'0000ull;
  m.Step(2);
  EXPECT_EQ(m.reg(kRax), 0x80000012u);
  m.Step();
  EXPECT_EQ(m.reg(kRdi), 0x1112u);  // DIL, not BH
  m.Step(2);
  EXPECT_EQ(m.reg(kR9), 0x1'0000'0000ull);
  EXPECT_EQ(m.reg(kRsp), 0x8000u);
  m.Write(kCode + 19 + 0x100, 4, 0xFFFFFFFE);
  m.Step();
  EXPECT_EQ(m.reg(kRcx), ~1ull);
  m.Step();
  EXPECT_EQ(m.reg(kRax), 0x8000FFFFu);
  EXPECT_EQ(m.s.rip, kCode + 23);
}

}  // namespace
}  // namespace tandem::accel::interp::testing
