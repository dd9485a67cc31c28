// The A20 gate on the interpreter: with the gate off (8042 command DDh and
// port 0x92 bit 1 clear) physical address bit 20 is 0, so FFFF:0010 reads
// physical 0 as on an 8086; with it on, physical 1 MiB. A change takes
// effect at once, translations cached before it included.
#include <gtest/gtest.h>

#include "tests/interp/interp_test_util.h"

namespace tandem::accel::interp::testing {
namespace {

TEST(A20Test, GateOffWrapsPhysicalAddressesAtOneMiB) {
  Machine m({
                0xB8, 0xFF, 0xFF,  // mov ax, 0xFFFF
                0x8E, 0xD8,        // mov ds, ax
                0xA1, 0x10, 0x00,  // mov ax, [0x0010]: linear 1 MiB
                0x89, 0xC3,        // mov bx, ax
                0xB0, 0xDD,        // mov al, 0xDD (8042: A20 off)
                0xE6, 0x64,        // out 0x64, al
                0xE4, 0x92,        // in al, 0x92
                0x24, 0xFD,        // and al, ~2 (port 0x92: A20 off)
                0xE6, 0x92,        // out 0x92, al
                0xA1, 0x10, 0x00,  // mov ax, [0x0010]
                0x89, 0xC1,        // mov cx, ax
                0xB0, 0xDF,        // mov al, 0xDF (8042: A20 on)
                0xE6, 0x64,        // out 0x64, al
                0xA1, 0x10, 0x00,  // mov ax, [0x0010]
            },
            Mode::kReal);
  m.Write(0x000000, 2, 0x1111);
  m.Write(0x100000, 2, 0x2222);
  m.Step(4);
  EXPECT_EQ(m.reg(x86::kRbx) & 0xFFFF, 0x2222u);  // gate on at reset
  m.Step(7);
  EXPECT_FALSE(m.board().chipset().a20_enabled());
  EXPECT_EQ(m.reg(x86::kRcx) & 0xFFFF, 0x1111u);  // the wrap, though 1 MiB was cached
  m.Step(3);
  EXPECT_TRUE(m.board().chipset().a20_enabled());
  EXPECT_EQ(m.reg(x86::kRax) & 0xFFFF, 0x2222u);
}

}  // namespace
}  // namespace tandem::accel::interp::testing
