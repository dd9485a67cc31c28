// x87/SSE state instructions (ops_fpu_state.cc).
#include <gtest/gtest.h>

#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

using namespace x86;

TEST(InterpFpuState, FninitFildFxsave) {
  // fninit; fild dword [0x20000]; fxsave [0x20100]; ldmxcsr [0x20004]
  Machine m({0xDB, 0xE3, 0xDB, 0x05, 0x00, 0x00, 0x02, 0x00, 0x0F, 0xAE, 0x05, 0x00, 0x01, 0x02, 0x00,
             0x0F, 0xAE, 0x15, 0x04, 0x00, 0x02, 0x00});
  m.s.cr4 |= kCr4Osfxsr;
  m.s.fx.fcw = 0;
  m.Write(kData, 4, static_cast<uint32_t>(-5));
  m.Write(kData + 4, 4, 0x1FA0);
  m.Step(4);
  EXPECT_EQ(m.Read(kData + 0x100, 2), 0x37Fu);               // FCW
  EXPECT_EQ((m.Read(kData + 0x102, 2) >> 11) & 7, 7u);       // TOP after one push
  EXPECT_EQ(m.Read(kData + 0x104, 1), 0x80u);                // abridged tag: physical reg 7
  EXPECT_EQ(m.Read(kData + 0x100 + 32, 8), 0xA000000000000000u);  // 5 = 1.01b * 2^2
  EXPECT_EQ(m.Read(kData + 0x100 + 40, 2), 0x8000u | (16383 + 2));
  EXPECT_EQ(m.s.fx.mxcsr, 0x1FA0u);
}

TEST(InterpFpuState, TaskSwitchedRaisesNm) {
  Machine m({0xDB, 0xE3}, Mode::kReal);  // fninit
  m.s.cr0 |= kCr0Ts;
  m.Write(7 * 4, 4, 0x30000040);  // IVT[7]
  m.Step();
  EXPECT_EQ(m.s.seg[kCs].selector, 0x3000);
}

}  // namespace
}  // namespace tandem::accel::interp::testing
