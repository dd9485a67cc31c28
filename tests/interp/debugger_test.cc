// Vcpu::SetDebug on the interpreter and the JIT engine: single steps return
// kDebug after one instruction, breakpoints before the instruction at a
// linear address, the resume point runs unchecked, and an empty config
// runs freely again.
#include <gtest/gtest.h>

#include "accel/interp/interp_engine.h"
#include "hw/board.h"

namespace tandem::accel {
namespace {

constexpr uint64_t kCode = 0x10000;
// inc eax; inc eax; inc eax; jmp back to the first inc (32-bit code)
const std::vector<uint8_t> kLoop = {0x40, 0x40, 0x40, 0xEB, 0xFB};

class DebuggerTest : public ::testing::TestWithParam<bool> {
 protected:
  DebuggerTest() {
    hw::BoardConfig config;
    config.ram_size = 16ull << 20;
    board_ = std::move(hw::Board::Create(std::move(config)).value());
    board_->memory().WritePhys(kCode, kLoop.data(), kLoop.size());
    machine_ = std::move(interp::CreateMachine(*board_, /*with_jit=*/GetParam()).value());
    vcpu_ = std::move(machine_->CreateVcpu(0).value());
    vcpu_->SetState(x86::Flat32State(kCode));
  }
  std::unique_ptr<hw::Board> board_;
  std::unique_ptr<Machine> machine_;
  std::unique_ptr<Vcpu> vcpu_;
};

TEST_P(DebuggerTest, SingleStepRunsOneInstruction) {
  ASSERT_TRUE(vcpu_->SetDebug(DebugConfig{true, {}}).ok());
  for (uint64_t i = 1; i <= 5; ++i) {
    EXPECT_EQ(vcpu_->Run().kind, RunOutcome::Kind::kDebug);
    x86::CpuState s = vcpu_->GetState();
    static const uint64_t kRip[] = {0, 1, 2, 3, 0, 1};
    EXPECT_EQ(s.rip, kCode + kRip[i]) << "step " << i;
    EXPECT_EQ(s.gpr[x86::kRax], std::min<uint64_t>(i, 3) + (i == 5)) << "step " << i;
  }
}

TEST_P(DebuggerTest, BreakpointStopsBeforeTheInstruction) {
  ASSERT_TRUE(vcpu_->SetDebug(DebugConfig{false, {kCode + 2}}).ok());
  EXPECT_EQ(vcpu_->Run().kind, RunOutcome::Kind::kDebug);
  EXPECT_EQ(vcpu_->GetState().rip, kCode + 2);
  EXPECT_EQ(vcpu_->GetState().gpr[x86::kRax], 2u);
  // A Run() without a new SetDebug (say after a pause) stays at the breakpoint.
  EXPECT_EQ(vcpu_->Run().kind, RunOutcome::Kind::kDebug);
  EXPECT_EQ(vcpu_->GetState().gpr[x86::kRax], 2u);
  // Resuming (SetDebug again) runs the instruction there, once round the loop.
  ASSERT_TRUE(vcpu_->SetDebug(DebugConfig{false, {kCode + 2}}).ok());
  EXPECT_EQ(vcpu_->Run().kind, RunOutcome::Kind::kDebug);
  EXPECT_EQ(vcpu_->GetState().rip, kCode + 2);
  EXPECT_EQ(vcpu_->GetState().gpr[x86::kRax], 5u);
}

TEST_P(DebuggerTest, EmptyConfigRunsFreely) {
  ASSERT_TRUE(vcpu_->SetDebug(DebugConfig{true, {}}).ok());
  EXPECT_EQ(vcpu_->Run().kind, RunOutcome::Kind::kDebug);
  ASSERT_TRUE(vcpu_->SetDebug(DebugConfig{}).ok());
  vcpu_->Kick();  // latched: Run() returns at its first check
  EXPECT_EQ(vcpu_->Run().kind, RunOutcome::Kind::kKicked);
}

INSTANTIATE_TEST_SUITE_P(Engines, DebuggerTest, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "jit" : "interp"; });

}  // namespace
}  // namespace tandem::accel
