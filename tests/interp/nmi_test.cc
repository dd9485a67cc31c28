// NMI delivery by the interpreter (SDM vol. 3A 6.7.1, 6.8.3): vector 2 taken
// with IF=0, NMIs blocked from delivery to the next IRET (a request in the
// handler is held, then taken right after IRET), IRET unblocking even when it
// faults, and the MOV SS shadow holding a pending NMI back one instruction.
#include "hw/intc/local_apic.h"
#include "tests/interp/system_test_util.h"

namespace tandem::accel::interp::systest {
namespace {

constexpr uint64_t kGdt = 0x1000, kIdt = 0x2000, kHandler = 0x11000;
// mov dword [0xFEE00300], 0x00080400: an NMI to all including self.
const std::vector<uint8_t> kSendNmi = {0xC7, 0x05, 0x00, 0x03, 0xE0, 0xFE, 0x00, 0x04, 0x08, 0x00};

struct NmiMachine : Machine {
  NmiMachine() {
    Gdt(kGdt, {0, Desc(0, 0xFFFFF, kCode32), Desc(0, 0xFFFFF, kData32)});
    s.idtr = {kIdt, 0xFF * 8 + 7};
    W(kIdt + 2 * 8, 8, Gate32(0x08, kHandler, 0xE));
    s.rip = 0x10000;
    s.rflags = 2;  // IF=0: NMIs do not care
  }
  hw::LocalApic& lapic() { return board->chipset().lapic(); }
  uint32_t Stack(int i) { return static_cast<uint32_t>(R(s.gpr[kRsp] + 4 * i, 4)); }
};

TEST(Nmi, WakesAHaltWithInterruptsOff) {
  NmiMachine m;
  m.Bytes(0x10000, {0xF4});                          // hlt, IF=0
  m.Bytes(kHandler, {0xB0, 0x00, 0xE6, 0xF4, 0xEB, 0xFE});  // mov al, 0; out 0xF4, al (debug exit); jmp $
  m.cpu->Step();
  ASSERT_TRUE(m.s.halted);
  m.board->cpu(0).MmioWrite(0xFEE00300, 4, 0x00080400);  // ICR: NMI to all including self
  RunOutcome out = m.cpu->Run();
  EXPECT_EQ(out.kind, RunOutcome::Kind::kBoardStop) << out.message;
  EXPECT_TRUE(m.s.nmi_blocked);
}

TEST(Nmi, IcrNmiIsTakenAtTheNextBoundaryWithIfClear) {
  NmiMachine m;
  m.Bytes(0x10000, kSendNmi);
  m.Bytes(0x1000A, {0x90});
  m.cpu->Step();
  EXPECT_EQ(m.s.rip, 0x1000Au);
  EXPECT_TRUE(m.lapic().HasPendingNmi());
  m.cpu->Step();  // the NMI, not the NOP
  EXPECT_EQ(m.s.rip, kHandler);
  EXPECT_EQ(m.Stack(0), 0x1000Au);
  EXPECT_TRUE(m.s.nmi_blocked);
  EXPECT_FALSE(m.lapic().HasPendingNmi());
}

TEST(Nmi, BlockedUntilIretThenTakenRightAfterIt) {
  NmiMachine m;
  m.Bytes(0x10000, {0x90, 0x90});
  m.Bytes(kHandler, kSendNmi);
  m.Bytes(kHandler + 10, {0x90, 0xCF});  // nop; iretd
  m.lapic().SetLint1(true);              // APIC disabled: LINT1 is the NMI pin
  m.cpu->Step();
  ASSERT_EQ(m.s.rip, kHandler);
  m.cpu->Step();  // the handler requests another NMI
  EXPECT_TRUE(m.lapic().HasPendingNmi());
  m.cpu->Step();  // held: the NOP runs
  EXPECT_EQ(m.s.rip, kHandler + 11);
  m.cpu->Step();  // IRET
  EXPECT_EQ(m.s.rip, 0x10000u);
  EXPECT_FALSE(m.s.nmi_blocked);
  m.cpu->Step();  // the held NMI before the instruction at 0x10000
  EXPECT_EQ(m.s.rip, kHandler);
  EXPECT_EQ(m.Stack(0), 0x10000u);
}

TEST(Nmi, IretUnblocksEvenWhenItFaults) {
  NmiMachine m;
  m.W(kIdt + 13 * 8, 8, Gate32(0x08, 0x12000, 0xE));
  m.s.nmi_blocked = true;
  m.s.gpr[kRsp] = 0x9000;
  m.W(0x9000, 4, 0x10000);
  m.W(0x9004, 4, 0x1234);  // CS beyond the GDT: #GP
  m.W(0x9008, 4, 2);
  m.Bytes(0x10000, {0xCF});
  m.cpu->Step();
  EXPECT_EQ(m.s.rip, 0x12000u);
  EXPECT_FALSE(m.s.nmi_blocked);
}

TEST(Nmi, MovSsShadowHoldsAPendingNmiForOneInstruction) {
  NmiMachine m;
  m.Bytes(0x10000, {0x8E, 0xD0, 0x90, 0x90});  // mov ss, eax; nop; nop
  m.s.gpr[kRax] = 0x10;
  m.cpu->Step();  // MOV SS, before any NMI
  m.lapic().SetLint1(true);
  m.cpu->Step();  // in the shadow: the NOP runs
  EXPECT_EQ(m.s.rip, 0x10003u);
  m.cpu->Step();
  EXPECT_EQ(m.s.rip, kHandler);
  EXPECT_EQ(m.Stack(0), 0x10003u);
}

}  // namespace
}  // namespace tandem::accel::interp::systest
