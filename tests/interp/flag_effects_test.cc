// DecodeFlagEffects (accel/interp/flag_effects.h): the RFLAGS bits an
// instruction defines and leaves undefined, per SDM vol. 2.
#include "accel/interp/flag_effects.h"

#include <gtest/gtest.h>

#include <vector>

#include "target-x86/cpu_state.h"

namespace tandem::accel::interp {
namespace {

constexpr uint64_t kArith = x86::kFlagCf | x86::kFlagPf | x86::kFlagAf | x86::kFlagZf | x86::kFlagSf | x86::kFlagOf;

FlagEffects Of(ZydisMachineMode mode, std::vector<uint8_t> bytes) {
  return DecodeFlagEffects(mode, bytes.data(), bytes.size());
}

TEST(FlagEffectsTest, ArithmeticDefinesAllSix) {
  const FlagEffects add = Of(ZYDIS_MACHINE_MODE_LONG_64, {0x48, 0x01, 0xC8});  // add rax, rcx
  EXPECT_EQ(add.defined, kArith);
  EXPECT_EQ(add.undefined, 0u);
}

TEST(FlagEffectsTest, LogicLeavesAfUndefinedAndBsfAllButZf) {
  const FlagEffects and_ = Of(ZYDIS_MACHINE_MODE_LEGACY_32, {0x21, 0xC8});  // and eax, ecx
  EXPECT_EQ(and_.undefined, x86::kFlagAf);
  EXPECT_EQ(and_.defined, kArith & ~x86::kFlagAf);  // CF and OF cleared, the others from the result
  const FlagEffects bsf = Of(ZYDIS_MACHINE_MODE_LONG_64, {0x48, 0x0F, 0xBC, 0xC1});  // bsf rax, rcx
  EXPECT_EQ(bsf.defined, x86::kFlagZf);
  EXPECT_EQ(bsf.undefined, kArith & ~x86::kFlagZf);
}

TEST(FlagEffectsTest, MovAndUndecodableBytesHaveNone) {
  const FlagEffects mov = Of(ZYDIS_MACHINE_MODE_REAL_16, {0x89, 0xC8});  // mov ax, cx
  EXPECT_EQ(mov.defined | mov.undefined, 0u);
  const FlagEffects truncated = Of(ZYDIS_MACHINE_MODE_LONG_64, {0x48, 0x0F});
  EXPECT_EQ(truncated.defined | truncated.undefined, 0u);
  EXPECT_EQ(DecodeFlagEffects(ZYDIS_MACHINE_MODE_LONG_64, nullptr, 0).defined, 0u);
}

}  // namespace
}  // namespace tandem::accel::interp
