// The decoded-instruction cache: self-modifying code, instructions that cross
// a page, #UD for what is not implemented, and the run loop on top of it.
#include <gtest/gtest.h>

#include "accel/interp/interp_engine.h"
#include "accel/interp/jit.h"
#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

using namespace x86;

TEST(InterpDecode, SelfModifyingCodeSeesTheNewBytes) {
  // 0: mov al, 1 ; 2: mov byte [0x10001], 7 ; 9: jmp 0
  Machine m({0xB0, 0x01, 0xC6, 0x05, 0x01, 0x00, 0x01, 0x00, 0x07, 0xEB, 0xF5});
  m.Step();
  EXPECT_EQ(m.reg(kRax) & 0xFF, 1u);
  m.Step(3);  // the cached "mov al, 1" was overwritten with "mov al, 7"
  EXPECT_EQ(m.reg(kRax) & 0xFF, 7u);
  EXPECT_EQ(m.s.rip, kCode + 2);
}

TEST(InterpDecode, WriteToTheNextInstructionInThePage) {
  // 0: mov byte [0x10008], 0x40 (turns the following "nop" into "inc eax"); 7: nop; 8: nop
  Machine m({0xC6, 0x05, 0x08, 0x00, 0x01, 0x00, 0x40, 0x90, 0x90, 0x90});
  m.Step();
  m.Step(2);
  EXPECT_EQ(m.reg(kRax), 1u);
}

// Cpu::RunPlain runs plain instructions one after another from the decoded
// page: it stops at its budget and before an instruction that is not plain,
// and a store into the page sends the next fetch back to the bytes.
TEST(InterpDecode, RunPlainStopsAtTheBudgetAndBeforeAnInstructionThatIsNotPlain) {
  // 0: inc eax (x3); 3: out dx, al
  Machine m({0x40, 0x40, 0x40, 0xEE});
  m.reg(kRdx) = kTestPort;
  m.Step(4);  // decodes all four
  ASSERT_EQ(m.device().writes.size(), 1u);
  m.s.rip = kCode;
  EXPECT_EQ(m.cpu->RunPlain(2), 2u);
  EXPECT_EQ(m.s.rip, kCode + 2);
  EXPECT_EQ(m.cpu->RunPlain(100), 1u);  // the OUT is not plain
  EXPECT_EQ(m.s.rip, kCode + 3);
  EXPECT_EQ(m.device().writes.size(), 1u);
  EXPECT_EQ(m.cpu->RunPlain(100), 1u);  // the OUT alone, the whole way
  EXPECT_EQ(m.device().writes.size(), 2u);
  EXPECT_EQ(m.reg(kRax) & 0xFF, 6u);
  EXPECT_EQ(m.cpu->instructions_retired(), 8u);
}

TEST(InterpDecode, RunPlainSeesAStoreIntoItsPage) {
  // 0: inc byte [0x10007]; 6: nop; 7: inc eax (0x40: the store makes it inc ecx, then inc edx); 8: jmp 0
  Machine m({0xFE, 0x05, 0x07, 0x00, 0x01, 0x00, 0x90, 0x40, 0xEB, 0xF6});
  m.Step(4);  // decodes all four; the byte at 7 is 0x41 (inc ecx) from the first store on
  EXPECT_EQ(m.reg(kRcx), 1u);
  ASSERT_EQ(m.s.rip, kCode);
  for (int i = 0; i < 10 && m.s.rip != kCode + 8; ++i) m.cpu->RunPlain(100);
  EXPECT_EQ(m.s.rip, kCode + 8);
  EXPECT_EQ(m.reg(kRcx), 1u);  // not the cached inc ecx
  EXPECT_EQ(m.reg(kRdx), 1u);
  EXPECT_EQ(m.reg(kRax), 0u);
  EXPECT_EQ(m.cpu->instructions_retired(), 7u);
}

// RunPlain checks data accesses against what it worked out as it started
// (Cpu::PlainData): segment limits, a read-only data segment, a base; and
// forgets it when a fault leaves the loop.
TEST(InterpDecode, RunPlainChecksSegmentsOfDataAccesses) {
  // 0: mov eax, [0xFFC]; 6: mov [0x100], eax; 12: mov eax, [0xFFE]
  Machine m({0xA1, 0xFC, 0x0F, 0x00, 0x00, 0x89, 0x05, 0x00, 0x01, 0x00, 0x00, 0xA1, 0xFE, 0x0F, 0x00, 0x00});
  m.s.seg[kDs].base = kData;
  m.s.seg[kDs].limit = 0xFFF;
  m.s.seg[kDs].attrib = (m.s.seg[kDs].attrib & ~0xFu & ~Segment::kG) | 0x1;  // read-only data
  m.Write(kData + 0xFFC, 4, 0x12345678);
  EXPECT_EQ(m.cpu->RunPlain(1), 1u);  // the load within the limit
  EXPECT_EQ(m.reg(kRax), 0x12345678u);
  auto fault_of = [&](uint64_t budget) {
    try {
      m.cpu->RunPlain(budget);
    } catch (const GuestFault& f) {
      return static_cast<int>(f.vector);
    }
    return -1;
  };
  EXPECT_EQ(fault_of(1), kGP);  // the store: DS is read-only
  EXPECT_EQ(m.s.rip, kCode + 5);
  EXPECT_FALSE(m.cpu->plain_data_.valid);
  m.s.seg[kDs].attrib |= 0x2;  // writable
  EXPECT_EQ(m.cpu->RunPlain(1), 1u);
  EXPECT_EQ(m.Read(kData + 0x100, 4), 0x12345678u);
  EXPECT_EQ(fault_of(1), kGP);  // the load's last byte lies beyond the limit
  EXPECT_EQ(m.s.rip, kCode + 11);
  m.s.seg[kDs].limit = 0x1001;
  EXPECT_EQ(m.cpu->RunPlain(1), 1u);
  EXPECT_EQ(m.reg(kRax), 0x1234u);  // the upper half of what lies at 0xFFC, then zeros
}

// RunPlain looks at the instruction boundary (an interrupt the interrupt
// controller may hold) after an MMIO access, not only every 32 instructions.
TEST(InterpDecode, RunPlainLooksForInterruptsAfterAnMmioAccess) {
  // 0: inc eax; 1: mov [0xE0000000], eax (MMIO: no RAM there); 7: inc eax; 8: inc eax; 9: out dx, al
  Machine m({0x40, 0x89, 0x05, 0x00, 0x00, 0x00, 0xE0, 0x40, 0x40, 0xEE});
  m.reg(kRdx) = kTestPort;
  m.s.rflags |= kFlagIf;
  ASSERT_TRUE(m.board().cpu(0).MaybeInterrupt());  // the hint starts set: an interrupt may be pending
  m.Step(5);  // decodes all; takes no interrupt (none is pending), which clears the hint
  ASSERT_FALSE(m.board().cpu(0).MaybeInterrupt());
  m.s.rip = kCode;
  EXPECT_EQ(m.cpu->RunPlain(100), 4u);  // up to the OUT: nothing to look at
  m.board().cpu(0).set_tpr(0);  // sets the hint again (a lower TPR may unblock one)
  ASSERT_TRUE(m.board().cpu(0).MaybeInterrupt());
  m.s.rip = kCode;
  EXPECT_EQ(m.cpu->RunPlain(100), 2u);  // stops after the MMIO store
  EXPECT_EQ(m.s.rip, kCode + 7);
}

// RunPlain remembers which slot ran after each one (Slot::successor): a
// branch that goes both ways, and the page's slots moving when more code on
// the page is decoded, leave it following the instructions at RIP.
TEST(InterpDecode, RunPlainFollowsBranchesBothWaysAndSlotsThatMoved) {
  // 0: inc eax; 1: dec ecx; 2: jnz 0; 4: inc edx; 5: jmp 0x40 ... 0x40: 64 x inc ebx, then out dx, al
  std::vector<uint8_t> code = {0x40, 0x49, 0x75, 0xFC, 0x42, 0xEB, 0x39};
  code.resize(0x40, 0x90);
  code.insert(code.end(), 64, 0x43);
  code.push_back(0xEE);
  Machine m(code);
  m.reg(kRcx) = 2;
  m.Step(8);  // decodes the loop, its fall-through and the jump
  ASSERT_EQ(m.s.rip, kCode + 0x40);
  m.reg(kRax) = 0;
  // Turns of the loop, its fall-through and the jump: 3 * turns + 2 instructions.
  auto run_loop = [&](uint64_t turns) {
    m.s.rip = kCode;
    m.reg(kRcx) = turns;
    m.reg(kRdx) = kTestPort;
    EXPECT_EQ(m.cpu->RunPlain(3 * turns + 2), 3 * turns + 2);
    EXPECT_EQ(m.reg(kRdx), kTestPort + 1u);
    EXPECT_EQ(m.s.rip, kCode + 0x40);
  };
  run_loop(5);
  EXPECT_EQ(m.reg(kRax), 5u);
  // 64 new slots on the page (the vector grows and moves), then the loop again.
  for (int i = 0; i < 64; ++i) m.Step();
  EXPECT_EQ(m.reg(kRbx), 64u);
  run_loop(3);
  EXPECT_EQ(m.reg(kRax), 8u);
}

// Writes that do not come through the vCPU itself (a loader's or DMA's
// GuestMemory::WritePhys, another vCPU's store) make its decodes and blocks
// stale too (hw::CodePages).
TEST(InterpDecode, ALoaderWriteBetweenRunsReplacesCachedDecodes) {
  Machine m({0xB0, 0x01, 0xEB, 0xFC});  // 0: mov al, 1; 2: jmp 0
  m.Step(4);
  EXPECT_EQ(m.reg(kRax) & 0xFF, 1u);
  m.Load(kCode + 1, {0x07});  // from outside: mov al, 7
  m.Step(2);
  EXPECT_EQ(m.reg(kRax) & 0xFF, 7u);
}

// The same between slices (tandem lockstep, the interp_jit fuzz harness),
// on the interpreter and on the JIT: a fuzz input's loader write once ran
// the previous input's code on both sides, each stale in its own way.
TEST(InterpDecode, ALoaderWriteBetweenSlicesReplacesCachedDecodesAndBlocks) {
  for (const bool jit : {false, true}) {
    SCOPED_TRACE(jit ? "jit" : "interp");
    Machine m({0xB0, 0x01, 0xEB, 0xFC}, Mode::kLong64);  // 0: mov al, 1; 2: jmp 0
    if (jit) m.cpu->EnableJit();
    m.cpu->RunSlice(8);
    EXPECT_EQ(m.reg(kRax) & 0xFF, 1u);
    m.Load(kCode + 1, {0x07});  // from outside: mov al, 7
    m.cpu->RunSlice(2);
    EXPECT_EQ(m.reg(kRax) & 0xFF, 7u);
  }
}

TEST(InterpDecode, AnotherVcpusStoreReplacesCachedDecodes) {
  Machine m({0xB0, 0x01, 0xEB, 0xFC});  // 0: mov al, 1; 2: jmp 0
  m.Step(4);  // both instructions decoded and run from the cache
  EXPECT_EQ(m.reg(kRax) & 0xFF, 1u);
  // A second vCPU on the same board: mov byte [kCode + 1], 7
  m.Load(kData, {0xC6, 0x05, (kCode + 1) & 0xFF, ((kCode + 1) >> 8) & 0xFF, (kCode + 1) >> 16, 0x00, 0x07});
  x86::CpuState other = x86::Flat32State(kData);
  Cpu cpu2(m.board(), other);
  cpu2.Step();
  EXPECT_EQ(m.Read(kCode + 1, 1), 7u);
  m.Step(2);
  EXPECT_EQ(m.reg(kRax) & 0xFF, 7u);
}

// The same for the JIT's translated blocks: mov al, N; out to the exit port.
TEST(InterpDecode, OutsideWritesReplaceTranslatedBlocks) {
  const uint8_t exit_port = (kTestPort + 1) & 0xFF;
  // 0: mov al, 1; 2: mov dx, kTestPort + 1; 6: out dx, al; 7: jmp $
  Machine m({0xB0, 0x01, 0x66, 0xBA, exit_port, (kTestPort + 1) >> 8, 0xEE, 0xEB, 0xFE}, Mode::kLong64);
  m.cpu->EnableJit();
  const x86::CpuState start = m.s;
  auto run = [&] {
    m.board().Reset();
    m.s = start;
    EXPECT_EQ(m.cpu->Run().kind, RunOutcome::Kind::kBoardStop);
    return m.board().exit_status();
  };
  EXPECT_EQ(run(), 1);
  EXPECT_EQ(run(), 1);  // the block is translated by now
  m.Load(kCode + 1, {0x07});
  EXPECT_EQ(run(), 7);
  // Another vCPU's store: mov byte [kCode + 1], 9 (64-bit, RIP-free absolute form)
  m.Load(kData, {0xC6, 0x04, 0x25, (kCode + 1) & 0xFF, ((kCode + 1) >> 8) & 0xFF, (kCode + 1) >> 16, 0x00, 0x09});
  x86::CpuState other = start;
  other.rip = kData;
  Cpu cpu2(m.board(), other);
  cpu2.Step();
  EXPECT_EQ(m.Read(kCode + 1, 1), 9u);
  EXPECT_EQ(run(), 9);
  EXPECT_GT(m.cpu->jit()->stats().blocks_invalidated, 0u);
}

// A page whose code has not run for a while lets go of its code mark when
// written (a freed process's text reused for data gets its fast writes
// back); one whose code ran just now keeps it.
TEST(InterpDecode, AWriteLongAfterAPagesCodeRanUnmarksIt) {
  for (const bool jit : {false, true}) {
    SCOPED_TRACE(jit ? "jit" : "interp");
    constexpr uint32_t kLoop = kCode + 0x1000, kIterations = 400000;  // 1.2 million instructions
    auto le32 = [](uint32_t v) { return std::vector<uint8_t>{uint8_t(v), uint8_t(v >> 8), uint8_t(v >> 16), uint8_t(v >> 24)}; };
    std::vector<uint8_t> start = {0xE9};  // jmp kLoop
    for (uint8_t b : le32(kLoop - (kCode + 5))) start.push_back(b);
    Machine m(start);
    if (jit) m.cpu->EnableJit();
    // loop: inc ecx; cmp ecx, kIterations; jne loop
    std::vector<uint8_t> loop = {0x41, 0x81, 0xF9};
    for (uint8_t b : le32(kIterations)) loop.push_back(b);
    loop.insert(loop.end(), {0x75, 0xF7});
    for (uint32_t target : {uint32_t(kCode), kLoop + 0x800}) {  // mov byte [target], 0x90
      loop.insert(loop.end(), {0xC6, 0x05});
      for (uint8_t b : le32(target)) loop.push_back(b);
      loop.push_back(0x90);
    }
    loop.push_back(0xF4);  // hlt
    m.Load(kLoop, loop);
    EXPECT_EQ(m.cpu->RunSlice(2'000'000), SliceEnd::kHalted);
    EXPECT_EQ(m.reg(kRcx), kIterations);
    EXPECT_EQ(m.Read(kCode, 1), 0x90u);
    EXPECT_FALSE(m.cpu->IsCodePage(kCode));
    EXPECT_TRUE(m.cpu->IsCodePage(kLoop));
  }
}

TEST(InterpDecode, DataWritesToACodePageKeepDecodes) {
  // loop: mov [0x10100], eax; inc eax; cmp eax, 100; jne loop
  Machine m({0xA3, 0x00, 0x01, 0x01, 0x00, 0x40, 0x83, 0xF8, 0x64, 0x75, 0xF5});
  for (int i = 0; i < 400; ++i) m.Step();
  EXPECT_EQ(m.reg(kRax), 100u);
  EXPECT_EQ(m.Read(kCode + 0x100, 4), 99u);
}

TEST(InterpDecode, InstructionAcrossAPageBoundary) {
  Machine m({});
  const uint64_t at = kCode + 0xFFE;  // mov eax, imm32 spans 0x10FFE..0x11002
  m.Load(at, {0xB8, 0x78, 0x56, 0x34, 0x12, 0xEB, 0xF9});  // mov eax, ..; jmp back
  m.s.rip = at;
  m.Step();
  EXPECT_EQ(m.reg(kRax), 0x12345678u);
  EXPECT_EQ(m.s.rip, at + 5);
  EXPECT_TRUE(m.cpu->IsCodePage(0x11000));
  m.cpu->WritePhys(0x11001, 1, 0x99);  // a write to the second page only
  EXPECT_EQ(m.Read(0x11001, 1), 0x99u);
  m.Step();
  EXPECT_EQ(m.s.rip, at);
  m.Step();
  EXPECT_EQ(m.reg(kRax), 0x12995678u);
}

TEST(InterpDecode, FetchFaultOnTheSecondPageIsForThatPage) {
  Machine m({}, Mode::kLong64);
  // Remap the first 2 MiB with 4 KiB pages; leave 0x11000 not present.
  m.Write(0x3000, 8, 0x4000 | 3);
  for (uint64_t i = 0; i < 512; ++i) m.Write(0x4000 + i * 8, 8, i == 0x11 ? 0 : (i << 12) | 3);
  m.Load(kCode + 0xFFE, {0x48, 0xB8, 1, 2, 3, 4, 5, 6, 7, 8});  // mov rax, imm64
  m.s.rip = kCode + 0xFFE;
  try {
    m.cpu->Fetch();
    ADD_FAILURE() << "no fault";
  } catch (const GuestFault& f) {
    EXPECT_EQ(f.vector, kPF);
    EXPECT_EQ(m.s.cr2, 0x11000u);
  }
  // A one-byte instruction just before the hole needs no second page.
  m.Load(kCode + 0xFFF, {0x90});
  m.s.rip = kCode + 0xFFF;
  EXPECT_EQ(m.cpu->Fetch().mnemonic, ZYDIS_MNEMONIC_NOP);
}

TEST(InterpDecode, UnimplementedAndUndecodableRaiseUd) {
  for (std::vector<uint8_t> code : {std::vector<uint8_t>{0x66, 0x0F, 0x38, 0x00, 0xC1},  // pshufb (SSSE3): no handler
                                    std::vector<uint8_t>{0xF0, 0x90}}) {       // lock nop: invalid
    Machine m(code, Mode::kReal);
    m.Write(6 * 4, 4, 0x30000040);  // IVT[6] = 3000:0040
    m.Step();
    EXPECT_EQ(m.s.seg[kCs].selector, 0x3000);
    EXPECT_EQ(m.s.rip, 0x40u);
    EXPECT_EQ(m.Read(0x8000 - 6, 2), 0u);  // IP of the faulting instruction
  }
}

TEST(InterpDecode, DecodesOncePerAddressAndMode) {
  Machine m({0x90});
  const DecodedInsn* a = &m.cpu->Fetch();
  const DecodedInsn* b = &m.cpu->Fetch();
  EXPECT_EQ(a, b);
  EXPECT_EQ(a->length, 1);
  EXPECT_TRUE(m.cpu->IsCodePage(kCode));
  EXPECT_FALSE(m.cpu->IsCodePage(kData));
}

TEST(InterpRun, RunsUntilTheBoardStops) {
  // mov ecx, 1000; l: inc eax; loop l; mov dx, port+1; out dx, al; jmp $
  Machine m({0xB9, 0xE8, 0x03, 0x00, 0x00, 0x40, 0xE2, 0xFD, 0x66, 0xBA, (kTestPort + 1) & 0xFF,
             (kTestPort + 1) >> 8, 0xEE, 0xEB, 0xFE});
  RunOutcome out = m.cpu->Run();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kBoardStop);
  EXPECT_EQ(m.board().exit_status(), 1000 & 0xFF);
  EXPECT_EQ(m.reg(kRax), 1000u);
  EXPECT_EQ(m.cpu->instructions_retired(), 1u + 2000 + 2);
}

TEST(InterpRun, HaltWithInterruptsOffEndsTheRun) {
  Machine m({0xFA, 0xF4, 0xEB, 0xFD});  // cli; hlt; jmp back
  RunOutcome out = m.cpu->Run();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kHalted);
  EXPECT_FALSE(m.board().stop_requested());
  EXPECT_TRUE(m.s.halted);
  EXPECT_EQ(m.s.rip, kCode + 2);
}

TEST(InterpRun, EngineWrapsTheCpu) {
  auto board = hw::Board::Create(SmallBoard());
  ASSERT_TRUE(board.ok());
  RecordingDevice device(**board);
  ASSERT_TRUE((*board)->pio().Register(kTestPort, 2, &device, "test").ok());
  std::vector<uint8_t> code = {0xB0, 0x2A, 0x66, 0xBA, (kTestPort + 1) & 0xFF, (kTestPort + 1) >> 8, 0xEE};
  (*board)->memory().WritePhys(kCode, code.data(), code.size());
  auto machine = CreateMachine(**board);
  ASSERT_TRUE(machine.ok());
  EXPECT_EQ((*machine)->name(), "interp");
  auto engine = (*machine)->CreateVcpu(0);
  ASSERT_TRUE(engine.ok());
  (*engine)->SetState(Flat32State(kCode));
  RunOutcome out = (*engine)->Run();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kBoardStop);
  EXPECT_EQ((*board)->exit_status(), 42);
  EXPECT_EQ((*engine)->GetState().rip, kCode + code.size());
  EXPECT_EQ((*engine)->instructions_retired(), 3u);
}

}  // namespace
}  // namespace tandem::accel::interp::testing
