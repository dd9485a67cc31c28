// x87 arithmetic, loads/stores, compares and environment (ops_x87.cc). The
// expected values come from the host's x87 through long double or inline asm,
// so the guest results must match the hardware bit for bit.
#include <gtest/gtest.h>

#include <array>
#include <cmath>
#include <cstring>

#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

using namespace x86;
using Ext = std::array<uint8_t, 10>;

constexpr uint16_t kIE = 1, kZE = 4, kPE = 0x20, kSF = 0x40, kES = 0x80, kC0 = 0x100, kC1 = 0x200, kC2 = 0x400,
                   kC3 = 0x4000, kB = 0x8000;

// Generated with NASM from the listed instructions.
// fninit; fld1; fild dword [0x20000]; fdivp st1, st0; fld st0; fstp tword [0x20010]; fst qword [0x20020]; fstp dword [0x20030]
const std::vector<uint8_t> kOneThird = {0xDB, 0xE3, 0xD9, 0xE8, 0xDB, 0x05, 0x00, 0x00, 0x02, 0x00, 0xDE, 0xF9, 0xD9, 0xC0, 0xDB, 0x3D, 0x10, 0x00, 0x02, 0x00, 0xDD, 0x15, 0x20, 0x00, 0x02, 0x00, 0xD9, 0x1D, 0x30, 0x00, 0x02, 0x00};
// fninit; fldcw [0x20000]; fld qword [0x20008]; fistp dword [0x20020]; fld qword [0x20010]; fistp dword [0x20024]; fld qword [0x20018]; fist word [0x20028]
const std::vector<uint8_t> kFist = {0xDB, 0xE3, 0xD9, 0x2D, 0x00, 0x00, 0x02, 0x00, 0xDD, 0x05, 0x08, 0x00, 0x02, 0x00, 0xDB, 0x1D, 0x20, 0x00, 0x02, 0x00, 0xDD, 0x05, 0x10, 0x00, 0x02, 0x00, 0xDB, 0x1D, 0x24, 0x00, 0x02, 0x00, 0xDD, 0x05, 0x18, 0x00, 0x02, 0x00, 0xDF, 0x15, 0x28, 0x00, 0x02, 0x00};
// fninit; fld qword [0x20008]; fld qword [0x20000]; fcomi st0, st1; fucomip st0, st1; fcom st0, st1
const std::vector<uint8_t> kFcomi = {0xDB, 0xE3, 0xDD, 0x05, 0x08, 0x00, 0x02, 0x00, 0xDD, 0x05, 0x00, 0x00, 0x02, 0x00, 0xDB, 0xF1, 0xDF, 0xE9, 0xD8, 0xD1};
// fninit; fadd st0, st1; fninit; fstp dword [0x20000]
const std::vector<uint8_t> kUnderflow = {0xDB, 0xE3, 0xD8, 0xC1, 0xDB, 0xE3, 0xD9, 0x1D, 0x00, 0x00, 0x02, 0x00};
// fninit; fld1; fld1; fld1; fld1; fld1; fld1; fld1; fld1; fldpi
const std::vector<uint8_t> kOverflow = {0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xE8, 0xD9, 0xEB};
// fninit; fxam; fnstsw ax; fld tword [0x20000]; fxam; fnstsw ax
const std::vector<uint8_t> kFxam = {0xDB, 0xE3, 0xD9, 0xE5, 0xDF, 0xE0, 0xDB, 0x2D, 0x00, 0x00, 0x02, 0x00, 0xD9, 0xE5, 0xDF, 0xE0};
// fninit; fld1; fldpi; fnsave [0x20100]; frstor [0x20100]
const std::vector<uint8_t> kFnsave = {0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xEB, 0xDD, 0x35, 0x00, 0x01, 0x02, 0x00, 0xDD, 0x25, 0x00, 0x01, 0x02, 0x00};
// fninit; fld1; fldpi; fnsave [0x1000]; fldz; frstor [0x1000]; fnstenv [0x1100]
const std::vector<uint8_t> kFnsave16 = {0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xEB, 0xDD, 0x36, 0x00, 0x10, 0xD9, 0xEE, 0xDD, 0x26, 0x00, 0x10, 0xD9, 0x36, 0x00, 0x11};
// fldcw [0x1000]; fld1; fldz; fdivp st1, st0; fnop
const std::vector<uint8_t> kMf = {0xD9, 0x2E, 0x00, 0x10, 0xD9, 0xE8, 0xD9, 0xEE, 0xDE, 0xF9, 0xD9, 0xD0};
// fninit; fld qword [0x20000]; fsin; fstp tword [0x20100]; fld qword [0x20000]; fptan; fstp tword [0x20110]; fstp tword [0x20120]; fld qword [0x20000]; fsincos; fstp tword [0x20130]; fstp tword [0x20140]; fld qword [0x20008]; fld qword [0x20000]; fpatan; fstp tword [0x20150]; fld qword [0x20008]; fld qword [0x20000]; fyl2x; fstp tword [0x20160]; fld qword [0x20000]; f2xm1; fstp tword [0x20170]; fld qword [0x20008]; fsqrt; fstp tword [0x20180]; fldl2t; fldl2e; fldlg2; fldln2; fstp tword [0x201C0]; fstp tword [0x201B0]; fstp tword [0x201A0]; fstp tword [0x20190]
const std::vector<uint8_t> kTrans = {0xDB, 0xE3, 0xDD, 0x05, 0x00, 0x00, 0x02, 0x00, 0xD9, 0xFE, 0xDB, 0x3D, 0x00, 0x01, 0x02, 0x00, 0xDD, 0x05, 0x00, 0x00, 0x02, 0x00, 0xD9, 0xF2, 0xDB, 0x3D, 0x10, 0x01, 0x02, 0x00, 0xDB, 0x3D, 0x20, 0x01, 0x02, 0x00, 0xDD, 0x05, 0x00, 0x00, 0x02, 0x00, 0xD9, 0xFB, 0xDB, 0x3D, 0x30, 0x01, 0x02, 0x00, 0xDB, 0x3D, 0x40, 0x01, 0x02, 0x00, 0xDD, 0x05, 0x08, 0x00, 0x02, 0x00, 0xDD, 0x05, 0x00, 0x00, 0x02, 0x00, 0xD9, 0xF3, 0xDB, 0x3D, 0x50, 0x01, 0x02, 0x00, 0xDD, 0x05, 0x08, 0x00, 0x02, 0x00, 0xDD, 0x05, 0x00, 0x00, 0x02, 0x00, 0xD9, 0xF1, 0xDB, 0x3D, 0x60, 0x01, 0x02, 0x00, 0xDD, 0x05, 0x00, 0x00, 0x02, 0x00, 0xD9, 0xF0, 0xDB, 0x3D, 0x70, 0x01, 0x02, 0x00, 0xDD, 0x05, 0x08, 0x00, 0x02, 0x00, 0xD9, 0xFA, 0xDB, 0x3D, 0x80, 0x01, 0x02, 0x00, 0xD9, 0xE9, 0xD9, 0xEA, 0xD9, 0xEC, 0xD9, 0xED, 0xDB, 0x3D, 0xC0, 0x01, 0x02, 0x00, 0xDB, 0x3D, 0xB0, 0x01, 0x02, 0x00, 0xDB, 0x3D, 0xA0, 0x01, 0x02, 0x00, 0xDB, 0x3D, 0x90, 0x01, 0x02, 0x00};
// fninit; fild dword [0x20004]; fild dword [0x20000]; fprem; fnstsw ax; fstp tword [0x20100]; fild dword [0x20008]; fld qword [0x20010]; fscale; fstp tword [0x20110]; fld qword [0x20010]; fxtract; fstp tword [0x20120]; fstp tword [0x20130]; fld qword [0x20018]; frndint; fstp tword [0x20140]
const std::vector<uint8_t> kPrem = {0xDB, 0xE3, 0xDB, 0x05, 0x04, 0x00, 0x02, 0x00, 0xDB, 0x05, 0x00, 0x00, 0x02, 0x00, 0xD9, 0xF8, 0xDF, 0xE0, 0xDB, 0x3D, 0x00, 0x01, 0x02, 0x00, 0xDB, 0x05, 0x08, 0x00, 0x02, 0x00, 0xDD, 0x05, 0x10, 0x00, 0x02, 0x00, 0xD9, 0xFD, 0xDB, 0x3D, 0x10, 0x01, 0x02, 0x00, 0xDD, 0x05, 0x10, 0x00, 0x02, 0x00, 0xD9, 0xF4, 0xDB, 0x3D, 0x20, 0x01, 0x02, 0x00, 0xDB, 0x3D, 0x30, 0x01, 0x02, 0x00, 0xDD, 0x05, 0x18, 0x00, 0x02, 0x00, 0xD9, 0xFC, 0xDB, 0x3D, 0x40, 0x01, 0x02, 0x00};
// fninit; fild dword [0x20000]; fiadd word [0x20004]; fisub dword [0x20008]; fimul word [0x2000C]; fidivr dword [0x20010]; fstp tword [0x20100]; fild qword [0x20018]; fistp qword [0x20020]; fild word [0x20004]; ficomp dword [0x20008]; fnstsw ax
const std::vector<uint8_t> kIntArith = {0xDB, 0xE3, 0xDB, 0x05, 0x00, 0x00, 0x02, 0x00, 0xDE, 0x05, 0x04, 0x00, 0x02, 0x00, 0xDA, 0x25, 0x08, 0x00, 0x02, 0x00, 0xDE, 0x0D, 0x0C, 0x00, 0x02, 0x00, 0xDA, 0x3D, 0x10, 0x00, 0x02, 0x00, 0xDB, 0x3D, 0x00, 0x01, 0x02, 0x00, 0xDF, 0x2D, 0x18, 0x00, 0x02, 0x00, 0xDF, 0x3D, 0x20, 0x00, 0x02, 0x00, 0xDF, 0x05, 0x04, 0x00, 0x02, 0x00, 0xDA, 0x1D, 0x08, 0x00, 0x02, 0x00, 0xDF, 0xE0};
// fninit; fld qword [0x20000]; fld qword [0x20008]; fsub st1, st0; fsubr st0, st1; fdiv st1, st0; fdivr st0, st1; fmul qword [0x20000]; fsubr dword [0x20010]; fsubp st1, st0; fstp tword [0x20100]
const std::vector<uint8_t> kRegArith = {0xDB, 0xE3, 0xDD, 0x05, 0x00, 0x00, 0x02, 0x00, 0xDD, 0x05, 0x08, 0x00, 0x02, 0x00, 0xDC, 0xE9, 0xD8, 0xE9, 0xDC, 0xF9, 0xD8, 0xF9, 0xDC, 0x0D, 0x00, 0x00, 0x02, 0x00, 0xD8, 0x2D, 0x10, 0x00, 0x02, 0x00, 0xDE, 0xE9, 0xDB, 0x3D, 0x00, 0x01, 0x02, 0x00};
// fninit; fld1; fldz; fldpi; fxch st2; fincstp; fdecstp; ffree st1; fcmovb st0, st2; fcmovnb st0, st2
const std::vector<uint8_t> kMisc = {0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0xEE, 0xD9, 0xEB, 0xD9, 0xCA, 0xD9, 0xF7, 0xD9, 0xF6, 0xDD, 0xC1, 0xDA, 0xC2, 0xDB, 0xC2};
// fninit; fbld tword [0x20000]; fld st0; fbstp tword [0x20010]; fchs; fabs; ftst; fnstsw ax
const std::vector<uint8_t> kBcd = {0xDB, 0xE3, 0xDF, 0x25, 0x00, 0x00, 0x02, 0x00, 0xD9, 0xC0, 0xDF, 0x35, 0x10, 0x00, 0x02, 0x00, 0xD9, 0xE0, 0xD9, 0xE1, 0xD9, 0xE4, 0xDF, 0xE0};
// fninit; fld1; fnstenv [0x20100]; fldenv [0x20100]
const std::vector<uint8_t> kEnv64 = {0xDB, 0xE3, 0xD9, 0xE8, 0xD9, 0x34, 0x25, 0x00, 0x01, 0x02, 0x00, 0xD9, 0x24, 0x25, 0x00, 0x01, 0x02, 0x00};

Ext Bytes(long double v) {
  Ext e;
  std::memcpy(e.data(), &v, 10);
  return e;
}
Ext Indefinite() { return {0, 0, 0, 0, 0, 0, 0, 0xC0, 0xFF, 0xFF}; }
Ext ReadExt(Machine& m, uint64_t pa) {
  Ext e;
  uint64_t lo = m.Read(pa, 8), hi = m.Read(pa + 8, 2);
  std::memcpy(e.data(), &lo, 8);
  std::memcpy(e.data() + 8, &hi, 2);
  return e;
}
Ext St(const Machine& m, int i) {
  Ext e;
  std::memcpy(e.data(), m.s.fx.st[i].data(), 10);
  return e;
}
void WriteDouble(Machine& m, uint64_t pa, double d) {
  uint64_t v;
  std::memcpy(&v, &d, 8);
  m.Write(pa, 8, v);
}
void WriteExt(Machine& m, uint64_t pa, const Ext& e) {
  uint64_t lo, hi = 0;
  std::memcpy(&lo, e.data(), 8);
  std::memcpy(&hi, e.data() + 8, 2);
  m.Write(pa, 8, lo);
  m.Write(pa + 8, 2, hi);
}
unsigned Top(const Machine& m) { return (m.s.fx.fsw >> 11) & 7; }

// Host x87 reference operations.
long double HostFsin(long double x) { asm("fsin" : "+t"(x)); return x; }
long double HostF2xm1(long double x) { asm("f2xm1" : "+t"(x)); return x; }
long double HostFsqrt(long double x) { asm("fsqrt" : "+t"(x)); return x; }
long double HostFpatan(long double st0, long double st1) {
  long double r;
  asm("fpatan" : "=t"(r) : "0"(st0), "u"(st1) : "st(1)");
  return r;
}
long double HostFyl2x(long double st0, long double st1) {
  long double r;
  asm("fyl2x" : "=t"(r) : "0"(st0), "u"(st1) : "st(1)");
  return r;
}
void HostFptan(long double x, long double* st0, long double* st1) { asm("fptan" : "=t"(*st0), "=u"(*st1) : "0"(x)); }
void HostFsincos(long double x, long double* st0, long double* st1) { asm("fsincos" : "=t"(*st0), "=u"(*st1) : "0"(x)); }
long double HostConst(int which) {
  long double r;
  switch (which) {
    case 0: asm("fldl2t" : "=t"(r)); break;
    case 1: asm("fldl2e" : "=t"(r)); break;
    case 2: asm("fldlg2" : "=t"(r)); break;
    default: asm("fldln2" : "=t"(r)); break;
  }
  return r;
}

TEST(InterpX87, OneThirdInExtendedPrecision) {
  Machine m(kOneThird);
  m.Write(kData, 4, 3);
  m.Step(8);
  volatile long double three = 3.0L;
  const long double third = 1.0L / three;
  EXPECT_EQ(ReadExt(m, kData + 0x10), Bytes(third));
  const double d = static_cast<double>(third);
  const float f = static_cast<float>(third);
  uint64_t dbits;
  uint32_t fbits;
  std::memcpy(&dbits, &d, 8);
  std::memcpy(&fbits, &f, 4);
  EXPECT_EQ(m.Read(kData + 0x20, 8), dbits);
  EXPECT_EQ(m.Read(kData + 0x30, 4), fbits);
  EXPECT_TRUE(m.s.fx.fsw & kPE);
  EXPECT_FALSE(m.s.fx.fsw & (kIE | kSF | kES));
  EXPECT_EQ(Top(m), 0u);
  EXPECT_EQ(m.s.fx.ftw, 0u);
  EXPECT_EQ(m.s.fx.fop, 0x11Du);  // FSTP m32: D9 /3, ModRM 1D
  EXPECT_EQ(m.s.fx.fdp, kData + 0x30);
}

TEST(InterpX87, FistRoundingModes) {
  // RC: nearest-even, down, up, toward zero.
  const int32_t pos[4] = {2, 2, 3, 2}, neg[4] = {-2, -3, -2, -2};
  for (unsigned rc = 0; rc < 4; ++rc) {
    Machine m(kFist);
    m.Write(kData, 2, 0x37F | (rc << 10));
    WriteDouble(m, kData + 8, 2.5);
    WriteDouble(m, kData + 0x10, -2.5);
    WriteDouble(m, kData + 0x18, 40000.0);  // out of int16 range
    m.Step(8);
    EXPECT_EQ(static_cast<int32_t>(m.Read(kData + 0x20, 4)), pos[rc]) << "rc " << rc;
    EXPECT_EQ(static_cast<int32_t>(m.Read(kData + 0x24, 4)), neg[rc]) << "rc " << rc;
    EXPECT_EQ(m.Read(kData + 0x28, 2), 0x8000u);  // integer indefinite
    EXPECT_TRUE(m.s.fx.fsw & kIE);
    EXPECT_EQ(Top(m), 7u);  // FIST does not pop
  }
}

TEST(InterpX87, FcomiFlags) {
  struct Case {
    double a, b;
    uint64_t flags;
    uint16_t cc;
  };
  const double nan = std::nan("");
  const Case cases[] = {
      {1.0, 2.0, kFlagCf, kC0},
      {3.0, 2.0, 0, 0},
      {2.0, 2.0, kFlagZf, kC3},
      {nan, 2.0, kFlagZf | kFlagPf | kFlagCf, kC0 | kC2 | kC3},
  };
  for (const Case& c : cases) {
    Machine m(kFcomi);
    WriteDouble(m, kData, c.a);
    WriteDouble(m, kData + 8, c.b);
    m.s.rflags |= kFlagOf | kFlagSf | kFlagAf;
    m.Step(4);  // FCOMI: ST(0) = a, ST(1) = b
    EXPECT_EQ(m.s.rflags & kArithFlags, c.flags) << c.a;
    EXPECT_EQ(bool(m.s.fx.fsw & kIE), std::isnan(c.a));  // FCOMI signals on QNaN
    m.s.fx.fsw &= ~(kIE | kES | kB);
    m.s.rflags |= kFlagOf | kFlagSf | kFlagAf;
    m.Step();  // FUCOMIP: quiet, pops
    EXPECT_EQ(m.s.rflags & kArithFlags, c.flags) << c.a;
    EXPECT_FALSE(m.s.fx.fsw & kIE);
    EXPECT_EQ(Top(m), 7u);
    m.Step();  // FCOM ST(1) of b with an empty ST(1): underflow, unordered
    EXPECT_EQ(m.s.fx.fsw & (kC0 | kC1 | kC2 | kC3), kC0 | kC2 | kC3);
    EXPECT_EQ(m.s.fx.fsw & (kIE | kSF), kIE | kSF);
  }
  // FCOM condition codes of an ordered compare.
  for (const Case& c : cases) {
    Machine m({0xDB, 0xE3, 0xDD, 0x05, 0x08, 0x00, 0x02, 0x00, 0xDD, 0x05, 0x00, 0x00, 0x02, 0x00, 0xD8, 0xD1});
    WriteDouble(m, kData, c.a);
    WriteDouble(m, kData + 8, c.b);
    m.Step(4);
    EXPECT_EQ(m.s.fx.fsw & (kC0 | kC2 | kC3), c.cc) << c.a;
  }
}

TEST(InterpX87, StackUnderflowAndOverflow) {
  Machine m(kUnderflow);
  m.Step(2);  // FADD ST(0), ST(1) on an empty stack
  EXPECT_EQ(m.s.fx.fsw & 0x7F, kIE | kSF);
  EXPECT_FALSE(m.s.fx.fsw & kC1);  // underflow
  EXPECT_EQ(St(m, 0), Indefinite());
  EXPECT_EQ(m.s.fx.ftw, 0x01u);  // the masked response fills the destination
  m.Step(2);  // FSTP m32 of an empty ST(0): stores the QNaN indefinite, pops
  EXPECT_EQ(m.Read(kData, 4), 0xFFC00000u);
  EXPECT_EQ(m.s.fx.fsw & 0x7F, kIE | kSF);
  EXPECT_EQ(Top(m), 1u);

  Machine o(kOverflow);
  o.Step(9);
  EXPECT_EQ(o.s.fx.ftw, 0xFFu);
  EXPECT_EQ(o.s.fx.fsw & 0x7F, 0u);
  o.Step();  // the ninth push
  EXPECT_EQ(o.s.fx.fsw & 0x7F, kIE | kSF);
  EXPECT_TRUE(o.s.fx.fsw & kC1);  // overflow
  EXPECT_EQ(St(o, 0), Indefinite());
  EXPECT_EQ(St(o, 1), Bytes(1.0L));
}

TEST(InterpX87, FxamClasses) {
  struct Case {
    Ext v;
    uint16_t cc;
  };
  const Ext unnormal = {0, 0, 0, 0, 0, 0, 0, 0x40, 0xFF, 0x3F};  // exponent set, integer bit clear
  const Ext denormal = {1, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  const Case cases[] = {
      {Bytes(0.0L), kC3},
      {Bytes(-0.0L), kC3 | kC1},
      {Bytes(1.5L), kC2},
      {Bytes(-1.5L), kC2 | kC1},
      {Bytes(__builtin_infl()), kC2 | kC0},
      {Bytes(__builtin_nanl("")), kC0},
      {denormal, kC3 | kC2},
      {unnormal, 0},
  };
  {
    Machine m(kFxam);
    m.Step(3);
    EXPECT_EQ(m.reg(kRax) & (kC0 | kC1 | kC2 | kC3), kC3 | kC0);  // empty
  }
  for (const Case& c : cases) {
    Machine m(kFxam);
    WriteExt(m, kData, c.v);
    m.Step(6);
    EXPECT_EQ(m.reg(kRax) & (kC0 | kC1 | kC2 | kC3), c.cc);
  }
}

TEST(InterpX87, FnsaveLayout32) {
  Machine m(kFnsave);
  m.Step(4);
  const uint64_t a = kData + 0x100;
  EXPECT_EQ(m.Read(a, 4), 0xFFFF037Fu);                   // FCW
  EXPECT_EQ(m.Read(a + 4, 4), 0xFFFF0000u | (6u << 11));  // FSW: TOP = 6
  EXPECT_EQ(m.Read(a + 8, 4), 0xFFFF0FFFu);               // tags: 6, 7 valid, others empty
  EXPECT_EQ(m.Read(a + 12, 4), kCode + 4);                // FIP: FLDPI
  EXPECT_EQ(m.Read(a + 16, 4) >> 16, 0x1EBu);             // FOP: D9 EB
  EXPECT_EQ(ReadExt(m, a + 28), Bytes(3.14159265358979323851L));
  EXPECT_EQ(ReadExt(m, a + 38), Bytes(1.0L));
  // FNSAVE reinitializes.
  EXPECT_EQ(m.s.fx.fcw, 0x37Fu);
  EXPECT_EQ(m.s.fx.fsw, 0u);
  EXPECT_EQ(m.s.fx.ftw, 0u);
  m.Step();  // FRSTOR
  EXPECT_EQ(Top(m), 6u);
  EXPECT_EQ(m.s.fx.ftw, 0xC0u);
  EXPECT_EQ(St(m, 1), Bytes(1.0L));
  EXPECT_EQ(m.s.fx.fip, kCode + 4);
}

TEST(InterpX87, FnsaveAndFnstenvLayout16RealMode) {
  Machine m(kFnsave16, Mode::kReal);
  m.Step(4);
  EXPECT_EQ(m.Read(0x1000, 2), 0x37Fu);
  EXPECT_EQ(m.Read(0x1002, 2), 6u << 11);
  EXPECT_EQ(m.Read(0x1004, 2), 0x0FFFu);
  EXPECT_EQ(m.Read(0x1006, 2), 4u);          // FIP[15:0]
  EXPECT_EQ(m.Read(0x1008, 2) & 0x7FF, 0x1EBu);  // FOP
  EXPECT_EQ(ReadExt(m, 0x1000 + 14), Bytes(3.14159265358979323851L));
  EXPECT_EQ(ReadExt(m, 0x1000 + 24), Bytes(1.0L));
  m.Step(2);  // FLDZ; FRSTOR
  EXPECT_EQ(Top(m), 6u);
  EXPECT_EQ(St(m, 0), Bytes(3.14159265358979323851L));
  m.Step();  // FNSTENV
  EXPECT_EQ(m.Read(0x1100, 2), 0x37Fu);
  EXPECT_EQ(m.Read(0x1102, 2), 6u << 11);
  EXPECT_EQ(m.Read(0x1104, 2), 0x0FFFu);
}

TEST(InterpX87, FnstenvLayout64) {
  Machine m(kEnv64, Mode::kLong64);
  m.Step(3);
  const uint64_t a = kData + 0x100;
  EXPECT_EQ(m.Read(a, 4), 0xFFFF037Fu);
  EXPECT_EQ(m.Read(a + 4, 4), 0xFFFF0000u | (7u << 11));
  EXPECT_EQ(m.Read(a + 8, 4), 0xFFFF3FFFu);  // physical 7 valid (00)
  EXPECT_EQ(m.s.fx.fcw, 0x37Fu);
  m.s.fx.ftw = 0;
  m.Step();  // FLDENV
  EXPECT_EQ(m.s.fx.ftw, 0x80u);
  EXPECT_EQ(Top(m), 7u);
}

TEST(InterpX87, UnmaskedZeroDivideRaisesMfAtNextWaitingInstruction) {
  Machine m(kMf, Mode::kReal);
  m.s.cr0 |= kCr0Ne;
  m.Write(0x1000, 2, 0x37B);             // ZE unmasked
  m.Write(16 * 4, 4, 0x30000040);        // IVT[16]
  m.Step(4);
  EXPECT_EQ(m.s.fx.fsw & (kZE | kES | kB), kZE | kES | kB);
  EXPECT_EQ(Top(m), 6u);                 // no pop, operands unchanged
  EXPECT_EQ(St(m, 0), Bytes(0.0L));
  EXPECT_EQ(St(m, 1), Bytes(1.0L));
  EXPECT_EQ(m.s.fx.fop, 0x6F9u);         // DE F9
  m.Step();                              // FNOP: #MF
  EXPECT_EQ(m.s.seg[kCs].selector, 0x3000);
  EXPECT_EQ(m.s.rip, 0x40u);
}

TEST(InterpX87, EmulationBitRaisesNm) {
  Machine m({0xD9, 0xE8}, Mode::kReal);  // fld1
  m.s.cr0 |= kCr0Em;
  m.Write(7 * 4, 4, 0x30000040);
  m.Step();
  EXPECT_EQ(m.s.seg[kCs].selector, 0x3000);
  EXPECT_EQ(m.s.fx.ftw, 0u);
}

// FISTTP is SSE3 (CPUID.01H:ECX[0]): #UD without it; with it, an empty
// ST(0) stores the integer indefinite (masked stack underflow).
TEST(InterpX87, FisttpFollowsCpuidSse3) {
  Machine m({0xDB, 0xE3, 0xDB, 0x0E, 0x00, 0x10}, Mode::kReal);  // fninit; fisttp dword [0x1000]
  m.Write(6 * 4, 4, 0x30000040);
  m.Write(0x1000, 4, 0x12345678);
  m.Step(2);
  if (CpuidModel::Default().Query(1, 0).ecx & 1) {
    EXPECT_EQ(m.s.seg[kCs].selector, kCode >> 4);
    EXPECT_EQ(m.Read(0x1000, 4), 0x80000000u);
  } else {
    EXPECT_EQ(m.s.seg[kCs].selector, 0x3000);
    EXPECT_EQ(m.Read(0x1000, 4), 0x12345678u);
  }
}

TEST(InterpX87, TranscendentalsMatchTheHost) {
  Machine m(kTrans);
  const double x = 0.7, y = 2.25;
  WriteDouble(m, kData, x);
  WriteDouble(m, kData + 8, y);
  m.Step(34);
  const long double lx = x, ly = y;
  EXPECT_EQ(ReadExt(m, kData + 0x100), Bytes(HostFsin(lx)));
  long double t0, t1;
  HostFptan(lx, &t0, &t1);
  EXPECT_EQ(ReadExt(m, kData + 0x110), Bytes(t0));  // 1.0
  EXPECT_EQ(ReadExt(m, kData + 0x120), Bytes(t1));  // tan
  HostFsincos(lx, &t0, &t1);
  EXPECT_EQ(ReadExt(m, kData + 0x130), Bytes(t0));  // cos
  EXPECT_EQ(ReadExt(m, kData + 0x140), Bytes(t1));  // sin
  EXPECT_EQ(ReadExt(m, kData + 0x150), Bytes(HostFpatan(lx, ly)));
  EXPECT_EQ(ReadExt(m, kData + 0x160), Bytes(HostFyl2x(lx, ly)));
  EXPECT_EQ(ReadExt(m, kData + 0x170), Bytes(HostF2xm1(lx)));
  EXPECT_EQ(ReadExt(m, kData + 0x180), Bytes(HostFsqrt(ly)));
  EXPECT_EQ(ReadExt(m, kData + 0x180), Bytes(1.5L));
  EXPECT_EQ(ReadExt(m, kData + 0x190), Bytes(HostConst(0)));
  EXPECT_EQ(ReadExt(m, kData + 0x1A0), Bytes(HostConst(1)));
  EXPECT_EQ(ReadExt(m, kData + 0x1B0), Bytes(HostConst(2)));
  EXPECT_EQ(ReadExt(m, kData + 0x1C0), Bytes(HostConst(3)));
  // Close to libm as well (the host instruction, not libm, is the reference).
  long double sin_guest;
  Ext e = ReadExt(m, kData + 0x100);
  std::memcpy(&sin_guest, e.data(), 10);
  EXPECT_NEAR(static_cast<double>(sin_guest), std::sin(x), 1e-15);
  EXPECT_EQ(Top(m), 0u);
  EXPECT_FALSE(m.s.fx.fsw & (kIE | kSF));
}

TEST(InterpX87, PremScaleXtractRndint) {
  Machine m(kPrem);
  m.Write(kData, 4, 10);
  m.Write(kData + 4, 4, 3);
  m.Write(kData + 8, 4, 5);
  WriteDouble(m, kData + 0x10, 12.0);
  WriteDouble(m, kData + 0x18, 2.5);
  m.Step(5);
  // 10 = 3 * 3 + 1: quotient 011b -> C0 = Q2 = 0, C3 = Q1 = 1, C1 = Q0 = 1; C2 = 0 (complete).
  EXPECT_EQ(m.reg(kRax) & (kC0 | kC1 | kC2 | kC3), kC3 | kC1);
  m.Step(12);
  EXPECT_EQ(ReadExt(m, kData + 0x100), Bytes(1.0L));
  EXPECT_EQ(ReadExt(m, kData + 0x110), Bytes(384.0L));  // 12 * 2^5
  EXPECT_EQ(ReadExt(m, kData + 0x120), Bytes(1.5L));    // significand
  EXPECT_EQ(ReadExt(m, kData + 0x130), Bytes(3.0L));    // exponent
  EXPECT_EQ(ReadExt(m, kData + 0x140), Bytes(2.0L));    // round to nearest even
  EXPECT_EQ(Top(m), 6u);  // FPREM's divisor and FSCALE's ST(1) stay
}

TEST(InterpX87, IntegerOperandsAndCompare) {
  Machine m(kIntArith);
  m.Write(kData, 4, 7);
  m.Write(kData + 4, 2, 5);
  m.Write(kData + 8, 4, 2);
  m.Write(kData + 0xC, 2, static_cast<uint16_t>(-3));
  m.Write(kData + 0x10, 4, 4);
  m.Write(kData + 0x18, 8, 0x0123456789ABCDEFull);
  m.Step(12);
  volatile long double v = -30.0L;
  EXPECT_EQ(ReadExt(m, kData + 0x100), Bytes(4.0L / v));
  EXPECT_EQ(m.Read(kData + 0x20, 8), 0x0123456789ABCDEFull);
  EXPECT_EQ(m.reg(kRax) & (kC0 | kC2 | kC3), 0u);  // 5 > 2
  EXPECT_EQ(Top(m), 0u);
}

TEST(InterpX87, RegisterFormsMatchHostArithmetic) {
  Machine m(kRegArith);
  const double a = 1.1, b = 0.3;
  const float c = 2.5f;
  WriteDouble(m, kData, a);
  WriteDouble(m, kData + 8, b);
  uint32_t cbits;
  std::memcpy(&cbits, &c, 4);
  m.Write(kData + 0x10, 4, cbits);
  m.Step(11);
  volatile long double va = a, vb = b, vc = c;
  long double s1 = va, s0 = vb;
  s1 = s1 - s0;   // fsub st1, st0
  s0 = s1 - s0;   // fsubr st0, st1
  s1 = s1 / s0;   // fdiv st1, st0
  s0 = s1 / s0;   // fdivr st0, st1
  s0 = s0 * va;   // fmul qword
  s0 = vc - s0;   // fsubr dword
  s1 = s1 - s0;   // fsubp st1, st0
  EXPECT_EQ(ReadExt(m, kData + 0x100), Bytes(s1));
  EXPECT_EQ(Top(m), 0u);
  EXPECT_EQ(m.s.fx.ftw, 0u);
}

TEST(InterpX87, ExchangeFreeStackPointerAndFcmov) {
  Machine m(kMisc);
  m.Step(5);  // fld1; fldz; fldpi; fxch st2
  const Ext pi = Bytes(3.14159265358979323851L);
  EXPECT_EQ(St(m, 0), Bytes(1.0L));
  EXPECT_EQ(St(m, 2), pi);
  m.Step();  // FINCSTP: contents and tags stay, TOP moves
  EXPECT_EQ(Top(m), 6u);
  EXPECT_EQ(St(m, 0), Bytes(0.0L));
  EXPECT_EQ(St(m, 7), Bytes(1.0L));
  EXPECT_EQ(m.s.fx.ftw, 0xE0u);
  m.Step();  // FDECSTP
  EXPECT_EQ(Top(m), 5u);
  EXPECT_EQ(St(m, 0), Bytes(1.0L));
  m.Step();  // FFREE ST(1)
  EXPECT_EQ(m.s.fx.ftw, 0xA0u);
  m.s.rflags |= kFlagCf;
  m.Step();  // FCMOVB: taken
  EXPECT_EQ(St(m, 0), pi);
  m.s.fx.st[2][0] ^= 1;
  m.Step();  // FCMOVNB: not taken
  EXPECT_EQ(St(m, 0), pi);
}

TEST(InterpX87, BcdRoundTripAndSignOps) {
  Machine m(kBcd);
  const Ext bcd = {0x89, 0x67, 0x45, 0x23, 0x01, 0, 0, 0, 0, 0x80};  // -123456789
  WriteExt(m, kData, bcd);
  m.Step(4);
  EXPECT_EQ(ReadExt(m, kData + 0x10), bcd);
  EXPECT_EQ(St(m, 0), Bytes(-123456789.0L));
  m.Step(4);  // fchs; fabs; ftst; fnstsw ax
  EXPECT_EQ(St(m, 0), Bytes(123456789.0L));
  EXPECT_EQ(m.reg(kRax) & (kC0 | kC2 | kC3), 0u);
}

TEST(InterpX87, UnmaskedResponsesFollowTheHardware) {
  // fninit; fldcw [0x20000]; fld tword [0x20010]; fmul st0, st0 (DC C8); fnclex;
  // fld tword [0x20020]; fstp dword [0x20030]
  Machine m({0xDB, 0xE3, 0xD9, 0x2D, 0x00, 0x00, 0x02, 0x00, 0xDB, 0x2D, 0x10, 0x00, 0x02, 0x00, 0xDC, 0xC8,
             0xDB, 0xE2, 0xDB, 0x2D, 0x20, 0x00, 0x02, 0x00, 0xD9, 0x1D, 0x30, 0x00, 0x02, 0x00});
  m.Write(kData, 2, 0x37F & ~(kIE | 0x8));  // IE and OE unmasked
  WriteExt(m, kData + 0x10, {0, 0, 0, 0, 0, 0, 0, 0x80, 0xDF, 0x6E});  // 2^12000
  WriteExt(m, kData + 0x20, {0, 0, 0, 0, 0, 0, 0, 0xA0, 0xFF, 0x7F});  // an SNaN
  m.Write(kData + 0x30, 4, 0x12345678);
  m.Step(4);
  // Overflow unmasked: the result is stored with the exponent biased by -24576.
  EXPECT_EQ(m.s.fx.fsw & (0x8 | kES | kB), 0x8 | kES | kB);
  EXPECT_EQ(St(m, 0), (Ext{0, 0, 0, 0, 0, 0, 0, 0x80, 0xBF, 0x3D}));  // 2^(24000-24576)
  m.Step(3);
  // Invalid (SNaN) unmasked on a store: nothing stored, no pop.
  EXPECT_EQ(m.s.fx.fsw & (kIE | kES), kIE | kES);
  EXPECT_EQ(m.Read(kData + 0x30, 4), 0x12345678u);
  EXPECT_EQ(Top(m), 6u);
}

}  // namespace
}  // namespace tandem::accel::interp::testing
