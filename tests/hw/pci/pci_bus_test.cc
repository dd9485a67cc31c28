// Configuration mechanism #1 (PCI 3.0 3.2.2.3.2) through the port bus:
// aligned and unaligned data accesses, absent functions, the address latch
// and the PIIX3 reset control register at 0xCF9.
#include "hw/pci/pci_bus.h"

#include <gtest/gtest.h>

#include "tests/hw/pci/pci_test_device.h"

namespace tandem::hw {
namespace {

constexpr uint32_t Address(int devfn, unsigned reg) { return 0x80000000u | devfn << 8 | (reg & 0xFC); }

class ConfigCycles : public ::testing::Test {
 protected:
  ConfigCycles() : ports_(pci_, [this] { ++resets_; }) {
    EXPECT_TRUE(pio_.Register(0xCF8, PciConfigPorts::kSize, &ports_, "pci").ok());
    pci_.set_pio(&pio_);
    pci_.set_mmio(&mmio_);
    EXPECT_TRUE(pci_.Attach(3 << 3, &device_).ok());
  }
  uint32_t Read(int devfn, unsigned reg, unsigned size) {
    pio_.Write(0xCF8, 4, Address(devfn, reg));
    return static_cast<uint32_t>(pio_.Read(0xCFC + (reg & 3), size));
  }
  void Write(int devfn, unsigned reg, unsigned size, uint32_t value) {
    pio_.Write(0xCF8, 4, Address(devfn, reg));
    pio_.Write(0xCFC + (reg & 3), size, value);
  }

  Bus pio_{"pio"}, mmio_{"mmio"};
  PciBus pci_;
  PciConfigPorts ports_;
  testing::TestPciDevice device_;
  int resets_ = 0;
};

TEST_F(ConfigCycles, AlignedReadsOfTheHeader) {
  EXPECT_EQ(Read(3 << 3, 0x00, 4), 0x10001AF4u);
  EXPECT_EQ(Read(3 << 3, 0x00, 2), 0x1AF4u);
  EXPECT_EQ(Read(3 << 3, 0x08, 4), 0x02000001u);  // class 02 00 00, revision 1
  EXPECT_EQ(Read(3 << 3, 0x3D, 1), 1u);
}

TEST_F(ConfigCycles, UnalignedAccessesWithinTheDword) {
  EXPECT_EQ(Read(3 << 3, 0x01, 1), 0x1Au);
  EXPECT_EQ(Read(3 << 3, 0x02, 2), 0x1000u);
  EXPECT_EQ(Read(3 << 3, 0x03, 1), 0x10u);
  EXPECT_EQ(Read(3 << 3, 0x0A, 2), 0x0200u);
  Write(3 << 3, 0x3C, 1, 0x0B);  // interrupt line: writable
  EXPECT_EQ(Read(3 << 3, 0x3C, 4) & 0xFFFF, 0x010Bu);
  Write(3 << 3, 0x3E, 2, 0xFFFF);  // min grant/max latency: read-only zero
  EXPECT_EQ(Read(3 << 3, 0x3C, 4), 0x010Bu);
}

TEST_F(ConfigCycles, ReadOnlyRegistersIgnoreWrites) {
  Write(3 << 3, 0x00, 4, 0x12345678);
  EXPECT_EQ(Read(3 << 3, 0x00, 4), 0x10001AF4u);
  Write(3 << 3, 0x04, 2, 0xFFFF);  // command: only the implemented bits stick
  EXPECT_EQ(Read(3 << 3, 0x04, 2), 0x0407u);
}

TEST_F(ConfigCycles, AbsentFunctionsReadAllOnesAndDropWrites) {
  EXPECT_EQ(Read(0, 0x00, 4), 0xFFFFFFFFu);
  EXPECT_EQ(Read((3 << 3) | 1, 0x00, 2), 0xFFFFu);
  EXPECT_EQ(Read(31 << 3, 0x3F, 1), 0xFFu);
  Write(0, 0x04, 2, 0x7);  // nothing there, nothing happens
  // Another bus: nothing on it either.
  pio_.Write(0xCF8, 4, 0x80010000u | (3 << 11));
  EXPECT_EQ(pio_.Read(0xCFC, 4), 0xFFFFFFFFu);
  // The enable bit clear: no cycle at all.
  pio_.Write(0xCF8, 4, Address(3 << 3, 0) & 0x7FFFFFFF);
  EXPECT_EQ(pio_.Read(0xCFC, 4), 0xFFFFFFFFu);
}

TEST_F(ConfigCycles, AddressRegisterLatchesDwordWritesOnly) {
  pio_.Write(0xCF8, 4, 0x80000000u);
  EXPECT_EQ(pio_.Read(0xCF8, 4), 0x80000000u);  // Linux's type-1 probe
  pio_.Write(0xCFB, 1, 0x01);                   // byte writes (the type-2 probe) are ignored
  pio_.Write(0xCF8, 1, 0x00);
  EXPECT_EQ(pio_.Read(0xCF8, 4), 0x80000000u);
  pio_.Write(0xCF8, 4, 0x8000181Fu);  // the low two bits are not kept
  EXPECT_EQ(pio_.Read(0xCF8, 4), 0x8000181Cu);
}

TEST_F(ConfigCycles, ResetControlRegisterResetsOnRstCpu) {
  pio_.Write(0xCF9, 1, 0x02);
  EXPECT_EQ(resets_, 0);
  EXPECT_EQ(pio_.Read(0xCF9, 1), 0x02u);
  pio_.Write(0xCF9, 1, 0x06);
  EXPECT_EQ(resets_, 1);
}

TEST(PciBus, AttachRefusesATakenSlot) {
  PciBus bus;
  testing::TestPciDevice a, b;
  EXPECT_TRUE(bus.Attach(8, &a).ok());
  EXPECT_FALSE(bus.Attach(8, &b).ok());
  EXPECT_FALSE(bus.Attach(256, &b).ok());
  EXPECT_EQ(bus.device(8), &a);
  EXPECT_EQ(a.devfn(), 8);
}

}  // namespace
}  // namespace tandem::hw
