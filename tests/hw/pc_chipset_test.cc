// The wired chipset: devices at their PC ports, IRQs through the PIC pair to
// vectors, timed devices, reset behaviour.
#include "hw/pc_chipset.h"

#include <gtest/gtest.h>

#include <vector>

#include "hw/bus.h"

namespace tandem::hw {
namespace {

class ChipsetTest : public ::testing::Test {
 protected:
  ChipsetTest() {
    clock_.Set(1'000'000'000);
    PcChipsetConfig config;
    config.clock = &clock_;
    config.serial_out = &serial_;
    config.debugcon_out = &debugcon_;
    config.request_reset = [this] { resets_++; };
    config.request_exit = [this](int status) { exits_.push_back(status); };
    config.a20_changed = [this](bool on) { a20_.push_back(on); };
    config.wall_clock = [] { return static_cast<time_t>(0); };  // 1970-01-01 00:00:00
    config.ram_below_4g = 64ull << 20;
    config.ram_above_4g = 0;
    chipset_ = std::make_unique<PcChipset>(std::move(config));
    Status s = chipset_->Attach(pio_);
    EXPECT_TRUE(s.ok()) << s.message();
  }
  uint8_t In(uint16_t port) { return static_cast<uint8_t>(pio_.Read(port, 1)); }
  void Out(uint16_t port, uint8_t value) { pio_.Write(port, 1, value); }
  void InitPicsLikeLinux() {
    for (auto [cmd, data, base, icw3] :
         {std::tuple{0x20, 0x21, 0x20, 0x04}, std::tuple{0xA0, 0xA1, 0x28, 0x02}}) {
      Out(cmd, 0x11);
      Out(data, base);
      Out(data, icw3);
      Out(data, 0x01);
      Out(data, 0x00);
    }
  }
  void Poll() {
    for (TimedDevice* dev : chipset_->timed_devices()) {
      if (dev->NextDeadlineNs() <= clock_.NowNs()) dev->AdvanceTo(clock_.NowNs());
    }
  }

  ManualClock clock_;
  StringSink serial_, debugcon_;
  int resets_ = 0;
  std::vector<int> exits_;
  std::vector<bool> a20_;
  std::unique_ptr<PcChipset> chipset_;
  Bus pio_{"pio"};
};

TEST_F(ChipsetTest, EveryDeviceIsOnItsPort) {
  for (uint16_t port : {0x20, 0x21, 0xA0, 0xA1, 0x4D0, 0x4D1, 0x40, 0x43, 0x60, 0x61, 0x64, 0x70, 0x71,
                        0x80, 0x92, 0xF4, 0x3F8, 0x3FF, 0x402}) {
    EXPECT_TRUE(pio_.Claims(port)) << std::hex << port;
  }
  EXPECT_FALSE(pio_.Claims(0x62));
  EXPECT_FALSE(pio_.Claims(0x3F7));
  // A second attach to the same bus is refused.
  EXPECT_FALSE(chipset_->Attach(pio_).ok());
}

TEST_F(ChipsetTest, SerialThreInterruptArrivesAtVector0x24) {
  InitPicsLikeLinux();
  Out(0x3F8 + 1, 0x02);  // IER: THRI
  InterruptSource& intc = chipset_->interrupts();
  ASSERT_TRUE(intc.HasPendingInterrupt());
  EXPECT_EQ(intc.AcknowledgeInterrupt(), 0x24);
  EXPECT_EQ(In(0x3F8 + 2) & 0x0F, 0x02);
  Out(0x20, 0x20);
  EXPECT_FALSE(intc.HasPendingInterrupt());
  Out(0x3F8, 'A');
  EXPECT_EQ(serial_.text(), "A");
  EXPECT_TRUE(intc.HasPendingInterrupt());  // transmit done: THRE again
}

TEST_F(ChipsetTest, SerialInputReachesTheGuest) {
  InitPicsLikeLinux();
  Out(0x3F8 + 1, 0x01);
  ASSERT_TRUE(chipset_->com1().CanReceive());
  chipset_->com1().ReceiveByte('k');
  EXPECT_EQ(chipset_->interrupts().AcknowledgeInterrupt(), 0x24);
  EXPECT_EQ(In(0x3F8 + 5) & 0x01, 0x01);
  EXPECT_EQ(In(0x3F8), 'k');
}

TEST_F(ChipsetTest, PitTicksArriveAtVector0x20) {
  InitPicsLikeLinux();
  Out(0x43, 0x34);
  Out(0x40, 0xA9);
  Out(0x40, 0x04);  // 1193: ~1 ms
  InterruptSource& intc = chipset_->interrupts();
  // The mode 2 control word raises OUT from its power-on low: one early edge.
  ASSERT_TRUE(intc.HasPendingInterrupt());
  EXPECT_EQ(intc.AcknowledgeInterrupt(), 0x20);
  Out(0x20, 0x20);
  clock_.Advance(500'000);
  Poll();
  EXPECT_FALSE(intc.HasPendingInterrupt());
  clock_.Advance(500'000);
  Poll();
  ASSERT_TRUE(intc.HasPendingInterrupt());
  EXPECT_EQ(intc.AcknowledgeInterrupt(), 0x20);
  Out(0x20, 0x20);
  clock_.Advance(1'000'000);
  Poll();
  EXPECT_TRUE(intc.HasPendingInterrupt());
}

TEST_F(ChipsetTest, RtcPeriodicInterruptCascadesToVector0x28) {
  InitPicsLikeLinux();
  Out(0x70, 0x0B);
  Out(0x71, 0x42);  // PIE
  uint64_t deadline = TimedDevice::kNoDeadline;
  for (TimedDevice* dev : chipset_->timed_devices()) deadline = std::min(deadline, dev->NextDeadlineNs());
  ASSERT_NE(deadline, TimedDevice::kNoDeadline);
  clock_.Set(deadline);
  Poll();
  InterruptSource& intc = chipset_->interrupts();
  ASSERT_TRUE(intc.HasPendingInterrupt());
  EXPECT_EQ(intc.AcknowledgeInterrupt(), 0x28);
  Out(0x70, 0x0C);
  EXPECT_EQ(In(0x71) & 0xC0, 0xC0);
  Out(0xA0, 0x20);
  Out(0x20, 0x20);
  EXPECT_FALSE(intc.HasPendingInterrupt());
}

TEST_F(ChipsetTest, CmosHoldsMemorySizeAndTime) {
  Out(0x70, 0x15);
  EXPECT_EQ(In(0x71), 0x80);  // 640 KiB
  Out(0x70, 0x17);
  uint16_t ext = In(0x71);
  Out(0x70, 0x18);
  ext |= In(0x71) << 8;
  EXPECT_EQ(ext, 63 * 1024);
  Out(0x70, 0x09);
  EXPECT_EQ(In(0x71), 0x70);  // 1970
  Out(0x70, 0x32);
  EXPECT_EQ(In(0x71), 0x19);
}

TEST_F(ChipsetTest, KeyboardInterruptAtVector0x21) {
  InitPicsLikeLinux();
  Out(0x60, 0xFF);
  InterruptSource& intc = chipset_->interrupts();
  ASSERT_TRUE(intc.HasPendingInterrupt());
  EXPECT_EQ(intc.AcknowledgeInterrupt(), 0x21);
  EXPECT_EQ(In(0x64) & 0x01, 0x01);
  EXPECT_EQ(In(0x60), 0xFA);
}

TEST_F(ChipsetTest, ExitResetAndDebugConsole) {
  Out(0xF4, 0x2A);
  EXPECT_EQ(exits_, std::vector<int>{0x55});
  pio_.Write(0xF4, 4, 0x0);
  EXPECT_EQ(exits_.back(), 1);
  Out(0x402, 'd');
  EXPECT_EQ(debugcon_.text(), "d");
  EXPECT_EQ(In(0x402), 0xE9);
  Out(0x64, 0xFE);
  EXPECT_EQ(resets_, 1);
  Out(0x92, 0x01);
  EXPECT_EQ(resets_, 2);
  Out(0x80, 0x42);
  EXPECT_EQ(In(0x80), 0x42);
}

TEST_F(ChipsetTest, A20IsTheOrOfBothGates) {
  EXPECT_TRUE(chipset_->a20_enabled());  // the 8042 output port enables it
  Out(0x92, 0x02);
  EXPECT_TRUE(a20_.empty());
  Out(0x64, 0xDD);  // 8042 A20 off: port 0x92 still holds it on
  EXPECT_TRUE(chipset_->a20_enabled());
  Out(0x92, 0x00);
  EXPECT_FALSE(chipset_->a20_enabled());
  Out(0x64, 0xD1);
  Out(0x60, 0xCF);
  EXPECT_TRUE(chipset_->a20_enabled());
  EXPECT_EQ(a20_, (std::vector<bool>{false, true}));
}

TEST_F(ChipsetTest, ResetKeepsCmosButResetsDevices) {
  InitPicsLikeLinux();
  Out(0x21, 0xFB);
  Out(0x70, 0x0F);
  Out(0x71, 0x0A);  // shutdown byte: jump via 40:67
  Out(0x3F8 + 7, 0x99);
  Out(0x43, 0x34);
  Out(0x40, 0x00);
  Out(0x40, 0x10);
  Out(0x64, 0xDD);
  chipset_->Reset();
  EXPECT_EQ(In(0x21), 0x00);
  EXPECT_EQ(In(0x3F8 + 7), 0x00);
  Out(0x70, 0x0F);
  EXPECT_EQ(In(0x71), 0x0A);
  EXPECT_EQ(chipset_->pit().NextDeadlineNs(), TimedDevice::kNoDeadline);
  EXPECT_TRUE(chipset_->a20_enabled());
  EXPECT_FALSE(chipset_->interrupts().HasPendingInterrupt());
}

TEST_F(ChipsetTest, OutputChangedCallbackWakesOnInterrupt) {
  int changes = 0;
  chipset_->pic().SetOutputChangedCallback([&] { changes++; });
  InitPicsLikeLinux();
  Out(0x3F8 + 1, 0x02);
  EXPECT_EQ(changes, 1);
  chipset_->interrupts().AcknowledgeInterrupt();
  EXPECT_EQ(changes, 2);
}

TEST(ChipsetDefaultsTest, BuildsWithoutSinksOrClock) {
  PcChipset chipset(PcChipsetConfig{});
  Bus pio("pio");
  ASSERT_TRUE(chipset.Attach(pio).ok());
  pio.Write(0x3F8, 1, 'x');  // discarded
  pio.Write(0xF4, 1, 0);     // no exit handler: ignored
  pio.Write(0x64, 1, 0xFE);  // no reset handler: ignored
  EXPECT_EQ(pio.Read(0x3F8 + 5, 1) & 0x60, 0x60u);
}

}  // namespace
}  // namespace tandem::hw
