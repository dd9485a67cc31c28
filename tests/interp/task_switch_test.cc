// Call gate and task switch cases the guests (call_gates.asm, task_switch.asm)
// cannot show on every engine (SDM vol. 3A 5.8, ch. 7): limits that the
// sandbox's TCG-emulated SVM does not check, the TSS T flag (KVM ignores it),
// faults in the new task's context, a task switch into virtual-8086 mode,
// the new stack's #SS(selector) and long mode's refusals.
#include "tests/interp/system_test_util.h"

namespace tandem::accel::interp::systest {
namespace {

constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kTssA = 0x4000, kTssB = 0x4100;
constexpr uint64_t kCode = 0x10020;
constexpr uint32_t kIntGate = 0xE;
constexpr uint32_t kTss32 = 0x9 | Segment::kP;

// GDT: 08 code, 10 data, 18 code DPL 3, 20 data DPL 3, 28 TSS A (busy),
// 30 TSS B, 38 16-bit code limit FFFF, 40 data limit 0Fh (byte granular),
// 48 call gate slot, 50 call gate slot.
struct Tasks : Machine {
  Tasks() {
    Gdt(kGdt, {0, Desc(0, 0xFFFFF, kCode32), Desc(0, 0xFFFFF, kData32), Desc(0, 0xFFFFF, kCode32 | kDpl3),
               Desc(0, 0xFFFFF, kData32 | kDpl3), Desc(kTssA, 0x67, 0xB | Segment::kP), Desc(kTssB, 0x67, kTss32),
               Desc(0, 0xFFFF, 0xB | Segment::kS | Segment::kP), Desc(0, 0xF, 0x3 | Segment::kS | Segment::kP), 0,
               0});
    s.idtr = {kIdt, 0xFF * 8 + 7};
    s.tr = Segment{0x28, kTssA, 0x67, 0xB | Segment::kP};
    W(kTssA + 4, 4, 0x9000);  // ESP0
    W(kTssA + 8, 4, 0x10);    // SS0
    s.rip = kCode;
    for (int v : {1, 10, 11, 12, 13}) W(kIdt + v * 8, 8, Gate32(0x08, 0x11000 + v * 0x10, kIntGate));
    // Task B: ring 0, flat.
    W(kTssB + 0x20, 4, 0x12000);  // EIP
    W(kTssB + 0x24, 4, 2);        // EFLAGS
    W(kTssB + 0x38, 4, 0xA000);   // ESP
    const uint16_t segs[6] = {0x10, 0x08, 0x10, 0x10, 0x10, 0x10};
    for (int i = 0; i < 6; ++i) W(kTssB + 0x48 + i * 4, 4, segs[i]);
  }
  void ToRing3() {
    s.seg[kCs] = Segment{0x1B, 0, 0xFFFFFFFF, kCode32 | kDpl3};
    s.seg[kSs] = Segment{0x23, 0, 0xFFFFFFFF, kData32 | kDpl3};
    s.gpr[kRsp] = 0x7000;
  }
  // A far JMP (EA) or CALL (9A) to sel:0 at CS:EIP.
  void Far(uint8_t opcode, uint16_t sel) { Code(kCode, {opcode, 0, 0, 0, 0, uint8_t(sel), uint8_t(sel >> 8)}); }
  // Code written from outside: the vCPU drops what it decoded there before.
  void Code(uint64_t pa, const std::vector<uint8_t>& bytes) {
    Bytes(pa, bytes);
    cpu->SyncCodeWrites();
  }
  void CallGate(int index, uint16_t cs, uint32_t offset, int dpl, unsigned count = 0) {
    W(kGdt + index * 8, 8,
      (offset & 0xFFFF) | (uint64_t{cs} << 16) | (uint64_t{count} << 32) | (0xCull << 40) | (uint64_t(dpl) << 45) |
          (1ull << 47) | (uint64_t{offset >> 16} << 48));
  }
};

TEST(InterpCallGates, OffsetBeyondTheTargetLimitIsGp0) {
  Tasks m;
  m.CallGate(9, 0x38, 0x12345, 0);
  m.Far(0x9A, 0x48);
  EXPECT_FAULT(m.Exec(), kGP, 0);
  m.Far(0xEA, 0x48);
  EXPECT_FAULT(m.Exec(), kGP, 0);
  EXPECT_EQ(m.s.seg[kCs].selector, 0x08);
}

TEST(InterpCallGates, InnerStackWithoutRoomIsSsOfTheNewSelector) {
  Tasks m;
  m.ToRing3();
  m.CallGate(9, 0x08, 0x13000, 3, 2);
  m.W(kTssA + 4, 4, 0xC);   // ESP0: 12 bytes of the 16-byte segment 40h
  m.W(kTssA + 8, 4, 0x40);  // SS0
  m.Far(0x9A, 0x4B);
  EXPECT_FAULT(m.Exec(), kSS, 0x40);
  EXPECT_EQ(m.cpu->cpl(), 3);  // nothing committed
  EXPECT_EQ(m.s.gpr[kRsp], 0x7000u);
}

TEST(InterpCallGates, InnerCallChecksTheStackBeforeTheOffset) {
  Tasks m;
  m.ToRing3();
  m.CallGate(9, 0x38, 0x12345, 3);  // offset beyond the limit and a bad SS0
  m.W(kTssA + 8, 4, 0x23);
  m.Far(0x9A, 0x4B);
  EXPECT_FAULT(m.Exec(), kTS, 0x20);
}

TEST(InterpCallGates, LongModeGateNeedsA64BitTarget) {
  Tasks m;
  m.s.msr.efer |= kEferLme | kEferLma;
  m.s.cr4 |= kCr4Pae;
  m.CallGate(9, 0x08, 0x13000, 0);  // 32-bit code target
  m.W(kGdt + 10 * 8, 8, 0);         // upper half, type 0
  m.Far(0x9A, 0x48);
  EXPECT_FAULT(m.Exec(), kGP, 0x08);
  m.Far(0x9A, 0x30);  // a TSS: no task switches in long mode
  EXPECT_FAULT(m.Exec(), kGP, 0x30);
}

TEST(InterpTaskSwitch, TFlagTrapsBeforeTheFirstInstruction) {
  Tasks m;
  m.W(kTssB + 0x64, 2, 1);  // T
  m.s.dr[7] = 0x401 | 0x2;  // L0 and G0
  m.Far(0xEA, 0x30);
  m.Exec();
  EXPECT_EQ(m.s.tr.selector, 0x30);
  EXPECT_EQ(m.s.rip, 0x11000u + 1 * 0x10);  // in the #DB handler
  EXPECT_EQ(m.R(0xA000 - 12, 4), 0x12000u);  // its frame: the new task's first EIP
  EXPECT_TRUE(m.s.dr[6] & (1u << 15));      // BT
  EXPECT_EQ(m.s.dr[7] & 0xFF, 0x2u);        // local enables cleared, global kept
  EXPECT_TRUE(m.s.cr0 & kCr0Ts);
  EXPECT_EQ(m.R(kTssA + 0x20, 4), kCode + 7);  // A's EIP saved
  EXPECT_EQ(m.R(kGdt + 0x28 + 5, 1) & 2, 0u);  // JMP: A not busy
  EXPECT_EQ(m.R(kGdt + 0x30 + 5, 1) & 2, 2u);
}

TEST(InterpTaskSwitch, BadSegmentFaultsInTheNewTask) {
  Tasks m;
  m.W(kTssB + 0x54, 4, 0x98);  // DS beyond the GDT limit
  m.s.gpr[kRax] = 0xAAAA;
  m.W(kTssB + 0x28, 4, 0xBBBB);
  m.Far(0x9A, 0x30);
  EXPECT_FAULT(m.Exec(), kTS, 0x98);
  // The switch committed: the fault belongs to task B.
  EXPECT_EQ(m.s.tr.selector, 0x30);
  EXPECT_EQ(m.s.rip, 0x12000u);
  EXPECT_EQ(m.s.gpr[kRax], 0xBBBBu);
  EXPECT_TRUE(m.s.rflags & kFlagNt);
  EXPECT_EQ(m.R(kTssB, 2), 0x28u);  // back link
  EXPECT_EQ(m.R(kTssA + 0x28, 4), 0xAAAAu);
}

TEST(InterpTaskSwitch, IntThroughATaskGateFaultingInTheNewTaskIsDeliveredThere) {
  Tasks m;
  m.W(kTssB + 0x54, 4, 0x98);                            // DS beyond the GDT limit
  m.W(kIdt + 0x40 * 8, 8, (0x30ull << 16) | (0xE5ull << 40));  // task gate DPL 3
  m.Code(kCode, {0xCD, 0x40});                          // INT 40h
  m.Exec();
  EXPECT_EQ(m.s.tr.selector, 0x30);
  EXPECT_EQ(m.s.rip, 0x11000u + 10 * 0x10);  // #TS handler, in task B
  EXPECT_EQ(m.R(m.s.gpr[kRsp], 4), 0x98u);   // error code
  EXPECT_EQ(m.R(m.s.gpr[kRsp] + 4, 4), 0x12000u);
  EXPECT_EQ(m.R(kTssA + 0x20, 4), kCode + 2);  // A resumes after the INT
}

TEST(InterpTaskSwitch, ExceptionThroughATaskGatePushesItsErrorCode) {
  Tasks m;
  m.W(kIdt + 13 * 8, 8, (0x30ull << 16) | (0x85ull << 40));
  m.cpu->DeliverEvent(13, Cpu::EventKind::kException, true, 0x1234);
  EXPECT_EQ(m.s.tr.selector, 0x30);
  EXPECT_EQ(m.s.rip, 0x12000u);
  EXPECT_EQ(m.s.gpr[kRsp], 0xA000u - 4);
  EXPECT_EQ(m.R(0xA000 - 4, 4), 0x1234u);
  EXPECT_EQ(m.R(kTssA + 0x20, 4), kCode);
}

TEST(InterpTaskSwitch, IntoVirtual8086Mode) {
  Tasks m;
  m.W(kTssB + 0x24, 4, 2 | kFlagVm);
  m.W(kTssB + 0x20, 4, 0x100);
  const uint16_t segs[6] = {0x1000, 0x2000, 0x3000, 0x4000, 0x5000, 0x6000};
  for (int i = 0; i < 6; ++i) m.W(kTssB + 0x48 + i * 4, 4, segs[i]);
  m.Far(0xEA, 0x30);
  m.Exec();
  EXPECT_TRUE(m.s.rflags & kFlagVm);
  EXPECT_EQ(m.cpu->cpl(), 3);
  EXPECT_EQ(m.s.seg[kCs].base, 0x20000u);
  EXPECT_EQ(m.s.seg[kGs].base, 0x60000u);
  EXPECT_EQ(m.s.rip, 0x100u);
}

TEST(InterpTaskSwitch, RefusedTargets) {
  Tasks m;
  m.Far(0xEA, 0x28);  // the running (busy) task
  EXPECT_FAULT(m.Exec(), kGP, 0x28);
  m.W(kGdt + 0x30 + 5, 1, 0x89 & ~0x80);  // B not present
  m.Far(0x9A, 0x30);
  EXPECT_FAULT(m.Exec(), kNP, 0x30);
  m.s.ldtr = Segment{0x50, 0x5000, 0x3F, 0x2 | Segment::kP};
  m.W(0x5000 + 0x30, 8, Desc(kTssB, 0x67, kTss32));
  m.Far(0xEA, 0x34);  // a TSS descriptor in the LDT
  EXPECT_FAULT(m.Exec(), kGP, 0x34);
  EXPECT_EQ(m.s.tr.selector, 0x28);
  Tasks r;
  r.ToRing3();
  r.Far(0x9A, 0x30);  // DPL 0 TSS from ring 3
  EXPECT_FAULT(r.Exec(), kGP, 0x30);
  EXPECT_EQ(r.s.tr.selector, 0x28);
}

TEST(InterpTaskSwitch, IretWithNtReturnsThroughTheBackLink) {
  Tasks m;
  m.Far(0x9A, 0x30);
  m.Exec();
  ASSERT_EQ(m.s.tr.selector, 0x30);
  m.Code(0x12000, {0xCF});  // IRETD
  m.Exec();
  EXPECT_EQ(m.s.tr.selector, 0x28);
  EXPECT_EQ(m.s.rip, kCode + 7);
  EXPECT_FALSE(m.s.rflags & kFlagNt);
  EXPECT_EQ(m.R(kGdt + 0x30 + 5, 1) & 2, 0u);  // B not busy
  EXPECT_EQ(m.R(kTssB + 0x20, 4), 0x12001u);
  EXPECT_FALSE(m.R(kTssB + 0x24, 4) & kFlagNt);  // saved without NT
}

}  // namespace
}  // namespace tandem::accel::interp::systest
