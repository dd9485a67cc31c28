// Two interpreter (or JIT) vCPUs on one board, each on its own host thread,
// hammering shared guest memory with locked read-modify-write instructions:
// the counts must be exact (SDM vol. 3A 9.1.2.2, locked atomic operations).
// Without host atomics the read and the write of one vCPU interleave with
// the other's and updates are lost.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

#include "accel/interp/atomic.h"
#include "accel/interp/cpu.h"
#include "accel/interp/jit.h"
#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

using x86::kRbx;
using x86::kRcx;
using x86::kRdi;
using x86::kRdx;
using x86::kRsi;

constexpr int kCpus = 2;

// One board, code at kCode, two vCPUs with their own CpuState. Both run the
// same code; `setup(cpu_index, state)` gives each its registers.
class TwoCpus {
 public:
  TwoCpus(const std::vector<uint8_t>& code, bool jit, Mode mode = Mode::kLong64) {
    hw::BoardConfig config = SmallBoard();
    config.cpu_count = kCpus;
    auto board = hw::Board::Create(std::move(config));
    EXPECT_TRUE(board.ok()) << (board.ok() ? "" : board.message());
    board_ = std::move(*board);
    EXPECT_TRUE(board_->memory().WritePhys(kCode, code.data(), code.size()));
    for (int i = 0; i < kCpus; ++i) {
      states_[i] = mode == Mode::kLong64 ? Long64State(*board_, kCode) : x86::Flat32State(kCode);
      states_[i].gpr[x86::kRsp] = 0x8000 - 0x1000 * i;
      cpus_[i] = std::make_unique<Cpu>(*board_, states_[i], i, &locked_);
      if (jit) cpus_[i]->EnableJit();
    }
  }

  x86::CpuState& state(int i) { return states_[i]; }
  LockedAccessDomain& locked() { return locked_; }
  const Cpu& cpu(int i) const { return *cpus_[i]; }
  hw::Board& board() { return *board_; }
  uint64_t Read(uint64_t pa, unsigned size) {
    uint64_t v = 0;
    board_->memory().ReadPhys(pa, &v, size);
    return v;
  }
  void Write(uint64_t pa, unsigned size, uint64_t v) { board_->memory().WritePhys(pa, &v, size); }

  // Runs both vCPUs at once until each halts; false when one did not (a
  // triple fault, or no HLT within about 260 million instructions: a lost
  // lock release leaves the other vCPU spinning forever).
  bool RunBoth() {
    std::atomic<int> ready{0};
    std::atomic<bool> give_up{false};  // one vCPU failed: the other need not wait for the bound
    bool halted[kCpus] = {};
    auto run = [&](int i) {
      ready.fetch_add(1);
      while (ready.load() < kCpus) {
      }
      for (int slice = 0; slice < 4000 && !give_up.load(); ++slice) {
        SliceEnd end = cpus_[i]->RunSlice(1 << 16);
        if (end == SliceEnd::kHalted) {
          halted[i] = true;
          return;
        }
        if (end != SliceEnd::kBudget) break;
      }
      give_up.store(true);
    };
    std::vector<std::thread> threads;
    for (int i = 0; i < kCpus; ++i) threads.emplace_back(run, i);
    for (auto& t : threads) t.join();
    for (int i = 0; i < kCpus; ++i) {
      EXPECT_TRUE(halted[i]) << "vCPU " << i << " stopped at RIP " << std::hex << states_[i].rip;
    }
    return halted[0] && halted[1];
  }

 private:
  std::unique_ptr<hw::Board> board_;
  LockedAccessDomain locked_;
  x86::CpuState states_[kCpus];
  std::unique_ptr<Cpu> cpus_[kCpus];
};

class SmpAtomicTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::string why;
    if (GetParam() && !Jit::HostSupported(&why)) GTEST_SKIP() << "no JIT on this host: " << why;
  }
  bool jit() const { return GetParam(); }
};

// Runs `code` (a loop adding 1 to the qword at [rbx] ecx times) on both
// vCPUs with rbx = counter; the sum must be exact.
void ExpectCountsExactly(const std::vector<uint8_t>& code, bool jit, uint64_t counter, uint64_t iterations) {
  TwoCpus m(code, jit);
  for (int i = 0; i < kCpus; ++i) {
    m.state(i).gpr[kRbx] = counter;
    m.state(i).gpr[kRcx] = iterations;
  }
  ASSERT_TRUE(m.RunBoth());
  EXPECT_EQ(m.Read(counter, 8), kCpus * iterations);
}

// L: mov eax, 1; lock xadd [rbx], rax; dec ecx; jnz L; hlt
const std::vector<uint8_t> kXaddLoop = {0xB8, 0x01, 0x00, 0x00, 0x00, 0xF0, 0x48, 0x0F,
                                        0xC1, 0x03, 0xFF, 0xC9, 0x75, 0xF2, 0xF4};

TEST_P(SmpAtomicTest, LockXaddCountsExactly) { ExpectCountsExactly(kXaddLoop, jit(), kData, 1'000'000); }

// The same on a counter that straddles two pages (a split lock): the
// interpreter's mutex path, for the JIT too.
TEST_P(SmpAtomicTest, SplitLockXaddCountsExactly) {
  ExpectCountsExactly(kXaddLoop, jit(), kData + 0x1000 - 4, 200'000);
}

TEST_P(SmpAtomicTest, LockIncCountsExactly) {
  // L: lock inc qword [rbx]; dec ecx; jnz L; hlt
  ExpectCountsExactly({0xF0, 0x48, 0xFF, 0x03, 0xFF, 0xC9, 0x75, 0xF8, 0xF4}, jit(), kData, 1'000'000);
}

// `acquire` spins until it holds the lock at [rbx+64], then a plain
// (unlocked) increment of [rbx] and a release with a plain store follow; both
// vCPUs do that ecx times. The count is exact only if the lock excludes.
void ExpectSpinLockExcludes(std::vector<uint8_t> code, bool jit) {
  constexpr uint64_t kIterations = 200'000;
  const int8_t back = static_cast<int8_t>(-static_cast<int>(code.size() + 20));
  code.insert(code.end(), {0x48, 0x8B, 0x03,              // mov rax, [rbx]
                           0x48, 0xFF, 0xC0,              // inc rax
                           0x48, 0x89, 0x03,              // mov [rbx], rax
                           0xC7, 0x43, 0x40, 0, 0, 0, 0,  // mov dword [rbx+64], 0
                           0xFF, 0xC9,                    // dec ecx
                           0x75, static_cast<uint8_t>(back),  // jnz (the start)
                           0xF4});                        // hlt
  TwoCpus m(code, jit);
  for (int i = 0; i < kCpus; ++i) {
    m.state(i).gpr[kRbx] = kData;
    m.state(i).gpr[kRcx] = kIterations;
    m.state(i).gpr[8] = 1;
  }
  ASSERT_TRUE(m.RunBoth());
  EXPECT_EQ(m.Read(kData, 8), kCpus * kIterations);
  EXPECT_EQ(m.Read(kData + 64, 4), 0u);
}

TEST_P(SmpAtomicTest, CmpxchgSpinLockGuardsPlainIncrement) {
  ExpectSpinLockExcludes({0x31, 0xC0,                          // L: xor eax, eax
                          0xF0, 0x44, 0x0F, 0xB1, 0x43, 0x40,  //    lock cmpxchg [rbx+64], r8d
                          0x74, 0x04,                          //    jz (held)
                          0xF3, 0x90,                          //    pause
                          0xEB, 0xF2},                         //    jmp L
                         jit());
}

// The same lock taken with XCHG, which locks without a prefix.
TEST_P(SmpAtomicTest, XchgSpinLockGuardsPlainIncrement) {
  ExpectSpinLockExcludes({0xB8, 0x01, 0, 0, 0,  //    mov eax, 1
                          0x87, 0x43, 0x40,     // L: xchg [rbx+64], eax
                          0x85, 0xC0,           //    test eax, eax
                          0x74, 0x04,           //    jz (held)
                          0xF3, 0x90,           //    pause
                          0xEB, 0xF5},          //    jmp L
                         jit());
}

// A lock-free 128-bit counter: read, add with carry into the high half,
// LOCK CMPXCHG16B, retry on a change. With `host_cx16` false the interpreter
// takes the mutex path, as on a host without CMPXCHG16B.
void ExpectCmpxchg16bCounterExact(bool jit, bool host_cx16) {
  constexpr uint64_t kIterations = 300'000;
  constexpr uint64_t kStep = 0x4000000000000001ull;  // carries into the high half every few adds
  TwoCpus m({0x48, 0x8B, 0x06,                     // mov rax, [rsi]
             0x48, 0x8B, 0x56, 0x08,               // mov rdx, [rsi+8]
             0x48, 0x89, 0xC3,                     // retry: mov rbx, rax
             0x48, 0x89, 0xD1,                     //    mov rcx, rdx
             0x4C, 0x01, 0xD3,                     //    add rbx, r10
             0x48, 0x83, 0xD1, 0x00,               //    adc rcx, 0
             0xF0, 0x48, 0x0F, 0xC7, 0x0E,         //    lock cmpxchg16b [rsi]
             0x75, 0xEC,                           //    jnz retry
             0x48, 0x89, 0xD8,                     //    mov rax, rbx
             0x48, 0x89, 0xCA,                     //    mov rdx, rcx
             0x49, 0xFF, 0xC9,                     //    dec r9
             0x75, 0xE1,                           //    jnz retry
             0xF4},                                //    hlt
            jit);
  m.locked().host_cmpxchg16b = m.locked().host_cmpxchg16b && host_cx16;
  for (int i = 0; i < kCpus; ++i) {
    m.state(i).gpr[kRsi] = kData + 0x80;
    m.state(i).gpr[9] = kIterations;
    m.state(i).gpr[10] = kStep;
  }
  ASSERT_TRUE(m.RunBoth());
  const unsigned __int128 want = static_cast<unsigned __int128>(kStep) * (kCpus * kIterations);
  EXPECT_EQ(m.Read(kData + 0x80, 8), static_cast<uint64_t>(want));
  EXPECT_EQ(m.Read(kData + 0x88, 8), static_cast<uint64_t>(want >> 64));
}

TEST_P(SmpAtomicTest, Cmpxchg16bCounterIsExact) { ExpectCmpxchg16bCounterExact(jit(), true); }
TEST_P(SmpAtomicTest, Cmpxchg16bCounterIsExactWithoutHostCmpxchg16b) { ExpectCmpxchg16bCounterExact(jit(), false); }

// The 32-bit form: a lock-free 64-bit counter with LOCK CMPXCHG8B in
// flat 32-bit protected mode.
TEST_P(SmpAtomicTest, Cmpxchg8bCounterIsExactIn32BitCode) {
  constexpr uint64_t kIterations = 300'000;
  constexpr uint64_t kStep = 0x40000001;
  TwoCpus m({0x8B, 0x06,                          // mov eax, [esi]
             0x8B, 0x56, 0x04,                    // mov edx, [esi+4]
             0x89, 0xC3,                          // retry: mov ebx, eax
             0x89, 0xD1,                          //    mov ecx, edx
             0x81, 0xC3, 0x01, 0x00, 0x00, 0x40,  //    add ebx, 0x40000001
             0x83, 0xD1, 0x00,                    //    adc ecx, 0
             0xF0, 0x0F, 0xC7, 0x0E,              //    lock cmpxchg8b [esi]
             0x75, 0xED,                          //    jnz retry
             0x89, 0xD8,                          //    mov eax, ebx
             0x89, 0xCA,                          //    mov edx, ecx
             0x4F,                                //    dec edi
             0x75, 0xE6,                          //    jnz retry
             0xF4},                               //    hlt
            jit(), Mode::kFlat32);
  for (int i = 0; i < kCpus; ++i) {
    m.state(i).gpr[kRsi] = kData + 0x80;
    m.state(i).gpr[kRdi] = kIterations;
  }
  ASSERT_TRUE(m.RunBoth());
  EXPECT_EQ(m.Read(kData + 0x80, 8), kStep * kCpus * kIterations);
}

// Every lockable arithmetic and bit instruction on shared words. Each vCPU
// owns one bit of [rbx+32] that it sets and clears with OR/AND, BTS/BTR and
// XOR/BTC, checking after each step that the other vCPU's update did not
// undo its own; a failed check counts at [rbx+40].
TEST_P(SmpAtomicTest, LockedArithmeticAndBitOpsLoseNoUpdate) {
  constexpr uint64_t kIterations = 100'000;
  TwoCpus m({0xF0, 0x48, 0x83, 0x03, 0x05,        // L: lock add qword [rbx], 5
             0xF0, 0x48, 0x83, 0x2B, 0x02,        //    lock sub qword [rbx], 2
             0xF8,                                //    clc
             0xF0, 0x48, 0x83, 0x13, 0x01,        //    lock adc qword [rbx], 1
             0xF9,                                //    stc
             0xF0, 0x48, 0x83, 0x1B, 0x00,        //    lock sbb qword [rbx], 0
             0xF0, 0xFF, 0x43, 0x08,              //    lock inc dword [rbx+8]
             0xF0, 0xFF, 0x43, 0x08,              //    lock inc dword [rbx+8]
             0xF0, 0xFF, 0x4B, 0x08,              //    lock dec dword [rbx+8]
             0xB8, 0x03, 0x00, 0x00, 0x00,        //    mov eax, 3
             0xF0, 0x66, 0x0F, 0xC1, 0x43, 0x10,  //    lock xadd [rbx+16], ax
             0xF0, 0x80, 0x43, 0x18, 0x01,        //    lock add byte [rbx+24], 1
             0xF0, 0x48, 0x09, 0x53, 0x20,        //    lock or [rbx+32], rdx
             0x48, 0x85, 0x53, 0x20,              //    test [rbx+32], rdx
             0x75, 0x05,                          //    jnz ok1
             0xF0, 0x48, 0xFF, 0x43, 0x28,        //    lock inc qword [rbx+40]
             0x48, 0x89, 0xD0,                    // ok1: mov rax, rdx
             0x48, 0xF7, 0xD0,                    //    not rax
             0xF0, 0x48, 0x21, 0x43, 0x20,        //    lock and [rbx+32], rax
             0x48, 0x85, 0x53, 0x20,              //    test [rbx+32], rdx
             0x74, 0x05,                          //    jz ok2
             0xF0, 0x48, 0xFF, 0x43, 0x28,        //    lock inc qword [rbx+40]
             0xF0, 0x48, 0x0F, 0xAB, 0x7B, 0x20,  // ok2: lock bts [rbx+32], rdi
             0x73, 0x05,                          //    jnc ok3
             0xF0, 0x48, 0xFF, 0x43, 0x28,        //    lock inc qword [rbx+40]
             0xF0, 0x48, 0x0F, 0xB3, 0x7B, 0x20,  // ok3: lock btr [rbx+32], rdi
             0x72, 0x05,                          //    jc ok4
             0xF0, 0x48, 0xFF, 0x43, 0x28,        //    lock inc qword [rbx+40]
             0xF0, 0x48, 0x31, 0x53, 0x20,        // ok4: lock xor [rbx+32], rdx
             0xF0, 0x48, 0x0F, 0xBB, 0x7B, 0x20,  //    lock btc [rbx+32], rdi
             0x72, 0x05,                          //    jc ok5
             0xF0, 0x48, 0xFF, 0x43, 0x28,        //    lock inc qword [rbx+40]
             0xF0, 0x48, 0xF7, 0x53, 0x30,        // ok5: lock not qword [rbx+48]
             0xF0, 0x48, 0xF7, 0x53, 0x30,        //    lock not qword [rbx+48]
             0xF0, 0x48, 0xF7, 0x5B, 0x38,        //    lock neg qword [rbx+56]
             0xF0, 0x48, 0xF7, 0x5B, 0x38,        //    lock neg qword [rbx+56]
             0xFF, 0xC9,                          //    dec ecx
             0x0F, 0x85, 0x60, 0xFF, 0xFF, 0xFF,  //    jnz L
             0xF4},                               //    hlt
            jit());
  const unsigned bits[kCpus] = {3, 17};
  for (int i = 0; i < kCpus; ++i) {
    m.state(i).gpr[kRbx] = kData;
    m.state(i).gpr[kRcx] = kIterations;
    m.state(i).gpr[kRdx] = 1ull << bits[i];
    m.state(i).gpr[kRdi] = bits[i];
  }
  m.Write(kData + 48, 8, 0x0123456789ABCDEFull);
  m.Write(kData + 56, 8, 12345);
  ASSERT_TRUE(m.RunBoth());
  const uint64_t n = kCpus * kIterations;
  EXPECT_EQ(m.Read(kData, 8), 3 * n);             // +5 -2 +1 (ADC, CF=0) -1 (SBB, CF=1)
  EXPECT_EQ(m.Read(kData + 8, 4), n);             // INC, INC, DEC
  EXPECT_EQ(m.Read(kData + 16, 2), (3 * n) & 0xFFFF);
  EXPECT_EQ(m.Read(kData + 24, 1), n & 0xFF);
  EXPECT_EQ(m.Read(kData + 32, 8), 0u);
  EXPECT_EQ(m.Read(kData + 40, 8), 0u) << "a vCPU's own bit was undone by the other's update";
  EXPECT_EQ(m.Read(kData + 48, 8), 0x0123456789ABCDEFull);  // NOT twice each
  EXPECT_EQ(m.Read(kData + 56, 8), 12345u);                 // NEG twice each
}

// The page walker's accessed/dirty update against another vCPU's write to
// the same paging entry: vCPU 0 clears A and D in the 2 MiB PDE mapping
// 0x600000, drops its TLB entry and stores there (the walk sets A and D),
// then sets the byte at [rbx]; until then vCPU 1 adds and subtracts 1 << 52
// (bits the walk ignores) in the same PDE. A walk that writes back the whole
// entry it read undoes vCPU 1's update (a lost subtraction leaves bit 52
// set, a lost addition borrows into the reserved bits and the walk faults).
TEST_P(SmpAtomicTest, PageWalkSetsAccessedDirtyWithoutLosingOtherWrites) {
  constexpr uint64_t kIterations = 100'000;
  constexpr uint64_t kPde = 0x3000 + 3 * 8;  // Long64State's PD entry for 0x600000
  std::vector<uint8_t> code = {
      0xF0, 0x49, 0x83, 0x20, 0x9F,  // L: lock and qword [r8], ~0x60
      0x41, 0x0F, 0x01, 0x39,        //    invlpg [r9]
      0x41, 0x89, 0x01,              //    mov [r9], eax
      0xFF, 0xC9,                    //    dec ecx
      0x75, 0xF0,                    //    jnz L
      0xC6, 0x03, 0x01,              //    mov byte [rbx], 1
      0xF4};                         //    hlt
  code.resize(0x100, 0x90);
  code.insert(code.end(), {0xF0, 0x4D, 0x01, 0x10,  // M: lock add [r8], r10
                           0xF0, 0x4D, 0x29, 0x10,  //    lock sub [r8], r10
                           0x80, 0x3B, 0x00,        //    cmp byte [rbx], 0
                           0x74, 0xF3,              //    je M
                           0xF4});                  //    hlt
  TwoCpus m(code, jit());
  const uint64_t pde = m.Read(kPde, 8);
  for (int i = 0; i < kCpus; ++i) {
    m.state(i).rip = kCode + 0x100 * i;
    m.state(i).gpr[kRbx] = kData;
    m.state(i).gpr[kRcx] = kIterations;
    m.state(i).gpr[8] = kPde;
    m.state(i).gpr[9] = 0x600000;
    m.state(i).gpr[10] = 1ull << 52;
  }
  ASSERT_TRUE(m.RunBoth());
  EXPECT_EQ(m.Read(kPde, 8), pde | 0x60);  // A and D from vCPU 0's last store
}

INSTANTIATE_TEST_SUITE_P(Engines, SmpAtomicTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Jit" : "Interp"; });

}  // namespace
}  // namespace tandem::accel::interp::testing
