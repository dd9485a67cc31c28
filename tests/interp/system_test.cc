// System instruction tests, run through the decoder: the real -> protected
// -> long mode switch, MOV CR checks and TLB flushes, CPUID, RDTSC, MSRs,
// descriptor-table instructions, CLI/STI/HLT privilege, INT/IRET, far RET to
// an outer ring, IRETQ, SYSCALL/SYSRET, MOV SS shadow, far JMP checks, LAR/LSL.
#include <cstring>

#include "tests/interp/system_test_util.h"

namespace tandem::accel::interp::systest {
namespace {

constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kTss = 0x4000;

struct Pm : Machine {
  explicit Pm(hw::Clock* clock = nullptr) : Machine(16ull << 20, clock) {
    Gdt(kGdt, {0, Desc(0, 0xFFFFF, kCode32), Desc(0, 0xFFFFF, kData32), Desc(0, 0xFFFFF, kCode32 | kDpl3),
               Desc(0, 0xFFFFF, kData32 | kDpl3), Desc(kTss, 0x67, 0x9 | Segment::kP),
               Desc(0x5000, 0xFF, 0x2 | Segment::kP), Desc(0, 0xFFFFF, kCode64)});
    s.idtr = {kIdt, 0x7FF};
  }
  void Code(const std::vector<uint8_t>& bytes) { Bytes(s.rip, bytes); }
  void ToRing3() {
    s.seg[kCs] = Segment{0x1B, 0, 0xFFFFFFFF, kCode32 | kDpl3};
    s.seg[kSs] = Segment{0x23, 0, 0xFFFFFFFF, kData32 | kDpl3};
  }
};

TEST(System, RealToProtectedToLongMode) {
  Machine m;
  m.s = ResetState();
  m.s.seg[kCs] = Segment{0x1000, 0x10000, 0xFFFF, 0xB | Segment::kS | Segment::kP};
  m.s.seg[kDs] = Segment{0x1000, 0x10000, 0xFFFF, 0x3 | Segment::kS | Segment::kP};
  m.s.rip = 0;
  m.s.gpr[kRsp] = 0x8000;
  m.Gdt(kGdt, {0, Desc(0, 0xFFFFF, kCode32), Desc(0, 0xFFFFF, kData32), Desc(0, 0xFFFFF, kCode64)});
  m.s.gdtr = {};
  m.W(0x10100, 2, 0x1F);
  m.W(0x10102, 4, kGdt);
  m.Bytes(0x10000, {0x0F, 0x01, 0x16, 0x00, 0x01,                     // lgdt [0x100]
                    0x0F, 0x20, 0xC0,                                 // mov eax, cr0
                    0x66, 0x83, 0xC8, 0x01,                           // or eax, 1
                    0x0F, 0x22, 0xC0,                                 // mov cr0, eax
                    0x66, 0xEA, 0x20, 0x00, 0x01, 0x00, 0x08, 0x00}); // jmp dword 0x08:0x10020
  m.Bytes(0x10020, {0xB8, 0x10, 0x00, 0x00, 0x00,                     // mov eax, 0x10
                    0x8E, 0xD8,                                       // mov ds, eax
                    0x8E, 0xD0,                                       // mov ss, eax
                    0x0F, 0x20, 0xE0,                                 // mov eax, cr4
                    0x83, 0xC8, 0x20,                                 // or eax, PAE
                    0x0F, 0x22, 0xE0,                                 // mov cr4, eax
                    0xB8, 0x00, 0x00, 0x10, 0x00,                     // mov eax, 0x100000
                    0x0F, 0x22, 0xD8,                                 // mov cr3, eax
                    0xB9, 0x80, 0x00, 0x00, 0xC0,                     // mov ecx, EFER
                    0x0F, 0x32,                                       // rdmsr
                    0x0D, 0x00, 0x01, 0x00, 0x00,                     // or eax, LME
                    0x0F, 0x30,                                       // wrmsr
                    0x0F, 0x20, 0xC0,                                 // mov eax, cr0
                    0x0D, 0x00, 0x00, 0x00, 0x80,                     // or eax, PG
                    0x0F, 0x22, 0xC0,                                 // mov cr0, eax
                    0xEA, 0x80, 0x00, 0x01, 0x00, 0x18, 0x00});       // jmp 0x18:0x10080
  m.Bytes(0x10080, {0x48, 0xB8, 0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11,  // mov rax, imm64
                    0xF4});                                                      // hlt
  m.W(0x100000, 8, 0x101003);
  m.W(0x101000, 8, 0x102003);
  m.W(0x102000, 8, 0x83);  // 2 MiB identity page

  for (int i = 0; i < 5; ++i) m.Exec();
  EXPECT_EQ(m.s.gdtr.base, kGdt);
  EXPECT_EQ(ModeOf(m.s), CpuMode::kProtected32);
  EXPECT_EQ(m.s.seg[kCs].selector, 0x08);
  EXPECT_EQ(m.s.rip, 0x10020u);
  for (int i = 0; i < 16; ++i) m.Exec();
  EXPECT_TRUE(m.s.msr.efer & kEferLma);
  EXPECT_EQ(ModeOf(m.s), CpuMode::kLong64);
  EXPECT_EQ(m.s.rip, 0x10080u);
  m.Exec();
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax], 0x1122334455667788ull);
  EXPECT_TRUE(m.s.halted);
}

TEST(System, MovCrChecks) {
  Pm m;
  m.Code({0x0F, 0x22, 0xC0});  // mov cr0, eax
  m.s.gpr[kRax] = kCr0Pg | kCr0Et;  // PG without PE
  EXPECT_FAULT(m.Exec(), kGP, 0);
  m.s.gpr[kRax] = kCr0Pe | kCr0Nw;  // NW without CD
  EXPECT_FAULT(m.Exec(), kGP, 0);
  m.s.msr.efer |= kEferLme;
  m.s.gpr[kRax] = kCr0Pe | kCr0Pg;  // long mode without PAE
  EXPECT_FAULT(m.Exec(), kGP, 0);
  EXPECT_EQ(m.s.rip, 0x10000u);
  m.s.msr.efer = 0;

  Pm r;
  r.Code({0x0F, 0x22, 0xE0});  // mov cr4, eax
  r.s.gpr[kRax] = kCr4Osxsave;  // not advertised
  EXPECT_FAULT(r.Exec(), kGP, 0);
  r.ToRing3();
  r.s.gpr[kRax] = 0;
  EXPECT_FAULT(r.Exec(), kGP, 0);

  Pm f;
  f.Code({0x0F, 0x22, 0xD8});  // mov cr3, eax
  f.cpu->Translate(0x5000, Access::kRead, false);
  EXPECT_EQ(f.cpu->sys_.tlb.entries[5].page, 5u);
  f.s.gpr[kRax] = 0x100000;
  f.Exec();
  EXPECT_EQ(f.s.cr3, 0x100000u);
  EXPECT_EQ(f.cpu->sys_.tlb.entries[5].page, TlbEntry::kInvalid);
}

TEST(System, CpuidAnswersFromTheModel) {
  Pm m;
  m.Code({0x0F, 0xA2, 0x0F, 0xA2});
  m.s.gpr[kRax] = 0xFFFFFFFF00000000ull;
  m.s.gpr[kRcx] = 0;
  m.Exec();
  CpuidResult r = m.board->cpuid().Query(0, 0);
  EXPECT_EQ(m.s.gpr[kRax], r.eax);
  EXPECT_EQ(m.s.gpr[kRbx], r.ebx);
  EXPECT_EQ(m.s.gpr[kRdx], r.edx);
  EXPECT_EQ(m.s.gpr[kRcx], r.ecx);
  m.s.gpr[kRax] = 0x80000008;
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax], 0x3028u);
}

TEST(System, CpuidApicBitFollowsApicBaseEnable) {
  Pm m;
  m.Code({0x0F, 0xA2});
  auto leaf1_edx = [&] {
    m.s.rip = 0x10000;
    m.s.gpr[kRax] = 1;
    m.Exec();
    return m.s.gpr[kRdx];
  };
  ASSERT_TRUE(m.board->cpuid().Query(1, 0).edx & cpuid_bits::kEdxApic);
  EXPECT_TRUE(leaf1_edx() & cpuid_bits::kEdxApic);
  m.s.msr.apic_base &= ~uint64_t{1 << 11};  // globally disabled
  EXPECT_FALSE(leaf1_edx() & cpuid_bits::kEdxApic);
}

TEST(System, RdtscCountsNanosecondsFromTheBoardClock) {
  hw::ManualClock clock;
  clock.Set(5'000'000);
  Pm m(&clock);
  m.Code({0x0F, 0x31, 0x0F, 0x31, 0x0F, 0x30, 0x0F, 0x31});
  m.s.tsc = 100;
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax], 100u);
  clock.Advance(1234);
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax], 1334u);
  // WRMSR TSC then RDTSC.
  m.s.gpr[kRcx] = 0x10;
  m.s.gpr[kRdx] = 1;
  m.s.gpr[kRax] = 0;
  m.Exec();
  clock.Advance(10);
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRdx], 1u);
  EXPECT_EQ(m.s.gpr[kRax], 10u);
  // CR4.TSD makes it privileged.
  m.s.cr4 |= kCr4Tsd;
  m.ToRing3();
  m.s.rip = 0x10000;
  EXPECT_FAULT(m.Exec(), kGP, 0);
}

TEST(System, MsrReadWriteRules) {
  Pm m;
  m.Code({0x0F, 0x32});  // rdmsr
  m.Bytes(0x10010, {0x0F, 0x30});  // wrmsr
  auto wrmsr = [&](uint32_t msr, uint64_t v) {
    m.s.rip = 0x10010;
    m.s.gpr[kRcx] = msr;
    m.s.gpr[kRax] = v & 0xFFFFFFFF;
    m.s.gpr[kRdx] = v >> 32;
    m.Exec();
  };
  auto rdmsr = [&](uint32_t msr) {
    m.s.rip = 0x10000;
    m.s.gpr[kRcx] = msr;
    m.Exec();
    return (m.s.gpr[kRdx] << 32) | m.s.gpr[kRax];
  };
  EXPECT_FAULT(rdmsr(0x12345), kGP, 0);
  wrmsr(0xC0000080, kEferLma | kEferSce | kEferNxe);  // LMA is read-only
  EXPECT_EQ(rdmsr(0xC0000080), kEferSce | kEferNxe);
  EXPECT_FAULT(wrmsr(0xC0000080, 1ull << 20), kGP, 0);
  EXPECT_FAULT(wrmsr(0xC0000082, 0x0000800000000000ull), kGP, 0);
  wrmsr(0xC0000082, 0xFFFFFFFF81000000ull);
  EXPECT_EQ(m.s.msr.lstar, 0xFFFFFFFF81000000ull);
  wrmsr(0xC0000100, 0x7000);
  EXPECT_EQ(m.s.seg[kFs].base, 0x7000u);
  EXPECT_FAULT(wrmsr(0x277, 0x0202020202020202ull), kGP, 0);  // PAT type 2 is reserved
  wrmsr(0x203, 0xFFFFFF800ull);
  EXPECT_EQ(rdmsr(0x203), 0xFFFFFF800ull);
  EXPECT_EQ(rdmsr(0x26F), 0u);
  EXPECT_EQ(rdmsr(0x1B), 0xFEE00900u);
  EXPECT_EQ(rdmsr(0x17A), 0u);
  if (m.board->cpuid().vendor() == "AuthenticAMD") {  // legacy PMU: no counters, no #GP
    wrmsr(0xC0010000, 0x430076);
    EXPECT_EQ(rdmsr(0xC0010004), 0u);
  } else {
    EXPECT_FAULT(rdmsr(0xC0010004), kGP, 0);
  }
  m.ToRing3();
  EXPECT_FAULT(rdmsr(0x10), kGP, 0);
}

TEST(System, RdpmcReadsZeroFromAmdLegacyCountersOnly) {
  Pm m;
  m.Code({0x0F, 0x33});  // rdpmc
  m.s.gpr[kRcx] = 3;
  m.s.gpr[kRax] = m.s.gpr[kRdx] = ~0ull;
  if (m.board->cpuid().vendor() == "AuthenticAMD") {
    m.Exec();
    EXPECT_EQ(m.s.gpr[kRax], 0u);
    EXPECT_EQ(m.s.gpr[kRdx], 0u);
  } else {
    EXPECT_FAULT(m.Exec(), kGP, 0);
  }
  m.s.rip = 0x10000;
  m.s.gpr[kRcx] = 0x10000;  // no VMware backdoor counters
  EXPECT_FAULT(m.Exec(), kGP, 0);
  m.s.gpr[kRcx] = 0;
  m.ToRing3();  // CR4.PCE is clear
  EXPECT_FAULT(m.Exec(), kGP, 0);
}

TEST(System, DescriptorTableInstructions) {
  Machine r;
  r.s = ResetState();
  r.s.seg[kCs] = Segment{0x1000, 0x10000, 0xFFFF, 0xB | Segment::kS | Segment::kP};
  r.s.rip = 0;
  r.s.seg[kDs] = Segment{0, 0, 0xFFFF, 0x3 | Segment::kS | Segment::kP};
  r.W(0x100, 2, 0x3FF);
  r.W(0x102, 4, 0xAB123456);
  r.Bytes(0x10000, {0x0F, 0x01, 0x1E, 0x00, 0x01, 0x66, 0x0F, 0x01, 0x1E, 0x00, 0x01});  // lidt (16, 32)
  r.Exec();
  EXPECT_EQ(r.s.idtr.base, 0x123456u);
  EXPECT_EQ(r.s.idtr.limit, 0x3FF);
  r.Exec();
  EXPECT_EQ(r.s.idtr.base, 0xAB123456u);

  Pm m;
  m.Code({0x0F, 0x00, 0xD8,   // ltr ax
          0x0F, 0x00, 0xD8,   // ltr ax again
          0x0F, 0x00, 0xD3,   // lldt bx
          0x0F, 0x00, 0xC9,   // str ecx
          0x0F, 0x01, 0x05, 0x00, 0x30, 0x00, 0x00});  // sgdt [0x3000]
  m.s.gpr[kRax] = 0x28;
  m.s.gpr[kRbx] = 0x30;
  m.Exec();
  EXPECT_EQ(m.s.tr.selector, 0x28);
  EXPECT_EQ(m.s.tr.base, kTss);
  EXPECT_EQ(m.s.tr.type(), 0xBu);
  EXPECT_EQ(m.R(kGdt + 0x28 + 5, 1) & 0xF, 0xBu);  // busy in the GDT
  EXPECT_FAULT(m.Exec(), kGP, 0x28);
  m.s.rip += 3;
  m.Exec();
  EXPECT_EQ(m.s.ldtr.base, 0x5000u);
  EXPECT_EQ(m.s.ldtr.limit, 0xFFu);
  m.s.gpr[kRcx] = ~0ull;
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRcx], 0x28u);
  m.Exec();
  EXPECT_EQ(m.R(0x3000, 2), m.s.gdtr.limit);
  EXPECT_EQ(m.R(0x3002, 4), kGdt);
}

TEST(System, CliStiHltPrivilege) {
  Pm m;
  m.Code({0xFA, 0xFB, 0xFB, 0xF4});  // cli, sti, sti, hlt
  m.ToRing3();
  EXPECT_FAULT(m.Exec(), kGP, 0);
  m.s.rflags |= 3 << 12;  // IOPL 3
  m.Exec();
  EXPECT_FALSE(m.s.rflags & kFlagIf);
  m.Exec();
  EXPECT_TRUE(m.s.rflags & kFlagIf);
  EXPECT_TRUE(m.cpu->s.interrupt_shadow);
  m.Exec();
  EXPECT_FALSE(m.cpu->s.interrupt_shadow);  // IF was already set
  EXPECT_FAULT(m.Exec(), kGP, 0);  // HLT at CPL 3
  EXPECT_FALSE(m.s.halted);
}

TEST(System, IntAndIret) {
  Pm m;
  m.W(kIdt + 0x80 * 8, 8, Gate32(0x08, 0x11000, 0xE, 3));
  m.W(kIdt + 0x81 * 8, 8, Gate32(0x08, 0x11000, 0xE, 0));
  m.Code({0xCD, 0x80, 0x90, 0xCD, 0x81});
  m.Bytes(0x11000, {0xCF});  // iretd
  m.s.rflags = 2 | kFlagIf | kFlagZf;
  m.Exec();
  EXPECT_EQ(m.s.rip, 0x11000u);
  EXPECT_EQ(m.R(m.s.gpr[kRsp], 4), 0x10002u);
  EXPECT_FALSE(m.s.rflags & kFlagIf);
  m.Exec();
  EXPECT_EQ(m.s.rip, 0x10002u);
  EXPECT_EQ(m.s.rflags, 2u | kFlagIf | kFlagZf);
  EXPECT_EQ(m.s.gpr[kRsp], 0x9000u);
  // INT through a DPL 0 gate from ring 3 faults at the INT itself.
  m.ToRing3();
  m.s.rip = 0x10003;
  EXPECT_FAULT(m.Exec(), kGP, 0x81 * 8 + 2);
  EXPECT_EQ(m.s.rip, 0x10003u);
}

TEST(System, FarRetToOuterRingNullsPrivilegedDataSegments) {
  Pm m;
  m.s.gpr[kRsp] = 0x8FF0;
  m.W(0x8FF0, 4, 0x12345);
  m.W(0x8FF4, 4, 0x1B);
  m.W(0x8FF8, 4, 0x7000);
  m.W(0x8FFC, 4, 0x23);
  m.Code({0xCB});  // retf
  m.Exec();
  EXPECT_EQ(m.cpu->cpl(), 3);
  EXPECT_EQ(m.s.rip, 0x12345u);
  EXPECT_EQ(m.s.seg[kCs].selector, 0x1B);
  EXPECT_EQ(m.s.seg[kSs].selector, 0x23);
  EXPECT_EQ(m.s.gpr[kRsp], 0x7000u);
  EXPECT_TRUE(m.s.seg[kDs].unusable());  // DPL 0 data is not for ring 3
  // Returning to a more privileged ring is refused.
  m.W(0x7000, 4, 0x10000);
  m.W(0x7004, 4, 0x08);
  m.s.rip = 0x10000;
  EXPECT_FAULT(m.Exec(), kGP, 0x08);
}

// IRET to ring 3 (SDM vol. 2 IRET, RETURN-TO-OUTER-PRIVILEGE-LEVEL): a data
// segment register that is null or whose DPL is below the new CPL becomes
// selector 0; a null selector with RPL 3 that the kernel loaded (3) reads
// back as 0 too, as QEMU and the pseudocode have it. Valid ring-3 data stays.
TEST(System, IretToOuterRingNullsNullAndPrivilegedDataSegments) {
  Pm m;
  m.Code({0x66, 0xB8, 0x03, 0x00,  // mov ax, 3 (null, RPL 3)
          0x8E, 0xD8,              // mov ds, ax
          0x66, 0xB8, 0x23, 0x00,  // mov ax, 0x23 (ring-3 data)
          0x8E, 0xE0,              // mov fs, ax
          0x66, 0xB8, 0x10, 0x00,  // mov ax, 0x10 (ring-0 data)
          0x8E, 0xE8,              // mov gs, ax
          0xCF});                  // iretd
  m.s.gpr[kRsp] = 0x8FEC;
  m.W(0x8FEC, 4, 0x12345);  // EIP
  m.W(0x8FF0, 4, 0x1B);     // CS
  m.W(0x8FF4, 4, 0x202);    // EFLAGS
  m.W(0x8FF8, 4, 0x7000);   // ESP
  m.W(0x8FFC, 4, 0x23);     // SS
  for (int i = 0; i < 7; ++i) m.Exec();
  EXPECT_EQ(m.cpu->cpl(), 3);
  EXPECT_EQ(m.s.rip, 0x12345u);
  EXPECT_EQ(m.s.seg[kDs].selector, 0u);
  EXPECT_TRUE(m.s.seg[kDs].unusable());
  EXPECT_EQ(m.s.seg[kFs].selector, 0x23u);
  EXPECT_FALSE(m.s.seg[kFs].unusable());
  EXPECT_EQ(m.s.seg[kGs].selector, 0u);
  EXPECT_TRUE(m.s.seg[kGs].unusable());
}

// With an AMD vendor string SYSENTER and SYSEXIT are #UD in long mode (AMD
// APM vol. 3, SYSENTER/SYSEXIT: "not supported in long mode"); with Intel's
// they run there.
TEST(System, SysenterAndSysexitAreUdInLongModeOnAmd) {
  auto vendor = [](Machine& m, const char (&name)[13]) {
    x86::CpuidModel model = m.board->cpuid();
    for (x86::CpuidEntry& e : model.mutable_entries()) {
      if (e.function == 0) {
        std::memcpy(&e.ebx, name, 4);
        std::memcpy(&e.edx, name + 4, 4);
        std::memcpy(&e.ecx, name + 8, 4);
      }
    }
    m.board->set_cpuid(model);
  };
  for (bool amd : {true, false}) {
    Pm m;
    vendor(m, amd ? "AuthenticAMD" : "GenuineIntel");
    ASSERT_EQ(m.board->cpuid().vendor(), amd ? "AuthenticAMD" : "GenuineIntel");
    // Flat 64-bit mode, paging as long mode needs it (identity, 2 MiB pages).
    m.W(0x20000, 8, 0x21003);  // the GDT and IDT are at 0x1000 and 0x2000
    m.W(0x21000, 8, 0x22003);
    m.W(0x22000, 8, 0x83);
    m.s.cr3 = 0x20000;
    m.s.cr4 |= kCr4Pae;
    m.s.cr0 |= kCr0Pg;
    m.s.msr.efer = kEferLme | kEferLma;
    m.s.seg[kCs] = Segment{0x38, 0, 0xFFFFFFFF, kCode64};
    m.s.msr.sysenter_cs = 0x08;
    m.s.msr.sysenter_eip = 0x11000;
    m.s.msr.sysenter_esp = 0x9000;
    m.Code({0x0F, 0x34});  // sysenter
    if (amd) {
      EXPECT_FAULT(m.Exec(), kUD, -1);
      m.Code({0x48, 0x0F, 0x35});  // sysexitq
      EXPECT_FAULT(m.Exec(), kUD, -1);
    } else {
      m.Exec();
      EXPECT_EQ(m.s.rip, 0x11000u);
      EXPECT_EQ(m.s.seg[kCs].selector, 0x08u);
    }
  }
}

TEST(System, FarJmpChecksAndRealModeFarCall) {
  Pm m;
  m.Code({0xEA, 0x00, 0x20, 0x01, 0x00, 0x18, 0x00});  // jmp 0x18:0x12000 (DPL 3 code from ring 0)
  EXPECT_FAULT(m.Exec(), kGP, 0x18);
  m.W(kGdt + 0x38, 8, Desc(0, 0xFFFFF, kCode32 & ~Segment::kP));
  m.s.rip = 0x10010;
  m.Code({0xEA, 0x00, 0x20, 0x01, 0x00, 0x38, 0x00});
  EXPECT_FAULT(m.Exec(), kNP, 0x38);
  m.s.rip = 0x10020;
  m.Code({0xEA, 0x00, 0x20, 0x01, 0x00, 0x30, 0x00});  // an LDT descriptor: neither code, gate nor TSS
  EXPECT_FAULT(m.Exec(), kGP, 0x30);

  Machine r;
  r.s = ResetState();
  r.s.seg[kCs] = Segment{0x1000, 0x10000, 0xFFFF, 0xB | Segment::kS | Segment::kP};
  r.s.rip = 0;
  r.s.gpr[kRsp] = 0x8000;
  r.Bytes(0x10000, {0x9A, 0x34, 0x12, 0x00, 0x20});  // call 0x2000:0x1234
  r.Exec();
  EXPECT_EQ(r.s.seg[kCs].base, 0x20000u);
  EXPECT_EQ(r.s.rip, 0x1234u);
  EXPECT_EQ(r.s.gpr[kRsp], 0x7FFCu);
  EXPECT_EQ(r.R(0x7FFC, 2), 5u);
  EXPECT_EQ(r.R(0x7FFE, 2), 0x1000u);
  r.Bytes(0x21234, {0xCA, 0x04, 0x00});  // retf 4
  r.Exec();
  EXPECT_EQ(r.s.seg[kCs].selector, 0x1000);
  EXPECT_EQ(r.s.rip, 5u);
  EXPECT_EQ(r.s.gpr[kRsp], 0x8004u);
}

struct Lm : Pm {
  Lm() {
    s.msr.efer |= kEferLme | kEferLma | kEferSce;
    s.cr4 |= kCr4Pae;
    s.seg[kCs] = Segment{0x38, 0, 0xFFFFFFFF, kCode64};
  }
};

TEST(System, IretqAlwaysPopsSs) {
  Lm m;
  m.s.gpr[kRsp] = 0x8000;
  const uint64_t frame[5] = {0x10100, 0x38, 2 | kFlagIf | kFlagCf, 0x7008, 0x10};
  for (int i = 0; i < 5; ++i) m.W(0x8000 + 8 * i, 8, frame[i]);
  m.Code({0x48, 0xCF});
  m.Exec();
  EXPECT_EQ(m.s.rip, 0x10100u);
  EXPECT_EQ(m.s.gpr[kRsp], 0x7008u);
  EXPECT_EQ(m.s.seg[kSs].selector, 0x10);
  EXPECT_EQ(m.s.rflags, 2u | kFlagIf | kFlagCf);
}

TEST(System, LongModeLldtLtrNeedACanonicalBase) {
  Lm m;
  m.Code({0x0F, 0x00, 0xD3, 0x0F, 0x00, 0xD8});  // lldt bx; ltr ax
  m.s.gpr[kRbx] = 0x30;  // the upper half is the code64 entry: base 0x0000FFFF00005000
  EXPECT_FAULT(m.Exec(), kGP, 0x30);
  m.s.rip = 0x10003;
  m.s.gpr[kRax] = 0x28;  // the upper half is the LDT entry: base 0x500000FF00004000
  EXPECT_FAULT(m.Exec(), kGP, 0x28);
  EXPECT_EQ(m.R(kGdt + 0x28 + 5, 1) & 0xF, 0x9u);  // not marked busy
  m.W(kGdt + 0x30, 8, 0xFFFFFFFF);
  m.Exec();
  EXPECT_EQ(m.s.tr.base, 0xFFFFFFFF00000000ull | kTss);
}

TEST(System, SyscallSysret) {
  Lm m;
  m.s.msr.star = (0x18ull << 48) | (0x08ull << 32);
  m.s.msr.lstar = 0x12000;
  m.s.msr.sfmask = kFlagIf;
  m.s.rflags = 2 | kFlagIf | kFlagCf;
  m.Code({0x0F, 0x05});
  m.Bytes(0x12000, {0x48, 0x0F, 0x07});
  m.Exec();
  EXPECT_EQ(m.s.rip, 0x12000u);
  EXPECT_EQ(m.s.gpr[kRcx], 0x10002u);
  EXPECT_EQ(m.s.gpr[kR11], 2u | kFlagIf | kFlagCf);
  EXPECT_EQ(m.s.seg[kCs].selector, 0x08);
  EXPECT_EQ(m.s.seg[kSs].selector, 0x10);
  EXPECT_EQ(m.s.rflags, 2u | kFlagCf);
  m.Exec();
  EXPECT_EQ(m.s.rip, 0x10002u);
  EXPECT_EQ(m.s.seg[kCs].selector, 0x2B);
  EXPECT_EQ(m.s.seg[kSs].selector, 0x23);
  EXPECT_EQ(m.cpu->cpl(), 3);
  EXPECT_TRUE(m.s.seg[kCs].l());
  EXPECT_EQ(m.s.rflags, 2u | kFlagIf | kFlagCf);
}

TEST(System, SyscallFromCompatibilityModeOnlyOnAmd) {
  Lm m;
  m.s.msr.star = (0x18ull << 48) | (0x08ull << 32);
  m.s.msr.lstar = 0x12000;
  m.s.msr.cstar = 0x13000;
  m.s.seg[kCs] = Segment{0x38, 0, 0xFFFFFFFF, (kCode64 & ~Segment::kL) | Segment::kDb};
  m.Code({0x0F, 0x05});
  if (m.board->cpuid().vendor() != "AuthenticAMD") {
    EXPECT_FAULT(m.Exec(), kUD, -1);
    return;
  }
  m.Exec();
  EXPECT_EQ(m.s.rip, 0x13000u);
  EXPECT_EQ(m.s.gpr[kRcx], 0x10002u);
  EXPECT_EQ(m.s.seg[kCs].selector, 0x08);
  EXPECT_TRUE(m.s.seg[kCs].l());
}

TEST(System, MovAndPopSsSetTheInterruptShadow) {
  Pm m;
  m.Code({0x8E, 0xD0, 0x8C, 0xD9, 0x1F, 0x17});  // mov ss, eax; mov ecx, ds; pop ds; pop ss
  m.s.gpr[kRax] = 0x10;
  m.Exec();
  EXPECT_TRUE(m.cpu->s.interrupt_shadow);
  m.s.gpr[kRcx] = ~0ull;
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRcx], 0x10u);
  EXPECT_FALSE(m.cpu->s.interrupt_shadow);
  m.s.gpr[kRsp] = 0x8FF8;
  m.W(0x8FF8, 4, 0x23);  // DPL 3 data: fine for DS at CPL 0
  m.W(0x8FFC, 4, 0x10);
  m.Exec();
  EXPECT_EQ(m.s.seg[kDs].selector, 0x23);
  EXPECT_EQ(m.s.gpr[kRsp], 0x8FFCu);
  m.Exec();
  EXPECT_TRUE(m.cpu->s.interrupt_shadow);
  EXPECT_EQ(m.s.gpr[kRsp], 0x9000u);
}

TEST(System, LarLsl) {
  Pm m;
  m.Code({0x0F, 0x02, 0xC3, 0x0F, 0x03, 0xC3, 0x0F, 0x02, 0xC3});  // lar eax, ebx; lsl eax, ebx; lar
  m.s.gpr[kRbx] = 0x10;
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax], 0x00C09300u);  // masked with 00F0FF00
  EXPECT_TRUE(m.s.rflags & kFlagZf);
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax], 0xFFFFFFFFu);
  m.s.gpr[kRbx] = 0x400;  // beyond the GDT
  m.s.gpr[kRax] = 7;
  m.Exec();
  EXPECT_FALSE(m.s.rflags & kFlagZf);
  EXPECT_EQ(m.s.gpr[kRax], 7u);
}

}  // namespace
}  // namespace tandem::accel::interp::systest
