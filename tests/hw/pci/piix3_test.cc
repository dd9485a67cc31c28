// PIIX3 PIRQ routing on the board: a PCI device's INTx reaches the i8259
// input named by the route register (level-triggered through the ELCR) and
// always its I/O APIC pin 16-19; rerouting and disabling move the level.
#include "hw/pci/piix3.h"

#include <gtest/gtest.h>

#include "hw/pc_layout.h"
#include "tests/hw/pci/board_fixture.h"
#include "tests/hw/pci/pci_test_device.h"

namespace tandem::hw {
namespace {

using testing::CfgRead;
using testing::CfgWrite;

constexpr int kIsa = layout::kPiix3Devfn;
constexpr int kSlot = 2;  // INTA of slot 2: PIRQ B (layout::PirqForSlotPin)

class PirqRouting : public ::testing::Test {
 protected:
  PirqRouting() : board_(testing::MakeBoard(false)) {
    EXPECT_TRUE(board_->chipset().pci().Attach(layout::PciDevfn(kSlot, 0), &dev_).ok());
    // The PICs as Linux sets them up: vectors 0x20/0x28, all unmasked.
    for (auto [cmd, base, icw3] : {std::tuple{0x20, 0x20, 0x04}, std::tuple{0xA0, 0x28, 0x02}}) {
      Out(cmd, 0x11), Out(cmd + 1, base), Out(cmd + 1, icw3), Out(cmd + 1, 0x01), Out(cmd + 1, 0x00);
    }
    Out(0x4D1, 0x0C);  // IRQ 10 and 11 level-triggered, as SeaBIOS sets them
  }
  void Out(uint16_t port, uint8_t v) { board_->pio().Write(port, 1, v); }
  uint16_t PicIrr() {
    Out(0x20, 0x0A), Out(0xA0, 0x0A);  // OCW3: read IRR
    return static_cast<uint16_t>(board_->pio().Read(0x20, 1) | board_->pio().Read(0xA0, 1) << 8);
  }
  // I/O APIC pin: vector, level-triggered, active high, physical APIC 0.
  void ProgramIoApic(int pin, uint8_t vector) {
    board_->mmio().Write(layout::kIoApicBase, 4, 0x10 + 2 * pin);
    board_->mmio().Write(layout::kIoApicBase + 0x10, 4, vector | (1u << 15));
    board_->mmio().Write(layout::kIoApicBase, 4, 0x11 + 2 * pin);
    board_->mmio().Write(layout::kIoApicBase + 0x10, 4, 0);
  }

  std::unique_ptr<Board> board_;
  testing::TestPciDevice dev_;
};

TEST_F(PirqRouting, IdsAndPowerOnRoutesDisabled) {
  EXPECT_EQ(CfgRead(*board_, kIsa, 0x00, 4), 0x70008086u);
  EXPECT_EQ(CfgRead(*board_, kIsa, 0x0A, 2), 0x0601u);
  EXPECT_EQ(CfgRead(*board_, kIsa, 0x0E, 1), 0x80u);  // multi-function: 00:01.3 follows
  EXPECT_EQ(CfgRead(*board_, kIsa, 0x60, 4), 0x80808080u);
  dev_.SetIntx(true);
  EXPECT_EQ(PicIrr(), 0u);
}

TEST_F(PirqRouting, IntxReachesTheRoutedI8259Input) {
  CfgWrite(*board_, kIsa, 0x60 + layout::PirqForSlotPin(kSlot, 0), 1, 11);
  dev_.SetIntx(true);
  EXPECT_EQ(PicIrr(), 1u << 11 | 1u << 2);  // IRQ 11 and the cascade
  ASSERT_TRUE(board_->chipset().pic().HasPendingInterrupt());
  EXPECT_EQ(board_->chipset().pic().AcknowledgeInterrupt(), 0x28 + 3);
  // Rerouting while asserted: IRQ 11 drops, IRQ 10 rises.
  const unsigned route = 0x60 + layout::PirqForSlotPin(kSlot, 0);
  CfgWrite(*board_, kIsa, route, 1, 10);
  EXPECT_EQ(PicIrr() & 0xFF00, 1u << 10);
  // Bit 7 disables the route.
  CfgWrite(*board_, kIsa, route, 1, 0x8A);
  EXPECT_EQ(PicIrr() & 0xFF00, 0u);
  CfgWrite(*board_, kIsa, route, 1, 0x0A);
  dev_.SetIntx(false);
  EXPECT_EQ(PicIrr() & 0xFF00, 0u);
}

TEST_F(PirqRouting, SharedPirqStaysAssertedUntilEveryDeviceLowers) {
  testing::TestPciDevice other;  // slot kSlot + 4, INTA: the same PIRQ
  ASSERT_TRUE(board_->chipset().pci().Attach(layout::PciDevfn(kSlot + 4, 0), &other).ok());
  ASSERT_EQ(layout::PirqForSlotPin(kSlot + 4, 0), layout::PirqForSlotPin(kSlot, 0));
  CfgWrite(*board_, kIsa, 0x60 + layout::PirqForSlotPin(kSlot, 0), 1, 11);
  dev_.SetIntx(true);
  other.SetIntx(true);
  dev_.SetIntx(false);
  EXPECT_EQ(PicIrr() & 0xFF00, 1u << 11);
  other.SetIntx(false);
  EXPECT_EQ(PicIrr() & 0xFF00, 0u);
}

TEST_F(PirqRouting, IntxAlwaysReachesItsIoApicPin) {
  board_->cpu(0).MmioWrite(layout::kLapicBase + 0xF0, 4, 0x1FF);  // APIC software-enabled
  LocalApic& lapic = board_->chipset().lapic();
  int pin = layout::kPirqFirstGsi + layout::PirqForSlotPin(kSlot, 0);
  ProgramIoApic(pin, 0x61);
  dev_.SetIntx(true);  // the PIC route is disabled: only the I/O APIC sees it
  EXPECT_TRUE(lapic.irr(0x61));
  EXPECT_TRUE(lapic.tmr(0x61));
  EXPECT_EQ(lapic.AcknowledgeInterrupt(), 0x61);
  dev_.SetIntx(false);
  board_->cpu(0).MmioWrite(layout::kLapicBase + 0xB0, 4, 0);  // EOI
  EXPECT_FALSE(lapic.irr(0x61));
}

TEST(PirqDirectBoot, BoardProgramsWhatSeaBiosWould) {
  auto board = testing::MakeBoard(true);
  EXPECT_EQ(CfgRead(*board, kIsa, 0x60, 4), 0x0B0B0A0Au);
  EXPECT_EQ(board->pio().Read(0x4D0, 1), 0x00u);
  EXPECT_EQ(board->pio().Read(0x4D1, 1), 0x0Cu);
  EXPECT_EQ(board->chipset().isa_bridge().RouteOf(3), 11);
}

}  // namespace
}  // namespace tandem::hw
