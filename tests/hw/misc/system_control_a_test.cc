// Port 0x92: A20 gate and fast reset through a port bus.
#include "hw/misc/system_control_a.h"

#include <gtest/gtest.h>

#include <vector>

#include "hw/bus.h"
#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

TEST(SystemControlATest, A20AndFastResetEdge) {
  int resets = 0;
  std::vector<bool> a20;
  SystemControlA dev([&] { resets++; }, [&](bool on) { a20.push_back(on); });
  Bus bus("pio");
  constexpr uint16_t kPort = layout::kSystemControlAPort;
  ASSERT_TRUE(bus.Register(kPort, 1, &dev, "port 92").ok());
  EXPECT_EQ(bus.Read(kPort, 1), 0x00u);
  bus.Write(kPort, 1, 0x02);
  EXPECT_TRUE(dev.a20_enabled());
  EXPECT_EQ(bus.Read(kPort, 1), 0x02u);
  EXPECT_EQ(resets, 0);
  bus.Write(kPort, 1, 0x03);
  EXPECT_EQ(resets, 1);
  bus.Write(kPort, 1, 0x03);  // no edge
  EXPECT_EQ(resets, 1);
  dev.Reset();  // the reset clears bit 0, so the next 1 is an edge again
  EXPECT_EQ(bus.Read(kPort, 1), 0x02u);
  bus.Write(kPort, 1, 0x03);
  EXPECT_EQ(resets, 2);
  bus.Write(kPort, 1, 0x00);
  EXPECT_FALSE(dev.a20_enabled());
  EXPECT_EQ(a20, (std::vector<bool>{true, false}));
}

}  // namespace
}  // namespace tandem::hw
