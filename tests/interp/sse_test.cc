// SSE/SSE2 and MMX handlers (ops_sse.cc, ops_sse_fp.cc). Expected values are
// literal results (and MXCSR flags) of the same instructions on real x86-64
// hardware for the inputs given; MMX ones were worked out by hand.
#include <gtest/gtest.h>

#include <cstring>

#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

using namespace x86;

// Long mode with CR4.OSFXSR set; Run() executes one instruction and returns
// the vector it raised (-1 for none), leaving RIP on a faulting instruction.
struct SseMachine : Machine {
  explicit SseMachine(const std::vector<uint8_t>& code, Mode mode = Mode::kLong64) : Machine(code, mode) {
    s.cr4 |= kCr4Osfxsr;
  }
  void SetXmm(int i, uint64_t lo, uint64_t hi) {
    std::memcpy(s.fx.xmm[i].data(), &lo, 8);
    std::memcpy(s.fx.xmm[i].data() + 8, &hi, 8);
  }
  uint64_t Lo(int i) const {
    uint64_t v;
    std::memcpy(&v, s.fx.xmm[i].data(), 8);
    return v;
  }
  uint64_t Hi(int i) const {
    uint64_t v;
    std::memcpy(&v, s.fx.xmm[i].data() + 8, 8);
    return v;
  }
  uint64_t Mm(int i) const {
    uint64_t v;
    std::memcpy(&v, s.fx.st[i].data(), 8);
    return v;
  }
  void RunAll(int n) {
    for (int i = 0; i < n; ++i) ASSERT_EQ(Run(), -1) << "instruction " << i;
  }
};

constexpr uint64_t kALo = 0x80017FFF0001FFFEull, kAHi = 0x7F80FF0012345678ull;
constexpr uint64_t kBLo = 0x7FFF8000FFFF0002ull, kBHi = 0x0180FF01FEDCBA98ull;

struct IntCase {
  uint8_t opcode;  // 66 0F opcode /r with xmm0, xmm1
  const char* name;
  uint64_t lo, hi;
};

TEST(InterpSse, PackedIntegerXmmForms) {
  const IntCase cases[] = {
      {0xFC, "paddb", 0xFF00FFFFFF00FF00ull, 0x8000FE0110101010ull},
      {0xFD, "paddw", 0x0000FFFF00000000ull, 0x8100FE0111101110ull},
      {0xFE, "paddd", 0x0000FFFF00010000ull, 0x8101FE0111111110ull},
      {0xD4, "paddq", 0x0001000000010000ull, 0x8101FE0211111110ull},
      {0xF8, "psubb", 0x0102FFFF0102FFFCull, 0x7E0000FF14589CE0ull},
      {0xF9, "psubw", 0x0002FFFF0002FFFCull, 0x7E00FFFF13589BE0ull},
      {0xFA, "psubd", 0x0001FFFF0002FFFCull, 0x7DFFFFFF13579BE0ull},
      {0xFB, "psubq", 0x0001FFFE0002FFFCull, 0x7DFFFFFE13579BE0ull},
      {0xEC, "paddsb", 0xFF00FFFFFF00FF00ull, 0x7F80FE0110101010ull},
      {0xED, "paddsw", 0x0000FFFF00000000ull, 0x7FFFFE0111101110ull},
      {0xDC, "paddusb", 0xFFFFFFFFFFFFFFFFull, 0x80FFFF01FFFFFFFFull},
      {0xDD, "paddusw", 0xFFFFFFFFFFFFFFFFull, 0x8100FFFFFFFFFFFFull},
      {0xE8, "psubsb", 0x80027FFF0102FFFCull, 0x7E0000FF14587F7Full},
      {0xE9, "psubsw", 0x80007FFF0002FFFCull, 0x7E00FFFF13587FFFull},
      {0xD8, "psubusb", 0x010000FF0000FFFCull, 0x7E00000000000000ull},
      {0xD9, "psubusw", 0x000200000000FFFCull, 0x7E00000000000000ull},
      {0x74, "pcmpeqb", 0x0000000000000000ull, 0x00FFFF0000000000ull},
      {0x75, "pcmpeqw", 0x0000000000000000ull, 0x0000000000000000ull},
      {0x76, "pcmpeqd", 0x0000000000000000ull, 0x0000000000000000ull},
      {0x64, "pcmpgtb", 0x00FFFF00FFFF0000ull, 0xFF000000FFFFFFFFull},
      {0x65, "pcmpgtw", 0x0000FFFFFFFF0000ull, 0xFFFF0000FFFFFFFFull},
      {0x66, "pcmpgtd", 0x00000000FFFFFFFFull, 0xFFFFFFFFFFFFFFFFull},
      {0xDA, "pminub", 0x7F017F0000010002ull, 0x0180FF0012345678ull},
      {0xDE, "pmaxub", 0x80FF80FFFFFFFFFEull, 0x7F80FF01FEDCBA98ull},
      {0xEA, "pminsw", 0x80018000FFFFFFFEull, 0x0180FF00FEDCBA98ull},
      {0xEE, "pmaxsw", 0x7FFF7FFF00010002ull, 0x7F80FF0112345678ull},
      {0xE0, "pavgb", 0x8080808080808080ull, 0x4080FF0188888888ull},
      {0xE3, "pavgw", 0x8000800080008000ull, 0x4080FF0188888888ull},
      {0xD5, "pmullw", 0xFFFF8000FFFFFFFCull, 0x4000FF003CB08740ull},
      {0xE5, "pmulhw", 0xC000C000FFFFFFFFull, 0x00BF0000FFEBE88Eull},
      {0xE4, "pmulhuw", 0x3FFF3FFF00000001ull, 0x00BFFE01121F3F06ull},
      {0xF4, "pmuludq", 0x0001FFFC0005FFFCull, 0x121FA00A35068740ull},
      {0xF5, "pmaddwd", 0x80017FFFFFFFFFFBull, 0x00C03F00E879C3F0ull},
      {0xF6, "psadbw", 0x00000000000005F7ull, 0x0000000000000297ull},
      {0xDB, "pand", 0x0001000000010002ull, 0x0180FF0012141218ull},
      {0xDF, "pandn", 0x7FFE8000FFFE0000ull, 0x00000001ECC8A880ull},
      {0xEB, "por", 0xFFFFFFFFFFFFFFFEull, 0x7F80FF01FEFCFEF8ull},
      {0xEF, "pxor", 0xFFFEFFFFFFFEFFFCull, 0x7E000001ECE8ECE0ull},
      {0x60, "punpcklbw", 0xFF00FF0100FF02FEull, 0x7F80FF01807F00FFull},
      {0x61, "punpcklwd", 0xFFFF00010002FFFEull, 0x7FFF800180007FFFull},
      {0x62, "punpckldq", 0xFFFF00020001FFFEull, 0x7FFF800080017FFFull},
      {0x6C, "punpcklqdq", 0x80017FFF0001FFFEull, 0x7FFF8000FFFF0002ull},
      {0x68, "punpckhbw", 0xFE12DC34BA569878ull, 0x017F8080FFFF0100ull},
      {0x69, "punpckhwd", 0xFEDC1234BA985678ull, 0x01807F80FF01FF00ull},
      {0x6A, "punpckhdq", 0xFEDCBA9812345678ull, 0x0180FF017F80FF00ull},
      {0x6D, "punpckhqdq", 0x7F80FF0012345678ull, 0x0180FF01FEDCBA98ull},
      {0x63, "packsswb", 0x7F807F7F807F01FEull, 0x7F8080807F80FF02ull},
      {0x6B, "packssdw", 0x7FFF7FFF80007FFFull, 0x7FFF80007FFF8000ull},
      {0x67, "packuswb", 0xFF00FFFF00FF0100ull, 0xFF000000FF000002ull},
      // Shifts by xmm1 = 4 (the count is all 64 low bits of xmm1).
      {0xF1, "psllw", 0x0010FFF00010FFE0ull, 0xF800F00023406780ull},
      {0xF2, "pslld", 0x0017FFF0001FFFE0ull, 0xF80FF00023456780ull},
      {0xF3, "psllq", 0x0017FFF0001FFFE0ull, 0xF80FF00123456780ull},
      {0xD1, "psrlw", 0x080007FF00000FFFull, 0x07F80FF001230567ull},
      {0xD2, "psrld", 0x080017FF00001FFFull, 0x07F80FF001234567ull},
      {0xD3, "psrlq", 0x080017FFF0001FFFull, 0x07F80FF001234567ull},
      {0xE1, "psraw", 0xF80007FF0000FFFFull, 0x07F8FFF001230567ull},
      {0xE2, "psrad", 0xF80017FF00001FFFull, 0x07F80FF001234567ull},
  };
  for (const IntCase& c : cases) {
    SseMachine m({0x66, 0x0F, c.opcode, 0xC1});
    m.SetXmm(0, kALo, kAHi);
    const bool shift = c.name[1] == 's' && (c.name[2] == 'l' || c.name[2] == 'r');  // psll/psrl/psra
    if (shift) {
      m.SetXmm(1, 4, 0x1234);
    } else {
      m.SetXmm(1, kBLo, kBHi);
    }
    ASSERT_EQ(m.Run(), -1) << c.name;
    EXPECT_EQ(m.Lo(0), c.lo) << c.name;
    EXPECT_EQ(m.Hi(0), c.hi) << c.name;
    EXPECT_EQ(m.s.rip, kCode + 4);
  }
}

TEST(InterpSse, ShiftCountsBeyondTheLaneWidth) {
  const IntCase cases[] = {
      {0xE1, "psraw", 0xFFFF00000000FFFFull, 0x0000FFFF00000000ull},
      {0xE2, "psrad", 0xFFFFFFFF00000000ull, 0x0000000000000000ull},
      {0xD3, "psrlq", 0, 0},
      {0xF1, "psllw", 0, 0},
  };
  for (const IntCase& c : cases) {
    SseMachine m({0x66, 0x0F, c.opcode, 0xC1});
    m.SetXmm(0, kALo, kAHi);
    m.SetXmm(1, 100, 0);
    ASSERT_EQ(m.Run(), -1) << c.name;
    EXPECT_EQ(m.Lo(0), c.lo) << c.name;
    EXPECT_EQ(m.Hi(0), c.hi) << c.name;
  }
}

TEST(InterpSse, ImmediateShiftsAndShuffles) {
  // psllw xmm0, 4; psrad xmm1, 4; psrlq xmm2, 4; pslldq xmm3, 3; psrldq xmm4, 5;
  // pshufd xmm5, xmm0, 0x1b; pshufhw xmm6, xmm0, 0x1b; pshuflw xmm7, xmm0, 0x1b;
  // shufps xmm8, xmm9, 0x1b; shufpd xmm10, xmm11, 1
  SseMachine m({0x66, 0x0F, 0x71, 0xF0, 0x04, 0x66, 0x0F, 0x72, 0xE1, 0x04, 0x66, 0x0F, 0x73, 0xD2, 0x04,
                0x66, 0x0F, 0x73, 0xFB, 0x03, 0x66, 0x0F, 0x73, 0xDC, 0x05, 0x66, 0x0F, 0x70, 0xE8, 0x1B,
                0xF3, 0x0F, 0x70, 0xF0, 0x1B, 0xF2, 0x0F, 0x70, 0xF8, 0x1B, 0x45, 0x0F, 0xC6, 0xC1, 0x1B,
                0x66, 0x45, 0x0F, 0xC6, 0xD3, 0x01});
  for (int i = 0; i <= 10; ++i) m.SetXmm(i, kALo, kAHi);
  m.SetXmm(9, kBLo, kBHi);
  m.SetXmm(11, kBLo, kBHi);
  m.RunAll(5);
  EXPECT_EQ(m.Lo(0), 0x0010FFF00010FFE0ull);
  EXPECT_EQ(m.Hi(0), 0xF800F00023406780ull);
  EXPECT_EQ(m.Lo(1), 0xF80017FF00001FFFull);
  EXPECT_EQ(m.Hi(1), 0x07F80FF001234567ull);
  EXPECT_EQ(m.Lo(2), 0x080017FFF0001FFFull);
  EXPECT_EQ(m.Hi(2), 0x07F80FF001234567ull);
  EXPECT_EQ(m.Lo(3), 0xFF0001FFFE000000ull);
  EXPECT_EQ(m.Hi(3), 0x001234567880017Full);
  EXPECT_EQ(m.Lo(4), 0x001234567880017Full);
  EXPECT_EQ(m.Hi(4), 0x00000000007F80FFull);
  m.SetXmm(0, kALo, kAHi);
  m.RunAll(5);
  EXPECT_EQ(m.Lo(5), 0x123456787F80FF00ull);  // pshufd
  EXPECT_EQ(m.Hi(5), 0x0001FFFE80017FFFull);
  EXPECT_EQ(m.Lo(6), 0x80017FFF0001FFFEull);  // pshufhw
  EXPECT_EQ(m.Hi(6), 0x56781234FF007F80ull);
  EXPECT_EQ(m.Lo(7), 0xFFFE00017FFF8001ull);  // pshuflw
  EXPECT_EQ(m.Hi(7), 0x7F80FF0012345678ull);
  EXPECT_EQ(m.Lo(8), 0x123456787F80FF00ull);  // shufps
  EXPECT_EQ(m.Hi(8), 0xFFFF00027FFF8000ull);
  EXPECT_EQ(m.Lo(10), 0x7F80FF0012345678ull);  // shufpd
  EXPECT_EQ(m.Hi(10), 0x7FFF8000FFFF0002ull);
}

TEST(InterpSse, AlignedAndUnalignedMoves) {
  // movdqa xmm2, [0x20000]; movdqu xmm3, [0x20001]; movaps [0x20020], xmm2; movups [0x20031], xmm3;
  // movss xmm4, [0x20000]; movss xmm5, xmm3; movsd xmm6, [0x20008]; movsd [0x20040], xmm3;
  // movhps xmm7, [0x20000]; movlps xmm7, [0x20008]; movhlps xmm8, xmm2; movlhps xmm9, xmm2;
  // movhpd [0x20048], xmm3; movlpd [0x20050], xmm2
  SseMachine m({0x66, 0x0F, 0x6F, 0x14, 0x25, 0x00, 0x00, 0x02, 0x00, 0xF3, 0x0F, 0x6F, 0x1C, 0x25, 0x01, 0x00,
                0x02, 0x00, 0x0F, 0x29, 0x14, 0x25, 0x20, 0x00, 0x02, 0x00, 0x0F, 0x11, 0x1C, 0x25, 0x31, 0x00,
                0x02, 0x00, 0xF3, 0x0F, 0x10, 0x24, 0x25, 0x00, 0x00, 0x02, 0x00, 0xF3, 0x0F, 0x10, 0xEB, 0xF2,
                0x0F, 0x10, 0x34, 0x25, 0x08, 0x00, 0x02, 0x00, 0xF2, 0x0F, 0x11, 0x1C, 0x25, 0x40, 0x00, 0x02,
                0x00, 0x0F, 0x16, 0x3C, 0x25, 0x00, 0x00, 0x02, 0x00, 0x0F, 0x12, 0x3C, 0x25, 0x08, 0x00, 0x02,
                0x00, 0x44, 0x0F, 0x12, 0xC2, 0x44, 0x0F, 0x16, 0xCA, 0x66, 0x0F, 0x17, 0x1C, 0x25, 0x48, 0x00,
                0x02, 0x00, 0x66, 0x0F, 0x13, 0x14, 0x25, 0x50, 0x00, 0x02, 0x00});
  for (unsigned i = 0; i < 32; ++i) m.Write(kData + i, 1, 0x10 + i);
  for (int i = 4; i <= 9; ++i) m.SetXmm(i, 0xAAAAAAAAAAAAAAAAull, 0xBBBBBBBBBBBBBBBBull);
  m.RunAll(14);
  EXPECT_EQ(m.Lo(2), 0x1716151413121110ull);
  EXPECT_EQ(m.Hi(2), 0x1F1E1D1C1B1A1918ull);
  EXPECT_EQ(m.Lo(3), 0x1817161514131211ull);
  EXPECT_EQ(m.Hi(3), 0x201F1E1D1C1B1A19ull);
  EXPECT_EQ(m.Read(kData + 0x20, 8), 0x1716151413121110ull);
  EXPECT_EQ(m.Read(kData + 0x28, 8), 0x1F1E1D1C1B1A1918ull);
  EXPECT_EQ(m.Read(kData + 0x31, 8), 0x1817161514131211ull);
  EXPECT_EQ(m.Read(kData + 0x39, 7), 0x1F1E1D1C1B1A19ull);  // byte 0x40 is movsd's
  EXPECT_EQ(m.Lo(4), 0x0000000013121110ull);  // movss load zeroes the rest
  EXPECT_EQ(m.Hi(4), 0u);
  EXPECT_EQ(m.Lo(5), 0xAAAAAAAA14131211ull);  // movss reg merges
  EXPECT_EQ(m.Hi(5), 0xBBBBBBBBBBBBBBBBull);
  EXPECT_EQ(m.Lo(6), 0x1F1E1D1C1B1A1918ull);
  EXPECT_EQ(m.Hi(6), 0u);
  EXPECT_EQ(m.Read(kData + 0x40, 8), 0x1817161514131211ull);
  EXPECT_EQ(m.Lo(7), 0x1F1E1D1C1B1A1918ull);  // movlps after movhps
  EXPECT_EQ(m.Hi(7), 0x1716151413121110ull);
  EXPECT_EQ(m.Lo(8), 0x1F1E1D1C1B1A1918ull);  // movhlps
  EXPECT_EQ(m.Hi(8), 0xBBBBBBBBBBBBBBBBull);
  EXPECT_EQ(m.Lo(9), 0xAAAAAAAAAAAAAAAAull);  // movlhps
  EXPECT_EQ(m.Hi(9), 0x1716151413121110ull);
  EXPECT_EQ(m.Read(kData + 0x48, 8), 0x201F1E1D1C1B1A19ull);
  EXPECT_EQ(m.Read(kData + 0x50, 8), 0x1716151413121110ull);
}

TEST(InterpSse, MisalignedAlignedFormsRaiseGp) {
  // movaps xmm0, [rax]; movdqa [rax], xmm1; paddb xmm0, [rax]; movups xmm0, [rax] (fine)
  for (std::vector<uint8_t> code : {std::vector<uint8_t>{0x0F, 0x28, 0x00}, std::vector<uint8_t>{0x66, 0x0F, 0x7F, 0x08},
                                    std::vector<uint8_t>{0x66, 0x0F, 0xFC, 0x00}}) {
    SseMachine m(code);
    m.reg(kRax) = kData + 8;
    m.SetXmm(0, 1, 2);
    m.SetXmm(1, 3, 4);
    EXPECT_EQ(m.Run(), kGP);
    EXPECT_EQ(m.s.rip, kCode);
    EXPECT_EQ(m.Lo(0), 1u);
    EXPECT_EQ(m.Read(kData + 8, 8), 0u);
  }
  SseMachine m({0x0F, 0x10, 0x00});
  m.reg(kRax) = kData + 8;
  m.Write(kData + 8, 8, 0x1122334455667788ull);
  EXPECT_EQ(m.Run(), -1);
  EXPECT_EQ(m.Lo(0), 0x1122334455667788ull);
}

TEST(InterpSse, UnalignedStoreAcrossANonWritablePageWritesNothing) {
  // movups [rax], xmm0 with the second page read-only (4 KiB pages at 0x20000).
  SseMachine m({0x0F, 0x11, 0x00});
  m.Write(0x3000, 8, 0x4000 | 3);
  for (uint64_t i = 0; i < 512; ++i) m.Write(0x4000 + i * 8, 8, (i << 12) | (i == 0x21 ? 1 : 3));
  m.s.cr0 |= kCr0Wp;
  m.reg(kRax) = 0x21000 - 8;
  m.SetXmm(0, ~0ull, ~0ull);
  EXPECT_EQ(m.Run(), kPF);
  EXPECT_EQ(m.Read(0x21000 - 8, 8), 0u);
}

TEST(InterpSse, MovdMovqForms) {
  // movd xmm0, eax; movq xmm1, rax; movd ecx, xmm1; movq rdx, xmm1; movq xmm2, xmm1;
  // movq xmm3, [0x20000]; movq [0x20010], xmm1; movd [0x20018], xmm1; movd xmm4, [0x20004]
  SseMachine m({0x66, 0x0F, 0x6E, 0xC0, 0x66, 0x48, 0x0F, 0x6E, 0xC8, 0x66, 0x0F, 0x7E, 0xC9, 0x66, 0x48,
                0x0F, 0x7E, 0xCA, 0xF3, 0x0F, 0x7E, 0xD1, 0xF3, 0x0F, 0x7E, 0x1C, 0x25, 0x00, 0x00, 0x02,
                0x00, 0x66, 0x0F, 0xD6, 0x0C, 0x25, 0x10, 0x00, 0x02, 0x00, 0x66, 0x0F, 0x7E, 0x0C, 0x25,
                0x18, 0x00, 0x02, 0x00, 0x66, 0x0F, 0x6E, 0x24, 0x25, 0x04, 0x00, 0x02, 0x00});
  for (int i = 0; i < 5; ++i) m.SetXmm(i, ~0ull, ~0ull);
  m.reg(kRax) = 0x8877665544332211ull;
  m.reg(kRcx) = ~0ull;
  m.Write(kData, 8, 0x0123456789ABCDEFull);
  m.Write(kData + 8, 8, 0xFFFFFFFFFFFFFFFFull);
  m.Write(kData + 0x18, 8, 0xEEEEEEEEEEEEEEEEull);
  m.RunAll(9);
  EXPECT_EQ(m.Lo(0), 0x44332211u);
  EXPECT_EQ(m.Hi(0), 0u);
  EXPECT_EQ(m.Lo(1), 0x8877665544332211ull);
  EXPECT_EQ(m.Hi(1), 0u);
  EXPECT_EQ(m.reg(kRcx), 0x44332211u);  // 32-bit write zero-extends
  EXPECT_EQ(m.reg(kRdx), 0x8877665544332211ull);
  EXPECT_EQ(m.Lo(2), 0x8877665544332211ull);
  EXPECT_EQ(m.Hi(2), 0u);
  EXPECT_EQ(m.Lo(3), 0x0123456789ABCDEFull);
  EXPECT_EQ(m.Hi(3), 0u);
  EXPECT_EQ(m.Read(kData + 0x10, 8), 0x8877665544332211ull);
  EXPECT_EQ(m.Read(kData + 0x18, 8), 0xEEEEEEEE44332211ull);
  EXPECT_EQ(m.Lo(4), 0x01234567u);
  EXPECT_EQ(m.Hi(4), 0u);
}

TEST(InterpSse, InsertExtractAndMasks) {
  // pinsrw xmm0, eax, 5; pinsrw xmm0, [0x20000], 2; pextrw ecx, xmm0, 5; pmovmskb edx, xmm0;
  // movmskps esi, xmm0; movmskpd rdi, xmm0
  SseMachine m({0x66, 0x0F, 0xC4, 0xC0, 0x05, 0x66, 0x0F, 0xC4, 0x04, 0x25, 0x00, 0x00, 0x02, 0x00, 0x02,
                0x66, 0x0F, 0xC5, 0xC8, 0x05, 0x66, 0x0F, 0xD7, 0xD0, 0x0F, 0x50, 0xF0, 0x66, 0x48, 0x0F,
                0x50, 0xF8});
  m.SetXmm(0, kALo, kAHi);
  m.reg(kRax) = 0xABCD9876;
  m.reg(kRcx) = m.reg(kRdx) = m.reg(kRsi) = m.reg(kRdi) = ~0ull;
  m.Write(kData, 2, 0x8642);
  m.RunAll(6);
  EXPECT_EQ(m.Lo(0), 0x800186420001FFFEull);
  EXPECT_EQ(m.Hi(0), 0x7F80FF0098765678ull);
  EXPECT_EQ(m.reg(kRcx), 0x9876u);
  EXPECT_EQ(m.reg(kRdx), 0x68A3u);  // bytes 0, 1, 5, 7, 11, 13, 14
  EXPECT_EQ(m.reg(kRsi), 0x6u);
  EXPECT_EQ(m.reg(kRdi), 0x1u);
}

TEST(InterpSse, MmxRegistersAliasTheX87Stack) {
  // movd mm0, eax; movq mm1, [0x20000]; paddusb mm0, mm1; punpcklbw mm0, mm1; packsswb mm1, mm0;
  // movq rcx, mm1; pxor mm2, mm2; movq [0x20010], mm0; movq2dq xmm0, mm1; movdq2q mm3, xmm1; emms
  SseMachine m({0x0F, 0x6E, 0xC0, 0x0F, 0x6F, 0x0C, 0x25, 0x00, 0x00, 0x02, 0x00, 0x0F, 0xDC, 0xC1, 0x0F,
                0x60, 0xC1, 0x0F, 0x63, 0xC8, 0x48, 0x0F, 0x7E, 0xC9, 0x0F, 0xEF, 0xD2, 0x0F, 0x7F, 0x04,
                0x25, 0x10, 0x00, 0x02, 0x00, 0xF3, 0x0F, 0xD6, 0xC1, 0xF2, 0x0F, 0xD6, 0xD9, 0x0F, 0x77});
  m.s.cr4 &= ~kCr4Osfxsr;  // MMX needs no OSFXSR
  m.s.fx.fsw = 5 << 11;     // TOP = 5: physical register 4 (MM4) is ST(7)
  m.s.fx.st[7][0] = 0x5A;
  m.reg(kRax) = 0x1234567880FF7F01ull;
  m.Write(kData, 8, 0x7F80FF0102030405ull);
  m.RunAll(3);
  EXPECT_EQ((m.s.fx.fsw >> 11) & 7, 0u);
  EXPECT_EQ(m.s.fx.ftw, 0xFF);
  EXPECT_EQ(m.Mm(4), 0x5Au);
  EXPECT_EQ(m.s.fx.st[0][8], 0xFF);  // exponent all ones after a write
  EXPECT_EQ(m.s.fx.st[0][9], 0xFF);
  EXPECT_EQ(m.Mm(0), 0x7F80FF0182FF8306ull);  // paddusb
  m.RunAll(2);
  EXPECT_EQ(m.Mm(0), 0x028203FF04830506ull);  // punpcklbw
  EXPECT_EQ(m.Mm(1), 0x7F7F7F7F7F807F7Full);  // packsswb
  m.RunAll(3);
  EXPECT_EQ(m.reg(kRcx), 0x7F7F7F7F7F807F7Full);
  EXPECT_EQ(m.Mm(2), 0u);
  EXPECT_EQ(m.Read(kData + 0x10, 8), 0x028203FF04830506ull);
  m.s.cr4 |= kCr4Osfxsr;  // the next two touch XMM registers
  m.SetXmm(0, ~0ull, ~0ull);
  m.SetXmm(1, 0x1111222233334444ull, 0x5555666677778888ull);
  m.RunAll(3);
  EXPECT_EQ(m.Lo(0), 0x7F7F7F7F7F807F7Full);
  EXPECT_EQ(m.Hi(0), 0u);
  EXPECT_EQ(m.Mm(3), 0x1111222233334444ull);
  EXPECT_EQ(m.s.fx.ftw, 0);  // emms
}

TEST(InterpSse, ControlRegisterChecks) {
  const std::vector<uint8_t> pxor_xmm = {0x66, 0x0F, 0xEF, 0xC1};
  const std::vector<uint8_t> pxor_mm = {0x0F, 0xEF, 0xC1};
  {
    SseMachine m(pxor_xmm);
    m.s.cr4 &= ~kCr4Osfxsr;
    EXPECT_EQ(m.Run(), kUD);
  }
  {
    SseMachine m(pxor_xmm);
    m.s.cr0 |= kCr0Em;
    EXPECT_EQ(m.Run(), kUD);
  }
  {
    SseMachine m(pxor_xmm);
    m.s.cr0 |= kCr0Ts;
    EXPECT_EQ(m.Run(), kNM);
  }
  {
    SseMachine m(pxor_mm);
    m.s.cr0 |= kCr0Ts;
    EXPECT_EQ(m.Run(), kNM);
  }
  {
    SseMachine m(pxor_mm);
    m.s.cr0 |= kCr0Em;
    EXPECT_EQ(m.Run(), kUD);
  }
  {
    SseMachine m(pxor_mm);  // a pending unmasked x87 exception (FSW.ES) with CR0.NE
    m.s.cr0 |= kCr0Ne;
    m.s.fx.fsw = 0x8081;
    EXPECT_EQ(m.Run(), kMF);
  }
  {
    SseMachine m({0x0F, 0x77});  // emms
    m.s.cr0 |= kCr0Em;
    EXPECT_EQ(m.Run(), kUD);
  }
  {
    // addps xmm0, xmm1 without OSFXSR
    SseMachine m({0x0F, 0x58, 0xC1});
    m.s.cr4 &= ~kCr4Osfxsr;
    EXPECT_EQ(m.Run(), kUD);
  }
}

TEST(InterpSse, ProtectedMode32) {
  // movdqa xmm1, [0x20000]; paddd xmm1, xmm1; movdqa [0x20010], xmm1 (32-bit code)
  SseMachine m({0x66, 0x0F, 0x6F, 0x0D, 0x00, 0x00, 0x02, 0x00, 0x66, 0x0F, 0xFE, 0xC9, 0x66, 0x0F, 0x7F, 0x0D,
                0x10, 0x00, 0x02, 0x00},
               Mode::kFlat32);
  m.Write(kData, 8, 0x0000000100000002ull);
  m.Write(kData + 8, 8, 0x8000000000000003ull);
  m.RunAll(3);
  EXPECT_EQ(m.Read(kData + 0x10, 8), 0x0000000200000004ull);
  EXPECT_EQ(m.Read(kData + 0x18, 8), 0x0000000000000006ull);
}

// ---- floating point ----

constexpr uint64_t kFaLo = 0xC00000003FC00000ull, kFaHi = 0x3F8000007F61B1E6ull;  // 1.5 -2 3e38 1
constexpr uint64_t kFbLo = 0x000000003DCCCCCDull, kFbHi = 0xC04000007F61B1E6ull;  // 0.1 0 3e38 -3
constexpr uint64_t kDaLo = 0x3FF8000000000000ull, kDaHi = 0x7FE1CCF385EBC8A0ull;  // 1.5 1e308
constexpr uint64_t kDbLo = 0x3FB999999999999Aull, kDbHi = 0x7FE1CCF385EBC8A0ull;  // 0.1 1e308

struct FpCase {
  uint8_t prefix, opcode;
  bool doubles;  // inputs are kDa/kDb, else kFa/kFb
  const char* name;
  uint64_t lo, hi;
  uint32_t flags;  // MXCSR bits 0-5 raised
};

TEST(InterpSse, FloatingPointArithmeticAndConversions) {
  const FpCase cases[] = {
      {0x00, 0x58, false, "addps", 0xC00000003FCCCCCDull, 0xC00000007F800000ull, 0x28},
      {0x66, 0x58, true, "addpd", 0x3FF999999999999Aull, 0x7FF0000000000000ull, 0x28},
      {0xF3, 0x58, false, "addss", 0xC00000003FCCCCCDull, 0x3F8000007F61B1E6ull, 0x20},
      {0xF2, 0x58, true, "addsd", 0x3FF999999999999Aull, 0x7FE1CCF385EBC8A0ull, 0x20},
      {0x00, 0x5C, false, "subps", 0xC00000003FB33333ull, 0x4080000000000000ull, 0x20},
      {0x66, 0x5C, true, "subpd", 0x3FF6666666666666ull, 0x0000000000000000ull, 0x20},
      {0xF3, 0x5C, false, "subss", 0xC00000003FB33333ull, 0x3F8000007F61B1E6ull, 0x20},
      {0xF2, 0x5C, true, "subsd", 0x3FF6666666666666ull, 0x7FE1CCF385EBC8A0ull, 0x20},
      {0x00, 0x59, false, "mulps", 0x800000003E19999Aull, 0xC04000007F800000ull, 0x28},
      {0x66, 0x59, true, "mulpd", 0x3FC3333333333334ull, 0x7FF0000000000000ull, 0x28},
      {0xF3, 0x59, false, "mulss", 0xC00000003E19999Aull, 0x3F8000007F61B1E6ull, 0x20},
      {0xF2, 0x59, true, "mulsd", 0x3FC3333333333334ull, 0x7FE1CCF385EBC8A0ull, 0x20},
      {0x00, 0x5E, false, "divps", 0xFF80000041700000ull, 0xBEAAAAAB3F800000ull, 0x24},
      {0x66, 0x5E, true, "divpd", 0x402E000000000000ull, 0x3FF0000000000000ull, 0x20},
      {0xF3, 0x5E, false, "divss", 0xC000000041700000ull, 0x3F8000007F61B1E6ull, 0x20},
      {0xF2, 0x5E, true, "divsd", 0x402E000000000000ull, 0x7FE1CCF385EBC8A0ull, 0x20},
      {0x00, 0x5D, false, "minps", 0xC00000003DCCCCCDull, 0xC04000007F61B1E6ull, 0x00},
      {0x66, 0x5D, true, "minpd", 0x3FB999999999999Aull, 0x7FE1CCF385EBC8A0ull, 0x00},
      {0xF3, 0x5D, false, "minss", 0xC00000003DCCCCCDull, 0x3F8000007F61B1E6ull, 0x00},
      {0xF2, 0x5D, true, "minsd", 0x3FB999999999999Aull, 0x7FE1CCF385EBC8A0ull, 0x00},
      {0x00, 0x5F, false, "maxps", 0x000000003FC00000ull, 0x3F8000007F61B1E6ull, 0x00},
      {0x66, 0x5F, true, "maxpd", 0x3FF8000000000000ull, 0x7FE1CCF385EBC8A0ull, 0x00},
      {0xF3, 0x5F, false, "maxss", 0xC00000003FC00000ull, 0x3F8000007F61B1E6ull, 0x00},
      {0xF2, 0x5F, true, "maxsd", 0x3FF8000000000000ull, 0x7FE1CCF385EBC8A0ull, 0x00},
      {0x00, 0x51, false, "sqrtps", 0x000000003EA1E89Bull, 0xFFC000005F705ECEull, 0x21},
      {0x66, 0x51, true, "sqrtpd", 0x3FD43D136248490Full, 0x5FE7DDDF6B095FF1ull, 0x20},
      {0xF3, 0x51, false, "sqrtss", 0xC00000003EA1E89Bull, 0x3F8000007F61B1E6ull, 0x20},
      {0xF2, 0x51, true, "sqrtsd", 0x3FD43D136248490Full, 0x7FE1CCF385EBC8A0ull, 0x20},
      // Conversions: op0 = a, op1 = b (xmm0, xmm1).
      {0x00, 0x5A, false, "cvtps2pd", 0x3FB99999A0000000ull, 0x0000000000000000ull, 0x00},
      {0x66, 0x5A, true, "cvtpd2ps", 0x7F8000003DCCCCCDull, 0x0000000000000000ull, 0x28},
      {0xF2, 0x5A, true, "cvtsd2ss", 0x3FF800003DCCCCCDull, 0x7FE1CCF385EBC8A0ull, 0x20},
      {0xF2, 0xE6, true, "cvtpd2dq", 0x8000000000000000ull, 0x0000000000000000ull, 0x21},
      {0x66, 0xE6, true, "cvttpd2dq", 0x8000000000000000ull, 0x0000000000000000ull, 0x21},
  };
  for (const FpCase& c : cases) {
    std::vector<uint8_t> code;
    if (c.prefix) code.push_back(c.prefix);
    code.insert(code.end(), {0x0F, c.opcode, 0xC1});
    SseMachine m(code);
    m.SetXmm(0, c.doubles ? kDaLo : kFaLo, c.doubles ? kDaHi : kFaHi);
    m.SetXmm(1, c.doubles ? kDbLo : kFbLo, c.doubles ? kDbHi : kFbHi);
    ASSERT_EQ(m.Run(), -1) << c.name;
    EXPECT_EQ(m.Lo(0), c.lo) << c.name;
    EXPECT_EQ(m.Hi(0), c.hi) << c.name;
    EXPECT_EQ(m.s.fx.mxcsr, 0x1F80u | c.flags) << c.name;
  }
}

TEST(InterpSse, PackedConversionsOfTheFirstOperand) {
  const FpCase cases[] = {
      // op1 = kFa (xmm0 -> xmm0 forms: 66/F3/0F 5B, F3 0F E6)
      {0x66, 0x5B, false, "cvtps2dq", 0xFFFFFFFE00000002ull, 0x0000000180000000ull, 0x21},
      {0xF3, 0x5B, false, "cvttps2dq", 0xFFFFFFFE00000001ull, 0x0000000180000000ull, 0x21},
      {0x00, 0x5B, false, "cvtdq2ps", 0xCE8000004E7F0000ull, 0x4E7E00004EFEC364ull, 0x20},
      {0xF3, 0xE6, false, "cvtdq2pd", 0x41CFE00000000000ull, 0xC1D0000000000000ull, 0x00},
  };
  for (const FpCase& c : cases) {
    std::vector<uint8_t> code;
    if (c.prefix) code.push_back(c.prefix);
    code.insert(code.end(), {0x0F, c.opcode, 0xC0});
    SseMachine m(code);
    m.SetXmm(0, kFaLo, kFaHi);
    ASSERT_EQ(m.Run(), -1) << c.name;
    EXPECT_EQ(m.Lo(0), c.lo) << c.name;
    EXPECT_EQ(m.Hi(0), c.hi) << c.name;
    EXPECT_EQ(m.s.fx.mxcsr, 0x1F80u | c.flags) << c.name;
  }
}

TEST(InterpSse, ComparePredicates) {
  // cmpps xmm0, xmm1, imm for imm 0..7 on (1, 2, NaN, -0) vs (1, 1, 1, 0).
  const uint64_t lo[8] = {0x00000000FFFFFFFFull, 0, 0x00000000FFFFFFFFull, 0,
                          0xFFFFFFFF00000000ull, ~0ull, 0xFFFFFFFF00000000ull, ~0ull};
  const uint64_t hi[8] = {0xFFFFFFFF00000000ull, 0, 0xFFFFFFFF00000000ull, 0x00000000FFFFFFFFull,
                          0x00000000FFFFFFFFull, ~0ull, 0x00000000FFFFFFFFull, 0xFFFFFFFF00000000ull};
  const uint32_t flags[8] = {0, 1, 1, 0, 0, 1, 1, 0};  // LT/LE/NLT/NLE signal on QNaN
  for (uint8_t imm = 0; imm < 8; ++imm) {
    SseMachine m({0x0F, 0xC2, 0xC1, imm});
    m.SetXmm(0, 0x400000003F800000ull, 0x800000007FC00000ull);
    m.SetXmm(1, 0x3F8000003F800000ull, 0x000000003F800000ull);
    ASSERT_EQ(m.Run(), -1);
    EXPECT_EQ(m.Lo(0), lo[imm]) << int(imm);
    EXPECT_EQ(m.Hi(0), hi[imm]) << int(imm);
    EXPECT_EQ(m.s.fx.mxcsr, 0x1F80u | flags[imm]) << int(imm);
  }
}

TEST(InterpSse, ScalarDoubleFormsSharingStringMnemonics) {
  // movsd xmm2, xmm3; cmpsd xmm4, xmm5, 1 (lt); cmpss xmm4, xmm5, 0 (eq); cmppd xmm6, [0x20000], 3 (unord)
  SseMachine m({0xF2, 0x0F, 0x10, 0xD3, 0xF2, 0x0F, 0xC2, 0xE5, 0x01, 0xF3, 0x0F, 0xC2, 0xE5, 0x00, 0x66, 0x0F,
                0xC2, 0x34, 0x25, 0x00, 0x00, 0x02, 0x00, 0x03});
  m.SetXmm(2, 1, 2);
  m.SetXmm(3, 3, 4);
  m.SetXmm(4, 0x3FF0000000000000ull, 0x1234);  // 1.0
  m.SetXmm(5, 0x4000000000000000ull, 0x5678);  // 2.0
  m.SetXmm(6, 0x3FF0000000000000ull, 0x3FF0000000000000ull);
  m.Write(kData, 8, 0x7FF8000000000000ull);  // QNaN, 1.0
  m.Write(kData + 8, 8, 0x3FF0000000000000ull);
  m.RunAll(4);
  EXPECT_EQ(m.Lo(2), 3u);
  EXPECT_EQ(m.Hi(2), 2u);
  EXPECT_EQ(m.Lo(4), 0xFFFFFFFF00000000ull);  // cmpsd -> all ones; cmpss on the low dword: -1 != 0
  EXPECT_EQ(m.Hi(4), 0x1234u);
  EXPECT_EQ(m.Lo(6), ~0ull);
  EXPECT_EQ(m.Hi(6), 0u);
}

TEST(InterpSse, ComisSetsZfPfCf) {
  // comiss xmm0, xmm1; ucomiss xmm0, xmm1; comisd xmm2, xmm3; ucomisd xmm2, [0x20000]
  const std::vector<uint8_t> code = {0x0F, 0x2F, 0xC1, 0x0F, 0x2E, 0xC1, 0x66, 0x0F, 0x2F, 0xD3,
                                     0x66, 0x0F, 0x2E, 0x14, 0x25, 0x00, 0x00, 0x02, 0x00};
  SseMachine m(code);
  m.s.rflags |= kFlagOf | kFlagSf | kFlagAf;
  m.SetXmm(0, 0x3F800000, 0);  // 1.0f
  m.SetXmm(1, 0x40000000, 0);  // 2.0f
  m.SetXmm(2, 0x4000000000000000ull, 0);  // 2.0
  m.SetXmm(3, 0x4000000000000000ull, 0);
  m.Write(kData, 8, 0x3FF0000000000000ull);  // 1.0
  ASSERT_EQ(m.Run(), -1);
  EXPECT_EQ(m.s.rflags & kArithFlags, kFlagCf);  // less
  m.SetXmm(1, 0x7FC00000, 0);  // QNaN
  ASSERT_EQ(m.Run(), -1);
  EXPECT_EQ(m.s.rflags & kArithFlags, kFlagZf | kFlagPf | kFlagCf);  // unordered, no IE for ucomiss
  EXPECT_EQ(m.s.fx.mxcsr, 0x1F80u);
  ASSERT_EQ(m.Run(), -1);
  EXPECT_EQ(m.s.rflags & kArithFlags, kFlagZf);  // equal
  ASSERT_EQ(m.Run(), -1);
  EXPECT_EQ(m.s.rflags & kArithFlags, 0u);  // greater
  // comiss signals IE on a QNaN.
  m.s.rip = kCode;
  ASSERT_EQ(m.Run(), -1);
  EXPECT_EQ(m.s.rflags & kArithFlags, kFlagZf | kFlagPf | kFlagCf);
  EXPECT_EQ(m.s.fx.mxcsr, 0x1F81u);
}

TEST(InterpSse, IntegerConversionsHonourRounding) {
  // cvtsi2ss xmm0, eax; cvtsi2sd xmm1, rax; cvtss2si ecx, xmm2; cvttss2si rdx, xmm2;
  // cvtsd2si esi, xmm3; cvttsd2si rdi, xmm3; cvtsi2sd xmm4, dword [0x20000]
  const std::vector<uint8_t> code = {0xF3, 0x0F, 0x2A, 0xC0, 0xF2, 0x48, 0x0F, 0x2A, 0xC8, 0xF3, 0x0F, 0x2D,
                                     0xCA, 0xF3, 0x48, 0x0F, 0x2C, 0xD2, 0xF2, 0x0F, 0x2D, 0xF3, 0xF2, 0x48,
                                     0x0F, 0x2C, 0xFB, 0xF2, 0x0F, 0x2A, 0x24, 0x25, 0x00, 0x00, 0x02, 0x00};
  struct {
    uint32_t rc;  // MXCSR.RC
    uint32_t ss;  // cvtsi2ss 16777217
    uint32_t cvt_ss, cvt_sd;
  } modes[] = {
      {0, 0x4B800000, 0xFFFFFFFE, 0xFFFFFFFE},  // nearest: -2.5 -> -2, -1.5 -> -2
      {1, 0x4B800000, 0xFFFFFFFD, 0xFFFFFFFE},  // down
      {2, 0x4B800001, 0xFFFFFFFE, 0xFFFFFFFF},  // up
      {3, 0x4B800000, 0xFFFFFFFE, 0xFFFFFFFF},  // toward zero
  };
  for (const auto& mode : modes) {
    SseMachine m(code);
    m.s.fx.mxcsr = 0x1F80 | (mode.rc << 13);
    m.reg(kRax) = 16777217;
    m.SetXmm(0, ~0ull, ~0ull);
    m.SetXmm(2, 0xC0200000, 0);              // -2.5f
    m.SetXmm(3, 0xBFF8000000000000ull, 0);  // -1.5
    m.Write(kData, 4, static_cast<uint32_t>(-7));
    m.RunAll(7);
    EXPECT_EQ(m.Lo(0), 0xFFFFFFFF00000000ull | mode.ss) << mode.rc;
    EXPECT_EQ(m.Hi(0), ~0ull);
    EXPECT_EQ(m.Lo(1), 0x4170000010000000ull) << mode.rc;  // exact in a double
    EXPECT_EQ(m.reg(kRcx), mode.cvt_ss) << mode.rc;
    EXPECT_EQ(m.reg(kRdx), ~1ull);  // truncation ignores RC
    EXPECT_EQ(m.reg(kRsi), mode.cvt_sd) << mode.rc;
    EXPECT_EQ(m.reg(kRdi), ~0ull);
    EXPECT_EQ(m.Lo(4), 0xC01C000000000000ull);  // -7.0
    EXPECT_EQ(m.s.fx.mxcsr & 0x3F, 0x20u);      // PE
  }
  // Out of range: the integer indefinite and IE.
  SseMachine m({0xF3, 0x0F, 0x2D, 0xCA});
  m.SetXmm(2, 0x5F000000, 0);  // 2^63
  ASSERT_EQ(m.Run(), -1);
  EXPECT_EQ(m.reg(kRcx), 0x80000000u);
  EXPECT_EQ(m.s.fx.mxcsr, 0x1F81u);
}

TEST(InterpSse, MmxConversions) {
  // cvtpi2ps xmm0, mm1; cvtps2pi mm2, xmm0; cvttpd2pi mm3, xmm1; cvtpi2pd xmm2, mm1
  SseMachine m({0x0F, 0x2A, 0xC1, 0x0F, 0x2D, 0xD0, 0x66, 0x0F, 0x2C, 0xD9, 0x66, 0x0F, 0x2A, 0xD1});
  m.s.fx.st[1][0] = 3;
  m.s.fx.st[1][4] = 0xF9;  // mm1 = (3, -7)
  m.s.fx.st[1][5] = m.s.fx.st[1][6] = m.s.fx.st[1][7] = 0xFF;
  m.SetXmm(0, 0, 0x1122334455667788ull);
  m.SetXmm(1, 0xC004000000000000ull, 0x4016000000000000ull);  // -2.5, 5.5
  m.RunAll(4);
  EXPECT_EQ(m.Lo(0), 0xC0E0000040400000ull);  // -7.0f, 3.0f
  EXPECT_EQ(m.Hi(0), 0x1122334455667788ull);
  EXPECT_EQ(m.Mm(2), 0xFFFFFFF900000003ull);
  EXPECT_EQ(m.Mm(3), 0x00000005FFFFFFFEull);
  EXPECT_EQ(m.Lo(2), 0x4008000000000000ull);  // 3.0
  EXPECT_EQ(m.Hi(2), 0xC01C000000000000ull);  // -7.0
}

TEST(InterpSse, UnmaskedExceptionsRaiseXmOrUd) {
  // divps xmm0, xmm1 with ZE unmasked: 1/0.
  for (bool osxmmexcpt : {true, false}) {
    SseMachine m({0x0F, 0x5E, 0xC1});
    if (osxmmexcpt) m.s.cr4 |= kCr4Osxmmexcpt;
    m.s.fx.mxcsr = 0x1F80 & ~0x200u;
    m.SetXmm(0, 0x3F8000003F800000ull, 0x3F8000003F800000ull);
    m.SetXmm(1, 0x3F80000000000000ull, 0x3F8000003F800000ull);
    EXPECT_EQ(m.Run(), osxmmexcpt ? kXM : kUD);
    EXPECT_EQ(m.Lo(0), 0x3F8000003F800000ull);  // not written
    EXPECT_EQ(m.s.fx.mxcsr, (0x1F80 & ~0x200u) | 0x4);
    EXPECT_EQ(m.s.rip, kCode);
  }
  // A masked exception only sets its flag.
  SseMachine m({0x0F, 0x5E, 0xC1});
  m.SetXmm(0, 0x3F800000, 0);
  m.SetXmm(1, 0x3F80000000000000ull, 0x3F8000003F800000ull);
  ASSERT_EQ(m.Run(), -1);
  EXPECT_EQ(m.Lo(0), 0x7F800000u);
  EXPECT_EQ(m.s.fx.mxcsr, 0x1F84u);
}

TEST(InterpSse, BitwiseAndUnpackFloatForms) {
  // andps xmm0, xmm1; andnpd xmm2, xmm1; orps xmm3, xmm1; xorpd xmm4, xmm1; unpcklps xmm5, xmm1; unpckhpd xmm6, xmm1
  SseMachine m({0x0F, 0x54, 0xC1, 0x66, 0x0F, 0x55, 0xD1, 0x0F, 0x56, 0xD9, 0x66, 0x0F, 0x57, 0xE1, 0x0F, 0x14,
                0xE9, 0x66, 0x0F, 0x15, 0xF1});
  for (int i = 0; i <= 6; ++i) m.SetXmm(i, kALo, kAHi);
  m.SetXmm(1, kBLo, kBHi);
  m.RunAll(6);
  EXPECT_EQ(m.Lo(0), 0x0001000000010002ull);
  EXPECT_EQ(m.Hi(0), 0x0180FF0012141218ull);
  EXPECT_EQ(m.Lo(2), 0x7FFE8000FFFE0000ull);
  EXPECT_EQ(m.Hi(2), 0x00000001ECC8A880ull);
  EXPECT_EQ(m.Lo(3), 0xFFFFFFFFFFFFFFFEull);
  EXPECT_EQ(m.Lo(4), 0xFFFEFFFFFFFEFFFCull);
  EXPECT_EQ(m.Lo(5), 0xFFFF00020001FFFEull);  // = punpckldq
  EXPECT_EQ(m.Hi(5), 0x7FFF800080017FFFull);
  EXPECT_EQ(m.Lo(6), 0x7F80FF0012345678ull);  // = punpckhqdq
  EXPECT_EQ(m.Hi(6), 0x0180FF01FEDCBA98ull);
}

}  // namespace
}  // namespace tandem::accel::interp::testing
