// hw::Bus: dispatch by offset, overlap rejection, master-abort reads.
#include "hw/bus.h"

#include <gtest/gtest.h>

#include <vector>

namespace tandem::hw {
namespace {

class RecordingDevice final : public IoDevice {
 public:
  struct Access {
    bool write;
    uint64_t offset;
    unsigned size;
    uint64_t value;
  };
  uint64_t Read(uint64_t offset, unsigned size) override {
    accesses.push_back({false, offset, size, 0});
    return 0x40 + offset;
  }
  void Write(uint64_t offset, unsigned size, uint64_t value) override {
    accesses.push_back({true, offset, size, value});
  }
  std::vector<Access> accesses;
};

TEST(BusTest, DispatchesWithOffsetIntoTheDevice) {
  Bus bus("pio");
  RecordingDevice dev;
  ASSERT_TRUE(bus.Register(0x3F8, 8, &dev, "uart").ok());
  EXPECT_EQ(bus.Read(0x3FD, 1), 0x45u);
  bus.Write(0x3F8, 2, 0xBEEF);
  ASSERT_EQ(dev.accesses.size(), 2u);
  EXPECT_FALSE(dev.accesses[0].write);
  EXPECT_EQ(dev.accesses[0].offset, 5u);
  EXPECT_TRUE(dev.accesses[1].write);
  EXPECT_EQ(dev.accesses[1].offset, 0u);
  EXPECT_EQ(dev.accesses[1].size, 2u);
  EXPECT_EQ(dev.accesses[1].value, 0xBEEFu);
  EXPECT_TRUE(bus.Claims(0x3FF));
  EXPECT_FALSE(bus.Claims(0x400));
  EXPECT_FALSE(bus.Claims(0x3F7));
}

TEST(BusTest, RejectsOverlappingRanges) {
  Bus bus("pio");
  RecordingDevice a, b;
  ASSERT_TRUE(bus.Register(0x40, 4, &a, "pit").ok());
  EXPECT_FALSE(bus.Register(0x40, 4, &b, "same").ok());
  EXPECT_FALSE(bus.Register(0x43, 1, &b, "last byte").ok());
  EXPECT_FALSE(bus.Register(0x3C, 5, &b, "tail overlaps head").ok());
  EXPECT_FALSE(bus.Register(0x30, 0x20, &b, "contains").ok());
  EXPECT_FALSE(bus.Register(0x41, 1, &b, "inside").ok());
  Status s = bus.Register(0x42, 8, &b, "crosser");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("pit"), std::string::npos) << s.message();
  // Adjacent ranges on both sides are fine.
  EXPECT_TRUE(bus.Register(0x44, 1, &b, "after").ok());
  EXPECT_TRUE(bus.Register(0x3F, 1, &b, "before").ok());
  // The refused registrations left nothing behind.
  EXPECT_FALSE(bus.Claims(0x30));
  EXPECT_EQ(bus.Read(0x41, 1), 0x41u);
}

TEST(BusTest, RejectsEmptyAndWrappingRanges) {
  Bus bus("mmio");
  RecordingDevice dev;
  EXPECT_FALSE(bus.Register(0x1000, 0, &dev, "empty").ok());
  EXPECT_FALSE(bus.Register(~0ull - 1, 4, &dev, "wraps").ok());
}

TEST(BusTest, UnassignedReadsReturnAllOnesAndWritesAreDropped) {
  Bus bus("pio");
  RecordingDevice dev;
  ASSERT_TRUE(bus.Register(0x80, 1, &dev, "post").ok());
  EXPECT_EQ(bus.Read(0x81, 1), 0xFFu);
  EXPECT_EQ(bus.Read(0x81, 2), 0xFFFFu);
  EXPECT_EQ(bus.Read(0x1234, 4), 0xFFFFFFFFu);
  EXPECT_EQ(bus.Read(0x1234, 8), ~0ull);
  bus.Write(0x81, 1, 0x12);
  EXPECT_TRUE(dev.accesses.empty());
}

TEST(BusTest, UnregisterFreesTheRangeForAnotherDevice) {
  Bus bus("mmio");
  RecordingDevice a, b;
  ASSERT_TRUE(bus.Register(0x1000, 0x100, &a, "bar").ok());
  EXPECT_FALSE(bus.Unregister(0x1000, &b));  // not b's range
  EXPECT_FALSE(bus.Unregister(0x1004, &a));  // not a range's base
  EXPECT_FALSE(bus.Register(0x10F0, 0x20, &b, "other").ok());
  EXPECT_TRUE(bus.Unregister(0x1000, &a));
  EXPECT_FALSE(bus.Claims(0x1000));
  EXPECT_EQ(bus.Read(0x1000, 4), 0xFFFFFFFFu);
  ASSERT_TRUE(bus.Register(0x10F0, 0x20, &b, "other").ok());
  EXPECT_EQ(bus.Read(0x10F4, 1), 0x44u);
  ASSERT_EQ(b.accesses.size(), 1u);
  EXPECT_TRUE(a.accesses.empty());
}

}  // namespace
}  // namespace tandem::hw
