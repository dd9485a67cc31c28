// A fake IRQ line for device tests: records the level and counts rising edges.
#pragma once

#include <vector>

#include "hw/irq.h"

namespace tandem::hw::testing {

class IrqRecorder final : public IrqLine {
 public:
  void SetLevel(bool high) override {
    if (high && !level_) rising_edges_++;
    level_ = high;
    history_.push_back(high);
  }
  bool level() const { return level_; }
  int rising_edges() const { return rising_edges_; }
  const std::vector<bool>& history() const { return history_; }
  void ClearEdges() { rising_edges_ = 0; }

 private:
  bool level_ = false;
  int rising_edges_ = 0;
  std::vector<bool> history_;
};

}  // namespace tandem::hw::testing
