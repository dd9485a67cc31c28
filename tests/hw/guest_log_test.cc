// hw::GuestLog: QEMU's -d category names, lines only for enabled categories,
// once-per-key lines, and the bus reporting accesses to no device through it.
#include "hw/guest_log.h"

#include <gtest/gtest.h>

#include "hw/bus.h"

namespace tandem::hw {
namespace {

TEST(GuestLogTest, ParsesQemuCategoryNames) {
  auto none = GuestLog::ParseCategories("");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, 0u);
  auto both = GuestLog::ParseCategories("unimp,guest_errors");
  ASSERT_TRUE(both.ok());
  EXPECT_EQ(*both, unsigned{kLogUnimp | kLogGuestErrors});
  auto one = GuestLog::ParseCategories("guest_errors");
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(*one, unsigned{kLogGuestErrors});
}

TEST(GuestLogTest, UnknownCategoryIsAnErrorNamingIt) {
  auto bad = GuestLog::ParseCategories("unimp,int");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.message().find("'int'"), std::string::npos) << bad.message();
  EXPECT_EQ(bad.message().find('\n'), std::string::npos);
}

TEST(GuestLogTest, HelpListsEveryCategory) {
  std::string help = GuestLog::Help();
  EXPECT_NE(help.find("unimp"), std::string::npos);
  EXPECT_NE(help.find("guest_errors"), std::string::npos);
}

TEST(GuestLogTest, WritesOnlyEnabledCategories) {
  StringSink sink;
  GuestLog log(kLogGuestErrors, &sink);
  log.Log(kLogUnimp, "not shown %d", 1);
  log.Log(kLogGuestErrors, "shown %d", 2);
  EXPECT_EQ(sink.text(), "shown 2\n");
}

TEST(GuestLogTest, LogOnceWritesAKeyOnce) {
  StringSink sink;
  GuestLog log(kLogUnimp, &sink);
  log.LogOnce(kLogUnimp, "a", "first");
  log.LogOnce(kLogUnimp, "a", "again");
  log.LogOnce(kLogUnimp, "b", "other");
  EXPECT_EQ(sink.text(), "first\nother\n");
}

TEST(GuestLogTest, BusReportsAccessesToNoDeviceAsGuestErrorsOnly) {
  StringSink quiet_sink, loud_sink;
  GuestLog quiet(kLogUnimp, &quiet_sink);
  GuestLog loud(kLogGuestErrors, &loud_sink);
  Bus quiet_bus("port I/O", &quiet);
  Bus loud_bus("port I/O", &loud);
  for (Bus* bus : {&quiet_bus, &loud_bus}) {
    EXPECT_EQ(bus->Read(0x2F9, 1), 0xFFu);
    EXPECT_EQ(bus->Read(0x2F9, 1), 0xFFu);  // once per address
    bus->Write(0x3E8, 2, 0);
  }
  EXPECT_EQ(quiet_sink.text(), "");
  EXPECT_EQ(loud_sink.text(),
            "tandem: port I/O read of 1 bytes at 0x2f9 hits no device\n"
            "tandem: port I/O write of 2 bytes at 0x3e8 hits no device\n");
}

}  // namespace
}  // namespace tandem::hw
