// A board for the chipset-level PCI tests, with helpers for configuration
// cycles through ports 0xCF8/0xCFC as firmware issues them.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "hw/board.h"

namespace tandem::hw::testing {

inline std::unique_ptr<Board> MakeBoard(bool direct_boot, std::vector<uint8_t> bios = {}) {
  BoardConfig config;  // the host clock: nothing here depends on time
  config.ram_size = 16ull << 20;
  config.bios = std::move(bios);
  config.direct_boot = direct_boot;
  config.virtio_rng = false;  // the chipset alone: slot 3 stays free for test devices
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
