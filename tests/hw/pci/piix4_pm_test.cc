// The PIIX4 PM function on the board: the ACPI PM block appears where PMBA
// and PMREGMISC put it, moves when they change, keeps powering off through
// SLP_EN, and the SCI line register defaults to IRQ 9. MSI messages reach
// the local APIC through the board's MSI target.
#include "hw/pci/piix4_pm.h"

#include <gtest/gtest.h>

#include "hw/misc/acpi_pm.h"
#include "hw/pc_layout.h"
#include "tests/hw/pci/board_fixture.h"
#include "tests/hw/pci/pci_test_device.h"

namespace tandem::hw {
namespace {

using testing::CfgRead;
using testing::CfgWrite;

constexpr int kPm = layout::kPiix4PmDevfn;
constexpr uint16_t kS5 = AcpiPm::kSlpEn | AcpiPm::kSlpTypS5 << AcpiPm::kSlpTypShift;

TEST(Piix4Pm, FirmwareProgramsAndMovesThePmBlock) {
  auto board = testing::MakeBoard(false);
  EXPECT_EQ(CfgRead(*board, kPm, 0x00, 4), 0x71138086u);
  EXPECT_EQ(CfgRead(*board, kPm, 0x08, 4), 0x06800003u);
  EXPECT_EQ(CfgRead(*board, kPm, 0x3C, 2), 0x0109u);  // SCI on IRQ 9, INTA
  EXPECT_EQ(CfgRead(*board, kPm, 0x40, 4), 1u);
  EXPECT_EQ(CfgRead(*board, kPm, 0x5B, 1), 0x02u);  // APMC_EN: no SMM to set up
  EXPECT_FALSE(board->pio().Claims(0x600));  // not enabled at power-on

  CfgWrite(*board, kPm, 0x40, 4, 0xB001);
  EXPECT_FALSE(board->pio().Claims(0xB000));
  CfgWrite(*board, kPm, 0x80, 1, 1);
  EXPECT_EQ(board->chipset().pm_function().pm_base(), 0xB000u);
  EXPECT_EQ(board->pio().Read(0xB004, 2) & AcpiPm::kSciEn, AcpiPm::kSciEn);
  // Moved: the old place is empty.
  CfgWrite(*board, kPm, 0x40, 4, 0x601);
  EXPECT_FALSE(board->pio().Claims(0xB000));
  EXPECT_TRUE(board->pio().Claims(0x600));
  // Disabled.
  CfgWrite(*board, kPm, 0x80, 1, 0);
  EXPECT_FALSE(board->pio().Claims(0x600));
  CfgWrite(*board, kPm, 0x80, 1, 1);

  // The SCI line is the firmware's to set.
  CfgWrite(*board, kPm, 0x3C, 1, 11);
  EXPECT_EQ(board->chipset().pm_function().sci_irq(), 11);

  board->pio().Write(0x604, 2, kS5);
  EXPECT_EQ(board->stop_reason(), StopReason::kExit);
  EXPECT_EQ(board->exit_status(), 0);
}

TEST(Piix4Pm, PmBaseOverAnotherDeviceIsRefused) {
  auto board = testing::MakeBoard(false);
  CfgWrite(*board, kPm, 0x40, 4, 0x3C0 | 1);  // free ports
  CfgWrite(*board, kPm, 0x80, 1, 1);
  EXPECT_EQ(board->chipset().pm_function().pm_base(), 0x3C0u);
  CfgWrite(*board, kPm, 0x40, 4, 0x40 | 1);  // 0x40-0x4B: the PIT is there
  EXPECT_EQ(board->chipset().pm_function().pm_base(), PciDevice::kUnmapped);
  EXPECT_FALSE(board->pio().Claims(0x3C0));
  EXPECT_FALSE(board->pio().Claims(0x48));  // nothing half-mapped past the PIT
  // Moved somewhere free, it maps again.
  CfgWrite(*board, kPm, 0x40, 4, 0xB000 | 1);
  EXPECT_EQ(board->chipset().pm_function().pm_base(), 0xB000u);
}

TEST(Piix4Pm, DirectBootHasThePmBlockAt0x600) {
  auto board = testing::MakeBoard(true);
  EXPECT_EQ(CfgRead(*board, kPm, 0x40, 4), 0x601u);
  EXPECT_EQ(CfgRead(*board, kPm, 0x80, 1), 1u);
  board->pio().Write(layout::kAcpiPmPort + 4, 2, kS5);
  EXPECT_EQ(board->stop_reason(), StopReason::kExit);
  board->Reset();  // and again after a reset
  EXPECT_TRUE(board->pio().Claims(layout::kAcpiPmPort));
}

TEST(MsiToLapic, MessagesReachTheLocalApic) {
  auto board = testing::MakeBoard(true);
  board->cpu(0).MmioWrite(layout::kLapicBase + 0xF0, 4, 0x1FF);  // software-enabled
  LocalApic& lapic = board->chipset().lapic();
  MsiTarget& msi = board->chipset().msi_target();
  msi.Deliver(0xFEE00000, 0x0045);  // fixed, edge, APIC 0
  EXPECT_TRUE(lapic.irr(0x45));
  EXPECT_FALSE(lapic.tmr(0x45));
  msi.Deliver(0xFEE05000, 0x0046);  // APIC 5: nobody
  EXPECT_FALSE(lapic.irr(0x46));
  msi.Deliver(0xFED00000, 0x0047);  // not the APIC window: dropped, logged once
  EXPECT_FALSE(lapic.irr(0x47));

  // End to end: a device's MSI capability through config cycles.
  testing::TestPciDevice dev;
  dev.AddMsi(1);
  ASSERT_TRUE(board->chipset().pci().Attach(layout::PciDevfn(3, 0), &dev).ok());
  int devfn = layout::PciDevfn(3, 0);
  unsigned cap = CfgRead(*board, devfn, 0x34, 1);
  CfgWrite(*board, devfn, cap + 4, 4, 0xFEE00000);
  CfgWrite(*board, devfn, cap + 12, 2, 0x0052);
  CfgWrite(*board, devfn, cap + 2, 2, 1);
  CfgWrite(*board, devfn, 0x04, 2, PciDevice::kCommandMaster);
  EXPECT_TRUE(dev.NotifyMsi(0));
  EXPECT_TRUE(lapic.irr(0x52));
}

}  // namespace
}  // namespace tandem::hw
