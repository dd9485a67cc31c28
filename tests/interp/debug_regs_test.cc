// Hardware breakpoints in the interpreter (accel/interp/debug_regs.cc; SDM
// vol. 3A 17.2-17.3), driven in real mode so #DB goes through the IVT.
#include <gtest/gtest.h>

#include "accel/interp/debug_regs.h"
#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

using namespace x86;

constexpr uint32_t kDbHandler = 0x30000040;  // IVT[1] = 3000:0040
constexpr uint64_t kDr6Clear = 0xFFFF0FF0;

// Real mode with IVT[1] set and the debug registers loaded as a state load would.
void Arm(Machine& m, uint64_t dr7, uint64_t dr0 = 0) {
  m.Write(1 * 4, 4, kDbHandler);
  m.s.dr[0] = dr0;
  m.s.dr[6] = kDr6Clear;
  m.s.dr[7] = dr7;
  UpdateDebugState(*m.cpu);
}

bool InDbHandler(Machine& m) { return m.s.seg[kCs].selector == 0x3000 && m.s.rip == 0x40; }
uint64_t PushedIp(Machine& m) { return m.Read(0x8000 - 6, 2); }
uint64_t PushedFlags(Machine& m) { return m.Read(0x8000 - 2, 2); }

TEST(InterpDebugRegs, DisabledBreakpointsLeaveTheFastPath) {
  Machine m({0x90}, Mode::kReal);
  Arm(m, 0x400, kCode);
  EXPECT_FALSE(m.cpu->debug_.armed);
  m.s.dr[7] = 0x400 | (1u << 2);  // L1, execute
  UpdateDebugState(*m.cpu);
  EXPECT_TRUE(m.cpu->debug_.armed);
  EXPECT_FALSE(m.cpu->debug_.data_armed);
  m.s.dr[7] = 0x400 | (2u << 16) | 1;  // L0 with R/W0 = 10: I/O, not implemented, never triggers
  UpdateDebugState(*m.cpu);
  EXPECT_FALSE(m.cpu->debug_.armed);
}

TEST(InterpDebugRegs, MovToDr7ArmsTheCheckingPath) {
  Machine m({0x66, 0x0F, 0x23, 0xF8}, Mode::kReal);
  Arm(m, 0x400);  // mov dr7, eax
  m.reg(kRax) = 0x400 | (1u << 16) | 1;  // L0, data write, 1 byte
  m.Step();
  EXPECT_TRUE(m.cpu->debug_.armed);
  EXPECT_TRUE(m.cpu->debug_.data_armed);
  EXPECT_EQ(m.s.dr[7], 0x10401u);
}

TEST(InterpDebugRegs, InstructionBreakpointFaultsBeforeTheInstruction) {
  // nop; inc ax -- DR0 on the INC (linear CS.base + IP).
  Machine m({0x90, 0x40}, Mode::kReal);
  Arm(m, 0x401, kCode + 1);
  m.Step();
  EXPECT_EQ(m.s.rip, 1u);
  m.Step();
  ASSERT_TRUE(InDbHandler(m));
  EXPECT_EQ(m.reg(kRax), 0u);  // not executed
  EXPECT_EQ(PushedIp(m), 1u);  // a fault: the breakpointed instruction
  EXPECT_EQ(m.s.dr[6], kDr6Clear | 1);
  EXPECT_EQ(m.cpu->instructions_retired(), 1u);
}

TEST(InterpDebugRegs, RfSuppressesTheInstructionBreakpointOnce) {
  // inc ax; jmp back to it.
  Machine m({0x40, 0xEB, 0xFD}, Mode::kReal);
  Arm(m, 0x402, kCode);
  m.s.rflags |= kFlagRf;  // as an IRET from the #DB handler leaves it
  m.Step();
  EXPECT_EQ(m.reg(kRax), 1u);
  EXPECT_FALSE(m.flag(kFlagRf));  // cleared once the instruction completes
  m.Step();                       // jmp
  m.Step();                       // the breakpoint hits again
  EXPECT_TRUE(InDbHandler(m));
  EXPECT_EQ(m.reg(kRax), 1u);
  EXPECT_EQ(PushedFlags(m) & kFlagRf, 0u);  // real mode pushes 16 bits; RF is not among them
}

TEST(InterpDebugRegs, DataWriteBreakpointTrapsAfterTheWrite) {
  // mov [0x101], al (hits the 2-byte range 100-101); the read before does not.
  Machine m({0xA0, 0x00, 0x01, 0xA2, 0x01, 0x01}, Mode::kReal);
  Arm(m, 0x400 | (1u << 16) | (1u << 18) | 2, 0x100);
  m.reg(kRax) = 0x5A;
  m.Step();  // mov al, [0x100]: a read
  EXPECT_EQ(m.s.seg[kCs].selector, kCode >> 4);
  m.reg(kRax) = 0x5A;
  m.Step();
  ASSERT_TRUE(InDbHandler(m));
  EXPECT_EQ(m.Read(0x101, 1), 0x5Au);  // the write happened
  EXPECT_EQ(PushedIp(m), 6u);          // a trap: the next instruction
  EXPECT_EQ(m.s.dr[6], kDr6Clear | 1);
}

TEST(InterpDebugRegs, ReadWriteBreakpointMatchesItsAlignedRange) {
  // DR0 = 0x103 with 4 bytes covers 100-103: a read of 0x100 hits, 0x104 does not.
  std::vector<uint8_t> code = {0xA0, 0x04, 0x01, 0xA0, 0x00, 0x01};  // mov al, [0x104]; mov al, [0x100]
  Machine m(code, Mode::kReal);
  Arm(m, 0x400 | (3u << 16) | (3u << 18) | 1, 0x103);
  m.Step();
  EXPECT_EQ(m.s.rip, 3u);
  m.Step();
  ASSERT_TRUE(InDbHandler(m));
  EXPECT_EQ(PushedIp(m), 6u);
}

TEST(InterpDebugRegs, RepMovsStopsAfterTheIterationThatHit) {
  Machine m({0xF3, 0xA4}, Mode::kReal);
  Arm(m, 0x400 | (1u << 16) | 1, 0x202);  // rep movsb; DR0 write, 1 byte
  m.reg(kRsi) = 0x100;
  m.reg(kRdi) = 0x200;
  m.reg(kRcx) = 5;
  m.Step();
  ASSERT_TRUE(InDbHandler(m));
  EXPECT_EQ(PushedIp(m), 0u);  // still on the REP
  EXPECT_EQ(m.reg(kRcx), 2u);  // after the third iteration
  EXPECT_EQ(m.s.dr[6], kDr6Clear | 1);
}

TEST(InterpDebugRegs, SingleStepTrapsOncePerRepIteration) {
  Machine m({0xF3, 0xA4, 0x90}, Mode::kReal);
  Arm(m, 0x400);  // rep movsb; nop
  m.Load(0x30040, {0xCF});  // the handler: iret
  m.reg(kRsi) = 0x100;
  m.reg(kRdi) = 0x200;
  m.reg(kRcx) = 3;
  m.s.rflags |= kFlagTf;
  int traps = 0;
  for (int i = 0; i < 20 && m.s.rip != 2; ++i) {
    m.Step();
    if (InDbHandler(m)) {
      ++traps;
      EXPECT_EQ(m.s.dr[6] & kDr6Bs, kDr6Bs);
      m.Step();  // iret
    }
  }
  EXPECT_EQ(traps, 3);
  EXPECT_EQ(m.reg(kRcx), 0u);
}

TEST(InterpDebugRegs, GeneralDetectFaultsOnMovDr) {
  Machine m({0x66, 0x0F, 0x21, 0xC0}, Mode::kReal);
  Arm(m, 0x400 | kDr7Gd);  // mov eax, dr0
  m.reg(kRax) = 0x1234;
  m.Step();
  ASSERT_TRUE(InDbHandler(m));
  EXPECT_EQ(PushedIp(m), 0u);
  EXPECT_EQ(m.reg(kRax), 0x1234u);
  EXPECT_EQ(m.s.dr[6], kDr6Clear | kDr6Bd);
  EXPECT_EQ(m.s.dr[7], 0x400u);  // GD cleared for the handler
}

// ICEBP enters the #DB handler like any debug exception, and the processor
// clears GD on entry to it (SDM vol. 3A 17.2.4), so the handler can read DR6
// without a general-detect fault of its own; DR6 keeps what it had.
TEST(InterpDebugRegs, IcebpClearsGeneralDetectForItsHandler) {
  Machine m({0xF1}, Mode::kReal);
  Arm(m, 0x400 | kDr7Gd);  // icebp
  m.Step();
  ASSERT_TRUE(InDbHandler(m));
  EXPECT_EQ(PushedIp(m), 1u);  // a trap: after the instruction
  EXPECT_EQ(m.s.dr[6], kDr6Clear);
  EXPECT_EQ(m.s.dr[7], 0x400u);
}

// A data breakpoint hit by MOV SS is held until after the next instruction
// (SDM vol. 3A 6.8.3). What CPUs then do depends on that instruction (Linux's
// tools/testing/selftests/x86/mov_ss_trap.c): ICEBP enters its #DB handler
// and the held trap is dropped; INT3 (like INT n, INTO, SYSCALL, SYSENTER)
// enters its handler and the held #DB follows there; a fault drops it.
class MovSsShadow : public ::testing::Test {
 protected:
  // mov ss, [0x100] (DR0: read/write, 2 bytes at 0x100); then `next`.
  void Start(std::vector<uint8_t> next) {
    std::vector<uint8_t> code = {0x8E, 0x16, 0x00, 0x01};
    code.insert(code.end(), next.begin(), next.end());
    m = std::make_unique<Machine>(code, Mode::kReal);
    Arm(*m, 0x400 | (3u << 16) | (1u << 18) | 1, 0x100);
    for (uint32_t vector : {3u, 6u}) m->Write(vector * 4, 4, 0x30000000 | (0x40 + vector * 0x40));
    for (uint64_t pa = 0x30040; pa < 0x30200; ++pa) m->Write(pa, 1, 0x90);  // handlers: NOPs
    m->Write(0x100, 2, 0);  // the SS value: 0, as before
  }
  std::unique_ptr<Machine> m;
};

TEST_F(MovSsShadow, IcebpDropsTheHeldTrap) {
  Start({0xF1});  // icebp
  m->Step(2);
  ASSERT_TRUE(InDbHandler(*m));
  EXPECT_EQ(m->reg(kRsp), 0x8000u - 6) << "a second #DB was delivered in the ICEBP handler";
  EXPECT_EQ(PushedIp(*m), 5u);  // ICEBP is a trap: after the instruction
  m->Step();
  EXPECT_EQ(m->s.rip, 0x41u);  // the handler runs on
}

TEST_F(MovSsShadow, Int3EntersItsHandlerThenTakesTheHeldTrap) {
  Start({0xCC});  // int3
  m->Step(2);
  ASSERT_TRUE(InDbHandler(*m));
  EXPECT_EQ(m->reg(kRsp), 0x8000u - 12);
  EXPECT_EQ(m->Read(0x8000 - 12, 2), 0x100u);  // #DB taken at the INT3 handler's first instruction
  EXPECT_EQ(m->Read(0x8000 - 6, 2), 5u);      // INT3's own frame
  EXPECT_EQ(m->s.dr[6] & 0xF, 1u);
}

TEST_F(MovSsShadow, AFaultDropsTheHeldTrap) {
  Start({0x0F, 0x0B});  // ud2
  m->Step(2);
  EXPECT_EQ(m->s.seg[kCs].selector, 0x3000u);
  EXPECT_EQ(m->s.rip, 0x1C0u);  // the #UD handler
  EXPECT_EQ(m->reg(kRsp), 0x8000u - 6);
  m->Step();
  EXPECT_EQ(m->s.rip, 0x1C1u);  // no #DB followed
}

}  // namespace
}  // namespace tandem::accel::interp::testing
