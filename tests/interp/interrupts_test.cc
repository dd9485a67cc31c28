// Event delivery tests (SDM vol. 3A ch. 6): real-mode IVT frames, 32-bit IDT
// frames with and without a stack switch, gate checks and their error codes,
// #DF escalation and triple fault, 64-bit IDT frames with RSP0 and IST.
#include "accel/interp/jit.h"
#include "tests/interp/system_test_util.h"

namespace tandem::accel::interp::systest {
namespace {

constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kTss = 0x4000;
constexpr uint32_t kIntGate = 0xE, kTrapGate = 0xF;
using Kind = Cpu::EventKind;

uint32_t Tss32Attrib() { return 0xB | Segment::kP; }

struct Protected : Machine {
  Protected() {
    Gdt(kGdt, {0, Desc(0, 0xFFFFF, kCode32), Desc(0, 0xFFFFF, kData32), Desc(0, 0xFFFFF, kCode32 | kDpl3),
               Desc(0, 0xFFFFF, kData32 | kDpl3), Desc(kTss, 0x67, 0x9 | Segment::kP)});
    s.idtr = {kIdt, 0xFF * 8 + 7};
    s.tr = Segment{0x28, kTss, 0x67, Tss32Attrib()};
    W(kTss + 4, 4, 0x9000);  // ESP0
    W(kTss + 8, 4, 0x10);    // SS0
    s.rip = 0x10020;
    s.rflags = 2 | kFlagIf | kFlagCf;
    for (int v : {8, 11, 13, 14}) SetGate(v, Gate32(0x08, 0x11000 + v * 0x10, kIntGate));
  }
  void SetGate(int v, uint64_t g) { W(kIdt + v * 8, 8, g); }
  void ToRing3() {
    s.seg[kCs] = Segment{0x1B, 0, 0xFFFFFFFF, kCode32 | kDpl3};
    s.seg[kSs] = Segment{0x23, 0, 0xFFFFFFFF, kData32 | kDpl3};
    s.seg[kDs] = s.seg[kSs];
    s.gpr[kRsp] = 0x7000;
  }
  uint32_t Stack(int i) { return static_cast<uint32_t>(R(s.gpr[kRsp] + 4 * i, 4)); }
};

TEST(Interrupts, RealModeIvtFrame) {
  Machine m;
  m.s = ResetState();
  m.s.seg[kCs] = Segment{0x1000, 0x10000, 0xFFFF, 0xB | Segment::kS | Segment::kP};
  m.s.rip = 0x100;
  m.s.gpr[kRsp] = 0x8000;
  m.s.rflags = 2 | kFlagIf | kFlagTf | kFlagCf;
  m.W(0x21 * 4, 4, 0x12345678);
  m.cpu->DeliverEvent(0x21, Kind::kSoftware);
  EXPECT_EQ(m.s.gpr[kRsp], 0x7FFAu);
  EXPECT_EQ(m.R(0x7FFA, 2), 0x100u);
  EXPECT_EQ(m.R(0x7FFC, 2), 0x1000u);
  EXPECT_EQ(m.R(0x7FFE, 2), 2u | kFlagIf | kFlagTf | kFlagCf);
  EXPECT_EQ(m.s.seg[kCs].selector, 0x1234);
  EXPECT_EQ(m.s.seg[kCs].base, 0x12340u);
  EXPECT_EQ(m.s.rip, 0x5678u);
  EXPECT_EQ(m.s.rflags, 2u | kFlagCf);
}

TEST(Interrupts, RealModeVectorBeyondIvtLimitEscalates) {
  Machine m;
  m.s = ResetState();
  m.s.gpr[kRsp] = 0x8000;
  m.s.idtr.limit = 0x3F;  // vectors 0..15
  m.W(13 * 4, 4, 0x20000100);
  m.cpu->DeliverEvent(0x30, Kind::kExternal);  // -> #GP, no error code in real mode
  EXPECT_EQ(m.s.seg[kCs].selector, 0x2000);
  EXPECT_EQ(m.s.rip, 0x100u);
  EXPECT_EQ(m.s.gpr[kRsp], 0x7FFAu);
}

TEST(Interrupts, ProtectedSamePrivilegeInterruptGate) {
  Protected m;
  m.cpu->DeliverEvent(13, Kind::kException, true, 0x1234);
  EXPECT_EQ(m.s.rip, 0x11000u + 13 * 0x10);
  EXPECT_EQ(m.s.seg[kCs].selector, 0x08);
  EXPECT_EQ(m.s.gpr[kRsp], 0x9000u - 16);
  EXPECT_EQ(m.Stack(0), 0x1234u);
  EXPECT_EQ(m.Stack(1), 0x10020u);
  EXPECT_EQ(m.Stack(2), 0x08u);
  EXPECT_EQ(m.Stack(3), 2u | kFlagIf | kFlagCf);
  EXPECT_FALSE(m.s.rflags & kFlagIf);
  EXPECT_TRUE(m.s.rflags & kFlagCf);
}

TEST(Interrupts, TrapGateKeepsIfAnd16BitGatePushesWords) {
  Protected m;
  m.SetGate(0x80, Gate32(0x08, 0x12000, kTrapGate, 3));
  m.s.rflags |= kFlagTf | kFlagNt;
  m.cpu->DeliverEvent(0x80, Kind::kSoftware);
  EXPECT_TRUE(m.s.rflags & kFlagIf);
  EXPECT_FALSE(m.s.rflags & (kFlagTf | kFlagNt));
  EXPECT_EQ(m.s.gpr[kRsp], 0x9000u - 12);

  Protected w;
  w.SetGate(0x81, Gate32(0x08, 0x3456, 0x6));  // 16-bit interrupt gate
  w.cpu->DeliverEvent(0x81, Kind::kExternal);
  EXPECT_EQ(w.s.rip, 0x3456u);
  EXPECT_EQ(w.s.gpr[kRsp], 0x9000u - 6);
  EXPECT_EQ(w.R(0x9000 - 6, 2), 0x0020u);  // IP, truncated
  EXPECT_EQ(w.R(0x9000 - 4, 2), 0x08u);
}

TEST(Interrupts, ProtectedPrivilegeChangeUsesTssStack) {
  Protected m;
  m.ToRing3();
  m.SetGate(0x20, Gate32(0x08, 0x13000, kIntGate));
  m.cpu->DeliverEvent(0x20, Kind::kExternal);
  EXPECT_EQ(m.cpu->cpl(), 0);
  EXPECT_EQ(m.s.seg[kSs].selector, 0x10);
  EXPECT_EQ(m.s.seg[kCs].selector, 0x08);
  EXPECT_EQ(m.s.gpr[kRsp], 0x9000u - 20);
  EXPECT_EQ(m.Stack(0), 0x10020u);
  EXPECT_EQ(m.Stack(1), 0x1Bu);
  EXPECT_EQ(m.Stack(2), 2u | kFlagIf | kFlagCf);
  EXPECT_EQ(m.Stack(3), 0x7000u);
  EXPECT_EQ(m.Stack(4), 0x23u);
}

TEST(Interrupts, V8086InterruptSavesSegmentsAndClearsVm) {
  Protected m;
  m.s.rflags |= kFlagVm | (3 << 12);
  for (int seg : {kEs, kCs, kSs, kDs, kFs, kGs}) {
    m.s.seg[seg] = Segment{static_cast<uint16_t>(0x100 + seg), uint64_t(0x100 + seg) << 4, 0xFFFF,
                           0x3 | Segment::kS | Segment::kP | kDpl3};
  }
  m.s.gpr[kRsp] = 0x200;
  m.s.rip = 0x44;
  m.SetGate(0x20, Gate32(0x08, 0x13000, kIntGate));
  m.cpu->DeliverEvent(0x20, Kind::kExternal);
  EXPECT_FALSE(m.s.rflags & kFlagVm);
  EXPECT_EQ(m.s.gpr[kRsp], 0x9000u - 36);
  const uint32_t expect[9] = {0x44, 0x101, static_cast<uint32_t>(2 | kFlagIf | kFlagCf | kFlagVm | (3 << 12)),
                              0x200, 0x102, 0x100, 0x103, 0x104, 0x105};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(m.Stack(i), expect[i]) << i;
  EXPECT_TRUE(m.s.seg[kDs].unusable());
  EXPECT_EQ(m.s.seg[kGs].selector, 0);
}

TEST(Interrupts, SoftwareIntChecksGateDpl) {
  Protected m;
  m.ToRing3();
  m.SetGate(0x21, Gate32(0x08, 0x13000, kIntGate, 0));
  EXPECT_FAULT(m.cpu->DeliverEvent(0x21, Kind::kSoftware), kGP, 0x21 * 8 + 2);
  EXPECT_EQ(m.s.gpr[kRsp], 0x7000u);  // nothing changed
  EXPECT_EQ(m.cpu->cpl(), 3);
}

TEST(Interrupts, GateErrorsCarryExtBit) {
  Protected m;
  m.s.idtr.limit = 0x20 * 8 - 1;
  m.cpu->DeliverEvent(0x40, Kind::kExternal);  // beyond the limit -> #GP(0x40*8+2+1)
  EXPECT_EQ(m.s.rip, 0x11000u + 13 * 0x10);
  EXPECT_EQ(m.Stack(0), 0x40u * 8 + 3);

  Protected n;
  n.SetGate(0x30, Gate32(0x08, 0x13000, kIntGate, 0, false));
  n.cpu->DeliverEvent(0x30, Kind::kExternal);  // not present -> #NP(0x30*8+3)
  EXPECT_EQ(n.s.rip, 0x11000u + 11 * 0x10);
  EXPECT_EQ(n.Stack(0), 0x30u * 8 + 3);

  Protected c;
  c.SetGate(0x31, Gate32(0x38, 0x13000, kIntGate));  // selector beyond the GDT
  c.cpu->DeliverEvent(0x31, Kind::kExternal);
  EXPECT_EQ(c.s.rip, 0x11000u + 13 * 0x10);
  EXPECT_EQ(c.Stack(0), 0x39u);
}

TEST(Interrupts, ContributoryDuringContributoryIsDoubleFault) {
  Protected m;
  m.SetGate(13, Gate32(0x08, 0x11000, kIntGate, 0, false));
  m.cpu->DeliverEvent(13, Kind::kException, true, 0);  // #GP -> #NP -> #DF
  EXPECT_EQ(m.s.rip, 0x11000u + 8 * 0x10);
  EXPECT_EQ(m.Stack(0), 0u);
  EXPECT_EQ(m.Stack(1), 0x10020u);

  Protected p;
  p.SetGate(14, Gate32(0x08, 0x11000, kIntGate, 0, false));
  p.cpu->DeliverEvent(14, Kind::kException, true, 2);  // #PF -> #NP -> #DF
  EXPECT_EQ(p.s.rip, 0x11000u + 8 * 0x10);
}

TEST(Interrupts, BenignThenContributoryIsDeliveredSerially) {
  Protected m;
  m.SetGate(3, Gate32(0x08, 0x11000, kIntGate, 3, false));
  m.cpu->DeliverEvent(3, Kind::kException);  // #BP gate absent -> #NP, not #DF
  EXPECT_EQ(m.s.rip, 0x11000u + 11 * 0x10);
  EXPECT_EQ(m.Stack(0), 3u * 8 + 3);
}

TEST(Interrupts, FaultDuringDoubleFaultIsTripleFault) {
  Protected m;
  m.SetGate(13, Gate32(0x08, 0x11000, kIntGate, 0, false));
  m.SetGate(8, Gate32(0x08, 0x11000, kIntGate, 0, false));
  EXPECT_THROW(m.cpu->DeliverEvent(13, Kind::kException, true, 0), TripleFault);
}

// 64-bit IDT gate.
void Gate64(Machine& m, int v, uint16_t sel, uint64_t offset, uint32_t type, int dpl = 0, int ist = 0) {
  uint64_t lo = (offset & 0xFFFF) | (uint64_t{sel} << 16) | (uint64_t(ist) << 32) | (uint64_t{type} << 40) |
                (uint64_t(dpl) << 45) | (1ull << 47) | (((offset >> 16) & 0xFFFF) << 48);
  m.W(kIdt + v * 16, 8, lo);
  m.W(kIdt + v * 16 + 8, 8, offset >> 32);
}

struct Long : Machine {
  Long() {
    Gdt(kGdt, {0, Desc(0, 0xFFFFF, kCode64), Desc(0, 0xFFFFF, kData32), Desc(0, 0xFFFFF, kCode64 | kDpl3),
               Desc(0, 0xFFFFF, kData32 | kDpl3)});
    s.msr.efer |= kEferLme | kEferLma;
    s.cr4 |= kCr4Pae;
    s.seg[kCs] = Segment{0x08, 0, 0xFFFFFFFF, kCode64};
    s.idtr = {kIdt, 0xFF * 16 + 15};
    s.tr = Segment{0x28, kTss, 0x67, Tss32Attrib()};
    W(kTss + 4, 8, 0xA000);         // RSP0
    W(kTss + 0x24 + 8, 8, 0xB008);  // IST2
    s.rip = 0x10020;
    s.rflags = 2 | kFlagIf;
    s.gpr[kRsp] = 0x9008;
  }
  uint64_t Stack(int i) { return R(s.gpr[kRsp] + 8 * i, 8); }
};

TEST(Interrupts, LongModeFrameAlignedAndAlwaysWithSs) {
  Long m;
  Gate64(m, 14, 0x08, 0xFFFFFFFF80001000ull, kIntGate);
  m.cpu->DeliverEvent(14, Kind::kException, true, 6);
  EXPECT_EQ(m.s.rip, 0xFFFFFFFF80001000ull);
  EXPECT_EQ(m.s.gpr[kRsp], 0x9000u - 48);
  const uint64_t expect[6] = {6, 0x10020, 0x08, 2 | kFlagIf, 0x9008, 0x10};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(m.Stack(i), expect[i]) << i;
  EXPECT_FALSE(m.s.rflags & kFlagIf);
}

TEST(Interrupts, LongModePrivilegeChangeAndIst) {
  Long m;
  m.s.seg[kCs] = Segment{0x1B, 0, 0xFFFFFFFF, kCode64 | kDpl3};
  m.s.seg[kSs] = Segment{0x23, 0, 0xFFFFFFFF, kData32 | kDpl3};
  m.s.gpr[kRsp] = 0x7777;
  Gate64(m, 0x20, 0x08, 0x14000, kIntGate);
  m.cpu->DeliverEvent(0x20, Kind::kExternal);
  EXPECT_EQ(m.cpu->cpl(), 0);
  EXPECT_EQ(m.s.seg[kSs].selector, 0);
  EXPECT_TRUE(m.s.seg[kSs].unusable());
  EXPECT_EQ(m.s.gpr[kRsp], 0xA000u - 40);
  EXPECT_EQ(m.Stack(3), 0x7777u);
  EXPECT_EQ(m.Stack(4), 0x23u);

  Long n;
  Gate64(n, 2, 0x08, 0x15000, kIntGate, 0, 2);
  n.cpu->DeliverEvent(2, Kind::kExternal);
  EXPECT_EQ(n.s.gpr[kRsp], 0xB000u - 40);
  EXPECT_EQ(n.Stack(3), 0x9008u);
}

TEST(Interrupts, SyscallAndSysretSingleStepOnTheTfTheyLeave) {
  Long m;
  Gate64(m, 1, 0x08, 0x15000, kIntGate);
  m.s.msr.efer |= kEferSce;
  m.s.msr.star = (0x08ull << 48) | (0x08ull << 32);
  m.s.msr.lstar = 0x12000;
  m.s.msr.sfmask = kFlagTf;
  m.s.rflags = 2 | kFlagTf;
  m.Bytes(0x10020, {0x0F, 0x05});        // syscall: FMASK clears TF, so no trap
  m.Bytes(0x12000, {0x48, 0x0F, 0x07});  // sysretq: loads TF from R11 and traps at once
  m.cpu->Step();
  EXPECT_EQ(m.s.rip, 0x12000u);
  m.s.gpr[kR11] = 2 | kFlagTf;
  m.s.gpr[kRcx] = 0x10100;
  m.cpu->Step();
  EXPECT_EQ(m.s.rip, 0x15000u);
  EXPECT_EQ(m.Stack(0), 0x10100u);
  EXPECT_EQ(m.Stack(1), 0x1Bu);
  EXPECT_TRUE(m.s.dr[6] & (1u << 14));
}

// The same SYSRETQ at the end of a JIT block, where the interpreter runs it:
// the trap comes after it too, not after the instruction it returns to.
TEST(Interrupts, SysretEndingAJitBlockSingleStepsOnTheTfItLoads) {
  Long m;
  Gate64(m, 1, 0x08, 0x15000, kIntGate);
  m.s.msr.efer |= kEferSce;
  m.s.msr.star = (0x08ull << 48) | (0x08ull << 32);
  m.Bytes(0x10020, {0xFF, 0xC0, 0x48, 0x0F, 0x07});  // inc eax; sysretq
  m.s.gpr[kR11] = 2 | kFlagTf;
  m.s.gpr[kRcx] = 0x10100;
  m.cpu->EnableJit();
  EXPECT_EQ(m.cpu->jit_->RunBlock(100), 2u);
  EXPECT_EQ(m.s.gpr[kRax], 1u);
  EXPECT_EQ(m.s.rip, 0x15000u);
  EXPECT_EQ(m.Stack(0), 0x10100u);
  EXPECT_EQ(m.Stack(1), 0x1Bu);
  EXPECT_TRUE(m.s.dr[6] & (1u << 14));
}

TEST(Interrupts, FaultsPushRfAndRfLastsOneInstruction) {
  Long m;
  Gate64(m, 6, 0x08, 0x15000, kIntGate);
  m.Bytes(0x10020, {0x0F, 0x0B});  // ud2
  m.Bytes(0x15000, {0x48, 0xCF});  // iretq
  m.cpu->Step();
  EXPECT_EQ(m.s.rip, 0x15000u);
  EXPECT_EQ(m.Stack(2), 2u | kFlagIf | kFlagRf);  // the pushed image has RF
  EXPECT_FALSE(m.s.rflags & kFlagRf);
  m.Bytes(0x10030, {0x90});
  m.W(m.s.gpr[kRsp], 8, 0x10030);  // the handler skips the instruction
  m.cpu->Step();                   // iretq loads RF=1 and keeps it
  EXPECT_EQ(m.s.rip, 0x10030u);
  EXPECT_TRUE(m.s.rflags & kFlagRf);
  m.cpu->Step();  // the next instruction clears it
  EXPECT_EQ(m.s.rip, 0x10031u);
  EXPECT_FALSE(m.s.rflags & kFlagRf);
}

TEST(Interrupts, MovSsHoldsTheSingleStepTrapForOneInstruction) {
  Long m;
  Gate64(m, 1, 0x08, 0x15000, kIntGate);
  m.Bytes(0x10020, {0x8E, 0xD0, 0x90});  // mov ss, eax; nop
  m.s.gpr[kRax] = 0x10;
  m.s.rflags |= kFlagTf;
  m.cpu->Step();
  EXPECT_EQ(m.s.rip, 0x10022u);  // no #DB after MOV SS
  m.cpu->Step();
  EXPECT_EQ(m.s.rip, 0x15000u);
  EXPECT_EQ(m.Stack(0), 0x10023u);
}

TEST(Interrupts, SoftwareInterruptsAreNotSingleStepped) {
  Long m;
  Gate64(m, 1, 0x08, 0x15000, kIntGate);
  Gate64(m, 3, 0x08, 0x16000, kIntGate);
  m.Bytes(0x10020, {0xCC});  // int3
  m.s.rflags |= kFlagTf;
  m.cpu->Step();
  EXPECT_EQ(m.s.rip, 0x16000u);  // in the #BP handler, no #DB on top
  EXPECT_EQ(m.Stack(0), 0x10021u);
  EXPECT_FALSE(m.s.dr[6] & (1u << 14));
}

TEST(Interrupts, LongModeRejectsLegacyGatesAndNonLongCode) {
  Long m;
  m.W(kIdt + 13 * 16, 8, Gate32(0x08, 0x11000, kIntGate));  // for the #GP itself
  m.W(kIdt + 13 * 16 + 8, 8, 0);
  Gate64(m, 8, 0x08, 0x16000, kIntGate);
  m.W(kIdt + 0x40 * 16, 8, Gate32(0x08, 0x11000, 0x6));  // 16-bit gate: invalid in long mode
  m.W(kIdt + 0x40 * 16 + 8, 8, 0);
  m.cpu->DeliverEvent(0x40, Kind::kExternal);  // #GP(0x203) delivered through gate 13
  EXPECT_EQ(m.s.rip, 0x11000u);
  EXPECT_EQ(m.Stack(0), 0x40u * 8 + 3);

  Long c;
  Gate64(c, 13, 0x08, 0x11000, kIntGate);
  Gate64(c, 0x41, 0x10, 0x11000, kIntGate);  // data segment as the handler's CS
  c.cpu->DeliverEvent(0x41, Kind::kExternal);
  EXPECT_EQ(c.Stack(0), 0x11u);
}

}  // namespace
}  // namespace tandem::accel::interp::systest
