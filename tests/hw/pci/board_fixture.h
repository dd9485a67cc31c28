// A board for the chipset-level PCI tests, with helpers for configuration
// cycles through ports 0xCF8/0xCFC as firmware issues them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "hw/board.h"
#include "hw/clock.h"

namespace tandem::hw::testing {

inline std::unique_ptr<Board> MakeBoard(bool direct_boot, std::vector<uint8_t> bios = {}) {
  static ManualClock clock;  // devices only read it
  BoardConfig config;
  config.ram_size = 16ull << 20;
  config.bios = std::move(bios);
  config.clock = &clock;
  config.direct_boot = direct_boot;
  auto board = Board::Create(std::move(config));
  EXPECT_TRUE(board.ok()) << board.message();
  return board.ok() ? std::move(*board) : nullptr;
}

inline uint32_t CfgRead(Board& b, int devfn, unsigned reg, unsigned size) {
  b.pio().Write(0xCF8, 4, 0x80000000u | devfn << 8 | (reg & 0xFC));
  return static_cast<uint32_t>(b.pio().Read(0xCFC + (reg & 3), size));
}

inline void CfgWrite(Board& b, int devfn, unsigned reg, unsigned size, uint32_t value) {
  b.pio().Write(0xCF8, 4, 0x80000000u | devfn << 8 | (reg & 0xFC));
  b.pio().Write(0xCFC + (reg & 3), size, value);
}

}  // namespace tandem::hw::testing
