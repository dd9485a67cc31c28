// i8042 keyboard controller through ports 0x60/0x64, as SeaBIOS and Linux's
// i8042/atkbd drivers talk to it.
#include "hw/input/i8042.h"

#include <gtest/gtest.h>

#include <vector>

#include "hw/bus.h"
#include "hw/pc_layout.h"
#include "tests/hw/irq_recorder.h"

namespace tandem::hw {
namespace {

constexpr uint16_t kData = layout::kI8042DataPort, kCmd = layout::kI8042CommandPort;

// Puts the controller's data or command register alone at a port.
class Alias final : public IoDevice {
 public:
  Alias(IoDevice& dev, uint64_t offset) : dev_(dev), offset_(offset) {}
  uint64_t Read(uint64_t, unsigned size) override { return dev_.Read(offset_, size); }
  void Write(uint64_t, unsigned size, uint64_t v) override { dev_.Write(offset_, size, v); }

 private:
  IoDevice& dev_;
  uint64_t offset_;
};

class KbcTest : public ::testing::Test {
 protected:
  KbcTest() {
    EXPECT_TRUE(bus_.Register(kData, 1, &data_, "kbd data").ok());
    EXPECT_TRUE(bus_.Register(kCmd, 1, &cmd_, "kbd cmd").ok());
  }
  uint8_t Status() { return static_cast<uint8_t>(bus_.Read(kCmd, 1)); }
  uint8_t ReadData() { return static_cast<uint8_t>(bus_.Read(kData, 1)); }
  void Command(uint8_t c) { bus_.Write(kCmd, 1, c); }
  void WriteData(uint8_t d) { bus_.Write(kData, 1, d); }
  // Reads everything in the output buffer, as Linux's i8042_flush().
  std::vector<uint8_t> Drain() {
    std::vector<uint8_t> out;
    while (Status() & 0x01) out.push_back(ReadData());
    return out;
  }
  using Bytes = std::vector<uint8_t>;

  testing::IrqRecorder irq1_, irq12_;
  int resets_ = 0;
  std::vector<bool> a20_;
  I8042 kbc_{irq1_, irq12_, {[this] { resets_++; }, [this](bool on) { a20_.push_back(on); }}};
  Alias data_{kbc_, I8042::kDataOffset};
  Alias cmd_{kbc_, I8042::kCommandOffset};
  Bus bus_{"pio"};
};

TEST_F(KbcTest, SelfTestAndInterfaceTest) {
  EXPECT_EQ(Status() & 0x01, 0x00);
  Command(0xAA);
  EXPECT_EQ(Status() & 0x0D, 0x0D);  // OBF, SYS, last write was a command
  EXPECT_EQ(ReadData(), 0x55);
  EXPECT_EQ(Status() & 0x01, 0x00);
  Command(0xAB);
  EXPECT_EQ(Drain(), Bytes{0x00});
  Command(0xA9);
  EXPECT_EQ(Drain(), Bytes{0x00});
}

TEST_F(KbcTest, CommandByteReadWrite) {
  Command(0x20);
  EXPECT_EQ(Drain(), Bytes{0x03});  // power-on: both interrupts enabled
  Command(0x60);
  WriteData(0x65);  // translate, kbd disable, sys, kbd int
  EXPECT_EQ(Status() & 0x08, 0x00);  // last write was data
  Command(0x20);
  EXPECT_EQ(Drain(), Bytes{0x65});
  Command(0xAE);  // enable keyboard interface
  Command(0xA7);  // disable aux
  Command(0x20);
  EXPECT_EQ(Drain(), Bytes{(0x65 & ~0x10) | 0x20});
  Command(0xA8);
  Command(0x20);
  EXPECT_EQ(Drain(), Bytes{0x45});
}

TEST_F(KbcTest, KeyboardResetRaisesIrq1PerByte) {
  WriteData(0xFF);
  EXPECT_TRUE(irq1_.level());
  EXPECT_EQ(irq1_.rising_edges(), 1);
  EXPECT_EQ(ReadData(), 0xFA);
  EXPECT_EQ(irq1_.rising_edges(), 2);  // the next byte is a new edge
  EXPECT_EQ(ReadData(), 0xAA);
  EXPECT_FALSE(irq1_.level());
  EXPECT_EQ(Status() & 0x01, 0x00);
  EXPECT_EQ(irq12_.rising_edges(), 0);
}

TEST_F(KbcTest, NoIrq1WhenDisabledInCommandByte) {
  Command(0x60);
  WriteData(0x00);
  WriteData(0xF4);
  EXPECT_FALSE(irq1_.level());
  EXPECT_EQ(Drain(), Bytes{0xFA});
}

TEST_F(KbcTest, KeyboardCommands) {
  WriteData(0xF2);
  EXPECT_EQ(Drain(), (Bytes{0xFA, 0xAB, 0x83}));
  Command(0x60);
  WriteData(0x41);  // translation on
  WriteData(0xF2);
  EXPECT_EQ(Drain(), (Bytes{0xFA, 0xAB, 0x41}));
  WriteData(0xED);
  WriteData(0x07);
  EXPECT_EQ(Drain(), (Bytes{0xFA, 0xFA}));
  WriteData(0xF0);
  WriteData(0x00);
  EXPECT_EQ(Drain(), (Bytes{0xFA, 0xFA, 0x41}));  // set 2, translated
  WriteData(0xF0);
  WriteData(0x01);
  EXPECT_EQ(Drain(), (Bytes{0xFA, 0xFA}));
  Command(0x60);
  WriteData(0x01);
  WriteData(0xF0);
  WriteData(0x00);
  EXPECT_EQ(Drain(), (Bytes{0xFA, 0xFA, 0x01}));
  WriteData(0xF5);
  WriteData(0xF4);
  WriteData(0xEE);
  EXPECT_EQ(Drain(), (Bytes{0xFA, 0xFA, 0xEE}));
  WriteData(0x12);  // not a command
  EXPECT_EQ(Drain(), Bytes{0xFE});
}

TEST_F(KbcTest, DisabledKeyboardInterfaceHoldsKeyboardBytes) {
  Command(0xAD);
  kbc_.KeyboardSend(0x1C);
  EXPECT_EQ(Status() & 0x01, 0x00);
  Command(0xAE);
  EXPECT_EQ(Drain(), Bytes{0x1C});
  // Controller replies still flow while the keyboard is disabled.
  Command(0xAD);
  Command(0xAA);
  EXPECT_EQ(Drain(), Bytes{0x55});
}

TEST_F(KbcTest, ResetPulseAndOutputPort) {
  Command(0xD0);
  EXPECT_EQ(Drain(), Bytes{0xCF});  // reset high, A20 on
  Command(0xD1);
  WriteData(0xCD);  // A20 off
  EXPECT_EQ(a20_, std::vector<bool>{false});
  EXPECT_FALSE(kbc_.a20_enabled());
  EXPECT_EQ(resets_, 0);
  Command(0xDF);
  EXPECT_TRUE(kbc_.a20_enabled());
  Command(0xFE);  // pulse the reset line
  EXPECT_EQ(resets_, 1);
  Command(0xFF);  // pulse nothing
  EXPECT_EQ(resets_, 1);
  Command(0xD1);
  WriteData(0xCE);  // bit 0 low: reset
  EXPECT_EQ(resets_, 2);
  EXPECT_EQ(a20_, (std::vector<bool>{false, true}));
}

TEST_F(KbcTest, AuxLoopbackAndMissingMouse) {
  Command(0xD3);
  WriteData(0x5A);  // Linux's AUX loopback probe
  EXPECT_EQ(Status() & 0x21, 0x21);
  EXPECT_TRUE(irq12_.level());
  EXPECT_FALSE(irq1_.level());
  EXPECT_EQ(ReadData(), 0x5A);
  EXPECT_FALSE(irq12_.level());
  Command(0xD4);
  WriteData(0xF2);  // to the mouse: nobody answers
  EXPECT_EQ(Status() & 0x61, 0x61);  // AUX OBF with timeout
  EXPECT_EQ(ReadData(), 0xFE);
  EXPECT_EQ(Status() & 0x41, 0x00);
}

// Linux's probe for an active multiplexer loops bytes back through 0xD3 with
// the AUX interface disabled (and without an answer waits 0.5 s per probe).
TEST_F(KbcTest, BytesWrittenThroughTheControllerShowWhileTheirInterfaceIsDisabled) {
  Command(0x60);
  WriteData(0x30);  // both interfaces disabled, no interrupts
  Command(0xD3);
  WriteData(0xF0);
  Command(0xD2);
  WriteData(0x56);
  kbc_.KeyboardSend(0x1C);  // a key, by contrast, waits for the interface
  EXPECT_EQ(Status() & 0x21, 0x21);
  EXPECT_EQ(ReadData(), 0xF0);
  EXPECT_EQ(Status() & 0x21, 0x01);  // the 0xD2 byte reads as the keyboard's
  EXPECT_EQ(ReadData(), 0x56);
  EXPECT_EQ(Status() & 0x01, 0x00);
  EXPECT_FALSE(irq1_.level());
  EXPECT_FALSE(irq12_.level());
  Command(0xAE);
  EXPECT_EQ(Drain(), Bytes{0x1C});
}

TEST_F(KbcTest, BytesNobodyReadsStopQueueing) {
  for (int i = 0; i < 1000; ++i) {
    Command(0xD3);
    WriteData(static_cast<uint8_t>(i));
    Command(0x20);
  }
  // The output buffer and 16 queued bytes: the first ones, in order.
  const Bytes out = Drain();
  ASSERT_EQ(out.size(), 17u);
  EXPECT_EQ(out[0], 0x00);
  EXPECT_EQ(out[1], 0x03);  // the command byte
  EXPECT_EQ(out[2], 0x01);
}

TEST_F(KbcTest, QueuedBytesAndTheirSourcesSurviveASnapshot) {
  Command(0x60);
  WriteData(0x30);
  Command(0xAA);
  Command(0xD3);
  WriteData(0xA5);
  StateWriter w;
  kbc_.VisitState(w);

  testing::IrqRecorder irq1, irq12;
  I8042 restored{irq1, irq12, {}};
  StateReader r(w.bytes().data(), w.bytes().size());
  restored.VisitState(r);
  ASSERT_EQ(r.error(), "");
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(restored.Read(I8042::kDataOffset, 1), 0x55u);  // the self test's reply was in the buffer
  EXPECT_EQ(restored.Read(I8042::kCommandOffset, 1) & 0x21, 0x21u);
  EXPECT_EQ(restored.Read(I8042::kDataOffset, 1), 0xA5u);
}

TEST_F(KbcTest, ResetRestoresPowerOnState) {
  Command(0x60);
  WriteData(0x10);
  WriteData(0xFF);
  kbc_.Reset();
  EXPECT_EQ(Status() & 0x05, 0x00);
  Command(0x20);
  EXPECT_EQ(Drain(), Bytes{0x03});
}

}  // namespace
}  // namespace tandem::hw
