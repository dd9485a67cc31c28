// I/O APIC through IOREGSEL/IOWIN on an MMIO bus, delivering to a real local
// APIC: redirection to vectors, masks, edge and level inputs with remote IRR
// and EOI, polarity, destinations; then the chipset's ISA IRQ fan-out.
#include "hw/intc/ioapic.h"

#include <gtest/gtest.h>

#include <memory>

#include "hw/bus.h"
#include "hw/intc/i8259.h"
#include "hw/pc_chipset.h"
#include "hw/pc_layout.h"

namespace tandem::hw {
namespace {

constexpr uint64_t kIoBase = layout::kIoApicBase;
constexpr uint64_t kLapicBase = layout::kLapicBase;

class IoApicTest : public ::testing::Test {
 protected:
  IoApicTest() {
    EXPECT_TRUE(mmio_.Register(kIoBase, layout::kIoApicSize, &ioapic_, "ioapic").ok());
    EXPECT_TRUE(mmio_.Register(kLapicBase, layout::kLapicSize, &lapic_, "lapic").ok());
    lapic_.SetEoiCallback([this](uint8_t v) { ioapic_.EndOfInterrupt(v); });
    mmio_.Write(kLapicBase + LocalApic::kSvr, 4, 0x1FF);
  }
  uint32_t Reg(uint8_t index) {
    mmio_.Write(kIoBase, 4, index);
    return static_cast<uint32_t>(mmio_.Read(kIoBase + 0x10, 4));
  }
  void SetReg(uint8_t index, uint32_t value) {
    mmio_.Write(kIoBase, 4, index);
    mmio_.Write(kIoBase + 0x10, 4, value);
  }
  void Route(int pin, uint64_t entry) {
    SetReg(static_cast<uint8_t>(0x11 + 2 * pin), static_cast<uint32_t>(entry >> 32));
    SetReg(static_cast<uint8_t>(0x10 + 2 * pin), static_cast<uint32_t>(entry));
  }
  uint64_t Entry(int pin) {
    return Reg(static_cast<uint8_t>(0x10 + 2 * pin)) | (uint64_t{Reg(static_cast<uint8_t>(0x11 + 2 * pin))} << 32);
  }
  uint8_t Take() {
    uint8_t v = lapic_.AcknowledgeInterrupt();
    mmio_.Write(kLapicBase + LocalApic::kEoi, 4, 0);
    return v;
  }

  ManualClock clock_;
  Bus mmio_{"mmio"};
  I8259Pair pic_;
  LocalApic lapic_{clock_, pic_};
  ApicBus bus_{{&lapic_}};
  IoApic ioapic_{bus_, 1};
};

TEST_F(IoApicTest, IdentificationRegisters) {
  EXPECT_EQ(Reg(0x00), 0x01000000u);
  EXPECT_EQ(Reg(0x01), 0x00170011u);
  EXPECT_EQ(Reg(0x02), 0x01000000u);
  SetReg(0x00, 0x0A000000);
  EXPECT_EQ(Reg(0x00), 0x0A000000u);
  SetReg(0x01, 0);  // read-only
  EXPECT_EQ(Reg(0x01), 0x00170011u);
  mmio_.Write(kIoBase, 1, 0x01);
  EXPECT_EQ(mmio_.Read(kIoBase, 1), 0x01u);
  for (int pin = 0; pin < 24; ++pin) EXPECT_EQ(Entry(pin), 0x10000u) << pin;
  EXPECT_EQ(Reg(0x40), 0xFFFFFFFFu);  // past the table
}

TEST_F(IoApicTest, EdgePinDeliversItsVector) {
  Route(4, 0x34);  // fixed, physical, edge, active high, unmasked, APIC 0
  EXPECT_EQ(Entry(4), 0x34u);
  ioapic_.Input(4).SetLevel(true);
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(Take(), 0x34);
  ioapic_.Input(4).SetLevel(true);  // no new edge
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  ioapic_.Input(4).Pulse();
  ioapic_.Input(4).SetLevel(false);
  ioapic_.Input(4).Pulse();
  EXPECT_EQ(Take(), 0x34);
  EXPECT_FALSE(lapic_.tmr(0x34));
  EXPECT_EQ(Entry(4) & IoApic::kRemoteIrr, 0u);
}

TEST_F(IoApicTest, MaskedPinDropsEdges) {
  Route(3, IoApic::kMasked | 0x33);
  ioapic_.Input(3).Pulse();
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  Route(3, 0x33);  // unmasking an edge pin does not replay the lost edge
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  ioapic_.Input(3).Pulse();
  EXPECT_EQ(Take(), 0x33);
}

TEST_F(IoApicTest, LevelPinRemoteIrrAndEoi) {
  Route(9, IoApic::kLevel | 0x49);
  ioapic_.Input(9).SetLevel(true);
  EXPECT_TRUE(Entry(9) & IoApic::kRemoteIrr);
  EXPECT_TRUE(lapic_.tmr(0x49));
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x49);
  // Still asserted, but remote IRR holds it until the EOI.
  ioapic_.Input(9).SetLevel(true);
  EXPECT_FALSE(lapic_.irr(0x49));
  mmio_.Write(kLapicBase + LocalApic::kEoi, 4, 0);
  // The line is still high: the EOI re-delivers.
  EXPECT_TRUE(Entry(9) & IoApic::kRemoteIrr);
  EXPECT_TRUE(lapic_.irr(0x49));
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x49);
  ioapic_.Input(9).SetLevel(false);  // the device is serviced
  mmio_.Write(kLapicBase + LocalApic::kEoi, 4, 0);
  EXPECT_EQ(Entry(9) & IoApic::kRemoteIrr, 0u);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  // Remote IRR is read-only to the guest.
  ioapic_.Input(9).SetLevel(true);
  EXPECT_TRUE(Entry(9) & IoApic::kRemoteIrr);
  Route(9, IoApic::kLevel | 0x49);
  EXPECT_TRUE(Entry(9) & IoApic::kRemoteIrr);
}

TEST_F(IoApicTest, UnmaskingAnAssertedLevelPinDelivers) {
  Route(10, IoApic::kMasked | IoApic::kLevel | 0x5A);
  ioapic_.Input(10).SetLevel(true);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  Route(10, IoApic::kLevel | 0x5A);
  ASSERT_TRUE(lapic_.HasPendingInterrupt());
  EXPECT_EQ(Take(), 0x5A);
  EXPECT_TRUE(lapic_.irr(0x5A));  // redelivered at EOI: the line is still high
}

TEST_F(IoApicTest, ActiveLowPolarity) {
  Route(11, IoApic::kPolarityLow | IoApic::kLevel | 0x6B);
  // The wire idles low, which an active-low pin sees as asserted.
  ioapic_.Input(11).SetLevel(true);
  ioapic_.Input(11).SetLevel(false);
  EXPECT_EQ(lapic_.AcknowledgeInterrupt(), 0x6B);
  ioapic_.Input(11).SetLevel(true);  // deasserted
  mmio_.Write(kLapicBase + LocalApic::kEoi, 4, 0);
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
}

TEST_F(IoApicTest, DestinationsAndDeliveryModes) {
  Route(5, (uint64_t{3} << 56) | 0x35);  // physical APIC 3: nobody
  ioapic_.Input(5).Pulse();
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
  mmio_.Write(kLapicBase + LocalApic::kLdr, 4, 0x01000000);
  Route(5, (uint64_t{1} << 56) | (1u << 11) | (1u << 8) | 0x35);  // logical 1, lowest priority
  ioapic_.Input(5).Pulse();
  EXPECT_EQ(Take(), 0x35);
  Route(6, (uint64_t{0xFF} << 56) | 0x36);  // broadcast
  ioapic_.Input(6).Pulse();
  EXPECT_EQ(Take(), 0x36);
  Route(7, (7u << 8) | 0x37);  // ExtINT: logged, not delivered
  ioapic_.Input(7).Pulse();
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
}

TEST_F(IoApicTest, ResetMasksEverything) {
  Route(4, 0x34);
  ioapic_.Reset();
  EXPECT_EQ(Entry(4), 0x10000u);
  ioapic_.Input(4).Pulse();
  EXPECT_FALSE(lapic_.HasPendingInterrupt());
}

// The chipset wires each ISA IRQ to the i8259 and to the I/O APIC (IRQ0 on
// pin 2), and exposes the local APIC as its interrupt source.
TEST(ChipsetIoApicTest, PitReachesPin2AndThePic) {
  ManualClock clock;
  clock.Set(1'000'000'000);
  PcChipsetConfig config;
  config.clock = &clock;
  config.wall_clock = [] { return static_cast<time_t>(0); };
  PcChipset chipset(std::move(config));
  Bus pio("pio"), mmio("mmio");
  ASSERT_TRUE(chipset.Attach(pio).ok());
  ASSERT_TRUE(chipset.AttachMmio(mmio).ok());
  // Each CPU reaches its own local APIC in front of the bus (hw/cpu_socket.h).
  EXPECT_FALSE(mmio.Claims(layout::kLapicBase));
  EXPECT_TRUE(mmio.Claims(layout::kIoApicBase));
  InterruptSource& intc = chipset.interrupts();
  EXPECT_EQ(&intc, static_cast<InterruptSource*>(&chipset.lapic()));

  // APIC mode as Linux sets it up: APIC on, LINT0 masked, IRQ0 on pin 2.
  chipset.lapic().Write(LocalApic::kSvr, 4, 0x1FF);
  chipset.lapic().Write(LocalApic::kLvtLint0, 4, 0x10700);
  mmio.Write(kIoBase, 4, 0x10 + 2 * 2);
  mmio.Write(kIoBase + 0x10, 4, 0x30);
  mmio.Write(kIoBase, 4, 0x10 + 2 * 4);  // COM1 (IRQ4) on pin 4
  mmio.Write(kIoBase + 0x10, 4, 0x34);

  pio.Write(0x43, 1, 0x34);  // PIT channel 0, mode 2
  pio.Write(0x40, 1, 0xA9);
  pio.Write(0x40, 1, 0x04);  // ~1 ms
  // The mode 2 control word raises OUT: one early edge on pin 2.
  ASSERT_TRUE(intc.HasPendingInterrupt());
  EXPECT_EQ(intc.AcknowledgeInterrupt(), 0x30);
  chipset.lapic().Write(LocalApic::kEoi, 4, 0);
  EXPECT_FALSE(intc.HasPendingInterrupt());
  clock.Advance(1'000'000);
  for (TimedDevice* dev : chipset.timed_devices()) {
    if (dev->NextDeadlineNs() <= clock.NowNs()) dev->AdvanceTo(clock.NowNs());
  }
  ASSERT_TRUE(intc.HasPendingInterrupt());
  EXPECT_EQ(intc.AcknowledgeInterrupt(), 0x30);
  // The same edges reached the (uninitialized, masked-by-LINT0) i8259's IR0.
  EXPECT_TRUE(chipset.pic().master().irr() & 0x01);

  // COM1's THRE interrupt (IER bit 1, OUT2 enables the ISA IRQ driver).
  chipset.lapic().Write(LocalApic::kEoi, 4, 0);
  pio.Write(0x3F8 + 4, 1, 0x08);
  pio.Write(0x3F8 + 1, 1, 0x02);
  ASSERT_TRUE(intc.HasPendingInterrupt());
  EXPECT_EQ(intc.AcknowledgeInterrupt(), 0x34);
}

}  // namespace
}  // namespace tandem::hw
