// The JIT's blocks (accel/interp/jit.h) on hand-assembled code in 64-bit,
// 32-bit protected and real mode: results, instruction counts, precise
// faults (segment limits and rights too), chaining under a budget and
// self-modifying code.
#include "accel/interp/jit.h"

#include <gtest/gtest.h>

#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

class JitTest : public ::testing::Test {
 protected:
  void Start(const std::vector<uint8_t>& code, Mode mode = Mode::kLong64) {
    m = std::make_unique<Machine>(code, mode);
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

// A REP string instruction inside a block, once done, goes on to the next
// instruction: the handler's last call leaves next_rip alone, and the block
// used to call it again with RCX = 0 up to its per-call bound, counting each
// call as an instruction (tandem lockstep found it in Linux's decompressor).
TEST_F(JitTest, FinishedRepStringMovesOn) {
  Start(Cat({{0xB9, 0x05, 0, 0, 0},  // mov ecx, 5
             {0xF3, 0xAA},           // rep stosb
             {0x90},                 // nop
             {0xEB, 0xFE}}));        // jmp $
  m->reg(x86::kRax) = 0x5A;
  m->reg(x86::kRdi) = 0x50000;
  const uint64_t end = kCode + 5 + 2 + 1;
  RunTo(end);
  EXPECT_EQ(m->s.rip, end);
  EXPECT_EQ(m->reg(x86::kRcx), 0u);
  EXPECT_EQ(m->reg(x86::kRdi), 0x50005u);
  EXPECT_EQ(m->Read(0x50004, 1), 0x5Au);
  // MOV, at most one per iteration, NOP; not the 1024 calls of the bound.
  EXPECT_LE(m->cpu->instructions_retired(), 1u + 5u + 1u);
}

TEST_F(JitTest, FaultInTheMiddleOfABlockIsPrecise) {
  Start(Cat({{0xB8, 0x01, 0, 0, 0},                 // mov eax, 1
             {0x48, 0x8B, 0x0C, 0x25, 0, 0, 0, 0x40},  // mov rcx, [0x40000000] (not mapped)
             {0xBA, 0x03, 0, 0, 0},                 // mov edx, 3
             {0xEB, 0xFE}}));
  m->reg(x86::kRdx) = 0xDD;
  jit().RunBlock(4096);  // (a fault inside a block is not thrown: RunBlock's caller delivers it)
  ASSERT_TRUE(jit().fault_pending());
  EXPECT_EQ(jit().TakeFault()->vector, x86::kPF);
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
  jit().RunBlock(4096);
  ASSERT_TRUE(jit().fault_pending());
  EXPECT_EQ(jit().TakeFault()->vector, x86::kGP);
  EXPECT_EQ(m->s.rip, kCode + 11);
  EXPECT_EQ(m->reg(x86::kRsp), rsp - 8);
}

TEST_F(JitTest, ChainedLoopReturnsWhenTheBudgetIsSpent) {
  Start(Cat({{0x48, 0xFF, 0xC9},  // loop: dec rcx
             {0x75, 0xFB},        // jnz loop
             {0xEB, 0xFE}}));
  m->reg(x86::kRcx) = 1000;
  // A block that branches to its own start loops in host code (its loop
  // entry) until the budget is spent, and no further.
  uint64_t n = 0;
  for (int i = 0; i < 2; ++i) {
    const uint64_t ran = jit().RunBlock(100);
    EXPECT_GE(ran, 100u);
    EXPECT_LE(ran, 102u);
    n += ran;
  }
  EXPECT_EQ(RunTo(kCode + 5) + n, 2000u);
  EXPECT_EQ(m->reg(x86::kRcx), 0u);
}

// A loop keeps the registers it carries in host registers across its branch
// back, except r9, where its budget check keeps rcx: r8 and r9, written last
// before the branch back and read first after it, come back with their
// values. A small budget takes the way out and back in many times.
TEST_F(JitTest, LoopCarriesRegistersAcrossTheBranchBackAndBudgetExits) {
  Start(Cat({{0x4D, 0x01, 0xC8},        // loop: add r8, r9
             {0x4D, 0x8D, 0x49, 0x01},  // lea r9, [r9 + 1]
             {0x4C, 0x01, 0xC0},        // add rax, r8
             {0x48, 0x89, 0x06},        // mov [rsi], rax
             {0x48, 0x03, 0x16},        // add rdx, [rsi]
             {0x4D, 0x8D, 0x40, 0x00},  // lea r8, [r8 + 0] (r8 and r9 back in host registers
             {0x4D, 0x8D, 0x49, 0x00},  // lea r9, [r9 + 0]  after the memory accesses)
             {0x48, 0xFF, 0xC9},        // dec rcx
             {0x75, 0xE3},              // jnz loop
             {0xEB, 0xFE}}));
  m->reg(x86::kR8) = 1;
  m->reg(x86::kR9) = 2;
  m->reg(x86::kRcx) = 1000;
  m->reg(x86::kRsi) = 0x50000;
  uint64_t r8 = 1, r9 = 2, rax = 0, rdx = 0;
  for (int i = 0; i < 1000; ++i) {
    r8 += r9;
    r9 += 1;
    rax += r8;
    rdx += rax;
  }
  EXPECT_EQ(RunTo(kCode + 29, 37), 9000u);
  EXPECT_EQ(m->reg(x86::kR8), r8);
  EXPECT_EQ(m->reg(x86::kR9), r9);
  EXPECT_EQ(m->reg(x86::kRax), rax);
  EXPECT_EQ(m->reg(x86::kRdx), rdx);
  EXPECT_EQ(m->reg(x86::kRcx), 0u);
  EXPECT_EQ(m->Read(0x50000, 8), rax);
  EXPECT_LE(jit().stats().interpreted, 1u);  // the store's first TLB miss
  EXPECT_LT(jit().stats().dispatches, 9000u / 16);  // most iterations branch back inside the block
}

// A loop that carries no guest rcx (a strlen) checks its budget at the
// branch back without keeping rcx, which the TLB lookup overwrote.
TEST_F(JitTest, LoopWithoutRcxStaysInTheBlockUntilTheBudgetIsSpent) {
  Start(Cat({{0x48, 0xFF, 0xC0},        // loop: inc rax
             {0x80, 0x38, 0x00},        // cmp byte [rax], 0
             {0x75, 0xF8},              // jne loop
             {0xEB, 0xFE}}));
  for (uint64_t i = 0; i < 3000; ++i) m->Write(0x50000 + i, 1, 0x41);
  m->reg(x86::kRax) = 0x50000 - 1;
  m->reg(x86::kRcx) = 0x1234;
  EXPECT_EQ(RunTo(kCode + 8, 700), 3u * 3001);
  EXPECT_EQ(m->reg(x86::kRax), 0x50000u + 3000);
  EXPECT_EQ(m->reg(x86::kRcx), 0x1234u);
  EXPECT_LT(jit().stats().dispatches, 30u);
}

TEST_F(JitTest, StoreIntoTheNextInstructionIsSeen) {
  Start(Cat({{0xC6, 0x05, 0x01, 0, 0, 0, 0x07},  // mov byte [rip + 1], 7: the imm of...
             {0xB8, 0x03, 0, 0, 0},              // mov eax, 3 (becomes 7)
             {0xEB, 0xFE}}));
  EXPECT_EQ(RunTo(kCode + 12), 3u);  // the store leaves its block; MOV and JMP
  EXPECT_EQ(m->reg(x86::kRax), 7u);
  EXPECT_GE(jit().stats().blocks_invalidated, 1u);
}

// A store into the code's page, but not into the bytes of a block there,
// keeps the blocks: the loop below stays translated while it writes data
// next to itself (a kernel patching call sites beside the code doing it).
TEST_F(JitTest, StoreBesideABlockInItsPageKeepsTheBlock) {
  Start(Cat({{0x89, 0x0D, 0xFA, 0x07, 0, 0},  // loop: mov [rip + 0x7FA], ecx (kCode + 0x800)
             {0xFF, 0xC9},                    // dec ecx
             {0x75, 0xF6},                    // jnz loop
             {0xEB, 0xFE}}));
  m->reg(x86::kRcx) = 100;
  EXPECT_EQ(RunTo(kCode + 10), 300u);
  EXPECT_EQ(m->Read(kCode + 0x800, 4), 1u);
  EXPECT_EQ(jit().stats().blocks_invalidated, 0u);
  EXPECT_LE(jit().stats().blocks_compiled, 2u);
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

// A data segment of base 0x40000 and limit 0xFFF (byte granular, read/write).
x86::Segment SmallData(uint32_t type = 0x3) {
  return x86::Segment{0x10, 0x40000, 0xFFF, type | x86::Segment::kS | x86::Segment::kP | x86::Segment::kDb};
}

// A fault raised before any block runs is thrown; one inside a block is
// left pending.
uint64_t RunExpectingFault(Jit& jit, uint8_t vector) {
  try {
    jit.RunBlock(4096);
  } catch (const GuestFault& f) {
    EXPECT_EQ(f.vector, vector);
    return 0;
  }
  const std::optional<GuestFault> f = jit.TakeFault();
  if (!f) {
    ADD_FAILURE() << "no fault";
  } else {
    EXPECT_EQ(f->vector, vector);
  }
  return 0;
}

TEST_F(JitTest, ProtectedModeAddsTheSegmentBaseAndFaultsPastTheLimit) {
  Start({0xA1, 0x10, 0, 0, 0,           // mov eax, [0x10]
         0xA3, 0x20, 0, 0, 0,           // mov [0x20], eax
         0x8B, 0x0D, 0xFE, 0x0F, 0, 0,  // mov ecx, [0xFFE]: its last byte is past the limit
         0xEB, 0xFE},
        Mode::kFlat32);
  m->s.seg[x86::kDs] = SmallData();
  m->Write(0x40010, 4, 0x12345678);
  m->reg(x86::kRcx) = 0xCC;
  RunExpectingFault(jit(), x86::kGP);
  EXPECT_EQ(m->s.rip, kCode + 10);
  EXPECT_EQ(m->reg(x86::kRax), 0x12345678u);
  EXPECT_EQ(m->Read(0x40020, 4), 0x12345678u);
  EXPECT_EQ(m->reg(x86::kRcx), 0xCCu);
  EXPECT_EQ(m->cpu->instructions_retired(), 2u);
  EXPECT_EQ(jit().stats().blocks_compiled, 1u);
}

TEST_F(JitTest, ABlockIsNotReusedAfterTheSegmentBecomesReadOnly) {
  Start({0xA3, 0x20, 0, 0, 0,  // mov [0x20], eax
         0xEB, 0xFE},
        Mode::kFlat32);
  m->s.seg[x86::kDs] = SmallData();
  m->reg(x86::kRax) = 7;
  EXPECT_EQ(jit().RunBlock(4096), 2u);  // the MOV, then the JMP to itself ends the block
  EXPECT_EQ(m->Read(0x40020, 4), 7u);
  // The same code with DS read-only: the store is #GP(0) at the MOV.
  m->s.rip = kCode;
  m->s.seg[x86::kDs] = SmallData(0x1);
  m->reg(x86::kRax) = 9;
  RunExpectingFault(jit(), x86::kGP);
  EXPECT_EQ(m->s.rip, kCode);
  EXPECT_EQ(m->Read(0x40020, 4), 7u);
}

TEST_F(JitTest, RealModeLoopRunsInBlocksWithSegmentBases) {
  // DS = 0x4000: loop: mov ax, [si]; add ax, bx; mov [si+2], ax; dec cx; jnz loop; jmp $
  Start({0x8B, 0x04, 0x01, 0xD8, 0x89, 0x44, 0x02, 0x49, 0x75, 0xF6, 0xEB, 0xFE}, Mode::kReal);
  m->s.seg[x86::kDs].selector = 0x4000;
  m->s.seg[x86::kDs].base = 0x40000;
  m->reg(x86::kRsi) = 0x100;
  m->reg(x86::kRbx) = 3;
  m->reg(x86::kRcx) = 100;
  m->Write(0x40100, 2, 1);
  EXPECT_EQ(RunTo(10), 500u);
  EXPECT_EQ(m->reg(x86::kRax) & 0xFFFF, 4u);
  EXPECT_EQ(m->Read(0x40102, 2), 4u);
  EXPECT_EQ(m->reg(x86::kRcx) & 0xFFFF, 0u);
  EXPECT_GE(jit().stats().instructions_in_blocks, 500u);
}

// Accesses through one base register share one TLB lookup (a window over
// all their bytes). Where the window spans two pages it misses although the
// first access alone would not: that access is interpreted and the block
// ends after it, and the rest run in a block of their own.
TEST_F(JitTest, SharedLookupAcrossAPageBoundaryEndsTheBlockAfterTheFirstAccess) {
  Start(Cat({{0x48, 0x89, 0x06},        // mov [rsi], rax      (0x4FFF8: the page below)
             {0x48, 0x8B, 0x4E, 0x08},  // mov rcx, [rsi + 8]  (0x50000)
             {0x48, 0x03, 0x4E, 0x10},  // add rcx, [rsi + 16]
             {0xEB, 0xFE}}),
        Mode::kLong64);
  m->reg(x86::kRsi) = 0x4FFF8;
  m->reg(x86::kRax) = 0x1111;
  m->Write(0x50000, 8, 5);
  m->Write(0x50008, 8, 7);
  for (int pass = 0; pass < 2; ++pass) {  // cold, then with the TLB filled
    m->s.rip = kCode;
    m->reg(x86::kRcx) = 0;
    m->Write(0x4FFF8, 8, 0);
    EXPECT_EQ(RunTo(kCode + 11), 4u);  // (the JMP to itself too)
    EXPECT_EQ(m->Read(0x4FFF8, 8), 0x1111u);
    EXPECT_EQ(m->reg(x86::kRcx), 12u);
  }
}

// A real-mode window that wraps at 64 KiB spans two pages: the second
// access is at DS:0, not past DS:FFFF.
TEST_F(JitTest, RealModeSharedLookupThatWrapsAtSixtyFourKiB) {
  Start({0x8B, 0x04,        // mov ax, [si]
         0x89, 0x44, 0x02,  // mov [si + 2], ax (SI + 2 wraps to 0)
         0xEB, 0xFE},
        Mode::kReal);
  m->s.seg[x86::kDs].selector = 0x4000;
  m->s.seg[x86::kDs].base = 0x40000;
  m->reg(x86::kRsi) = 0xFFFE;
  m->Write(0x4FFFE, 2, 0x1234);
  EXPECT_EQ(RunTo(5), 3u);
  EXPECT_EQ(m->Read(0x40000, 2), 0x1234u);
  EXPECT_EQ(m->Read(0x50000, 2), 0u);
}

// Accesses in a window address it from its first byte's linear address in
// r10; an instruction between them that holds a guest register in r10 makes
// the next access form its own address.
TEST_F(JitTest, SharedLookupSurvivesAnInstructionThatOverwritesR10) {
  Start(Cat({{0x48, 0x8B, 0x46, 0x08},                    // mov rax, [rsi + 8]
             {0x49, 0xC7, 0xC2, 0x00, 0x00, 0x04, 0x00},  // mov r10, 0x40000
             {0x48, 0x8B, 0x4E, 0x10},                    // mov rcx, [rsi + 16]
             {0x48, 0x89, 0x1E},                          // mov [rsi], rbx
             {0xEB, 0xFE}}),
        Mode::kLong64);
  m->reg(x86::kRsi) = 0x50000;
  m->reg(x86::kRbx) = 0x99;
  m->Write(0x50008, 8, 5);
  m->Write(0x50010, 8, 7);
  for (int pass = 0; pass < 2; ++pass) {
    m->s.rip = kCode;
    m->Write(0x50000, 8, 0);
    EXPECT_EQ(RunTo(kCode + 18), 5u);
    EXPECT_EQ(m->reg(x86::kRax), 5u);
    EXPECT_EQ(m->reg(x86::kR10), 0x40000u);
    EXPECT_EQ(m->reg(x86::kRcx), 7u);
    EXPECT_EQ(m->Read(0x50000, 8), 0x99u);
  }
}

// The access that opens a window need not be at its lowest byte: each one
// is at its own offset from the window's start.
TEST_F(JitTest, RealModeSharedLookupOpenedAboveItsLowestByte) {
  Start({0x8B, 0x44, 0x04,  // mov ax, [si + 4]
         0x89, 0x44, 0x02,  // mov [si + 2], ax
         0x8B, 0x1C,        // mov bx, [si]
         0xEB, 0xFE},
        Mode::kReal);
  m->s.seg[x86::kDs].selector = 0x4000;
  m->s.seg[x86::kDs].base = 0x40000;
  m->reg(x86::kRsi) = 0x100;
  m->Write(0x40100, 2, 0x5678);
  m->Write(0x40104, 2, 0x1234);
  for (int pass = 0; pass < 2; ++pass) {  // cold, then with the TLB filled
    m->s.rip = 0;
    m->reg(x86::kRbx) = 0;
    m->Write(0x40102, 2, 0);
    EXPECT_EQ(RunTo(8), 4u);
    EXPECT_EQ(m->Read(0x40102, 2), 0x1234u);
    EXPECT_EQ(m->reg(x86::kRbx) & 0xFFFF, 0x5678u);
  }
}

TEST_F(JitTest, RealModeWordAtOffsetFfffFaultsLikeTheInterpreter) {
  Start({0xB8, 0x01, 0x00,        // mov ax, 1
         0xA1, 0xFF, 0xFF,        // mov ax, [0xFFFF]: the second byte is past the 64 KiB limit
         0xEB, 0xFE},
        Mode::kReal);
  RunExpectingFault(jit(), x86::kGP);
  EXPECT_EQ(m->s.rip, 3u);
  EXPECT_EQ(m->reg(x86::kRax) & 0xFFFF, 1u);
  EXPECT_EQ(m->cpu->instructions_retired(), 1u);
}

// A flat segment (base 0, limit 4 GiB - 1) needs no limit check of its own
// in a block: the last byte of an access past the limit lies at 4 GiB.
TEST_F(JitTest, FlatSegmentAccessPastFourGiBFaultsAndALimitChangeRecompiles) {
  Start({0xA1, 0x00, 0x20, 0, 0,         // mov eax, [0x2000]
         0x8B, 0x0D, 0xFE, 0xFF, 0xFF, 0xFF,  // mov ecx, [0xFFFFFFFE]: bytes past 4 GiB - 1
         0xEB, 0xFE},
        Mode::kFlat32);
  ASSERT_EQ(m->s.seg[x86::kDs].limit, 0xFFFFFFFFu);
  ASSERT_EQ(m->s.seg[x86::kDs].base, 0u);
  m->Write(0x2000, 4, 0x11223344);
  m->reg(x86::kRcx) = 0xCC;
  RunExpectingFault(jit(), x86::kGP);
  EXPECT_EQ(m->s.rip, kCode + 5);
  EXPECT_EQ(m->reg(x86::kRax), 0x11223344u);
  EXPECT_EQ(m->reg(x86::kRcx), 0xCCu);
  EXPECT_EQ(m->cpu->instructions_retired(), 1u);
  // The same code under a DS limit of 0xFFF: the first load is past it now.
  m->s.rip = kCode;
  m->reg(x86::kRax) = 0;
  m->s.seg[x86::kDs].limit = 0xFFF;
  RunExpectingFault(jit(), x86::kGP);
  EXPECT_EQ(m->s.rip, kCode);
  EXPECT_EQ(m->reg(x86::kRax), 0u);
}

// In a real-mode segment of 64 KiB the last byte's offset wraps to 16 bits,
// below the first byte, so the TLB lookup misses even when that page is in
// the TLB (here: just read), and the interpreter raises the fault.
TEST_F(JitTest, RealModeWordAtOffsetFfffWithASegmentBaseFaults) {
  Start({0xA1, 0x00, 0x00,        // mov ax, [0]
         0x8B, 0x1E, 0xFF, 0xFF,  // mov bx, [0xFFFF]: the second byte is past the limit
         0xEB, 0xFE},
        Mode::kReal);
  m->s.seg[x86::kDs].selector = 0x4000;
  m->s.seg[x86::kDs].base = 0x40000;
  ASSERT_EQ(m->s.seg[x86::kDs].limit, 0xFFFFu);
  m->Write(0x40000, 2, 0x1234);
  m->Write(0x4FFFF, 1, 0x56);
  RunExpectingFault(jit(), x86::kGP);
  EXPECT_EQ(m->s.rip, 3u);
  EXPECT_EQ(m->reg(x86::kRax) & 0xFFFF, 0x1234u);
  EXPECT_EQ(m->reg(x86::kRbx) & 0xFFFF, 0u);
  EXPECT_EQ(m->cpu->instructions_retired(), 1u);
}

// In a real-mode segment at 0 the last byte's offset is not wrapped: a word
// at 0xFFFF ends on the page at 64 KiB, which is never in the TLB slot of
// the page below it (the page's own number there), even with both pages in
// the TLB (the second pass).
TEST_F(JitTest, RealModeWordAtOffsetFfffOfSegmentZeroFaultsWithBothPagesInTheTlb) {
  Start({0xA1, 0xFE, 0xFF,              // mov ax, [0xFFFE]
         0x26, 0x8B, 0x0E, 0x00, 0x01,  // mov cx, es:[0x100] (the page at 64 KiB, this code's)
         0x8B, 0x1E, 0xFF, 0xFF,        // mov bx, [0xFFFF]: the second byte is past the limit
         0xEB, 0xFE},
        Mode::kReal);
  ASSERT_EQ(m->s.seg[x86::kDs].base, 0u);
  m->s.seg[x86::kEs].selector = 0x1000;
  m->s.seg[x86::kEs].base = 0x10000;
  m->Write(0xFFFE, 2, 0x1234);
  m->Write(0x10100, 2, 0x5678);
  for (int pass = 0; pass < 2; ++pass) {
    m->s.rip = 0;
    m->reg(x86::kRbx) = 0;
    const uint64_t retired = m->cpu->instructions_retired();
    RunExpectingFault(jit(), x86::kGP);
    EXPECT_EQ(m->s.rip, 8u);
    EXPECT_EQ(m->reg(x86::kRax) & 0xFFFF, 0x1234u);
    EXPECT_EQ(m->reg(x86::kRcx) & 0xFFFF, 0x5678u);
    EXPECT_EQ(m->reg(x86::kRbx) & 0xFFFF, 0u);
    EXPECT_EQ(m->cpu->instructions_retired() - retired, 2u);
  }
}

// Guest registers stay in host registers from one instruction of a block to
// the next; an instruction that the slow path ran (here a load whose page
// is not yet in the TLB) must leave what it wrote there too.
TEST_F(JitTest, CachedRegistersSeeWhatTheSlowPathWrote) {
  Start(Cat({{0xB8, 0x01, 0, 0, 0},                    // mov eax, 1
             {0xB9, 0x05, 0, 0, 0},                    // mov ecx, 5
             {0x8B, 0x0C, 0x25, 0x00, 0x00, 0x05, 0},  // mov ecx, [0x50000]
             {0x01, 0xC8},                             // add eax, ecx
             {0x89, 0x04, 0x25, 0x08, 0x00, 0x05, 0},  // mov [0x50008], eax
             {0x8D, 0x14, 0x48},                       // lea edx, [rax + rcx*2]
             {0x66, 0xB8, 0x33, 0x33},                 // mov ax, 0x3333 (keeps the upper bits)
             {0x89, 0xCE},                             // mov esi, ecx (write-only)
             {0xEB, 0xFE}}));
  m->Write(0x50000, 4, 0x70);
  const uint64_t end = kCode + 5 + 5 + 7 + 2 + 7 + 3 + 4 + 2;
  for (int pass = 0; pass < 2; ++pass) {  // a TLB miss first, a hit then
    m->s.rip = kCode;
    m->reg(x86::kRsi) = ~0ull;
    m->Write(0x50008, 4, 0);
    const uint64_t interpreted = jit().stats().interpreted;
    RunTo(end);
    if (pass == 0) {
      EXPECT_GT(jit().stats().interpreted, interpreted);
    }
    EXPECT_EQ(m->reg(x86::kRcx), 0x70u);
    EXPECT_EQ(m->Read(0x50008, 4), 0x71u);
    EXPECT_EQ(m->reg(x86::kRdx), 0x71u + 0xE0u);
    EXPECT_EQ(m->reg(x86::kRax), 0x3333u);
    EXPECT_EQ(m->reg(x86::kRsi), 0x70u);
  }
}

// BSF/BSR with a zero source leave the destination as it was (Linux's ffs()
// relies on it: it loads -1 first), so a write-only-looking destination must
// still be loaded into its host register; a disk boot's kernel found it.
TEST_F(JitTest, BsfOfZeroKeepsTheDestinationOfTheBlock) {
  Start(Cat({{0x31, 0xC9},                    // xor ecx, ecx
             {0x0F, 0xBC, 0xC1},              // bsf eax, ecx (ZF: the source is 0)
             {0x48, 0x8B, 0x1C, 0x25, 0x00, 0x00, 0x05, 0},  // mov rbx, [0x50000]
             {0x0F, 0xBD, 0xDB},              // bsr ebx, ebx
             {0xEB, 0xFE}}));
  m->Write(0x50000, 8, 0);
  m->reg(x86::kRax) = 0x12345678;  // not in a host register: BSF is the block's first use
  m->reg(x86::kRbx) = 0xBB;
  RunTo(kCode + 2 + 3 + 8 + 3);
  EXPECT_EQ(m->reg(x86::kRax), 0x12345678u);
  EXPECT_TRUE(m->flag(x86::kFlagZf));
  EXPECT_EQ(m->reg(x86::kRbx) & 0xFFFFFFFF, 0u);
}

// A fault after instructions whose results are still in host registers sees
// them in the CPU state.
TEST_F(JitTest, FaultAfterCachedResultsSeesThemInTheState) {
  Start(Cat({{0xB8, 0x07, 0, 0, 0},                       // mov eax, 7
             {0x01, 0xC0},                                // add eax, eax
             {0x89, 0xC3},                                // mov ebx, eax
             {0x8D, 0x34, 0x1B},                          // lea esi, [rbx + rbx]
             {0x48, 0x8B, 0x0C, 0x25, 0, 0, 0, 0x40},     // mov rcx, [0x40000000] (not mapped)
             {0xEB, 0xFE}}));
  RunExpectingFault(jit(), x86::kPF);
  EXPECT_EQ(m->s.rip, kCode + 5 + 2 + 2 + 3);
  EXPECT_EQ(m->reg(x86::kRax), 14u);
  EXPECT_EQ(m->reg(x86::kRbx), 14u);
  EXPECT_EQ(m->reg(x86::kRsi), 28u);
  EXPECT_EQ(m->cpu->instructions_retired(), 4u);
}

// RunBlock calls (dispatcher entries) until RIP reaches `end`.
int DispatchesTo(Jit& jit, x86::CpuState& s, uint64_t end) {
  int calls = 0;
  while (s.rip != end && calls < 100000) {
    if (jit.RunBlock(1u << 20) == 0) return -1;
    ++calls;
  }
  return calls;
}

// Exits to a block in the same page are JMPs patched to point at it; when
// a write drops that block, the JMPs into it go back to their exits' stubs,
// and the block translated anew is linked again.
TEST_F(JitTest, BlocksInOnePageChainAndARewrittenTargetIsUnlinkedThenRelinked) {
  // A: add edx, 0x10; jmp B -- B: add edx, 1; dec edi; jz done; jmp A -- done: jmp $
  std::vector<uint8_t> code = {0x83, 0xC2, 0x10, 0xEB, 0x10};
  code.resize(0x15, 0x90);
  code.insert(code.end(), {0x83, 0xC2, 0x01, 0xFF, 0xCF, 0x74, 0x02, 0xEB, 0xE2, 0xEB, 0xFE});
  Start(code);
  auto run = [&] {
    m->s.rip = kCode;
    m->reg(x86::kRdi) = 100;
    m->reg(x86::kRdx) = 0;
    return DispatchesTo(jit(), m->s, kCode + 0x1E);
  };
  EXPECT_LE(run(), 4);  // 200 exits, nearly all through links
  EXPECT_EQ(m->reg(x86::kRdx), 100u * 0x11);
  const uint64_t dropped = jit().stats().blocks_invalidated;
  m->cpu->WriteLinear(kCode + 0x17, 1, 2);  // B: add edx, 2
  EXPECT_EQ(jit().stats().blocks_invalidated, dropped + 1);  // B alone: A keeps its (now unlinked) exit
  EXPECT_LE(run(), 4);
  EXPECT_EQ(m->reg(x86::kRdx), 100u * 0x12);
  m->cpu->WriteLinear(kCode + 2, 1, 0x20);  // A: add edx, 0x20
  EXPECT_LE(run(), 4);
  EXPECT_EQ(m->reg(x86::kRdx), 100u * 0x22);
}

TEST_F(JitTest, BlocksInTwoPagesChainAndSeeWritesToEitherPage) {
  // kCode: add edx, 0x10; jmp 0x30000 -- 0x30000: add edx, 1; dec edi; jz done; jmp kCode; done: jmp $
  Start({0x83, 0xC2, 0x10, 0xE9, 0xF8, 0xFF, 0x01, 0x00});
  m->Load(0x30000, {0x83, 0xC2, 0x01, 0xFF, 0xCF, 0x74, 0x05, 0xE9, 0xF4, 0xFF, 0xFD, 0xFF, 0xEB, 0xFE});
  auto run = [&] {
    m->s.rip = kCode;
    m->reg(x86::kRdi) = 100;
    m->reg(x86::kRdx) = 0;
    return DispatchesTo(jit(), m->s, 0x3000C);
  };
  EXPECT_LE(run(), 4);  // the exits between the pages go through the jump cache
  EXPECT_EQ(m->reg(x86::kRdx), 100u * 0x11);
  m->cpu->WriteLinear(0x30002, 1, 2);  // add edx, 2
  EXPECT_LE(run(), 4);
  EXPECT_EQ(m->reg(x86::kRdx), 100u * 0x12);
  m->cpu->WriteLinear(kCode + 2, 1, 0x20);  // add edx, 0x20
  EXPECT_LE(run(), 4);
  EXPECT_EQ(m->reg(x86::kRdx), 100u * 0x22);
  EXPECT_GE(jit().stats().blocks_invalidated, 2u);
}

TEST_F(JitTest, IndirectCallsAndReturnsUseTheJumpCacheAndSeeRewrittenCode) {
  // loop: mov eax, 0x30000; call rax; add edx, eax; mov byte [0x30001], 6; dec edi; jnz loop; jmp $
  Start({0xB8, 0x00, 0x00, 0x03, 0x00, 0xFF, 0xD0, 0x01, 0xC2, 0xC6, 0x04, 0x25, 0x01, 0x00, 0x03, 0x00, 0x06,
         0xFF, 0xCF, 0x75, 0xEB, 0xEB, 0xFE});
  m->Load(0x30000, {0xB8, 0x05, 0, 0, 0, 0xC3});  // mov eax, 5; ret
  m->reg(x86::kRdi) = 3;
  DispatchesTo(jit(), m->s, kCode + 21);
  // The first call ran the old code; the store dropped its block and its jump-cache entry.
  EXPECT_EQ(m->reg(x86::kRdx), 5u + 6u + 6u);
  // Without writes, calls and returns stay in translated code:
  // loop: mov eax, 0x30000; call rax; dec edi; jnz loop; jmp $
  m->Load(kCode + 0x100, {0xB8, 0x00, 0x00, 0x03, 0x00, 0xFF, 0xD0, 0xFF, 0xCF, 0x75, 0xF5, 0xEB, 0xFE});
  m->s.rip = kCode + 0x100;
  m->reg(x86::kRdi) = 200;
  EXPECT_LE(DispatchesTo(jit(), m->s, kCode + 0x10B), 4);
  EXPECT_EQ(m->reg(x86::kRax), 6u);
  EXPECT_EQ(m->reg(x86::kRdi), 0u);
}

TEST_F(JitTest, JumpsAndCallsThroughMemoryStayInTranslatedCodeAndFaultAtTheBranch) {
  // loop: call [rbx]; add edx, eax; dec edi; jnz loop; jmp [rbx + 8]
  Start({0xFF, 0x13, 0x01, 0xC2, 0xFF, 0xCF, 0x75, 0xF8, 0xFF, 0x63, 0x08});
  m->Load(0x31000, {0xB8, 0x07, 0, 0, 0, 0xC3});  // mov eax, 7; ret (in a jump-cache slot of its own)
  m->Load(kCode + 0x40, {0xEB, 0xFE});             // jmp $
  m->Write(kData, 8, 0x31000);
  m->Write(kData + 8, 8, kCode + 0x40);
  auto run = [&] {
    m->s.rip = kCode;
    m->reg(x86::kRbx) = kData;
    m->reg(x86::kRdi) = 100;
    m->reg(x86::kRdx) = 0;
    return DispatchesTo(jit(), m->s, kCode + 0x40);
  };
  const uint64_t rsp = m->reg(x86::kRsp);
  EXPECT_LE(run(), 5);  // each first exit: to the CALL's target, its return, the loop, the JMP
  EXPECT_EQ(m->reg(x86::kRdx), 700u);
  EXPECT_EQ(m->reg(x86::kRsp), rsp);
  EXPECT_EQ(m->Read(rsp - 8, 8), kCode + 2);  // the return address pushed
  // Warm, nothing goes to the interpreter.
  const uint64_t interpreted = jit().stats().interpreted;
  EXPECT_EQ(run(), 1);
  EXPECT_EQ(m->reg(x86::kRdx), 700u);
  EXPECT_EQ(jit().stats().interpreted, interpreted);
  // A non-canonical target is #GP at the CALL, with nothing pushed.
  m->Write(kData, 8, 0x8000000000031000ull);
  m->Write(rsp - 8, 8, 0);
  m->s.rip = kCode;
  const uint64_t retired = m->cpu->instructions_retired();
  RunExpectingFault(jit(), x86::kGP);
  EXPECT_EQ(m->s.rip, kCode);
  EXPECT_EQ(m->reg(x86::kRsp), rsp);
  EXPECT_EQ(m->Read(rsp - 8, 8), 0u);
  EXPECT_EQ(m->cpu->instructions_retired(), retired);
}

TEST_F(JitTest, DivRunsInTranslatedCodeKeepsTheFlagsAndRaisesDivideErrorsPrecisely) {
  // stc; div rcx; div dword [rbx]; jmp $
  Start({0xF9, 0x48, 0xF7, 0xF1, 0xF7, 0x33, 0xEB, 0xFE});
  auto run = [&](uint64_t rdx, uint64_t rcx, uint32_t mem) {
    m->s.rip = kCode;
    m->reg(x86::kRax) = 1000;
    m->reg(x86::kRdx) = rdx;
    m->reg(x86::kRcx) = rcx;
    m->reg(x86::kRbx) = kData;
    m->Write(kData, 4, mem);
  };
  run(0, 7, 100);
  RunTo(kCode + 6);
  // 1000 / 7 = 142 remainder 6, then EDX:EAX = 6:142 by 100.
  EXPECT_EQ(m->reg(x86::kRax), ((6ull << 32) | 142) / 100);
  EXPECT_EQ(m->reg(x86::kRdx), ((6ull << 32) | 142) % 100);
  EXPECT_TRUE(m->flag(x86::kFlagCf));  // as the interpreter leaves them
  const uint64_t interpreted = jit().stats().interpreted;
  run(0, 7, 100);
  RunTo(kCode + 6);
  EXPECT_EQ(jit().stats().interpreted, interpreted);
  // Quotient overflow (RDX >= RCX) and a zero divisor are #DE at the DIV.
  run(7, 7, 100);
  RunExpectingFault(jit(), x86::kDE);
  EXPECT_EQ(m->s.rip, kCode + 1);
  EXPECT_EQ(m->reg(x86::kRax), 1000u);
  run(0, 7, 0);
  RunExpectingFault(jit(), x86::kDE);
  EXPECT_EQ(m->s.rip, kCode + 4);
  EXPECT_EQ(m->reg(x86::kRax), 142u);
}

TEST_F(JitTest, PushfqAndLockedCmpxchg16bRunInTranslatedCodeAndMisalignmentFaults) {
  // stc; pushfq; lock cmpxchg16b [rsi]; jmp $
  Start({0xF9, 0x9C, 0xF0, 0x48, 0x0F, 0xC7, 0x0E, 0xEB, 0xFE});
  const uint64_t rsp = m->reg(x86::kRsp);
  auto run = [&](uint64_t rsi, uint64_t expect_lo) {
    m->s.rip = kCode;
    m->reg(x86::kRsp) = rsp;
    m->reg(x86::kRsi) = rsi;
    m->reg(x86::kRax) = expect_lo;
    m->reg(x86::kRdx) = 0x2222;
    m->reg(x86::kRbx) = 0x3333;
    m->reg(x86::kRcx) = 0x4444;
    m->Write(kData, 8, 0x1111);
    m->Write(kData + 8, 8, 0x2222);
  };
  run(kData, 0x1111);
  RunTo(kCode + 7);
  const uint64_t pushed = m->Read(rsp - 8, 8);
  EXPECT_EQ(pushed & (x86::kFlagCf | 2), x86::kFlagCf | 2u);
  EXPECT_EQ(pushed & ~uint64_t{x86::kArithFlags}, m->s.rflags & ~uint64_t{x86::kArithFlags});
  EXPECT_TRUE(m->flag(x86::kFlagZf));  // equal: RCX:RBX stored
  EXPECT_TRUE(m->flag(x86::kFlagCf));  // the rest as they were
  EXPECT_EQ(m->Read(kData, 8), 0x3333u);
  EXPECT_EQ(m->Read(kData + 8, 8), 0x4444u);
  // Warm and unequal: nothing interpreted, memory loaded into RDX:RAX.
  const uint64_t interpreted = jit().stats().interpreted;
  run(kData, 0x5555);
  RunTo(kCode + 7);
  EXPECT_EQ(jit().stats().interpreted, interpreted);
  EXPECT_FALSE(m->flag(x86::kFlagZf));
  EXPECT_EQ(m->reg(x86::kRax), 0x1111u);
  EXPECT_EQ(m->Read(kData, 8), 0x1111u);
  // A misaligned operand is #GP at the CMPXCHG16B, after the PUSHFQ.
  run(kData + 8, 0x1111);
  RunExpectingFault(jit(), x86::kGP);
  EXPECT_EQ(m->s.rip, kCode + 2);
  EXPECT_EQ(m->reg(x86::kRsp), rsp - 8);
}

TEST_F(JitTest, BitStringsInMemoryRunInTranslatedCodeAtTheWordTheNumberPicks) {
  // lock bts [rbx], rcx; btr [rbx], rdx; bt dword [rbx], esi; jmp $
  Start({0xF0, 0x48, 0x0F, 0xAB, 0x0B, 0x48, 0x0F, 0xB3, 0x13, 0x0F, 0xA3, 0x33, 0xEB, 0xFE});
  auto run = [&] {
    m->s.rip = kCode;
    m->reg(x86::kRbx) = kData + 0x100;
    m->reg(x86::kRcx) = 100;        // qword 1, bit 36
    m->reg(x86::kRdx) = ~0ull;      // -1: qword -1, bit 63
    m->reg(x86::kRsi) = 0xFFFFFFDF;  // -33 as a dword: dword -2, bit 31
    m->Write(kData + 0x108, 8, 0);
    m->Write(kData + 0xF8, 8, ~0ull);
    m->Write(kData + 0xF8, 4, 0x80000000);
    RunTo(kCode + 12);
  };
  run();
  EXPECT_EQ(m->Read(kData + 0x108, 8), 1ull << 36);
  EXPECT_EQ(m->Read(kData + 0xF8, 8), 0x7FFFFFFF80000000ull);  // bit 63 cleared
  EXPECT_TRUE(m->flag(x86::kFlagCf));  // BT: bit 31 of the dword at -8
  EXPECT_EQ(m->Read(kData + 0x100, 8), 0u);  // nothing at the base itself
  const uint64_t interpreted = jit().stats().interpreted;
  run();
  EXPECT_EQ(jit().stats().interpreted, interpreted);
  EXPECT_EQ(m->Read(kData + 0x108, 8), 1ull << 36);
}

// 4 KiB pages for the first 2 MiB, identity-mapped (page table at 0x4000),
// with G on `global` pages and CR4.PGE on.
void MapSmallPages(Machine& m, std::initializer_list<uint64_t> global) {
  m.Write(0x3000, 8, 0x4000 | 3);
  for (uint64_t i = 0; i < 512; ++i) m.Write(0x4000 + 8 * i, 8, (i << 12) | 3);
  for (uint64_t page : global) m.Write(0x4000 + 8 * (page >> 12), 8, page | 0x103);
  m.s.cr4 |= x86::kCr4Pge;
  m.cpu->FlushTlb(/*include_global=*/true);
}

// A direct CALL into another page looks its target up in the jump cache
// inline, at a slot and tag fixed at translation time: it goes straight to
// the target's block, and no longer once a TLB flush has dropped the entry.
TEST_F(JitTest, DirectCallsToAnotherPageFollowTheJumpCacheAndForgetARemappedTarget) {
  const uint32_t rel = 0x30000 - static_cast<uint32_t>(kCode + 5);
  Start({0xE8, static_cast<uint8_t>(rel), static_cast<uint8_t>(rel >> 8), static_cast<uint8_t>(rel >> 16),
         static_cast<uint8_t>(rel >> 24), 0xEB, 0xFE});  // call 0x30000; jmp $
  for (uint32_t n = 1; n <= 2; ++n) m->Load(0x2F000 + 0x1000 * n, {0xB8, static_cast<uint8_t>(n), 0, 0, 0, 0xC3});  // mov eax, n; ret
  MapSmallPages(*m, {});
  auto call = [&] {
    m->s.rip = kCode;
    m->reg(x86::kRsp) = 0x8000;
    m->reg(x86::kRax) = 0;
    return DispatchesTo(jit(), m->s, kCode + 5);
  };
  EXPECT_GE(call(), 2);
  EXPECT_EQ(m->reg(x86::kRax), 1u);
  EXPECT_EQ(call(), 1);  // CALL, the target's block and RET's, all chained
  EXPECT_EQ(m->reg(x86::kRax), 1u);
  m->Write(0x4000 + 8 * 0x30, 8, 0x31000 | 3);
  m->cpu->FlushTlb(/*include_global=*/false);
  m->cpu->WriteLinear(0x7FF8, 8, 0);  // (the stack back in the TLB: the CALL's push does not miss)
  EXPECT_GE(call(), 2);
  EXPECT_EQ(m->reg(x86::kRax), 2u);
}

TEST_F(JitTest, JumpCacheForgetsRemappedCodeAfterMovCr3AndInvlpgButKeepsGlobalPages) {
  // kCode: mov ecx, 0x30000; call rcx; jmp $ -- kCode + 0x100: the same calling 0x32000 (a global page).
  Start({0xB9, 0x00, 0x00, 0x03, 0x00, 0xFF, 0xD1, 0xEB, 0xFE});
  m->Load(kCode + 0x100, {0xB9, 0x00, 0x20, 0x03, 0x00, 0xFF, 0xD1, 0xEB, 0xFE});
  for (uint32_t n = 1; n <= 4; ++n) m->Load(0x2F000 + 0x1000 * n, {0xB8, static_cast<uint8_t>(n), 0, 0, 0, 0xC3});  // mov eax, n; ret
  MapSmallPages(*m, {0x32000, 0x33000});
  auto call = [&](uint64_t from) {
    m->s.rip = from;
    m->reg(x86::kRsp) = 0x8000;
    m->reg(x86::kRax) = 0;
    return DispatchesTo(jit(), m->s, from + 7);
  };
  EXPECT_GE(call(kCode), 1);
  EXPECT_EQ(m->reg(x86::kRax), 1u);
  // A new mapping of the non-global page, then MOV CR3 (a flush that keeps global pages).
  m->Write(0x4000 + 8 * 0x30, 8, 0x31000 | 3);
  m->cpu->FlushTlb(/*include_global=*/false);
  EXPECT_GE(call(kCode), 1);
  EXPECT_EQ(m->reg(x86::kRax), 2u);
  // The global page's entry survives MOV CR3: the call goes straight to its block.
  EXPECT_GE(call(kCode + 0x100), 1);
  EXPECT_EQ(m->reg(x86::kRax), 3u);
  m->cpu->FlushTlb(/*include_global=*/false);
  EXPECT_EQ(call(kCode + 0x100), 1);
  EXPECT_EQ(m->reg(x86::kRax), 3u);
  // INVLPG drops it.
  m->Write(0x4000 + 8 * 0x32, 8, 0x33000 | 0x103);
  m->cpu->InvalidatePage(0x32000);
  EXPECT_GE(call(kCode + 0x100), 1);
  EXPECT_EQ(m->reg(x86::kRax), 4u);
  // A full flush drops everything: the call comes back to the dispatcher.
  m->cpu->FlushTlb(/*include_global=*/true);
  EXPECT_EQ(call(kCode + 0x100), 2);
  EXPECT_EQ(m->reg(x86::kRax), 4u);
}

TEST_F(JitTest, IntegerSseRunsOnHostXmmRegistersAndMisalignedOperandsFault) {
  // movdqu xmm1, [rsi]; paddd xmm1, xmm2; pxor xmm3, xmm3; pcmpeqb xmm3, xmm1; pmovmskb eax, xmm3;
  // movdqa [rsi + 16], xmm1; movd ecx, xmm1; jmp $
  Start({0xF3, 0x0F, 0x6F, 0x0E, 0x66, 0x0F, 0xFE, 0xCA, 0x66, 0x0F, 0xEF, 0xDB, 0x66, 0x0F, 0x74, 0xD9,
         0x66, 0x0F, 0xD7, 0xC3, 0x66, 0x0F, 0x7F, 0x4E, 0x10, 0x66, 0x0F, 0x7E, 0xC9, 0xEB, 0xFE});
  m->s.cr4 |= x86::kCr4Osfxsr;
  for (int i = 0; i < 16; ++i) {
    m->Write(kData + 1 + i, 1, i);  // unaligned source bytes 0..15
    m->s.fx.xmm[2][i] = i % 4 == 0 ? 0xFF : 0;  // each dword + 0xFF
  }
  m->reg(x86::kRsi) = kData + 1;
  m->reg(x86::kRax) = ~0ull;
  // The aligned store to kData + 17 faults, precisely, after the six before it.
  RunExpectingFault(jit(), x86::kGP);
  EXPECT_EQ(m->s.rip, kCode + 20);
  EXPECT_EQ(m->cpu->instructions_retired(), 5u);
  const uint8_t want[16] = {0xFF, 1, 2, 3, 3, 6, 6, 7, 7, 10, 10, 11, 11, 14, 14, 15};  // each dword + 0xFF
  EXPECT_EQ(std::memcmp(m->s.fx.xmm[1].data(), want, 16), 0);
  EXPECT_EQ(m->reg(x86::kRax), 0u);  // no zero byte; PMOVMSKB zero-extends
  // Aligned, the whole block runs in host code.
  for (int i = 0; i < 16; ++i) m->Write(kData + i, 1, i);
  m->reg(x86::kRsi) = kData;
  m->s.rip = kCode;
  const uint64_t end = kCode + 29;
  RunTo(end);
  EXPECT_EQ(m->Read(kData + 16, 4), 0x030201FFu);
  EXPECT_EQ(m->reg(x86::kRcx), 0x030201FFu);
  // Again with the TLB warm: nothing goes to the interpreter.
  const uint64_t interpreted = jit().stats().interpreted;
  m->s.rip = kCode;
  RunTo(end);
  EXPECT_EQ(m->reg(x86::kRcx), 0x030201FFu);
  EXPECT_EQ(jit().stats().interpreted, interpreted);
}

TEST_F(JitTest, StringCompareAndPerCpuCmpxchg16bRunInTranslatedCodeAndAlignmentIsTheOffsets) {
  // movdqu xmm1, [rbx]; pcmpistri xmm1, [rbx + 0x11], 0 (equal any); lock cmpxchg16b gs:[rsi]; jmp $
  Start({0xF3, 0x0F, 0x6F, 0x0B, 0x66, 0x0F, 0x3A, 0x63, 0x4B, 0x11, 0x00, 0x65, 0xF0, 0x48, 0x0F, 0xC7, 0x0E,
         0xEB, 0xFE});
  m->s.cr4 |= x86::kCr4Osfxsr;
  const uint64_t end = kCode + 17;
  auto run = [&](uint64_t gs_base, uint64_t rsi) {
    m->s.rip = kCode;
    m->s.seg[x86::kGs].base = gs_base;
    m->reg(x86::kRbx) = kData;
    m->reg(x86::kRsi) = rsi;
    m->reg(x86::kRax) = 0x1111;
    m->reg(x86::kRdx) = 0x2222;
    m->Write(kData, 8, 0x6261);  // the set: "ab"
    m->Write(kData + 8, 8, 0);
    m->Write(kData + 0x11, 8, 0x627A7978);  // "xyzb", then the end
    m->Write(gs_base + rsi, 8, 0x1111);
    m->Write(gs_base + rsi + 8, 8, 0x2222);
  };
  auto check = [&](uint64_t at) {
    EXPECT_EQ(m->reg(x86::kRcx), 3u);  // 'b' at index 3
    EXPECT_EQ(m->Read(at, 8), kData);  // equal: RCX:RBX stored
    EXPECT_EQ(m->Read(at + 8, 8), 3u);
    EXPECT_TRUE(m->flag(x86::kFlagZf));
  };
  run(kData + 0x100, 0x20);
  RunTo(end);
  check(kData + 0x120);
  // PCMPISTRI's flags reach the guest: CF (a match) and SF (the set ends).
  m->s.rip = kCode;
  RunTo(kCode + 11);
  EXPECT_TRUE(m->flag(x86::kFlagCf));
  EXPECT_TRUE(m->flag(x86::kFlagSf));
  EXPECT_FALSE(m->flag(x86::kFlagOf));
  // Warm: nothing interpreted.
  const uint64_t interpreted = jit().stats().interpreted;
  run(kData + 0x100, 0x20);
  RunTo(end);
  check(kData + 0x120);
  EXPECT_EQ(jit().stats().interpreted, interpreted);
  // The offset decides, as the interpreter has it: an aligned linear address
  // with a misaligned offset is #GP...
  run(kData + 0x108, 0x18);
  RunExpectingFault(jit(), x86::kGP);
  EXPECT_EQ(m->s.rip, kCode + 11);
  // ...and an aligned offset from a misaligned base is not (the interpreter
  // takes it, without the host instruction, which would fault).
  run(kData + 0x108, 0x20);
  RunTo(end);
  check(kData + 0x128);
}

TEST_F(JitTest, SelectorReadsAndCliAtCpl0StayInTheBlock) {
  // mov eax, ds; cli; mov bx, es; prefetchw [rsi]; jmp $
  Start({0x8C, 0xD8, 0xFA, 0x66, 0x8C, 0xC3, 0x0F, 0x0D, 0x0E, 0xEB, 0xFE});
  m->s.seg[x86::kDs].selector = 0x2B;
  m->s.seg[x86::kEs].selector = 0x18;
  m->s.rflags |= x86::kFlagIf;
  m->reg(x86::kRax) = ~0ull;
  m->reg(x86::kRbx) = ~0ull;
  RunTo(kCode + 9);
  EXPECT_EQ(m->reg(x86::kRax), 0x2Bu);  // zero-extended
  EXPECT_EQ(m->reg(x86::kRbx), 0xFFFFFFFFFFFF0018u);  // 16-bit: the rest stays
  EXPECT_FALSE(m->flag(x86::kFlagIf));
  EXPECT_EQ(m->cpu->instructions_retired(), 5u);  // and the JMP once
  EXPECT_EQ(jit().stats().interpreted, 0u);
}

// STI runs in the block with the instruction after it, in its shadow; the
// block then returns to the caller, which takes an interrupt STI let in.
TEST_F(JitTest, StiRunsInTheBlockWithTheNextInstructionThenTheBlockLeaves) {
  Start({0xFB,              // sti
         0xFF, 0xC0,        // inc eax
         0xFF, 0xC3,        // inc ebx: not in the block
         0xEB, 0xFE});
  m->s.rflags &= ~x86::kFlagIf;
  EXPECT_EQ(jit().RunBlock(4096), 2u);
  EXPECT_EQ(m->s.rip, kCode + 3);
  EXPECT_TRUE(m->flag(x86::kFlagIf));
  EXPECT_FALSE(m->s.interrupt_shadow);
  EXPECT_EQ(m->reg(x86::kRax), 1u);
  EXPECT_EQ(m->reg(x86::kRbx), 0u);
  EXPECT_EQ(jit().stats().interpreted, 0u);
}

// Before a branch the block ends at STI with the shadow set, when IF was
// clear, for the instruction after it.
TEST_F(JitTest, StiBeforeARetLeavesTheBlockWithTheShadowSetWhenIfWasClear) {
  Start({0xFF, 0xC0,  // inc eax
         0xFB,        // sti
         0xC3});      // ret
  for (const bool if_before : {false, true}) {
    m->s.rip = kCode;
    if (if_before) m->s.rflags |= x86::kFlagIf;
    else m->s.rflags &= ~x86::kFlagIf;
    EXPECT_EQ(jit().RunBlock(4096), 2u);
    EXPECT_EQ(m->s.rip, kCode + 3);
    EXPECT_TRUE(m->flag(x86::kFlagIf));
    EXPECT_EQ(m->s.interrupt_shadow, !if_before);
  }
}

TEST_F(JitTest, AFullCodeCacheIsFlushedAndStaysBounded) {
  // 1500 blocks: inc eax; jmp to the next instruction (EB 00 ends a block), then jmp $.
  std::vector<uint8_t> code;
  for (int i = 0; i < 1500; ++i) code.insert(code.end(), {0xFF, 0xC0, 0xEB, 0x00});
  code.insert(code.end(), {0xEB, 0xFE});
  Start(code);
  constexpr size_t kBound = 64 << 10;
  m->cpu->jit_ = std::make_unique<Jit>(*m->cpu, kBound);
  const uint64_t end = kCode + 1500 * 4;
  for (int pass = 1; pass <= 2; ++pass) {
    m->s.rip = kCode;
    m->reg(x86::kRax) = 0;
    uint64_t peak = 0;
    while (m->s.rip != end) {
      ASSERT_NE(jit().RunBlock(1), 0u);
      peak = std::max(peak, jit().stats().cache_bytes);
    }
    EXPECT_EQ(m->reg(x86::kRax), 1500u);
    EXPECT_LE(peak, kBound + 4096) << "pass " << pass;
  }
  EXPECT_GE(jit().stats().cache_flushes, 2u);
  EXPECT_EQ(jit().stats().blocks_compiled, 3000u);  // nothing survived a flush for the second pass
}

// A dropped block's room in the code arena is given back once no translated
// code runs (at the next RunBlock), and the next block that fits takes it:
// code rewritten in a loop neither grows the arena nor forces a flush.
TEST_F(JitTest, DroppedBlocksGiveTheirCodeRoomToTheNextBlock) {
  Start({0xFF, 0xC0,   // loop: inc eax
         0xEB, 0xFC}); // jmp loop
  constexpr size_t kBound = 64 << 10;
  m->cpu->jit_ = std::make_unique<Jit>(*m->cpu, kBound);
  m->reg(x86::kRax) = 0;
  constexpr int kRuns = 5000;  // each block's room several times over the arena
  uint64_t extent = 0;
  for (int i = 0; i < kRuns; ++i) {
    m->s.rip = kCode;
    ASSERT_NE(jit().RunBlock(1), 0u) << "after " << i << " blocks";
    if (i == 0) extent = jit().stats().arena_bytes;
    ASSERT_EQ(jit().stats().arena_bytes, extent) << "after " << i << " blocks";
    jit().InvalidatePage(kCode >> 12, /*own_store=*/false);
  }
  EXPECT_EQ(jit().stats().cache_flushes, 0u);
  EXPECT_EQ(jit().stats().blocks_compiled, static_cast<uint64_t>(kRuns));
  EXPECT_EQ(m->reg(x86::kRax), static_cast<uint64_t>(kRuns));
}

// Freed room larger than a new block is split: the block takes the front,
// and the rest serves the next one.
TEST_F(JitTest, ALargeBlocksFreedRoomIsSplitBetweenSmallerOnes) {
  std::vector<uint8_t> big;
  for (int i = 0; i < 60; ++i) big.insert(big.end(), {0x48, 0x01, 0xC8});  // add rax, rcx (60 times)
  big.insert(big.end(), {0xEB, 0xFE});                                     // jmp $
  Start(big);
  const std::vector<uint8_t> small = {0xFF, 0xC0, 0xEB, 0xFC};  // loop: inc eax; jmp loop
  m->Load(kCode + 0x1000, small);
  m->Load(kCode + 0x2000, small);
  auto run = [&](uint64_t rip) {
    m->s.rip = rip;
    ASSERT_NE(jit().RunBlock(1), 0u);
  };
  run(kCode);
  const uint64_t extent = jit().stats().arena_bytes;
  jit().InvalidatePage(kCode >> 12, /*own_store=*/false);
  run(kCode + 0x1000);
  run(kCode + 0x2000);
  EXPECT_EQ(jit().stats().arena_bytes, extent);
  EXPECT_EQ(jit().stats().blocks_compiled, 3u);
}

// A relative branch at the top of the lower canonical half can reach past
// it: the block hands the branch to the interpreter, so the #GP is at the
// branch (SDM vol. 2 JMP), not at the fetch of the target.
TEST_F(JitTest, ARelativeBranchToANonCanonicalTargetIsLeftToTheInterpreter) {
  Start({});
  // Linear 0x7FFFFFE00000 (the lower half's last 2 MiB) -> physical 0x200000.
  m->Write(0x1000 + 8 * 255, 8, 0x5000 | 3);
  m->Write(0x5000 + 8 * 511, 8, 0x6000 | 3);
  m->Write(0x6000 + 8 * 511, 8, 0x200000 | 0x83);
  const uint64_t start = 0x7FFFFFFFFFF0;
  m->Load(0x3FFFF0, {0xB8, 0x01, 0x00, 0x00, 0x00,  // mov eax, 1
                     0xEB, 0x20});                  // jmp rel8: to 0x800000000017
  m->s.rip = start;
  EXPECT_EQ(jit().RunBlock(100), 1u);
  ASSERT_TRUE(jit().fault_pending());
  EXPECT_EQ(jit().TakeFault()->vector, x86::kGP);
  EXPECT_EQ(m->s.rip, start + 5);
  EXPECT_EQ(m->reg(x86::kRax), 1u);
}

TEST_F(JitTest, ThirtyTwoBitStackOpsUseSsBaseAndLimit) {
  // push eax; call f; pop ebx; jmp $ -- f: push 7; pop ecx; ret
  Start({0x50, 0xE8, 0x03, 0, 0, 0, 0x5B, 0xEB, 0xFE, 0x6A, 0x07, 0x59, 0xC3}, Mode::kFlat32);
  m->s.seg[x86::kSs] = SmallData();
  m->reg(x86::kRsp) = 0x1000;
  m->reg(x86::kRax) = 0xAABBCCDD;
  RunTo(kCode + 7);
  EXPECT_EQ(m->reg(x86::kRcx), 7u);
  EXPECT_EQ(m->reg(x86::kRbx), 0xAABBCCDDu);
  EXPECT_EQ(m->reg(x86::kRsp), 0x1000u);
  EXPECT_EQ(m->Read(0x40FFC, 4), 0xAABBCCDDu);
  EXPECT_EQ(m->Read(0x40FF8, 4), kCode + 6);  // the return address
  EXPECT_EQ(m->cpu->instructions_retired(), 7u);  // with the JMP $ that ends the last block
  // ESP 2: the push wraps to offset FFFFFFFE, past SS's limit: #SS at the PUSH.
  m->s.rip = kCode;
  m->reg(x86::kRsp) = 2;
  RunExpectingFault(jit(), x86::kSS);
  EXPECT_EQ(m->s.rip, kCode);
  EXPECT_EQ(m->reg(x86::kRsp), 2u);
}

// Compiling a block decodes ahead: an instruction that runs into a page that
// is not present ends the block there, and CR2 keeps its value, since no
// #PF is delivered (only executing that instruction would fault).
// An instruction that crosses into the next page is the last of its block
// and runs on the interpreter, which fetches it then: into a page that is not
// present, the fetch faults at the instruction, after the block ran up to it.
TEST_F(JitTest, AnInstructionCrossingIntoANotPresentPageFaultsAtItself) {
  Start({});
  const uint64_t pd1 = 0;  // linear 2 MiB..4 MiB not present
  ASSERT_TRUE(m->board().memory().WritePhys(0x3000 + 8, &pd1, 8));
  const uint64_t start = 0x200000 - 15;
  m->Load(start, Cat({{0xB8, 0x01, 0x00, 0x00, 0x00},  // mov eax, 1
                      {0x90},                          // nop
                      {0x48, 0xB9}, Imm64(2)}));       // mov rcx, imm64: its last byte is at 2 MiB
  m->s.rip = start;
  m->s.cr2 = 0x1234;
  jit().RunBlock(100);
  ASSERT_TRUE(jit().fault_pending());
  EXPECT_EQ(jit().TakeFault()->vector, x86::kPF);
  EXPECT_EQ(m->s.rip, start + 6);
  EXPECT_EQ(m->reg(x86::kRax), 1u);
  EXPECT_EQ(m->s.cr2, 0x200000u);
  EXPECT_EQ(m->cpu->instructions_retired(), 2u);
}

TEST_F(JitTest, AnInstructionCrossingIntoTheNextPageEndsItsBlockOnTheInterpreter) {
  Start({});
  const uint64_t start = 0x200000 - 15;
  m->Load(start, Cat({{0xB8, 0x01, 0x00, 0x00, 0x00},      // mov eax, 1
                      {0x90},                              // nop
                      {0x48, 0xB9}, Imm64(0x1122334455667788ull),  // mov rcx, imm64 (crosses)
                      {0xFF, 0xC2},                        // inc edx: the next block
                      {0xEB, 0xFE}}));
  m->s.rip = start;
  EXPECT_EQ(jit().RunBlock(100), 3u);
  EXPECT_EQ(m->s.rip, start + 16);
  EXPECT_EQ(m->reg(x86::kRcx), 0x1122334455667788u);
  EXPECT_EQ(m->reg(x86::kRdx), 0u);
  EXPECT_EQ(jit().stats().interpreted, 1u);
  // Rewritten in the next page, it runs as it now reads (the host's write
  // is seen at the run loop's next poll).
  m->Load(0x200000, {0x99});
  m->cpu->SyncCodeWrites();
  m->s.rip = start;
  EXPECT_EQ(jit().RunBlock(100), 3u);
  EXPECT_EQ(m->reg(x86::kRcx), 0x9922334455667788u);
}

// A system instruction ends its block on the interpreter, which runs it
// there: a block before it runs on into it, and one can start with it.
TEST_F(JitTest, PortOutputRunsOnTheInterpreterAtTheEndOfItsBlock) {
  Start({0xFF, 0xC0,                    // inc eax
         0x66, 0xBA, 0x30, 0x05,        // mov dx, kTestPort
         0xEE,                          // out dx, al
         0xFF, 0xC3,                    // inc ebx: the next block
         0xEE,                          // out dx, al
         0xEB, 0xFE});
  static_assert(kTestPort == 0x530);
  EXPECT_EQ(jit().RunBlock(4096), 3u);
  EXPECT_EQ(m->s.rip, kCode + 7);
  ASSERT_EQ(m->device().writes.size(), 1u);
  EXPECT_EQ(m->device().writes[0].value, 1u);
  EXPECT_EQ(m->reg(x86::kRbx), 0u);
  EXPECT_EQ(jit().RunBlock(4096), 2u);
  EXPECT_EQ(m->s.rip, kCode + 10);
  EXPECT_EQ(m->device().writes.size(), 2u);
  m->s.rip = kCode + 9;
  EXPECT_EQ(jit().RunBlock(4096), 1u);  // a block of the OUT alone
  EXPECT_EQ(m->s.rip, kCode + 10);
  EXPECT_EQ(m->device().writes.size(), 3u);
  EXPECT_EQ(m->cpu->instructions_retired(), 6u);
  // Once the jump cache has the next block, the first goes on into it.
  m->s.rip = kCode;
  EXPECT_EQ(jit().RunBlock(4096), 5u);
  EXPECT_EQ(m->s.rip, kCode + 10);
  EXPECT_EQ(m->device().writes.size(), 5u);
}

// HLT ends its block and the run there, whatever the jump cache holds for
// the instruction after it.
TEST_F(JitTest, HaltEndsItsBlockEvenWhereTheJumpCacheHasTheNextBlock) {
  Start({0xFF, 0xC0,  // inc eax
         0xF4,        // hlt
         0xFF, 0xC3,  // inc ebx
         0xEB, 0xFE});
  m->s.rip = kCode + 3;
  EXPECT_EQ(jit().RunBlock(4096), 2u);  // the block after the HLT, into the jump cache
  m->s.rip = kCode;
  EXPECT_EQ(jit().RunBlock(4096), 2u);
  EXPECT_TRUE(m->s.halted);
  EXPECT_EQ(m->s.rip, kCode + 3);
  EXPECT_EQ(m->reg(x86::kRax), 1u);
  EXPECT_EQ(m->reg(x86::kRbx), 1u);  // from the first run only
}

// The kernel's entry paths: SWAPGS and a read of CR2 run on the interpreter
// in the middle of a block, which goes on after them.
TEST_F(JitTest, SwapgsAndControlRegisterReadsRunInTheBlock) {
  Start({0x0F, 0x01, 0xF8,        // swapgs
         0x0F, 0x20, 0xD0,        // mov rax, cr2
         0x65, 0x48, 0x8B, 0x1C, 0x25, 0x10, 0, 0, 0,  // mov rbx, gs:[0x10]
         0xFF, 0xC1,              // inc ecx
         0xEB, 0xFE});
  m->s.cr2 = 0xC2C2;
  m->s.msr.kernel_gs_base = 0x50000;
  m->s.seg[x86::kGs].base = 0x60000;
  const uint64_t value = 0xABCDEF;
  ASSERT_TRUE(m->board().memory().WritePhys(0x50010, &value, 8));
  EXPECT_EQ(jit().RunBlock(4096), 5u);  // and the JMP to itself ends the block
  EXPECT_EQ(m->s.rip, kCode + 17);
  EXPECT_EQ(m->reg(x86::kRax), 0xC2C2u);
  EXPECT_EQ(m->reg(x86::kRbx), 0xABCDEFu);
  EXPECT_EQ(m->reg(x86::kRcx), 1u);
  EXPECT_EQ(m->s.seg[x86::kGs].base, 0x50000u);
  EXPECT_EQ(m->s.msr.kernel_gs_base, 0x60000u);
  EXPECT_EQ(jit().stats().interpreted, 1u);  // the access's first TLB miss: SWAPGS and MOV run on the host
}

// At CPL 1 a block is not CPL 3's, so it is translated as the kernel's
// are; SWAPGS and the CR2 read check CPL when they run and raise #GP(0).
TEST_F(JitTest, SwapgsAndControlRegisterReadsAtCplOneFault) {
  for (const std::vector<uint8_t>& code : {std::vector<uint8_t>{0x0F, 0x01, 0xF8, 0xEB, 0xFE},
                                           std::vector<uint8_t>{0x0F, 0x20, 0xD0, 0xEB, 0xFE}}) {
    Start(code);
    m->s.seg[x86::kSs].attrib |= 1u << x86::Segment::kDplShift;
    m->s.seg[x86::kGs].base = 0x60000;
    RunExpectingFault(jit(), 13);
    EXPECT_EQ(m->s.seg[x86::kGs].base, 0x60000u);
    EXPECT_EQ(m->reg(x86::kRax), 0u);
  }
}

TEST_F(JitTest, PushOfMemoryAndLeaveRunInTheBlock) {
  Start({0xFF, 0x74, 0x24, 0x08,  // push qword [rsp + 8]: the address is RSP's before the push
         0xFF, 0x77, 0x10,        // push qword [rdi + 0x10]
         0xC9,                    // leave
         0xEB, 0xFE});
  m->Write(0x8008, 8, 0x1111);
  m->Write(0x9010, 8, 0x2222);
  m->Write(0x7000, 8, 0x3333);
  for (int pass = 0; pass < 2; ++pass) {
    m->s.rip = kCode;
    m->reg(x86::kRsp) = 0x8000;
    m->reg(x86::kRdi) = 0x9000;
    m->reg(x86::kRbp) = 0x7000;
    const uint64_t interpreted = jit().stats().interpreted;
    EXPECT_EQ(jit().RunBlock(4096), 4u);
    EXPECT_EQ(m->Read(0x7FF8, 8), 0x1111u);
    EXPECT_EQ(m->Read(0x7FF0, 8), 0x2222u);
    EXPECT_EQ(m->reg(x86::kRsp), 0x7008u);
    EXPECT_EQ(m->reg(x86::kRbp), 0x3333u);
    // The first pass's TLB misses go to the interpreter; the second runs on the host.
    if (pass == 1) {
      EXPECT_EQ(jit().stats().interpreted, interpreted);
    }
  }
}

}  // namespace
}  // namespace tandem::accel::interp::testing
