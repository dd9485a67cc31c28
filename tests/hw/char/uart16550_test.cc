// 16550A UART driven through a port bus at COM1, as Linux's 8250 driver does.
#include "hw/char/uart16550.h"

#include <gtest/gtest.h>

#include "hw/bus.h"
#include "hw/pc_layout.h"
#include "tests/hw/irq_recorder.h"

namespace tandem::hw {
namespace {

constexpr uint16_t kBase = layout::kCom1Port;
constexpr uint16_t kThr = kBase + 0, kIer = kBase + 1, kIir = kBase + 2, kFcr = kBase + 2;
constexpr uint16_t kLcr = kBase + 3, kMcr = kBase + 4, kLsr = kBase + 5, kMsr = kBase + 6;
constexpr uint16_t kScr = kBase + 7;

class UartTest : public ::testing::Test {
 protected:
  UartTest() { EXPECT_TRUE(bus_.Register(kBase, 8, &uart_, "com1").ok()); }
  uint8_t In(uint16_t port) { return static_cast<uint8_t>(bus_.Read(port, 1)); }
  void Out(uint16_t port, uint8_t value) { bus_.Write(port, 1, value); }

  Bus bus_{"pio"};
  StringSink sink_;
  testing::IrqRecorder irq_;
  Uart16550 uart_{sink_, irq_};
};

TEST_F(UartTest, PowerOnState) {
  EXPECT_EQ(In(kIir), 0x01);  // no interrupt, FIFOs off
  EXPECT_EQ(In(kLsr), 0x60);  // THRE | TEMT
  EXPECT_EQ(In(kIer), 0x00);
  EXPECT_EQ(In(kLcr), 0x00);
  EXPECT_EQ(In(kMsr) & 0xB0, 0xB0);  // DCD, DSR, CTS from the host side
  EXPECT_FALSE(irq_.level());
}

TEST_F(UartTest, TransmitsToSink) {
  for (char c : std::string("hi\n")) Out(kThr, static_cast<uint8_t>(c));
  EXPECT_EQ(sink_.text(), "hi\n");
  EXPECT_EQ(In(kLsr) & 0x60, 0x60);
  EXPECT_EQ(irq_.rising_edges(), 0);  // THRI not enabled
}

TEST_F(UartTest, DivisorLatchShadowsThrAndIer) {
  Out(kLcr, 0x83);  // DLAB, 8N1
  Out(kThr, 0x01);  // DLL: 115200 baud
  Out(kIer, 0x00);  // DLM
  EXPECT_EQ(In(kThr), 0x01);
  EXPECT_EQ(In(kIer), 0x00);
  EXPECT_EQ(uart_.divisor(), 1);
  EXPECT_TRUE(sink_.text().empty());
  Out(kLcr, 0x03);
  EXPECT_EQ(In(kLcr), 0x03);
  Out(kThr, 'x');
  EXPECT_EQ(sink_.text(), "x");
  EXPECT_EQ(uart_.divisor(), 1);
}

// Linux 8250 serial8250_do_startup(): the UART_BUG_THRE probe.
TEST_F(UartTest, ThreInterruptRearmsOnIerWriteLikeLinuxProbe) {
  Out(kIer, 0x02);  // THRI
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(In(kIir) & 0x0F, 0x02);  // THRE; reading IIR clears it
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(In(kIir) & 0x0F, 0x01);
  Out(kIer, 0x00);
  Out(kIer, 0x02);
  EXPECT_EQ(In(kIir) & 0x0F, 0x02);  // re-armed: no UART_BUG_THRE
  Out(kIer, 0x00);
  EXPECT_EQ(irq_.rising_edges(), 2);
  EXPECT_FALSE(irq_.level());
}

TEST_F(UartTest, EachTransmitRaisesThreAgain) {
  Out(kIer, 0x02);
  EXPECT_EQ(In(kIir) & 0x0F, 0x02);
  irq_.ClearEdges();
  Out(kThr, 'a');
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(irq_.rising_edges(), 1);
  Out(kThr, 'b');  // THR write clears the source, the transmit re-raises it
  EXPECT_EQ(irq_.rising_edges(), 2);
  EXPECT_EQ(sink_.text(), "ab");
}

TEST_F(UartTest, ReceiveWithoutFifo) {
  Out(kIer, 0x01);  // RDI
  EXPECT_TRUE(uart_.CanReceive());
  uart_.ReceiveByte('q');
  EXPECT_FALSE(uart_.CanReceive());  // one-byte holding register
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(In(kIir), 0x04);
  EXPECT_EQ(In(kLsr) & 0x01, 0x01);
  EXPECT_EQ(In(kThr), 'q');
  EXPECT_EQ(In(kLsr) & 0x01, 0x00);
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(In(kIir), 0x01);
}

TEST_F(UartTest, OverrunWithoutFifoSetsOeAndLineStatusInterrupt) {
  Out(kIer, 0x05);  // RDI | RLSI
  uart_.ReceiveByte('1');
  uart_.ReceiveByte('2');
  EXPECT_EQ(In(kIir), 0x06);  // line status outranks data
  EXPECT_EQ(In(kLsr) & 0x03, 0x03);  // DR | OE; the read clears OE
  EXPECT_EQ(In(kIir), 0x04);
  EXPECT_EQ(In(kThr), '1');  // the held byte survives
}

TEST_F(UartTest, FifoTriggerLevelAndTimeout) {
  Out(kFcr, 0x87);  // enable, clear both, trigger 8
  EXPECT_EQ(In(kIir) & 0xC0, 0xC0);
  Out(kIer, 0x01);
  for (int i = 0; i < 3; i++) uart_.ReceiveByte(static_cast<uint8_t>('a' + i));
  EXPECT_EQ(In(kIir), 0xCC);  // below the trigger: character timeout
  for (int i = 3; i < 8; i++) uart_.ReceiveByte(static_cast<uint8_t>('a' + i));
  EXPECT_EQ(In(kIir), 0xC4);  // at the trigger level
  std::string got;
  while (In(kLsr) & 0x01) got.push_back(static_cast<char>(In(kThr)));
  EXPECT_EQ(got, "abcdefgh");
  EXPECT_EQ(In(kIir), 0xC1);
  EXPECT_FALSE(irq_.level());
}

TEST_F(UartTest, FifoHoldsSixteenThenOverruns) {
  Out(kFcr, 0x01);
  for (int i = 0; i < 16; i++) {
    ASSERT_TRUE(uart_.CanReceive()) << i;
    uart_.ReceiveByte(static_cast<uint8_t>(i));
  }
  EXPECT_FALSE(uart_.CanReceive());
  uart_.ReceiveByte(0xEE);
  uint8_t lsr = In(kLsr);
  EXPECT_EQ(lsr & 0x02, 0x02);  // OE
  EXPECT_EQ(In(kLsr) & 0x02, 0x00);  // cleared by the read
  for (int i = 0; i < 16; i++) EXPECT_EQ(In(kThr), i);
  EXPECT_EQ(In(kLsr) & 0x01, 0);
  // FCR bit 1 clears the receive FIFO.
  uart_.ReceiveByte(1);
  Out(kFcr, 0x03);
  EXPECT_EQ(In(kLsr) & 0x01, 0);
}

TEST_F(UartTest, DataOutranksThre) {
  Out(kIer, 0x03);
  uart_.ReceiveByte('z');
  EXPECT_EQ(In(kIir), 0x04);
  EXPECT_EQ(In(kThr), 'z');
  EXPECT_EQ(In(kIir), 0x02);
  EXPECT_EQ(In(kIir), 0x01);
}

TEST_F(UartTest, LoopbackFeedsTransmitterToReceiverAndMcrToMsr) {
  In(kMsr);  // clear deltas
  Out(kMcr, 0x10);  // loopback, all outputs off
  EXPECT_EQ(In(kMsr) & 0xF0, 0x00);
  EXPECT_FALSE(uart_.CanReceive());
  Out(kThr, 0x5A);
  EXPECT_TRUE(sink_.text().empty());
  EXPECT_EQ(In(kLsr) & 0x01, 0x01);
  EXPECT_EQ(In(kThr), 0x5A);
  uart_.ReceiveByte('x');  // the serial input is disconnected
  EXPECT_EQ(In(kLsr) & 0x01, 0x00);

  Out(kIer, 0x08);  // modem status interrupts
  Out(kMcr, 0x10 | 0x02 | 0x08);  // RTS -> CTS, OUT2 -> DCD
  EXPECT_TRUE(irq_.level());
  EXPECT_EQ(In(kIir), 0x00);
  uint8_t msr = In(kMsr);
  EXPECT_EQ(msr, 0x10 | 0x80 | 0x01 | 0x08);  // CTS DCD, DCTS DDCD
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(In(kMsr), 0x90);

  Out(kMcr, 0x00);  // leave loopback
  Out(kThr, 'k');
  EXPECT_EQ(sink_.text(), "k");
}

TEST_F(UartTest, ScratchAndReset) {
  Out(kScr, 0xA5);
  EXPECT_EQ(In(kScr), 0xA5);
  Out(kIer, 0x02);
  EXPECT_TRUE(irq_.level());
  uart_.Reset();
  EXPECT_FALSE(irq_.level());
  EXPECT_EQ(In(kScr), 0x00);
  EXPECT_EQ(In(kIer), 0x00);
}

}  // namespace
}  // namespace tandem::hw
