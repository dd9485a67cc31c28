// Debug exit, debug console and POST code ports through a port bus.
#include "hw/misc/debug_ports.h"

#include <gtest/gtest.h>

#include <vector>

#include "hw/bus.h"
#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

TEST(DebugExitTest, ExitStatusIsValueShiftedOrOne) {
  std::vector<int> exits;
  DebugExit dev([&](int status) { exits.push_back(status); });
  Bus bus("pio");
  ASSERT_TRUE(bus.Register(layout::kDebugExitPort, 4, &dev, "debug exit").ok());
  bus.Write(layout::kDebugExitPort, 1, 0x00);
  bus.Write(layout::kDebugExitPort, 1, 0x10);
  bus.Write(layout::kDebugExitPort, 1, 0x1FF);  // a byte write sees the low byte
  bus.Write(layout::kDebugExitPort, 4, 0x31);
  EXPECT_EQ(exits, (std::vector<int>{1, 0x21, 0x1FF, 0x63}));
}

TEST(DebugConsoleTest, WritesPrintAndReadsReturnE9) {
  StringSink sink;
  DebugConsole dev(sink);
  Bus bus("pio");
  ASSERT_TRUE(bus.Register(layout::kDebugConsolePort, 1, &dev, "debugcon").ok());
  for (char c : std::string("ok\n")) bus.Write(layout::kDebugConsolePort, 1, static_cast<uint8_t>(c));
  bus.Write(layout::kDebugConsolePort, 2, 0x4121);  // the low byte only
  EXPECT_EQ(sink.text(), "ok\n!");
  EXPECT_EQ(bus.Read(layout::kDebugConsolePort, 1), 0xE9u);
}

TEST(PostCodeTest, RemembersLastCode) {
  PostCode dev;
  Bus bus("pio");
  ASSERT_TRUE(bus.Register(layout::kPostPort, 1, &dev, "post").ok());
  EXPECT_EQ(bus.Read(layout::kPostPort, 1), 0u);
  bus.Write(layout::kPostPort, 1, 0x55);
  bus.Write(layout::kPostPort, 1, 0xAB);
  EXPECT_EQ(bus.Read(layout::kPostPort, 1), 0xABu);
  EXPECT_EQ(dev.last(), 0xAB);
  dev.Reset();
  EXPECT_EQ(dev.last(), 0);
}

}  // namespace
}  // namespace tandem::hw
