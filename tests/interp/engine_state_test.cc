// The interpreter engine's SetState/GetState: a new state starts with no
// translation from before (TLB and the JIT's view of it), and the TSC the
// guest reads continues from CpuState::tsc, which GetState reports.
#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "accel/interp/interp_engine.h"
#include "hw/board.h"
#include "hw/clock.h"
#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp {
namespace {

using testing::kCode;
using testing::kTestPort;

// mov dx, kTestPort + 1; out dx, al: the recording device ends the run.
const std::vector<uint8_t> kStop = {0x66, 0xBA, uint8_t((kTestPort + 1) & 0xFF), uint8_t((kTestPort + 1) >> 8), 0xEE};

class EngineStateTest : public ::testing::TestWithParam<bool> {
 protected:
  EngineStateTest() {
    hw::BoardConfig config = testing::SmallBoard();
    config.clock = &clock_;
    auto board = hw::Board::Create(config);
    EXPECT_TRUE(board.ok());
    board_ = std::move(*board);
    device_ = std::make_unique<testing::RecordingDevice>(*board_);
    EXPECT_TRUE(board_->pio().Register(kTestPort, 2, device_.get(), "test").ok());
    auto machine = CreateMachine(*board_, /*with_jit=*/GetParam());
    if (!machine.ok()) return;
    machine_ = std::move(*machine);
    auto vcpu = machine_->CreateVcpu(0);
    if (!vcpu.ok()) return;
    engine_ = std::move(*vcpu);
  }
  void SetUp() override {
    if (!engine_) GTEST_SKIP() << "no JIT on this host";
  }
  void Load(uint64_t pa, std::vector<uint8_t> code) {
    code.insert(code.end(), kStop.begin(), kStop.end());
    ASSERT_TRUE(board_->memory().WritePhys(pa, code.data(), code.size()));
  }
  void W32(uint64_t pa, uint32_t v) { ASSERT_TRUE(board_->memory().WritePhys(pa, &v, 4)); }
  x86::CpuState RunFrom(const x86::CpuState& s) {
    board_->Reset();
    engine_->SetState(s);
    RunOutcome r = engine_->Run();
    EXPECT_EQ(r.kind, RunOutcome::Kind::kBoardStop) << r.message;
    return engine_->GetState();
  }

  hw::ManualClock clock_;
  std::unique_ptr<hw::Board> board_;
  std::unique_ptr<testing::RecordingDevice> device_;
  std::unique_ptr<Machine> machine_;
  std::unique_ptr<Vcpu> engine_;  // vCPU 0 of machine_
};

// The CLI's reboot path: a run with paging maps linear 2 MiB to physical
// 6 MiB; the state after the reset has paging off, so [2 MiB] is physical
// 2 MiB again.
TEST_P(EngineStateTest, SetStateDropsTranslationsFromBefore) {
  W32(0x200000, 0x11111111);
  W32(0x600000, 0x66666666);
  x86::CpuState paged = testing::Long64State(*board_, kCode);
  const uint64_t pde = 0x600000 | 0x83;  // PD[1]: linear 2 MiB -> physical 6 MiB
  ASSERT_TRUE(board_->memory().WritePhys(0x3000 + 8, &pde, 8));
  paged.gpr[x86::kRsp] = 0x8000;
  Load(kCode, {0x8B, 0x04, 0x25, 0x00, 0x00, 0x20, 0x00});  // mov eax, [0x200000]
  EXPECT_EQ(RunFrom(paged).gpr[x86::kRax], 0x66666666u);

  constexpr uint64_t kCode2 = kCode + 0x1000;
  Load(kCode2, {0xA1, 0x00, 0x00, 0x20, 0x00});  // mov eax, [0x200000] (32-bit, no paging)
  x86::CpuState flat = x86::Flat32State(kCode2);
  flat.gpr[x86::kRsp] = 0x8000;
  EXPECT_EQ(RunFrom(flat).gpr[x86::kRax], 0x11111111u);
}

// 3 s after the guest first read the TSC, GetState reports what it would
// read; SetState with TSC 0 makes it read 0 again.
TEST_P(EngineStateTest, TscFollowsSetStateAndGetStateReportsWhatTheGuestReads) {
  Load(kCode, {0x0F, 0x31, 0x89, 0xD1});  // rdtsc; mov ecx, edx (the stop uses DX)
  x86::CpuState s = x86::Flat32State(kCode);
  s.gpr[x86::kRsp] = 0x8000;
  s.tsc = 1000;
  x86::CpuState out = RunFrom(s);
  EXPECT_EQ(out.gpr[x86::kRax], 1000u);
  clock_.Advance(3'000'000'000);
  EXPECT_EQ(engine_->GetState().tsc, 3'000'001'000u);

  s.tsc = 0;
  out = RunFrom(s);
  EXPECT_EQ(out.gpr[x86::kRax] | out.gpr[x86::kRcx] << 32, 0u);
  clock_.Advance(5);
  EXPECT_EQ(engine_->GetState().tsc, 5u);
}

INSTANTIATE_TEST_SUITE_P(Engines, EngineStateTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "jit" : "interp"; });

}  // namespace
}  // namespace tandem::accel::interp
