// The JIT's blocks (accel/interp/jit.h) on hand-assembled 64-bit code:
// results, instruction counts, precise faults, chaining under a budget and
// self-modifying code.
#include "accel/interp/jit.h"

#include <gtest/gtest.h>

#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

class JitTest : public ::testing::Test {
 protected:
  void Start(const std::vector<uint8_t>& code) {
    m = std::make_unique<Machine>(code, Mode::kLong64);
    m->cpu->EnableJit();
  }
  Jit& jit() { return *m->cpu->jit_; }
  // Runs blocks until RIP reaches `end`; returns the instructions run.
  uint64_t RunTo(uint64_t end, uint64_t budget = 4096) {
    uint64_t total = 0;
    for (int i = 0; i < 10000 && m->s.rip != end; ++i) {
      uint64_t n = jit().RunBlock(budget);
      EXPECT_NE(n, 0u) << "no block at " << std::hex << m->s.rip;
      if (n == 0) break;
      total += n;
    }
    return total;
  }
  std::unique_ptr<Machine> m;
};

std::vector<uint8_t> Imm64(uint64_t v) {
  std::vector<uint8_t> b;
  for (int i = 0; i < 8; ++i) b.push_back(static_cast<uint8_t>(v >> (8 * i)));
  return b;
}

std::vector<uint8_t> Cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST_F(JitTest, RunsStraightLineCodeAndCountsInstructions) {
  Start(Cat({{0x48, 0xB8}, Imm64(5),      // mov rax, 5
             {0x48, 0x01, 0xD8},           // add rax, rbx
             {0x48, 0x83, 0xE8, 0x07},     // sub rax, 7 (CF, SF)
             {0xEB, 0xFE}}));              // jmp $
  m->reg(x86::kRbx) = 1;
  const uint64_t end = kCode + 10 + 3 + 4;
  EXPECT_EQ(RunTo(end), 4u);  // the JMP to itself ends the block
  EXPECT_EQ(m->reg(x86::kRax), ~0ull);
  EXPECT_TRUE(m->flag(x86::kFlagCf));
  EXPECT_TRUE(m->flag(x86::kFlagSf));
  EXPECT_FALSE(m->flag(x86::kFlagZf));
  EXPECT_EQ(m->cpu->instructions_retired(), 4u);
}

TEST_F(JitTest, FaultInTheMiddleOfABlockIsPrecise) {
  Start(Cat({{0xB8, 0x01, 0, 0, 0},                 // mov eax, 1
             {0x48, 0x8B, 0x0C, 0x25, 0, 0, 0, 0x40},  // mov rcx, [0x40000000] (not mapped)
             {0xBA, 0x03, 0, 0, 0},                 // mov edx, 3
             {0xEB, 0xFE}}));
  m->reg(x86::kRdx) = 0xDD;
  try {
    jit().RunBlock(4096);
    FAIL() << "no fault";
  } catch (const GuestFault& f) {
    EXPECT_EQ(f.vector, x86::kPF);
  }
  EXPECT_EQ(m->s.rip, kCode + 5);
  EXPECT_EQ(m->s.cr2, 0x40000000u);
  EXPECT_EQ(m->reg(x86::kRax), 1u);
  EXPECT_EQ(m->reg(x86::kRdx), 0xDDu);
  EXPECT_EQ(m->cpu->instructions_retired(), 1u);
}

TEST_F(JitTest, RetToANonCanonicalAddressIsGpAtTheRet) {
  Start(Cat({{0x48, 0xB8}, Imm64(0x0000800000000000ull),  // mov rax, non-canonical
             {0x50},                                      // push rax
             {0xC3}}));                                   // ret
  const uint64_t rsp = m->reg(x86::kRsp);
  try {
    jit().RunBlock(4096);
    FAIL() << "no fault";
  } catch (const GuestFault& f) {
    EXPECT_EQ(f.vector, x86::kGP);
  }
  EXPECT_EQ(m->s.rip, kCode + 11);
  EXPECT_EQ(m->reg(x86::kRsp), rsp - 8);
}

TEST_F(JitTest, ChainedLoopReturnsWhenTheBudgetIsSpent) {
  Start(Cat({{0x48, 0xFF, 0xC9},  // loop: dec rcx
             {0x75, 0xFB},        // jnz loop
             {0xEB, 0xFE}}));
  m->reg(x86::kRcx) = 1000;
  // The first exit links the loop to itself; later runs stay in code.
  uint64_t n = jit().RunBlock(100);
  n += jit().RunBlock(100);
  EXPECT_GE(n, 100u);
  EXPECT_LE(n, 104u);
  EXPECT_EQ(RunTo(kCode + 5) + n, 2000u);
  EXPECT_EQ(m->reg(x86::kRcx), 0u);
}

TEST_F(JitTest, StoreIntoTheNextInstructionIsSeen) {
  Start(Cat({{0xC6, 0x05, 0x01, 0, 0, 0, 0x07},  // mov byte [rip + 1], 7: the imm of...
             {0xB8, 0x03, 0, 0, 0},              // mov eax, 3 (becomes 7)
             {0xEB, 0xFE}}));
  EXPECT_EQ(RunTo(kCode + 12), 3u);  // the store leaves its block; MOV and JMP
  EXPECT_EQ(m->reg(x86::kRax), 7u);
  EXPECT_GE(jit().stats().blocks_invalidated, 1u);
}

TEST_F(JitTest, DataWrittenThenRunThenRewrittenRunsTheNewCode) {
  // call 0x30000 twice, rewriting its immediate in between from translated code.
  Start(Cat({{0xE8}, {0xFB, 0xFF, 0x01, 0x00},              // call kCode+5 + 0x1FFFB = 0x30000
             {0xC6, 0x04, 0x25, 0x01, 0x00, 0x03, 0x00, 0x06},  // mov byte [0x30001], 6
             {0xE8}, {0xEE, 0xFF, 0x01, 0x00},              // call 0x30000
             {0xEB, 0xFE}}));
  m->Load(0x30000, {0xB8, 0x05, 0, 0, 0, 0xC3});  // mov eax, 5; ret
  // Run to the second call and check the first result there.
  RunTo(kCode + 13);
  EXPECT_EQ(m->reg(x86::kRax), 5u);
  RunTo(kCode + 18);
  EXPECT_EQ(m->reg(x86::kRax), 6u);
}

// Compiling a block decodes ahead: an instruction that runs into a page that
// is not present ends the block there, and CR2 keeps its value, since no
// #PF is delivered (only executing that instruction would fault).
TEST_F(JitTest, DecodingUpToANotPresentPageLeavesCr2Alone) {
  Start({});
  const uint64_t pd1 = 0;  // linear 2 MiB..4 MiB not present
  ASSERT_TRUE(m->board().memory().WritePhys(0x3000 + 8, &pd1, 8));
  const uint64_t start = 0x200000 - 15;
  m->Load(start, Cat({{0xB8, 0x01, 0x00, 0x00, 0x00},  // mov eax, 1
                      {0x90},                          // nop
                      {0x48, 0xB9}, Imm64(2)}));       // mov rcx, imm64: its last byte is at 2 MiB
  m->s.rip = start;
  m->s.cr2 = 0x1234;
  EXPECT_EQ(jit().RunBlock(100), 2u);
  EXPECT_EQ(m->s.rip, start + 6);
  EXPECT_EQ(m->reg(x86::kRax), 1u);
  EXPECT_EQ(m->s.cr2, 0x1234u) << "the block's compilation set CR2 without a #PF";
}

}  // namespace
}  // namespace tandem::accel::interp::testing
