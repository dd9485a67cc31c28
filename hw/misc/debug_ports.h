// Emulator debug ports: QEMU's isa-debug-exit (hw/misc/debugexit.c), the
// Bochs/QEMU debug console (hw/char/debugcon.c) and the POST code port 0x80.
#pragma once

#include <cstdint>
#include <functional>

#include "hw/char_io.h"
#include "hw/io_device.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

// A write of v asks the emulator to exit with status (v << 1) | 1.
class DebugExit final : public IoDevice {
 public:
  explicit DebugExit(std::function<void(int)> request_exit) : request_exit_(std::move(request_exit)) {}
  uint64_t Read(uint64_t offset, unsigned size) override { return 0; }
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  std::function<void(int)> request_exit_;
};

// Writes print their low byte; reads return 0xE9 so guests can detect it.
class DebugConsole final : public IoDevice {
 public:
  static constexpr uint8_t kReadback = 0xE9;
  explicit DebugConsole(CharSink& out) : out_(out) {}
  uint64_t Read(uint64_t offset, unsigned size) override { return kReadback; }
  void Write(uint64_t offset, unsigned size, uint64_t value) override {
    out_.Put(static_cast<uint8_t>(value));
  }

 private:
  CharSink& out_;
};

// The POST diagnostic port: remembers the last code written.
class PostCode final : public IoDevice {
 public:
  uint64_t Read(uint64_t offset, unsigned size) override { return last_; }
  void Write(uint64_t offset, unsigned size, uint64_t value) override {
    last_ = static_cast<uint8_t>(value);
  }
  uint8_t last() const { return last_; }
  void Reset() { last_ = 0; }
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v) { v(last_); }

 private:
  uint8_t last_ = 0;
};

}  // namespace tandem::hw
