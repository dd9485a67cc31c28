// i8259 pair through a port bus, programmed as Linux's init_8259A() does.
#include "hw/intc/i8259.h"

#include <gtest/gtest.h>

#include "hw/bus.h"
#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

constexpr uint16_t kMasterCmd = layout::kPicMasterPort, kMasterData = layout::kPicMasterPort + 1;
constexpr uint16_t kSlaveCmd = layout::kPicSlavePort, kSlaveData = layout::kPicSlavePort + 1;
constexpr uint16_t kElcr = layout::kPicElcrPort;

class PicTest : public ::testing::Test {
 protected:
  PicTest() {
    EXPECT_TRUE(bus_.Register(kMasterCmd, 2, &pic_.master(), "master").ok());
    EXPECT_TRUE(bus_.Register(kSlaveCmd, 2, &pic_.slave(), "slave").ok());
    EXPECT_TRUE(bus_.Register(kElcr, 2, &pic_.elcr(), "elcr").ok());
    pic_.SetOutputChangedCallback([this] { intr_changes_++; });
  }
  uint8_t In(uint16_t port) { return static_cast<uint8_t>(bus_.Read(port, 1)); }
  void Out(uint16_t port, uint8_t value) { bus_.Write(port, 1, value); }

  // arch/x86/kernel/i8259.c init_8259A(auto_eoi = 0), then unmask all.
  void InitLikeLinux(bool auto_eoi = false) {
    Out(kMasterData, 0xFF);
    Out(kSlaveData, 0xFF);
    Out(kMasterCmd, 0x11);  // ICW1: edge, cascade, ICW4
    Out(kMasterData, 0x20);  // ICW2: vectors 0x20-0x27
    Out(kMasterData, 0x04);  // ICW3: slave on IR2
    Out(kMasterData, auto_eoi ? 0x03 : 0x01);  // ICW4: 8086 mode
    Out(kSlaveCmd, 0x11);
    Out(kSlaveData, 0x28);
    Out(kSlaveData, 0x02);
    Out(kSlaveData, 0x01);
    Out(kMasterData, 0x00);
    Out(kSlaveData, 0x00);
  }
  uint8_t MasterIsr() {
    Out(kMasterCmd, 0x0B);
    uint8_t v = In(kMasterCmd);
    Out(kMasterCmd, 0x0A);
    return v;
  }
  uint8_t SlaveIsr() {
    Out(kSlaveCmd, 0x0B);
    uint8_t v = In(kSlaveCmd);
    Out(kSlaveCmd, 0x0A);
    return v;
  }

  Bus bus_{"pio"};
  I8259Pair pic_;
  int intr_changes_ = 0;
};

TEST_F(PicTest, LinuxInitDeliversIrq4AtVector0x24) {
  InitLikeLinux();
  EXPECT_EQ(In(kMasterData), 0x00);
  EXPECT_FALSE(pic_.HasPendingInterrupt());
  pic_.Input(4).Pulse();
  EXPECT_TRUE(pic_.HasPendingInterrupt());
  EXPECT_EQ(In(kMasterCmd), 0x10);  // IRR by default
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x24);
  EXPECT_FALSE(pic_.HasPendingInterrupt());
  EXPECT_EQ(MasterIsr(), 0x10);
  EXPECT_EQ(In(kMasterCmd), 0x00);  // IRR cleared by INTA
  Out(kMasterCmd, 0x20);  // non-specific EOI
  EXPECT_EQ(MasterIsr(), 0x00);
  EXPECT_EQ(intr_changes_, 2);  // up at the request, down at INTA
}

TEST_F(PicTest, SlaveIrqCascadesThroughIrq2) {
  InitLikeLinux();
  pic_.Input(12).Pulse();
  ASSERT_TRUE(pic_.HasPendingInterrupt());
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x2C);
  EXPECT_EQ(MasterIsr(), 0x04);
  EXPECT_EQ(SlaveIsr(), 0x10);
  Out(kSlaveCmd, 0x20);
  Out(kMasterCmd, 0x20);
  EXPECT_EQ(MasterIsr(), 0x00);
  EXPECT_EQ(SlaveIsr(), 0x00);
}

TEST_F(PicTest, PriorityAndNesting) {
  InitLikeLinux();
  pic_.Input(3).Pulse();
  pic_.Input(1).Pulse();
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x21);  // IRQ1 first
  // IRQ3 is lower than the in-service IRQ1: held back.
  EXPECT_FALSE(pic_.HasPendingInterrupt());
  // IRQ0 is higher: it nests.
  pic_.Input(0).Pulse();
  EXPECT_TRUE(pic_.HasPendingInterrupt());
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x20);
  EXPECT_EQ(MasterIsr(), 0x03);
  Out(kMasterCmd, 0x20);  // EOI clears the highest in service: IRQ0
  EXPECT_EQ(MasterIsr(), 0x02);
  EXPECT_FALSE(pic_.HasPendingInterrupt());
  Out(kMasterCmd, 0x20);
  EXPECT_TRUE(pic_.HasPendingInterrupt());
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x23);
}

TEST_F(PicTest, MaskedRequestsStayLatched) {
  InitLikeLinux();
  Out(kMasterData, 0x10);  // mask IRQ4
  pic_.Input(4).Pulse();
  EXPECT_FALSE(pic_.HasPendingInterrupt());
  EXPECT_EQ(In(kMasterCmd), 0x10);
  Out(kMasterData, 0x00);
  EXPECT_TRUE(pic_.HasPendingInterrupt());
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x24);
  // Masking the cascade input hides slave requests.
  Out(kMasterData, 0x04);
  Out(kMasterCmd, 0x20);
  pic_.Input(9).Pulse();
  EXPECT_FALSE(pic_.HasPendingInterrupt());
}

TEST_F(PicTest, EdgeTriggeredLineHeldHighRequestsOnce) {
  InitLikeLinux();
  pic_.Input(4).SetLevel(true);
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x24);
  Out(kMasterCmd, 0x20);
  pic_.Input(4).SetLevel(true);  // still high: no new edge
  EXPECT_FALSE(pic_.HasPendingInterrupt());
  pic_.Input(4).SetLevel(false);
  pic_.Input(4).SetLevel(true);
  EXPECT_TRUE(pic_.HasPendingInterrupt());
}

TEST_F(PicTest, LevelTriggeredThroughElcr) {
  InitLikeLinux();
  Out(kElcr + 1, 0x08);  // IRQ11 level-triggered
  EXPECT_EQ(In(kElcr + 1), 0x08);
  pic_.Input(11).SetLevel(true);
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x2B);
  Out(kSlaveCmd, 0x20);
  Out(kMasterCmd, 0x20);
  // The line is still asserted: the request is still there.
  EXPECT_TRUE(pic_.HasPendingInterrupt());
  pic_.Input(11).SetLevel(false);
  EXPECT_EQ(In(kSlaveCmd), 0x00);  // the slave's request follows the line
  // The master latched the cascade edge; its INTA finds no slave request.
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x2F);
  EXPECT_FALSE(pic_.HasPendingInterrupt());
}

TEST_F(PicTest, ElcrMasksFixedEdgeInputs) {
  Out(kElcr, 0xFF);
  Out(kElcr + 1, 0xFF);
  EXPECT_EQ(In(kElcr), 0xF8);  // IRQ0-2 always edge
  EXPECT_EQ(In(kElcr + 1), 0xDE);  // IRQ8 and IRQ13 always edge
  EXPECT_EQ(bus_.Read(kElcr, 2), 0xDEF8u);
}

TEST_F(PicTest, SpuriousIrq7AndIrq15WhenRequestVanishes) {
  InitLikeLinux();
  Out(kElcr, 0x20);  // IRQ5 level
  pic_.Input(5).SetLevel(true);
  ASSERT_TRUE(pic_.HasPendingInterrupt());
  pic_.Input(5).SetLevel(false);
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x27);
  EXPECT_EQ(MasterIsr(), 0x00);  // a spurious IRQ7 is not in service

  Out(kElcr + 1, 0x02);  // IRQ9 level
  pic_.Input(9).SetLevel(true);
  ASSERT_TRUE(pic_.HasPendingInterrupt());
  // The slave's request disappears between the master's INT and INTA.
  Out(kSlaveData, 0x02);
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x2F);
  EXPECT_EQ(SlaveIsr(), 0x00);
}

TEST_F(PicTest, AutoEoiLeavesNothingInService) {
  InitLikeLinux(/*auto_eoi=*/true);
  pic_.Input(6).Pulse();
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x26);
  EXPECT_EQ(MasterIsr(), 0x00);
  pic_.Input(7).Pulse();
  EXPECT_TRUE(pic_.HasPendingInterrupt());  // nothing blocks it
}

TEST_F(PicTest, SpecificEoiAndRotation) {
  InitLikeLinux();
  pic_.Input(1).Pulse();
  pic_.Input(5).Pulse();
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x21);
  Out(kMasterCmd, 0x61);  // specific EOI for IRQ1
  EXPECT_EQ(MasterIsr(), 0x00);
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x25);
  Out(kMasterCmd, 0x65);

  // Set priority: IRQ3 lowest, so IRQ4 is highest and IRQ1 below IRQ5.
  Out(kMasterCmd, 0xC3);
  pic_.Input(1).Pulse();
  pic_.Input(5).Pulse();
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x25);
  // Rotate on non-specific EOI: IRQ5 becomes lowest.
  Out(kMasterCmd, 0xA0);
  EXPECT_EQ(MasterIsr(), 0x00);
  pic_.Input(6).Pulse();
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x26);  // 6 is now highest
  Out(kMasterCmd, 0xE6);  // rotate on specific EOI for IRQ6
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x21);
}

TEST_F(PicTest, PollCommandActsAsAcknowledge) {
  InitLikeLinux();
  Out(kMasterData, 0xFF);  // polling works with the INT output masked
  Out(kMasterCmd, 0x0C);  // OCW3 poll
  EXPECT_EQ(In(kMasterCmd), 0x00);  // nothing pending
  Out(kMasterData, 0x00);
  pic_.Input(3).Pulse();
  Out(kMasterCmd, 0x0C);
  EXPECT_EQ(In(kMasterCmd), 0x83);
  EXPECT_EQ(MasterIsr(), 0x08);
}

TEST_F(PicTest, Irq2OnTheBusIsIrq9) {
  InitLikeLinux();
  pic_.Input(2).Pulse();
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x29);
}

TEST_F(PicTest, Icw1ClearsMaskAndInService) {
  InitLikeLinux();
  pic_.Input(4).Pulse();
  pic_.AcknowledgeInterrupt();
  Out(kMasterData, 0xAB);
  Out(kMasterCmd, 0x11);
  Out(kMasterData, 0x08);
  Out(kMasterData, 0x04);
  Out(kMasterData, 0x01);
  EXPECT_EQ(In(kMasterData), 0x00);
  EXPECT_EQ(MasterIsr(), 0x00);
  pic_.Input(0).Pulse();
  EXPECT_EQ(pic_.AcknowledgeInterrupt(), 0x08);  // the BIOS's base
}

TEST_F(PicTest, ResetReturnsToPowerOn) {
  InitLikeLinux();
  Out(kElcr, 0x20);
  pic_.Input(3).Pulse();
  pic_.Reset();
  EXPECT_FALSE(pic_.HasPendingInterrupt());
  EXPECT_EQ(In(kElcr), 0x00);
  EXPECT_EQ(In(kMasterData), 0x00);
}

}  // namespace
}  // namespace tandem::hw
