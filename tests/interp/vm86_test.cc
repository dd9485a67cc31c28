// Virtual-8086 mode and the virtual interrupt extensions (SDM vol. 3A ch. 20):
// CLI/STI/PUSHF/POPF/IRET and INT n with and without CR4.VME, CR4.PVI at
// CPL 3; also I/O breakpoint matching (17.2.5) and #AC (6.15).
#include "accel/interp/debug_regs.h"
#include "accel/interp/system_internal.h"
#include "tests/interp/system_test_util.h"

namespace tandem::accel::interp::systest {
namespace {

constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kTss = 0x4000;
constexpr uint32_t kIoMap = 0x88;  // the redirection bitmap is the 32 bytes below it
constexpr uint64_t kVif = kFlagVif, kVip = kFlagVip;

// A v8086 task: CS = 0x1000 (code at 0x10000), SS = DS = 0 with SP 0x8000,
// a 32-bit TSS whose redirection bitmap redirects only INT 21h.
struct V86 : Machine {
  V86() {
    Gdt(kGdt, {0, Desc(0, 0xFFFFF, kCode32), Desc(0, 0xFFFFF, kData32), Desc(kTss, 0x108, 0x9 | Segment::kP)});
    s.idtr = {kIdt, 0xFF * 8 + 7};
    s.tr = Segment{0x18, kTss, 0x108, 0xB | Segment::kP};
    W(kTss + 0x66, 2, kIoMap);
    for (unsigned i = 0; i < 32; ++i) W(kTss + kIoMap - 32 + i, 1, 0xFF);
    W(kTss + kIoMap - 32 + 0x21 / 8, 1, 0xFF & ~(1u << (0x21 % 8)));
    s.rflags = 2 | kFlagVm;
    for (int seg : {kEs, kSs, kDs, kFs, kGs}) LoadRealSegment(*cpu, seg, 0);
    LoadRealSegment(*cpu, kCs, 0x1000);
    s.rip = 0;
    s.gpr[kRsp] = 0x8000;
  }
  // Runs the bytes in CS at a fresh offset (decodes are cached by address).
  void Run(const std::vector<uint8_t>& code) {
    Bytes(s.seg[kCs].base + ip_, code);
    s.rip = ip_;
    ip_ += 16;
    Exec();
  }
  uint64_t ip_ = 0x100;
};

TEST(Vm86, IoplSensitiveInstructionsFaultWithoutVme) {
  V86 m;
  m.s.rflags |= kVif;
  EXPECT_FAULT(m.Run({0xFA}), kGP, 0);  // CLI
  EXPECT_FAULT(m.Run({0xFB}), kGP, 0);  // STI
  EXPECT_FAULT(m.Run({0x9C}), kGP, 0);  // PUSHF
  EXPECT_FAULT(m.Run({0x9D}), kGP, 0);  // POPF
  EXPECT_FAULT(m.Run({0xCF}), kGP, 0);  // IRET
  EXPECT_FAULT(m.Run({0xCD, 0x21}), kGP, 0);
  m.s.rflags |= 3 << 12;
  m.Run({0xFA});
  EXPECT_FALSE(m.s.rflags & kFlagIf);
  EXPECT_TRUE(m.s.rflags & kVif);
}

TEST(Vm86, VmeCliStiChangeVif) {
  V86 m;
  m.s.cr4 |= kCr4Vme;
  m.s.rflags |= kVif | kFlagIf;
  m.Run({0xFA});
  EXPECT_EQ(m.s.rflags & (kVif | kFlagIf), kFlagIf);
  m.Run({0xFB});
  EXPECT_EQ(m.s.rflags & (kVif | kFlagIf), kVif | kFlagIf);
  m.s.rflags = (m.s.rflags & ~kVif) | kVip;
  EXPECT_FAULT(m.Run({0xFB}), kGP, 0);
}

TEST(Vm86, VmePushfPopf) {
  V86 m;
  m.s.cr4 |= kCr4Vme;
  m.s.rflags |= kVif | kFlagCf;
  m.Run({0x9C});  // PUSHF: IF from VIF, IOPL 3
  EXPECT_EQ(m.s.gpr[kRsp], 0x7FFEu);
  EXPECT_EQ(m.R(0x7FFE, 2), 0x3203u);
  EXPECT_FAULT(m.Run({0x66, 0x9C}), kGP, 0);  // PUSHFD
  m.W(0x7FFE, 2, 0x0040);  // ZF, IF clear
  m.Run({0x9D});
  EXPECT_EQ(m.s.rflags & (kVif | kFlagZf | kFlagCf | kFlagIf | kFlagIopl), kFlagZf);
  EXPECT_EQ(m.s.gpr[kRsp], 0x8000u);
  m.s.gpr[kRsp] = 0x7FFE;
  m.W(0x7FFE, 2, 0x3200);  // IF, IOPL 3: VIF set, IOPL kept
  m.Run({0x9D});
  EXPECT_EQ(m.s.rflags & (kVif | kFlagIf | kFlagIopl), kVif);
  m.s.gpr[kRsp] = 0x7FFE;
  m.W(0x7FFE, 2, 0x0100);  // TF
  EXPECT_FAULT(m.Run({0x9D}), kGP, 0);
  m.s.rflags |= kVip;
  m.W(0x7FFE, 2, 0x0200);  // IF with a virtual interrupt pending
  EXPECT_FAULT(m.Run({0x9D}), kGP, 0);
}

TEST(Vm86, VmeIretLoadsVif) {
  V86 m;
  m.s.cr4 |= kCr4Vme;
  m.s.gpr[kRsp] = 0x7FFA;
  m.W(0x7FFA, 2, 0x1234);
  m.W(0x7FFC, 2, 0x2000);
  m.W(0x7FFE, 2, 0x0201);  // IF, CF
  m.Run({0xCF});
  EXPECT_EQ(m.s.seg[kCs].base, 0x20000u);
  EXPECT_EQ(m.s.rip, 0x1234u);
  EXPECT_EQ(m.s.rflags & (kVif | kFlagIf | kFlagCf), kVif | kFlagCf);
  EXPECT_FAULT(m.Run({0x66, 0xCF}), kGP, 0);  // IRETD
}

TEST(Vm86, VmeRedirectsIntThroughTheTaskIvt) {
  V86 m;
  m.s.cr4 |= kCr4Vme;
  m.s.rflags |= kVif | kFlagTf;
  m.W(0x21 * 4, 4, 0x30000010);
  m.Run({0xCD, 0x21});
  EXPECT_EQ(m.s.seg[kCs].selector, 0x3000);
  EXPECT_EQ(m.s.rip, 0x10u);
  EXPECT_EQ(m.s.gpr[kRsp], 0x7FFAu);
  EXPECT_EQ(m.R(0x7FFA, 2), 0x102u);                   // IP after INT 21h
  EXPECT_EQ(m.R(0x7FFC, 2), 0x1000u);                  // CS
  EXPECT_EQ(m.R(0x7FFE, 2), 0x3302u);                  // FLAGS: TF, IF = VIF, IOPL 3
  EXPECT_EQ(m.s.rflags & (kVif | kFlagTf | kFlagVm), kFlagVm);
  // Its bit set: to the protected-mode IDT, which IOPL 0 forbids.
  EXPECT_FAULT(m.Run({0xCD, 0x22}), kGP, 0);
}

TEST(Vm86, PviCliStiAtCpl3) {
  Machine m;
  m.s.seg[kCs] = Segment{0x1B, 0, 0xFFFFFFFF, kCode32 | kDpl3};
  m.s.seg[kSs] = Segment{0x23, 0, 0xFFFFFFFF, kData32 | kDpl3};
  m.s.rflags = 2 | kVif;
  m.Bytes(0x10000, {0xFA});
  m.s.rip = 0x10000;
  EXPECT_FAULT(m.Exec(), kGP, 0);
  m.s.cr4 |= kCr4Pvi;
  m.Exec();
  EXPECT_EQ(m.s.rflags & kVif, 0u);
  m.Bytes(0x10010, {0xFB});
  m.s.rip = 0x10010;
  m.Exec();
  EXPECT_EQ(m.s.rflags & (kVif | kFlagIf), kVif);
}

TEST(DebugRegs, IoBreakpointsNeedCr4DeAndMatchTheirRange) {
  Machine m;
  m.s.dr[1] = 0x80;
  m.s.dr[7] = 0x400 | 0x4 | (2u << 20) | (1u << 22);  // DR1: I/O, 2 bytes
  UpdateDebugState(*m.cpu);
  EXPECT_FALSE(m.cpu->debug_.io_armed);
  m.s.cr4 |= kCr4De;
  UpdateDebugState(*m.cpu);
  ASSERT_TRUE(m.cpu->debug_.io_armed);
  CheckIoBreakpoints(*m.cpu, 0x82, 1);
  CheckIoBreakpoints(*m.cpu, 0x7E, 2);
  EXPECT_EQ(m.cpu->debug_.hits, 0);
  CheckIoBreakpoints(*m.cpu, 0x7F, 2);
  EXPECT_EQ(m.cpu->debug_.hits, 2);
}

TEST(AlignmentCheck, MisalignedDataAtCpl3WithAmAndAc) {
  Machine m;
  m.s.seg[kCs] = Segment{0x1B, 0, 0xFFFFFFFF, kCode32 | kDpl3};
  m.s.seg[kSs] = Segment{0x23, 0, 0xFFFFFFFF, kData32 | kDpl3};
  m.s.rflags = 2 | kFlagAc;
  EXPECT_EQ(m.cpu->ReadLinear(0x5001, 4), 0u);  // CR0.AM clear
  m.s.cr0 |= kCr0Am;
  EXPECT_FAULT(m.cpu->ReadLinear(0x5001, 4), kAC, 0);
  EXPECT_FAULT(m.cpu->WriteLinear(0x5002, 4, 1), kAC, 0);
  EXPECT_FAULT(m.cpu->ReadLinear(0x5004, 8), kAC, 0);
  m.cpu->ReadLinear(0x5001, 1);
  m.cpu->ReadLinear(0x5002, 2);
  m.cpu->WriteLinear(0x5008, 8, 1);
  // Supervisor accesses are not checked.
  m.cpu->ReadLinearSystem(0x5001, 4);
  m.s.seg[kSs] = Segment{0x10, 0, 0xFFFFFFFF, kData32};  // CPL 0
  m.cpu->ReadLinear(0x5001, 4);
}

}  // namespace
}  // namespace tandem::accel::interp::systest
