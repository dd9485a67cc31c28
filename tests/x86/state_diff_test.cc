// x86::DiffStates and x86::SameState (target-x86/state_diff.h): the fast
// comparison lockstep runs after every slice must see exactly the changes
// the named one reports.
#include "target-x86/state_diff.h"

#include <gtest/gtest.h>

#include <cstring>

namespace tandem::x86 {
namespace {

TEST(StateDiffTest, NamesTheFieldsThatDiffer) {
  CpuState a = ResetState(), b = a;
  EXPECT_TRUE(SameState(a, b));
  EXPECT_TRUE(DiffStates(a, b).empty());
  b.rflags ^= kFlagPf;
  b.fx.xmm[3][9] = 0x5A;
  b.seg[kCs].limit = 0x1234;
  auto diff = DiffStates(a, b);
  ASSERT_EQ(diff.size(), 3u);
  EXPECT_EQ(diff[0].name, "rflags");
  EXPECT_EQ(diff[0].a ^ diff[0].b, kFlagPf);
  EXPECT_EQ(diff[1].name, "cs.limit");
  EXPECT_EQ(diff[2].name, "xmm3.hi");
  EXPECT_FALSE(SameState(a, b));
}

TEST(StateDiffTest, ReservedBytesOfX87RegistersDoNotCount) {
  CpuState a = ResetState(), b = a;
  b.fx.st[2][12] = 0xFF;  // bytes 10..15 of an FXSAVE x87 slot are reserved
  EXPECT_TRUE(SameState(a, b));
  EXPECT_TRUE(DiffStates(a, b).empty());
}

// Every byte of the state: flipping it changes SameState exactly when it
// changes DiffStates (padding and reserved bytes change neither).
TEST(StateDiffTest, SameStateAgreesWithDiffStatesOnEveryByte) {
  const CpuState a = ResetState();
  int counted = 0;
  for (size_t offset = 0; offset < sizeof(CpuState); ++offset) {
    CpuState b;
    std::memcpy(static_cast<void*>(&b), &a, sizeof b);
    reinterpret_cast<uint8_t*>(&b)[offset] ^= 0x01;
    const bool differs = !DiffStates(a, b).empty();
    EXPECT_EQ(SameState(a, b), !differs) << "byte " << offset;
    counted += differs;
  }
  // Everything but padding and reserved bytes: GPRs, RIP and RFLAGS alone are 144.
  EXPECT_GT(counted, 900);
}

}  // namespace
}  // namespace tandem::x86
