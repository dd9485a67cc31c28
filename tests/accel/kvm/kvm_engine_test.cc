// The KVM engine on a real /dev/kvm: hand-assembled guests (bytes from NASM,
// listed next to each) exercise port I/O, MMIO, HLT, the kick timer, state
// sync and triple faults. Skipped with Probe()'s reason where KVM is missing.
#include "accel/kvm/kvm_engine.h"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "accel/vcpu_threads.h"
#include "hw/board.h"
#include "hw/io_device.h"
#include "target-x86/cpu_state.h"

namespace tandem::accel::kvm {
namespace {

using x86::CpuState;

constexpr uint16_t kTestPort = 0x530;  // +0: bytes recorded, +1: exit with the value
constexpr uint64_t kCodeAddr = 0x1000;

class Recorder final : public hw::IoDevice {
 public:
  uint64_t Read(uint64_t offset, unsigned size) override { return 'a' + reads_++; }
  void Write(uint64_t offset, unsigned size, uint64_t value) override {
    if (offset == 1) {
      board_->RequestExit(static_cast<int>(value & 0xFF));
    } else {
      bytes_.push_back(static_cast<char>(value));
    }
  }
  hw::Board* board_ = nullptr;
  std::string bytes_;
  int reads_ = 0;
};

class KvmEngineTest : public testing::Test {
 protected:
  void SetUp() override {
    Availability a = Probe();
    if (!a.available) {
      GTEST_SKIP() << "KVM unavailable here (" << a.reason
                   << "); the ctest kvm_engine.in_sandbox runs these tests in the nested KVM sandbox";
    }
  }

  // A board with 16 MiB of RAM, a 64 KiB BIOS (code placed at its end, so
  // that it runs from the reset vector 0xFFFFFFF0) and the recorder.
  void Start(std::vector<uint8_t> reset_code = {}, uint64_t timeout_ns = 5'000'000'000) {
    std::vector<uint8_t> bios(64 * 1024, 0xF4);  // hlt everywhere
    bios[0] = 0xA5;
    std::copy(reset_code.begin(), reset_code.end(), bios.begin() + 0xFFF0);
    hw::BoardConfig config;
    config.ram_size = 16ull << 20;
    config.bios = std::move(bios);
    config.timeout_ns = timeout_ns;
    auto board = hw::Board::Create(std::move(config));
    ASSERT_TRUE(board.ok()) << board.message();
    board_ = std::move(board.value());
    recorder_.board_ = board_.get();
    ASSERT_TRUE(board_->pio().Register(kTestPort, 2, &recorder_, "recorder").ok());
    auto machine = CreateMachine(*board_);
    ASSERT_TRUE(machine.ok()) << machine.message();
    machine_ = std::move(machine.value());
    EXPECT_EQ(machine_->name(), "kvm");
    auto vcpu = machine_->CreateVcpu(0);
    ASSERT_TRUE(vcpu.ok()) << vcpu.message();
    engine_ = std::move(vcpu.value());
  }

  // Flat 32-bit code at kCodeAddr in RAM.
  CpuState Load32(const std::vector<uint8_t>& code) {
    EXPECT_TRUE(board_->memory().WritePhys(kCodeAddr, code.data(), code.size()));
    CpuState s = x86::Flat32State(kCodeAddr);
    s.gpr[x86::kRsp] = 0x8000;
    return s;
  }

  Recorder recorder_;
  std::unique_ptr<hw::Board> board_;
  std::unique_ptr<Machine> machine_;
  std::unique_ptr<Vcpu> engine_;  // vCPU 0
};

TEST_F(KvmEngineTest, OutFromTheResetVectorReachesThePortBus) {
  Start({
      0xBA, 0x30, 0x05,  // mov dx, 0x530
      0xB0, 'O',         // mov al, 'O'
      0xEE,              // out dx, al
      0xB0, 'K',         // mov al, 'K'
      0xEE,              // out dx, al
      0x42,              // inc dx
      0xEE,              // out dx, al: exit with status 'K'
      0xF4,              // hlt
  });
  engine_->SetState(x86::ResetState());
  RunOutcome out = engine_->Run();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  EXPECT_EQ(recorder_.bytes_, "OK");
  EXPECT_EQ(board_->stop_reason(), hw::StopReason::kExit);
  EXPECT_EQ(board_->exit_status(), 'K');
  // The OUT that stopped the run is complete: RIP is past it.
  CpuState s = engine_->GetState();
  EXPECT_EQ(s.rip, 0xFFFBu);
  EXPECT_EQ(s.seg[x86::kCs].base, 0xFFFF0000u);
  EXPECT_EQ(x86::ModeOf(s), x86::CpuMode::kReal);
  EXPECT_EQ(engine_->instructions_retired(), 0u);
}

TEST_F(KvmEngineTest, HaltWithInterruptsOffEndsTheRun) {
  Start({0xFA, 0xF4, 0xEB, 0xFD}, 100'000'000);  // cli; hlt; jmp back
  auto t0 = std::chrono::steady_clock::now();
  RunOutcome out = engine_->Run();
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(out.kind, RunOutcome::Kind::kHalted) << out.message;
  EXPECT_EQ(board_->stop_reason(), hw::StopReason::kNone);
  EXPECT_LT(elapsed, std::chrono::seconds(5));  // not the 100 s timeout
  CpuState s = engine_->GetState();
  EXPECT_TRUE(s.halted);
  EXPECT_EQ(s.rip, 0xFFF2u);
  EXPECT_EQ(s.rflags & x86::kFlagIf, 0u);
}

TEST_F(KvmEngineTest, GuestSpinningWithoutExitsIsStoppedByTheTimer) {
  Start({0xFA, 0xEB, 0xFE}, 100'000'000);  // cli; jmp $
  auto t0 = std::chrono::steady_clock::now();
  RunOutcome out = engine_->Run();
  auto elapsed = std::chrono::steady_clock::now() - t0;
  EXPECT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  EXPECT_EQ(board_->stop_reason(), hw::StopReason::kTimeout);
  EXPECT_LT(elapsed, std::chrono::seconds(10));  // without the kick timer it would never end
  EXPECT_FALSE(engine_->GetState().halted);
  EXPECT_EQ(engine_->GetState().rip, 0xFFF1u);
}

TEST_F(KvmEngineTest, UnassignedMmioReadsAllOnesAndRomIgnoresWrites) {
  Start();
  CpuState s = Load32({
      0xA1, 0x00, 0x00, 0x00, 0xD0,                                // mov eax, [0xD0000000]
      0x89, 0xC3,                                                  // mov ebx, eax
      0xC7, 0x05, 0x00, 0x00, 0x00, 0xD0, 0x78, 0x56, 0x34, 0x12,  // mov dword [0xD0000000], 0x12345678
      0x66, 0x8B, 0x0D, 0x10, 0x00, 0x00, 0xD0,                    // mov cx, [0xD0000010]
      0xC6, 0x05, 0x00, 0x00, 0xFF, 0xFF, 0x55,                    // mov byte [0xFFFF0000], 0x55
      0xA0, 0x00, 0x00, 0xFF, 0xFF,                                // mov al, [0xFFFF0000]
      0x66, 0xBA, 0x31, 0x05,                                      // mov dx, 0x531
      0xEE,                                                        // out dx, al
  });
  engine_->SetState(s);
  RunOutcome out = engine_->Run();
  ASSERT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  s = engine_->GetState();
  EXPECT_EQ(s.gpr[x86::kRbx], 0xFFFFFFFFu);
  EXPECT_EQ(s.gpr[x86::kRcx], 0xFFFFu);
  EXPECT_EQ(s.gpr[x86::kRax], 0xFFFFFFA5u);  // the ROM byte survived the write
  EXPECT_EQ(board_->exit_status(), 0xA5);
  EXPECT_EQ(board_->memory().rom()[0], 0xA5);
  EXPECT_EQ(s.rip, kCodeAddr + 41);
}

// Counts what reaches the MMIO bus at a ROM address. Registered over ROM only
// to watch for writes the engine should have dropped: KVM serves ROM reads
// from the read-only slot, so the probe never sees a legitimate access.
class RomWriteProbe final : public hw::IoDevice {
 public:
  uint64_t Read(uint64_t, unsigned) override { return 0; }
  void Write(uint64_t, unsigned, uint64_t) override { ++writes_; }
  int writes_ = 0;
};

TEST_F(KvmEngineTest, WritesToRomAreDroppedBeforeTheMmioBus) {
  Start();
  RomWriteProbe high, alias;
  ASSERT_TRUE(board_->mmio().Register(0xFFFF0000, 0x10000, &high, "probe over bios").ok());
  ASSERT_TRUE(board_->mmio().Register(0xF0000, 0x10000, &alias, "probe over bios alias").ok());
  std::vector<uint8_t> before(board_->memory().rom(), board_->memory().rom() + 0x40);
  CpuState s = Load32({
      0xC6, 0x05, 0x00, 0x00, 0xFF, 0xFF, 0x55,                    // mov byte [0xFFFF0000], 0x55
      0xC7, 0x05, 0x04, 0x00, 0xFF, 0xFF, 0x78, 0x56, 0x34, 0x12,  // mov dword [0xFFFF0004], 0x12345678
      0x66, 0xC7, 0x05, 0x08, 0x00, 0x0F, 0x00, 0x34, 0x12,        // mov word [0xF0008], 0x1234
      0xBF, 0x10, 0x00, 0x0F, 0x00,                                // mov edi, 0xF0010
      0xB9, 0x04, 0x00, 0x00, 0x00,                                // mov ecx, 4
      0xB8, 0xEF, 0xBE, 0xAD, 0xDE,                                // mov eax, 0xDEADBEEF
      0xFC,                                                        // cld
      0xF3, 0xAB,                                                  // rep stosd
      0xA0, 0x00, 0x00, 0x0F, 0x00,                                // mov al, [0xF0000]
      0x66, 0xBA, 0x31, 0x05,                                      // mov dx, 0x531
      0xEE,                                                        // out dx, al
  });
  engine_->SetState(s);
  RunOutcome out = engine_->Run();
  ASSERT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  EXPECT_EQ(high.writes_, 0);
  EXPECT_EQ(alias.writes_, 0);
  EXPECT_EQ(board_->exit_status(), 0xA5);
  EXPECT_EQ(std::vector<uint8_t>(board_->memory().rom(), board_->memory().rom() + 0x40), before);
  s = engine_->GetState();
  EXPECT_EQ(s.gpr[x86::kRdi], 0xF0020u);  // every store of the REP completed
  EXPECT_EQ(s.gpr[x86::kRcx], 0u);
}

// PAM shadowing under KVM: the guest switches the i440FX's PAM0 (0xF0000)
// through 0xCF8/0xCFD and the memory slots follow: ROM alias, then RAM it can
// write, then read-only RAM (the write exits and is dropped), then ROM again.
TEST_F(KvmEngineTest, PamSwitchesMemorySlotsWhileTheGuestRuns) {
  Start();
  CpuState s = Load32({
      0xA0, 0x00, 0x00, 0x0F, 0x00,              // mov al, [0xF0000]: the ROM alias
      0x88, 0xC3,                                // mov bl, al
      0xB8, 0x58, 0x00, 0x00, 0x80,              // mov eax, 0x80000058 (00:00.0, 0x58)
      0x66, 0xBA, 0xF8, 0x0C,                    // mov dx, 0xCF8
      0xEF,                                      // out dx, eax
      0x66, 0xBA, 0xFD, 0x0C,                    // mov dx, 0xCFD (PAM0)
      0xB0, 0x30,                                // mov al, 0x30: read-write
      0xEE,                                      // out dx, al
      0xC6, 0x05, 0x00, 0x00, 0x0F, 0x00, 0x5A,  // mov byte [0xF0000], 0x5A
      0x8A, 0x3D, 0x00, 0x00, 0x0F, 0x00,        // mov bh, [0xF0000]
      0xB0, 0x10,                                // mov al, 0x10: read-only
      0xEE,                                      // out dx, al
      0xC6, 0x05, 0x00, 0x00, 0x0F, 0x00, 0x77,  // mov byte [0xF0000], 0x77: dropped
      0x8A, 0x0D, 0x00, 0x00, 0x0F, 0x00,        // mov cl, [0xF0000]
      0xB0, 0x00,                                // mov al, 0: off, the ROM alias
      0xEE,                                      // out dx, al
      0x8A, 0x2D, 0x00, 0x00, 0x0F, 0x00,        // mov ch, [0xF0000]
      0x66, 0xBA, 0x31, 0x05,                    // mov dx, 0x531
      0xEE,                                      // out dx, al: exit
  });
  engine_->SetState(s);
  RunOutcome out = engine_->Run();
  ASSERT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  s = engine_->GetState();
  EXPECT_EQ(s.gpr[x86::kRbx] & 0xFFFF, 0x5AA5u);
  EXPECT_EQ(s.gpr[x86::kRcx] & 0xFFFF, 0xA55Au);
  EXPECT_EQ(board_->memory().ram()[0xF0000], 0x5A);
  EXPECT_EQ(board_->memory().rom()[0], 0xA5);
}

TEST_F(KvmEngineTest, StringPortIoMovesEveryItem) {
  Start();
  CpuState s = Load32({
      0xBE, 0x00, 0x20, 0x00, 0x00,  // mov esi, 0x2000
      0xB9, 0x05, 0x00, 0x00, 0x00,  // mov ecx, 5
      0x66, 0xBA, 0x30, 0x05,        // mov dx, 0x530
      0xF3, 0x6E,                    // rep outsb
      0xBF, 0x00, 0x30, 0x00, 0x00,  // mov edi, 0x3000
      0xB9, 0x04, 0x00, 0x00, 0x00,  // mov ecx, 4
      0xF3, 0x6C,                    // rep insb
      0x66, 0x42,                    // inc dx
      0xEE,                          // out dx, al
  });
  ASSERT_TRUE(board_->memory().WritePhys(0x2000, "hello", 5));
  engine_->SetState(s);
  RunOutcome out = engine_->Run();
  ASSERT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  EXPECT_EQ(recorder_.bytes_, "hello");
  char in[5] = {};
  ASSERT_TRUE(board_->memory().ReadPhys(0x3000, in, 4));
  EXPECT_STREQ(in, "abcd");
  s = engine_->GetState();
  EXPECT_EQ(s.gpr[x86::kRsi], 0x2005u);
  EXPECT_EQ(s.gpr[x86::kRdi], 0x3004u);
  EXPECT_EQ(s.gpr[x86::kRcx], 0u);
}

TEST_F(KvmEngineTest, StateRoundTripsThroughTheGuest) {
  Start();
  CpuState s = Load32({
      0x01, 0xD8,        // add eax, ebx
      0x6B, 0xC9, 0x07,  // imul ecx, ecx, 7
      0x0F, 0x28, 0xC8,  // movaps xmm1, xmm0
      0x50,              // push eax
      0x5F,              // pop edi
      0xEE,              // out dx, al (dx = 0x531: exit)
  });
  s.gpr[x86::kRax] = 1;
  s.gpr[x86::kRbx] = 2;
  s.gpr[x86::kRcx] = 3;
  s.gpr[x86::kRdx] = kTestPort + 1;
  s.gpr[x86::kRsi] = 0x11111111;
  s.gpr[x86::kRbp] = 0x22222222;
  s.seg[x86::kFs].base = 0x12345000;
  s.seg[x86::kGs].base = 0x6000;
  s.gdtr = {0x9000, 0x17};
  s.cr4 |= x86::kCr4Osfxsr;
  for (int i = 0; i < 16; ++i) s.fx.xmm[0][i] = static_cast<uint8_t>(0xC0 + i);
  s.fx.mxcsr = 0x1F80;
  s.msr.lstar = 0xFFFFFFFF81000000ull;
  s.msr.sysenter_eip = 0x4000;
  s.dr[0] = 0x1234;

  // Before any run, the cache answers.
  engine_->SetState(s);
  CpuState cached = engine_->GetState();
  EXPECT_EQ(std::memcmp(&cached.gpr, &s.gpr, sizeof s.gpr), 0);
  EXPECT_EQ(cached.rip, s.rip);

  RunOutcome out = engine_->Run();
  ASSERT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  CpuState r = engine_->GetState();
  EXPECT_EQ(r.gpr[x86::kRax], 3u);
  EXPECT_EQ(r.gpr[x86::kRcx], 21u);
  EXPECT_EQ(r.gpr[x86::kRdi], 3u);
  EXPECT_EQ(r.gpr[x86::kRsi], 0x11111111u);
  EXPECT_EQ(r.gpr[x86::kRbp], 0x22222222u);
  EXPECT_EQ(r.gpr[x86::kRsp], 0x8000u);
  EXPECT_EQ(r.rip, kCodeAddr + 11);
  EXPECT_EQ(x86::ModeOf(r), x86::CpuMode::kProtected32);
  EXPECT_EQ(r.fx.xmm[1], s.fx.xmm[0]);
  EXPECT_EQ(r.fx.xmm[0], s.fx.xmm[0]);
  EXPECT_EQ(r.fx.mxcsr, 0x1F80u);
  for (int i : {x86::kCs, x86::kSs, x86::kDs, x86::kEs, x86::kFs, x86::kGs}) {
    EXPECT_EQ(r.seg[i].selector, s.seg[i].selector) << "segment " << i;
    EXPECT_EQ(r.seg[i].base, s.seg[i].base) << "segment " << i;
    EXPECT_EQ(r.seg[i].limit, s.seg[i].limit) << "segment " << i;
    EXPECT_EQ(r.seg[i].attrib, s.seg[i].attrib) << "segment " << i;
  }
  EXPECT_EQ(r.gdtr.base, 0x9000u);
  EXPECT_EQ(r.gdtr.limit, 0x17u);
  EXPECT_EQ(r.cr0 & x86::kCr0Pe, x86::kCr0Pe);
  EXPECT_EQ(r.cr4 & x86::kCr4Osfxsr, x86::kCr4Osfxsr);
  EXPECT_EQ(r.msr.lstar, s.msr.lstar);
  EXPECT_EQ(r.msr.sysenter_eip, s.msr.sysenter_eip);
  EXPECT_EQ(r.dr[0], 0x1234u);
  EXPECT_FALSE(r.halted);

  // Setting the fetched state back and running on continues where it was.
  r.gpr[x86::kRdx] = kTestPort + 1;
  r.rip = kCodeAddr + 10;  // the OUT again
  engine_->SetState(r);
  board_->Reset();
  EXPECT_EQ(engine_->GetState().rip, kCodeAddr + 10);
}

TEST_F(KvmEngineTest, GuestCpuidComesFromTheBoardsModel) {
  Start();
  CpuState s = Load32({
      0x0F, 0xA2,        // cpuid (eax = 1)
      0x89, 0xC5,        // mov ebp, eax
      0x89, 0xD6,        // mov esi, edx
      0x31, 0xC0,        // xor eax, eax
      0x0F, 0xA2,        // cpuid (eax = 0): vendor in ebx, edx, ecx
      0x66, 0xBA, 0x31, 0x05,  // mov dx, 0x531
      0xEE,              // out dx, al
  });
  s.gpr[x86::kRax] = 1;
  s.gpr[x86::kRcx] = 0;
  engine_->SetState(s);
  RunOutcome out = engine_->Run();
  ASSERT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  CpuState r = engine_->GetState();
  x86::CpuidResult leaf0 = board_->cpuid().Query(0, 0);
  x86::CpuidResult leaf1 = board_->cpuid().Query(1, 0);
  EXPECT_EQ(r.gpr[x86::kRbp], leaf1.eax);  // family/model/stepping pass through
  // Every promised feature is there. (KVM adds APIC while IA32_APIC_BASE.EN
  // is set, and PVM-based hosts report more of the host's leaf 1 EDX.)
  EXPECT_EQ(r.gpr[x86::kRsi] & leaf1.edx, leaf1.edx);
  EXPECT_EQ(r.gpr[x86::kRbx], leaf0.ebx);
  EXPECT_EQ(r.gpr[x86::kRcx], leaf0.ecx);
  EXPECT_EQ(r.gpr[x86::kRax], leaf0.eax);
}

TEST_F(KvmEngineTest, ExceptionWithAnEmptyIdtIsATripleFault) {
  Start();
  CpuState s = Load32({0x0F, 0x0B});  // ud2
  s.idtr = {0, 0};
  engine_->SetState(s);
  RunOutcome out = engine_->Run();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kTripleFault);
  EXPECT_NE(out.message.find("triple fault"), std::string::npos) << out.message;
  EXPECT_NE(out.message.find("RIP="), std::string::npos) << out.message;
}

// Vcpu::Kick from another thread ends KVM_RUN of a guest that never exits
// (the signal plus immediate_exit), long before the kick timer's 10 ms slices
// would let the 100 s timeout end it.
TEST_F(KvmEngineTest, KickFromAnotherThreadEndsTheRunOfASpinningGuest) {
  Start({0xFA, 0xEB, 0xFE}, 100'000'000'000);  // cli; jmp $
  for (int round = 0; round < 5; ++round) {
    std::thread kicker([&] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      engine_->Kick();
    });
    RunOutcome out = engine_->Run();
    kicker.join();
    EXPECT_EQ(out.kind, RunOutcome::Kind::kKicked) << out.message;
    EXPECT_EQ(board_->stop_reason(), hw::StopReason::kNone);
    EXPECT_EQ(engine_->GetState().rip, 0xFFF1u);
  }
}

TEST_F(KvmEngineTest, KickEndsAHaltWaitAndIsLatchedWhenNotRunning) {
  Start({0xFB, 0xF4, 0xEB, 0xFD}, 100'000'000'000);  // sti; hlt; jmp back
  std::thread kicker([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    engine_->Kick();
  });
  RunOutcome out = engine_->Run();
  kicker.join();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kKicked) << out.message;
  EXPECT_TRUE(engine_->GetState().halted);
  engine_->Kick();  // before Run(): the next Run() returns at once
  EXPECT_EQ(engine_->Run().kind, RunOutcome::Kind::kKicked);
}

// Stop-the-world on a KVM vCPU thread: Pause() kicks it out of KVM_RUN, the
// guest's counter stands still, Resume() lets it count on.
TEST_F(KvmEngineTest, VcpuThreadsPauseAndResumeAGuestOnItsOwnThread) {
  Start({0xFF, 0x06, 0x00, 0x20, 0xEB, 0xFA}, 100'000'000'000);  // inc word [0x2000]; jmp back
  auto counter = [&] {
    uint16_t v = 0;
    board_->memory().ReadPhys(0x2000, &v, 2);
    return v;
  };
  VcpuThreads threads({engine_.get()});
  threads.Start();
  for (int round = 0; round < 5; ++round) {
    uint16_t before = counter();
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (counter() == before && std::chrono::steady_clock::now() < end) std::this_thread::yield();
    threads.Pause();
    uint16_t at_pause = counter();
    EXPECT_NE(at_pause, before);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    EXPECT_EQ(counter(), at_pause);
    uint64_t rip = engine_->GetState().rip;
    EXPECT_TRUE(rip == 0xFFF0 || rip == 0xFFF4) << std::hex << rip;
    threads.Resume();
  }
  threads.Stop();
}

TEST_F(KvmEngineTest, RunsAgainAfterATripleFaultWithAResetState) {
  Start({0xBA, 0x31, 0x05, 0xB0, 0x07, 0xEE});  // mov dx, 0x531; mov al, 7; out dx, al
  CpuState s = Load32({0x0F, 0x0B});             // ud2
  s.idtr = {0, 0};
  engine_->SetState(s);
  ASSERT_EQ(engine_->Run().kind, RunOutcome::Kind::kTripleFault);
  engine_->SetState(x86::ResetState());
  RunOutcome out = engine_->Run();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  EXPECT_EQ(board_->exit_status(), 7);
}

TEST_F(KvmEngineTest, TwoEnginesCanRunOneAfterTheOther) {
  Start({0xBA, 0x31, 0x05, 0xB0, 0x09, 0xEE});  // exit with 9
  engine_.reset();
  machine_.reset();
  auto again = CreateMachine(*board_);
  ASSERT_TRUE(again.ok()) << again.message();
  auto vcpu = (*again)->CreateVcpu(0);
  ASSERT_TRUE(vcpu.ok()) << vcpu.message();
  RunOutcome out = (*vcpu)->Run();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  EXPECT_EQ(board_->exit_status(), 9);
}

// SetState(tsc = 0) two seconds after the guest first read the TSC: it reads
// about 0 again. KVM alone keeps counting (it takes a host write of 0 to
// IA32_TSC as "synchronize"), so the engine moves the TSC offset itself.
TEST_F(KvmEngineTest, SetStateWithTscZeroRestartsTheGuestsTsc) {
  Start();
  // rdtsc; mov ecx, edx; mov dx, 0x531; out dx, al
  CpuState s = Load32({0x0F, 0x31, 0x89, 0xD1, 0x66, 0xBA, 0x31, 0x05, 0xEE});
  s.tsc = 0;
  engine_->SetState(s);
  ASSERT_EQ(engine_->Run().kind, RunOutcome::Kind::kBoardStop);
  std::this_thread::sleep_for(std::chrono::seconds(2));
  board_->Reset();
  engine_->SetState(s);
  ASSERT_EQ(engine_->Run().kind, RunOutcome::Kind::kBoardStop);
  CpuState out = engine_->GetState();
  const uint64_t read = ((out.gpr[x86::kRcx] & 0xFFFFFFFF) << 32) | (out.gpr[x86::kRax] & 0xFFFFFFFF);
  EXPECT_LT(read, 500'000'000u) << "the guest's TSC kept counting across SetState(tsc = 0)";
  // GetState reports the TSC as the guest would read it, not less.
  EXPECT_GE(out.tsc, read);
  EXPECT_LT(out.tsc, read + 1'000'000'000u);
}

// A guest's WRMSR IA32_APIC_BASE reaches the board's local APIC, as the
// interpreter's does: here it disables the APIC globally.
TEST_F(KvmEngineTest, GuestWriteOfApicBaseReachesTheBoardsApic) {
  Start();
  ASSERT_TRUE(board_->chipset().lapic().hardware_enabled());
  CpuState s = Load32({
      0xB9, 0x1B, 0x00, 0x00, 0x00,  // mov ecx, 0x1b (IA32_APIC_BASE)
      0x0F, 0x32,                    // rdmsr
      0x25, 0xFF, 0xF7, 0xFF, 0xFF,  // and eax, ~0x800 (global enable off)
      0x0F, 0x30,                    // wrmsr
      0x66, 0xBA, 0x31, 0x05, 0xEE,  // mov dx, 0x531; out dx, al
  });
  engine_->SetState(s);
  ASSERT_EQ(engine_->Run().kind, RunOutcome::Kind::kBoardStop);
  EXPECT_EQ(engine_->GetState().msr.apic_base, 0xFEE00100u);
  EXPECT_EQ(board_->chipset().lapic().apic_base(), 0xFEE00100u);
  EXPECT_FALSE(board_->chipset().lapic().hardware_enabled());
}

// mov dx, 0x530; mov al, 'A'; out dx, al; mov al, 'B'; out dx, al; inc dx; out dx, al
const std::vector<uint8_t> kTwoBytesThenExit = {0xBA, 0x30, 0x05, 0xB0, 'A', 0xEE, 0xB0, 'B', 0xEE, 0x42, 0xEE};

TEST_F(KvmEngineTest, SingleStepStopsAfterEachInstruction) {
  Start(kTwoBytesThenExit);
  ASSERT_TRUE(engine_->SetDebug(DebugConfig{true, {}}).ok());
  for (uint64_t rip : {0xFFF3u, 0xFFF5u, 0xFFF6u}) {
    RunOutcome out = engine_->Run();
    ASSERT_EQ(out.kind, RunOutcome::Kind::kDebug) << out.message;
    EXPECT_EQ(engine_->GetState().rip, rip);
  }
  EXPECT_EQ(recorder_.bytes_, "A");  // the OUT stepped over is complete
  ASSERT_TRUE(engine_->SetDebug(DebugConfig{}).ok());
  RunOutcome out = engine_->Run();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  EXPECT_EQ(recorder_.bytes_, "AB");
}

// Both ways of stopping at a breakpoint: an INT3 planted in the (ROM) code,
// and single-stepping to it (TANDEM_KVM_BREAKPOINTS=step), which is what
// works in the nested sandbox, whose TCG does not give KVM the guest's #BP.
class KvmBreakpointTest : public KvmEngineTest, public testing::WithParamInterface<bool> {};

TEST_P(KvmBreakpointTest, StopsBeforeTheInstructionAndResumesPastIt) {
  if (GetParam()) {
    setenv("TANDEM_KVM_BREAKPOINTS", "step", 1);
  } else {
    unsetenv("TANDEM_KVM_BREAKPOINTS");
  }
  Start(kTwoBytesThenExit);
  unsetenv("TANDEM_KVM_BREAKPOINTS");
  const uint64_t second_out = 0xFFFF0000u + 0xFFF8;
  ASSERT_TRUE(engine_->SetDebug(DebugConfig{false, {second_out}}).ok());
  RunOutcome out = engine_->Run();
  ASSERT_EQ(out.kind, RunOutcome::Kind::kDebug) << out.message;
  EXPECT_EQ(engine_->GetState().rip, 0xFFF8u);
  EXPECT_EQ(recorder_.bytes_, "A");
  EXPECT_EQ(board_->memory().rom()[0xFFF8], 0xEE);  // no INT3 left while stopped
  // Resuming at the breakpoint runs its instruction.
  ASSERT_TRUE(engine_->SetDebug(DebugConfig{false, {second_out}}).ok());
  out = engine_->Run();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  EXPECT_EQ(recorder_.bytes_, "AB");
  EXPECT_EQ(board_->memory().rom()[0xFFF8], 0xEE);
}

INSTANTIATE_TEST_SUITE_P(Kvm, KvmBreakpointTest, testing::Bool(),
                         [](const testing::TestParamInfo<bool>& info) { return info.param ? "Stepped" : "Int3"; });

}  // namespace
}  // namespace tandem::accel::kvm
