// PAM shadowing seen by the interpreter: loads through a TLB entry filled
// before the switch see the new memory after it, stores to read-only shadow
// RAM are dropped, and code decoded from the ROM alias is not reused once
// the RAM copy (with other bytes) is what the CPU fetches.
#include <gtest/gtest.h>

#include "hw/pc_layout.h"
#include "tests/hw/pci/board_fixture.h"
#include "tests/interp/system_test_util.h"

namespace tandem::accel::interp::systest {
namespace {

using hw::testing::CfgWrite;

constexpr int kHost = hw::layout::kI440fxDevfn;

struct PamMachine {
  PamMachine() {
    std::vector<uint8_t> rom(128 * 1024, 0x90);
    // At 0xF0000 in the alias: mov eax, 0x11111111; the RAM copy will say 0x22222222.
    const uint8_t code[] = {0xB8, 0x11, 0x11, 0x11, 0x11};
    std::copy(std::begin(code), std::end(code), rom.begin() + 0x10000);
    rom[0x10010] = 0xAB;
    board = hw::testing::MakeBoard(false, rom);
    s = Flat32State(0xF0000);
    cpu = std::make_unique<Cpu>(*board, s);
  }
  void Pam0(uint8_t value) { CfgWrite(*board, kHost, 0x59, 1, value); }
  void Exec() {
    const DecodedInsn& insn = cpu->Fetch();
    cpu->next_rip = s.rip + insn.length;
    insn.handler(*cpu, insn);
    s.rip = cpu->next_rip;
  }
  std::unique_ptr<hw::Board> board;
  CpuState s;
  std::unique_ptr<Cpu> cpu;
};

TEST(PamInterp, LoadsAndStoresFollowTheShadowState) {
  PamMachine m;
  EXPECT_EQ(m.cpu->ReadLinear(0xF0010, 1), 0xABu);  // ROM, now in the TLB
  m.cpu->WriteLinear(0xF0010, 1, 0x55);             // ROM ignores it
  EXPECT_EQ(m.cpu->ReadLinear(0xF0010, 1), 0xABu);
  m.Pam0(0x30);                                     // read-write RAM
  EXPECT_EQ(m.cpu->ReadLinear(0xF0010, 1), 0x00u);
  m.cpu->WriteLinear(0xF0010, 1, 0x55);
  EXPECT_EQ(m.cpu->ReadLinear(0xF0010, 1), 0x55u);
  m.Pam0(0x10);                                     // read-only RAM
  m.cpu->WriteLinear(0xF0010, 1, 0x66);
  EXPECT_EQ(m.cpu->ReadLinear(0xF0010, 1), 0x55u);
  EXPECT_EQ(m.cpu->ReadPhys(0xF0010, 1), 0x55u);
  m.cpu->WritePhys(0xF0010, 1, 0x77);
  EXPECT_EQ(m.cpu->ReadPhys(0xF0010, 1), 0x55u);
  m.Pam0(0x00);                                     // the ROM alias again
  EXPECT_EQ(m.cpu->ReadLinear(0xF0010, 1), 0xABu);
}

TEST(PamInterp, CodeFetchedFromRomIsNotReusedFromRam) {
  PamMachine m;
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax] & 0xFFFFFFFF, 0x11111111u);
  // What SeaBIOS does from its high copy: RAM writable, a different copy in it.
  m.Pam0(0x30);
  const uint8_t code[] = {0xB8, 0x22, 0x22, 0x22, 0x22};
  ASSERT_TRUE(m.board->memory().WritePhys(0xF0000, code, sizeof code));
  m.s.rip = 0xF0000;
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax] & 0xFFFFFFFF, 0x22222222u);
  m.Pam0(0x00);
  m.s.rip = 0xF0000;
  m.Exec();
  EXPECT_EQ(m.s.gpr[kRax] & 0xFFFFFFFF, 0x11111111u);
}

}  // namespace
}  // namespace tandem::accel::interp::systest
