// The PCI function model on a real bus: BAR sizing (all-ones reads back the
// size mask), mapping and moving BARs on the port and MMIO buses as the
// command register allows, BARs over RAM or another range refused, the
// capabilities list, INTx, MSI and MSI-X messages.
#include "hw/pci/pci_device.h"

#include <gtest/gtest.h>

#include "tests/hw/irq_recorder.h"
#include "tests/hw/pci/pci_test_device.h"

namespace tandem::hw {
namespace {

constexpr int kDevfn = 3 << 3;  // slot 3

class RecordingRouter final : public PciIntxRouter {
 public:
  void SetIntx(int devfn, int pin, bool level) override { calls.push_back({devfn, pin, level}); }
  struct Call {
    int devfn, pin;
    bool level;
  };
  std::vector<Call> calls;
};

class PciDeviceTest : public ::testing::Test {
 protected:
  PciDeviceTest()
      // Guest RAM: the first 256 MiB.
      : pci_([](uint64_t base, uint64_t size) { return base < (256ull << 20); }) {
    pci_.set_pio(&pio_);
    pci_.set_mmio(&mmio_);
    pci_.set_intx_router(&router_);
    pci_.set_msi_target(&msi_);
  }
  void Attach() { ASSERT_TRUE(pci_.Attach(kDevfn, &dev_).ok()); }
  uint32_t Cfg(unsigned off, unsigned size = 4) { return pci_.ConfigRead(kDevfn, off, size); }
  void SetCfg(unsigned off, uint32_t v, unsigned size = 4) { pci_.ConfigWrite(kDevfn, off, size, v); }

  Bus pio_{"pio"}, mmio_{"mmio"};
  PciBus pci_;
  RecordingRouter router_;
  testing::RecordingMsiTarget msi_;
  testing::TestPciDevice dev_;
};

TEST_F(PciDeviceTest, SizingReadsBackTheSizeMaskWithTheTypeBits) {
  Attach();
  EXPECT_EQ(Cfg(0x10), 1u);   // I/O
  EXPECT_EQ(Cfg(0x14), 0u);   // 32-bit memory
  EXPECT_EQ(Cfg(0x18), 0xCu); // 64-bit prefetchable
  for (unsigned off = 0x10; off < 0x28; off += 4) SetCfg(off, 0xFFFFFFFF);
  EXPECT_EQ(Cfg(0x10), 0xFFFFFFE1u);
  EXPECT_EQ(Cfg(0x14), 0xFFFFF000u);
  EXPECT_EQ(Cfg(0x18), 0xFFFFC00Cu);
  EXPECT_EQ(Cfg(0x1C), 0xFFFFFFFFu);
  EXPECT_EQ(Cfg(0x20), 0u);  // unimplemented BARs stay zero
  EXPECT_EQ(Cfg(0x24), 0u);
  // Decode enabled while every BAR holds its size mask: nothing is mapped.
  SetCfg(0x04, PciDevice::kCommandIo | PciDevice::kCommandMemory, 2);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(dev_.bar_address(i), PciDevice::kUnmapped) << i;
}

TEST_F(PciDeviceTest, BarsMapWhenDecodeIsEnabledAndMoveWhenReprogrammed) {
  Attach();
  SetCfg(0x10, 0xC000);
  SetCfg(0x14, 0xFEB00000);
  EXPECT_FALSE(pio_.Claims(0xC000));  // decode still off
  EXPECT_FALSE(mmio_.Claims(0xFEB00000));
  SetCfg(0x04, PciDevice::kCommandIo, 2);
  EXPECT_EQ(pio_.Read(0xC004, 1), 0xA4u);
  EXPECT_FALSE(mmio_.Claims(0xFEB00000));
  SetCfg(0x04, PciDevice::kCommandIo | PciDevice::kCommandMemory, 2);
  EXPECT_EQ(mmio_.Read(0xFEB00010, 4), 0xB0u);
  mmio_.Write(0xFEB00FFC, 4, 0x55);
  ASSERT_EQ(dev_.mmio.writes.size(), 1u);
  EXPECT_EQ(dev_.mmio.writes[0].first, 0xFFCu);
  // Moving the BAR unmaps the old range.
  SetCfg(0x14, 0xFEB10000);
  EXPECT_FALSE(mmio_.Claims(0xFEB00000));
  EXPECT_TRUE(mmio_.Claims(0xFEB10000));
  EXPECT_EQ(dev_.bar_address(1), 0xFEB10000u);
  // So does disabling decode.
  SetCfg(0x04, 0, 2);
  EXPECT_FALSE(pio_.Claims(0xC000));
  EXPECT_FALSE(mmio_.Claims(0xFEB10000));
}

TEST_F(PciDeviceTest, SixtyFourBitBarAboveFourGiB) {
  Attach();
  SetCfg(0x18, 0x00000000 | 0xC);
  SetCfg(0x1C, 0x80);
  SetCfg(0x04, PciDevice::kCommandMemory, 2);
  EXPECT_EQ(dev_.bar_address(2), 0x8000000000ull);
  EXPECT_EQ(mmio_.Read(0x8000000008ull, 1), 0xA8u);
  SetCfg(0x1C, 0x81);
  EXPECT_FALSE(mmio_.Claims(0x8000000000ull));
  EXPECT_TRUE(mmio_.Claims(0x8100000000ull));
}

TEST_F(PciDeviceTest, BarOverRamOrAnotherRangeIsRefusedAndTheGuestRunsOn) {
  testing::Registers other;
  ASSERT_TRUE(pio_.Register(0x3F8, 8, &other, "COM1").ok());
  Attach();
  SetCfg(0x14, 0x00100000);  // in RAM
  SetCfg(0x10, 0x3E0);       // 0x3E0-0x3FF covers COM1
  SetCfg(0x04, PciDevice::kCommandIo | PciDevice::kCommandMemory, 2);
  EXPECT_EQ(dev_.bar_address(0), PciDevice::kUnmapped);
  EXPECT_EQ(dev_.bar_address(1), PciDevice::kUnmapped);
  EXPECT_FALSE(mmio_.Claims(0x00100000));
  EXPECT_EQ(pio_.Read(0x3F8, 1), 0xA0u);  // COM1 is still COM1
  // Reprogrammed to a free place, both map.
  SetCfg(0x14, 0xFEB00000);
  SetCfg(0x10, 0xC000);
  EXPECT_EQ(dev_.bar_address(0), 0xC000u);
  EXPECT_EQ(dev_.bar_address(1), 0xFEB00000u);
}

TEST_F(PciDeviceTest, ResetUnmapsAndRestoresPowerOnConfig) {
  Attach();
  SetCfg(0x10, 0xC000);
  SetCfg(0x04, PciDevice::kCommandIo, 2);
  SetCfg(0x3C, 11, 1);
  ASSERT_TRUE(pio_.Claims(0xC000));
  pci_.Reset();
  EXPECT_FALSE(pio_.Claims(0xC000));
  EXPECT_EQ(Cfg(0x10), 1u);
  EXPECT_EQ(Cfg(0x04, 2), 0u);
  EXPECT_EQ(Cfg(0x3C, 1), 0u);
}

TEST_F(PciDeviceTest, CapabilitiesListLinksMsiAndMsix) {
  dev_.AddMsi(4);
  dev_.AddMsix(8, 4);
  Attach();
  EXPECT_TRUE(Cfg(0x06, 2) & PciDevice::kStatusCapabilities);
  unsigned seen = 0, ptr = Cfg(0x34, 1);
  std::vector<unsigned> ids;
  while (ptr && seen++ < 8) {
    EXPECT_EQ(ptr % 4, 0u);
    EXPECT_GE(ptr, 0x40u);
    ids.push_back(Cfg(ptr, 1));
    ptr = Cfg(ptr + 1, 1);
  }
  EXPECT_EQ(ids, (std::vector<unsigned>{PciDevice::kCapMsix, PciDevice::kCapMsi}));
  // The MSI-X table lives in BAR4, 4 KiB, 32-bit memory.
  SetCfg(0x20, 0xFFFFFFFF);
  EXPECT_EQ(Cfg(0x20), 0xFFFFF000u);
}

TEST_F(PciDeviceTest, IntxFollowsTheRequestUnlessDisabled) {
  Attach();
  dev_.SetIntx(true);
  ASSERT_EQ(router_.calls.size(), 1u);
  EXPECT_EQ(router_.calls[0].devfn, kDevfn);
  EXPECT_EQ(router_.calls[0].pin, 0);
  EXPECT_TRUE(router_.calls[0].level);
  EXPECT_TRUE(Cfg(0x06, 2) & PciDevice::kStatusInterrupt);
  SetCfg(0x04, PciDevice::kCommandIntxDisable, 2);
  ASSERT_EQ(router_.calls.size(), 2u);
  EXPECT_FALSE(router_.calls[1].level);
  EXPECT_TRUE(Cfg(0x06, 2) & PciDevice::kStatusInterrupt);  // still requested
  SetCfg(0x04, 0, 2);
  EXPECT_TRUE(router_.calls.back().level);
  dev_.SetIntx(false);
  EXPECT_FALSE(router_.calls.back().level);
  EXPECT_FALSE(Cfg(0x06, 2) & PciDevice::kStatusInterrupt);
}

TEST_F(PciDeviceTest, MsiSendsAddressAndDataWithTheVectorInTheLowBits) {
  dev_.AddMsi(4);
  Attach();
  unsigned cap = Cfg(0x34, 1);
  EXPECT_FALSE(dev_.NotifyMsi(0));  // not enabled: the caller uses INTx
  SetCfg(cap + 4, 0xFEE01000);
  SetCfg(cap + 8, 0);
  SetCfg(cap + 12, 0x4060, 2);
  SetCfg(cap + 2, 0x0001 | (2 << 4), 2);  // enable, 4 vectors
  SetCfg(0x04, PciDevice::kCommandMaster, 2);
  EXPECT_TRUE(dev_.NotifyMsi(3));
  ASSERT_EQ(msi_.messages.size(), 1u);
  EXPECT_EQ(msi_.messages[0].first, 0xFEE01000u);
  EXPECT_EQ(msi_.messages[0].second, 0x4063u);
  // MSI replaces INTx.
  dev_.SetIntx(true);
  EXPECT_TRUE(router_.calls.empty());
  // Without bus mastering the message write never happens.
  SetCfg(0x04, 0, 2);
  EXPECT_TRUE(dev_.NotifyMsi(0));
  EXPECT_EQ(msi_.messages.size(), 1u);
}

TEST_F(PciDeviceTest, MsixMasksHoldMessagesPendingUntilUnmasked) {
  dev_.AddMsix(8, 4);
  Attach();
  unsigned cap = Cfg(0x34, 1);
  SetCfg(0x20, 0xFEB40000);
  SetCfg(0x04, PciDevice::kCommandMemory | PciDevice::kCommandMaster, 2);
  ASSERT_TRUE(mmio_.Claims(0xFEB40000));
  // Entry 2: address, data; still masked (the reset state).
  mmio_.Write(0xFEB40000 + 2 * 16, 4, 0xFEE00000);
  mmio_.Write(0xFEB40000 + 2 * 16 + 4, 4, 0);
  mmio_.Write(0xFEB40000 + 2 * 16 + 8, 4, 0x51);
  EXPECT_EQ(mmio_.Read(0xFEB40000 + 2 * 16 + 12, 4), 1u);
  SetCfg(cap + 2, 0x8000, 2);  // MSI-X enable
  EXPECT_TRUE(dev_.NotifyMsi(2));
  EXPECT_TRUE(msi_.messages.empty());
  unsigned pba = Cfg(cap + 8) & ~7u;
  EXPECT_EQ(mmio_.Read(0xFEB40000 + pba, 8), 1u << 2);
  mmio_.Write(0xFEB40000 + 2 * 16 + 12, 4, 0);  // unmask: the pending message goes
  ASSERT_EQ(msi_.messages.size(), 1u);
  EXPECT_EQ(msi_.messages[0], (std::pair<uint64_t, uint32_t>{0xFEE00000u, 0x51u}));
  EXPECT_EQ(mmio_.Read(0xFEB40000 + pba, 8), 0u);
  // The function mask holds every vector.
  SetCfg(cap + 2, 0xC000, 2);
  dev_.NotifyMsi(2);
  EXPECT_EQ(msi_.messages.size(), 1u);
  SetCfg(cap + 2, 0x8000, 2);
  EXPECT_EQ(msi_.messages.size(), 2u);
}

}  // namespace
}  // namespace tandem::hw
