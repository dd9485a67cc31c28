// VcpuThreads: one host thread per vCPU and the stop-the-world primitive,
// first with fake vCPUs that count "instructions" until kicked, then with
// real interpreter vCPUs on a board.
#include "accel/vcpu_threads.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "accel/interp/interp_engine.h"
#include "accel/kick_latch.h"
#include "hw/board.h"

namespace tandem::accel {
namespace {

using namespace std::chrono_literals;

// Counts steps until kicked; after exit_after steps (if set) returns that outcome once.
class FakeVcpu final : public Vcpu {
 public:
  explicit FakeVcpu(int index) : index_(index) {}
  int index() const override { return index_; }
  void SetState(const x86::CpuState&) override {}
  x86::CpuState GetState() override { return {}; }
  RunOutcome Run() override {
    inside.store(true);
    RunOutcome out{RunOutcome::Kind::kKicked, ""};
    while (!kick_.Take()) {
      uint64_t n = steps.fetch_add(1) + 1;
      if (exit_after && n == exit_after) {
        out = RunOutcome{exit_kind, "fake exit"};
        break;
      }
      if (on_step) on_step(n);
    }
    inside.store(false);
    return out;
  }
  void Kick() override { kick_.Set(); }

  std::atomic<uint64_t> steps{0};
  std::atomic<bool> inside{false};
  uint64_t exit_after = 0;
  RunOutcome::Kind exit_kind = RunOutcome::Kind::kTripleFault;
  std::function<void(uint64_t)> on_step;

 private:
  int index_;
  KickLatch kick_;
};

// Waits (up to 10 s) until pred holds.
template <typename Pred>
bool Eventually(Pred pred) {
  for (auto end = std::chrono::steady_clock::now() + 10s; std::chrono::steady_clock::now() < end;) {
    if (pred()) return true;
    std::this_thread::sleep_for(1ms);
  }
  return pred();
}

std::vector<Vcpu*> Pointers(std::vector<std::unique_ptr<FakeVcpu>>& v) {
  std::vector<Vcpu*> out;
  for (auto& p : v) out.push_back(p.get());
  return out;
}

std::vector<std::unique_ptr<FakeVcpu>> Fakes(int n) {
  std::vector<std::unique_ptr<FakeVcpu>> v;
  for (int i = 0; i < n; ++i) v.push_back(std::make_unique<FakeVcpu>(i));
  return v;
}

TEST(VcpuThreads, PauseStopsEveryVcpuAndResumeRestartsThem) {
  auto vcpus = Fakes(4);
  VcpuThreads threads(Pointers(vcpus));
  threads.Start();
  for (auto& v : vcpus) ASSERT_TRUE(Eventually([&] { return v->steps.load() > 0; }));
  for (int round = 0; round < 20; ++round) {
    threads.Pause();
    std::vector<uint64_t> at_pause;
    for (auto& v : vcpus) {
      EXPECT_FALSE(v->inside.load()) << "vCPU " << v->index() << " still running in round " << round;
      at_pause.push_back(v->steps.load());
    }
    std::this_thread::sleep_for(2ms);
    for (size_t i = 0; i < vcpus.size(); ++i) EXPECT_EQ(vcpus[i]->steps.load(), at_pause[i]);
    threads.Resume();
    for (size_t i = 0; i < vcpus.size(); ++i) {
      ASSERT_TRUE(Eventually([&] { return vcpus[i]->steps.load() > at_pause[i]; }));
    }
  }
  threads.Stop();
  for (auto& v : vcpus) EXPECT_FALSE(v->inside.load());
}

TEST(VcpuThreads, PausesNest) {
  auto vcpus = Fakes(2);
  VcpuThreads threads(Pointers(vcpus));
  threads.Start();
  threads.Pause();
  threads.Pause();
  threads.Resume();
  uint64_t before = vcpus[0]->steps.load();
  std::this_thread::sleep_for(5ms);
  EXPECT_EQ(vcpus[0]->steps.load(), before);  // still paused once
  threads.Resume();
  EXPECT_TRUE(Eventually([&] { return vcpus[0]->steps.load() > before; }));
}

TEST(VcpuThreads, WaitForExitReturnsTheExitWithTheWorldPaused) {
  auto vcpus = Fakes(3);
  vcpus[2]->exit_after = 1000;
  VcpuThreads threads(Pointers(vcpus));
  threads.Start();
  VcpuThreads::Exit exit = threads.WaitForExit();
  EXPECT_EQ(exit.vcpu, 2);
  EXPECT_EQ(exit.outcome.kind, RunOutcome::Kind::kTripleFault);
  EXPECT_EQ(exit.outcome.message, "fake exit");
  std::vector<uint64_t> at_pause;
  for (auto& v : vcpus) {
    EXPECT_FALSE(v->inside.load());
    at_pause.push_back(v->steps.load());
  }
  std::this_thread::sleep_for(2ms);
  for (size_t i = 0; i < vcpus.size(); ++i) EXPECT_EQ(vcpus[i]->steps.load(), at_pause[i]);
  threads.Resume();  // the reporting vCPU runs again too
  EXPECT_TRUE(Eventually([&] { return vcpus[2]->steps.load() > at_pause[2]; }));
}

TEST(VcpuThreads, WhilePausedRunsTheFunctionWithTheWorldStill) {
  auto vcpus = Fakes(3);
  VcpuThreads threads(Pointers(vcpus));
  threads.Start();
  bool ran = false;
  threads.WhilePaused([&] {
    for (auto& v : vcpus) EXPECT_FALSE(v->inside.load());
    ran = true;
  });
  EXPECT_TRUE(ran);
}

// A vCPU thread may stop the world itself (a device it runs wants it still):
// it does not wait for itself.
TEST(VcpuThreads, AVcpuThreadCanPauseTheOthers) {
  auto vcpus = Fakes(3);
  std::atomic<bool> others_were_out{false};
  std::atomic<bool> done{false};
  VcpuThreads* owner = nullptr;
  vcpus[1]->on_step = [&](uint64_t n) {
    if (n != 500 || done.load()) return;
    owner->WhilePaused([&] {
      others_were_out.store(!vcpus[0]->inside.load() && !vcpus[2]->inside.load());
    });
    done.store(true);
  };
  VcpuThreads threads(Pointers(vcpus));
  owner = &threads;
  threads.Start();
  ASSERT_TRUE(Eventually([&] { return done.load(); }));
  EXPECT_TRUE(others_were_out.load());
}

TEST(VcpuThreads, PauseBeforeStartAndStopWithoutStartReturn) {
  auto vcpus = Fakes(2);
  VcpuThreads threads(Pointers(vcpus));
  threads.WhilePaused([] {});
  threads.Stop();
  EXPECT_EQ(vcpus[0]->steps.load(), 0u);
}

TEST(VcpuThreads, ThreadIdsAreEachVcpusOwnHostThread) {
  auto vcpus = Fakes(2);
  VcpuThreads threads(Pointers(vcpus));
  std::vector<long> early;
  std::thread asker([&] { early = threads.thread_ids(); });  // waits for Start()
  threads.Start();
  asker.join();
  EXPECT_EQ(early, threads.thread_ids());
  std::vector<long> ids = threads.thread_ids();
  ASSERT_EQ(ids.size(), 2u);
  EXPECT_NE(ids[0], 0);
  EXPECT_NE(ids[1], 0);
  EXPECT_NE(ids[0], ids[1]);
  EXPECT_NE(ids[0], static_cast<long>(gettid()));
}

// ---- a real interpreter vCPU ----

constexpr uint64_t kCode = 0x10000;
constexpr uint64_t kCounter = 0x20000;

struct InterpBoard {
  explicit InterpBoard(const std::vector<uint8_t>& code, bool jit = false) {
    hw::BoardConfig config;
    config.ram_size = 16ull << 20;
    board = std::move(hw::Board::Create(std::move(config)).value());
    board->memory().WritePhys(kCode, code.data(), code.size());
    machine = std::move(interp::CreateMachine(*board, jit).value());
    vcpu = std::move(machine->CreateVcpu(0).value());
    vcpu->SetState(x86::Flat32State(kCode));
  }
  uint32_t Counter() const {
    uint32_t v = 0;
    board->memory().ReadPhys(kCounter, &v, 4);
    return v;
  }
  std::unique_ptr<hw::Board> board;
  std::unique_ptr<Machine> machine;
  std::unique_ptr<Vcpu> vcpu;
};

// inc dword [kCounter]; jmp back
const std::vector<uint8_t> kCountLoop = {0xFF, 0x05, 0x00, 0x00, 0x02, 0x00, 0xEB, 0xF8};

TEST(VcpuThreadsInterp, PauseStopsTheGuestAtAnInstructionBoundary) {
  InterpBoard m(kCountLoop);
  VcpuThreads threads({m.vcpu.get()});
  threads.Start();
  ASSERT_TRUE(Eventually([&] { return m.Counter() > 1000; }));
  for (int round = 0; round < 10; ++round) {
    threads.Pause();
    uint32_t at_pause = m.Counter();
    x86::CpuState s = m.vcpu->GetState();
    EXPECT_TRUE(s.rip == kCode || s.rip == kCode + 6) << std::hex << s.rip;
    std::this_thread::sleep_for(2ms);
    EXPECT_EQ(m.Counter(), at_pause);
    // The world is still: the state can be replaced, as a reset does.
    uint32_t zero = 0;
    m.board->memory().WritePhys(kCounter, &zero, 4);
    m.vcpu->SetState(x86::Flat32State(kCode));
    threads.Resume();
    ASSERT_TRUE(Eventually([&] { return m.Counter() > 0; }));
  }
}

TEST(VcpuThreadsInterp, PauseWakesAHaltedVcpu) {
  // sti; hlt; jmp back: nothing raises an interrupt, the vCPU sleeps in HLT.
  InterpBoard m({0xFB, 0xF4, 0xEB, 0xFD});
  VcpuThreads threads({m.vcpu.get()});
  threads.Start();
  ASSERT_TRUE(Eventually([&] { return m.vcpu->instructions_retired() >= 2; }));
  std::this_thread::sleep_for(5ms);
  for (int round = 0; round < 5; ++round) {
    auto t0 = std::chrono::steady_clock::now();
    threads.Pause();
    // The kick's eventfd ends the HLT wait; timing is not asserted beyond
    // "well before the timeout" (a loaded host can be slow).
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 5s);
    EXPECT_TRUE(m.vcpu->GetState().halted);
    threads.Resume();
  }
}

TEST(VcpuThreadsInterp, ABoardStopIsReportedAndAResetRunsWithTheWorldPaused) {
  // inc dword [kCounter]; cmp dword [kCounter], 100; jne back; out 0x92, al (fast reset with al=1); jmp $
  const std::vector<uint8_t> code = {0xFF, 0x05, 0x00, 0x00, 0x02, 0x00,        // inc dword [kCounter]
                                     0x83, 0x3D, 0x00, 0x00, 0x02, 0x00, 0x64,  // cmp dword [kCounter], 100
                                     0x75, 0xF1,                                // jne back
                                     0xB0, 0x01, 0xE6, 0x92,                    // mov al, 1; out 0x92, al
                                     0xEB, 0xFE};                               // jmp $
  InterpBoard m(code);
  VcpuThreads threads({m.vcpu.get()});
  threads.Start();
  for (int resets = 0; resets < 3; ++resets) {
    VcpuThreads::Exit exit = threads.WaitForExit();
    EXPECT_EQ(exit.vcpu, 0);
    EXPECT_EQ(exit.outcome.kind, RunOutcome::Kind::kBoardStop);
    ASSERT_EQ(m.board->stop_reason(), hw::StopReason::kReset);
    EXPECT_EQ(m.Counter(), 100u);
    m.board->Reset();
    uint32_t zero = 0;
    m.board->memory().WritePhys(kCounter, &zero, 4);
    m.vcpu->SetState(x86::Flat32State(kCode));
    threads.Resume();
  }
  threads.Stop();
}

}  // namespace
}  // namespace tandem::accel
