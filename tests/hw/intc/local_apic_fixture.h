// A local APIC on an MMIO bus at its architectural base with the i8259 pair
// on the port bus and a manual clock, for the APIC unit tests.
#pragma once

#include <gtest/gtest.h>

#include <tuple>

#include "hw/bus.h"
#include "hw/clock.h"
#include "hw/intc/i8259.h"
#include "hw/intc/local_apic.h"
#include "hw/pc_layout.h"

namespace tandem::hw::testing {

class LocalApicOnBuses : public ::testing::Test {
 protected:
  static constexpr uint64_t kBase = layout::kLapicBase;

  LocalApicOnBuses() {
    EXPECT_TRUE(mmio_.Register(kBase, layout::kLapicSize, &lapic_, "lapic").ok());
    EXPECT_TRUE(pio_.Register(0x20, 2, &pic_.master(), "master").ok());
    EXPECT_TRUE(pio_.Register(0xA0, 2, &pic_.slave(), "slave").ok());
  }
  uint32_t Rd(uint64_t reg) { return static_cast<uint32_t>(mmio_.Read(kBase + reg, 4)); }
  void Wr(uint64_t reg, uint32_t value) { mmio_.Write(kBase + reg, 4, value); }
  void Enable() { Wr(LocalApic::kSvr, 0x1FF); }  // software enable, spurious vector 0xFF
  // ICW1-4 as Linux programs the pair: vectors 0x20/0x28, cascade on IRQ 2, 8086 mode.
  void InitPicLikeLinux() {
    for (auto [cmd, base, icw3] : {std::tuple{0x20, 0x20, 0x04}, std::tuple{0xA0, 0x28, 0x02}}) {
      pio_.Write(cmd, 1, 0x11);
      pio_.Write(cmd + 1, 1, base);
      pio_.Write(cmd + 1, 1, icw3);
      pio_.Write(cmd + 1, 1, 0x01);
      pio_.Write(cmd + 1, 1, 0x00);
    }
  }

  ManualClock clock_;
  Bus mmio_{"mmio"};
  Bus pio_{"pio"};
  I8259Pair pic_;
  LocalApic lapic_{clock_, pic_};
};

}  // namespace tandem::hw::testing
