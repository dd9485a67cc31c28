// QEMU's pc-testdev as kvm-unit-tests use it (hw/misc/pc_testdev.h).
#include "hw/misc/pc_testdev.h"

#include <gtest/gtest.h>

#include "tests/hw/irq_recorder.h"

namespace tandem::hw {
namespace {

using testing::IrqRecorder;

struct Fixture {
  std::array<IrqRecorder, PcTestdev::kIrqLines> recorders;
  std::array<IrqLine*, PcTestdev::kIrqLines> Lines() {
    std::array<IrqLine*, PcTestdev::kIrqLines> lines{};
    for (size_t i = 0; i < lines.size(); ++i) lines[i] = &recorders[i];
    return lines;
  }
};

TEST(PcTestdevTest, DataPortKeepsEachByteWhereItWasWritten) {
  Fixture f;
  PcTestdev dev(f.Lines());
  dev.data_port().Write(0, 4, 0x11223344);
  EXPECT_EQ(dev.data_port().Read(0, 4), 0x11223344u);
  dev.data_port().Write(2, 1, 0xAB);  // what OUTSB to 0xE8 + 2 does
  EXPECT_EQ(dev.data_port().Read(0, 4), 0x11AB3344u);
  EXPECT_EQ(dev.data_port().Read(1, 2), 0xAB33u);
  dev.data_port().Write(0, 2, 0xFFFF'BEEF);  // only the access's width lands
  EXPECT_EQ(dev.data_port().Read(0, 4), 0x11ABBEEFu);
}

TEST(PcTestdevTest, IrqPortSetsTheLineItNames) {
  Fixture f;
  PcTestdev dev(f.Lines());
  dev.irq_lines().Write(14, 1, 1);
  EXPECT_TRUE(f.recorders[14].level());
  dev.irq_lines().Write(14, 1, 1);  // a level line stays high: one rising edge
  EXPECT_EQ(f.recorders[14].rising_edges(), 1);
  dev.irq_lines().Write(14, 1, 0);
  EXPECT_FALSE(f.recorders[14].level());
  dev.irq_lines().Write(23, 1, 0x80);
  EXPECT_TRUE(f.recorders[23].level());
  f.recorders[12].SetLevel(true);
  dev.irq_lines().Write(11, 4, 1);  // a byte per line, as QEMU splits it
  EXPECT_TRUE(f.recorders[11].level());
  EXPECT_FALSE(f.recorders[12].level());
  EXPECT_EQ(f.recorders[15].history().size(), 0u);
  EXPECT_EQ(dev.irq_lines().Read(14, 1), 0u);
}

TEST(PcTestdevTest, IomemIsMemoryBehindTheMmioPath) {
  Fixture f;
  PcTestdev dev(f.Lines());
  dev.iomem().Write(0x1000, 8, 0x0123456789ABCDEFull);
  EXPECT_EQ(dev.iomem().Read(0x1000, 8), 0x0123456789ABCDEFull);
  EXPECT_EQ(dev.iomem().Read(0x1003, 2), 0x6789u);  // little-endian bytes EF CD AB 89 67 ...
  dev.iomem().Write(PcTestdev::kIomemSize - 2, 8, ~0ull);  // cut at the end, as the bus would not send it
  EXPECT_EQ(dev.iomem().Read(PcTestdev::kIomemSize - 2, 2), 0xFFFFu);
  dev.Reset();
  EXPECT_EQ(dev.iomem().Read(0x1000, 8), 0u);
  EXPECT_EQ(dev.data_port().Read(0, 4), 0u);
}

}  // namespace
}  // namespace tandem::hw
