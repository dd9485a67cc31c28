// Where a character device's output goes (stdout, a file, a test's buffer).
#pragma once

#include <cstdint>
#include <string>

namespace tandem::hw {

class CharSink {
 public:
  virtual ~CharSink() = default;
  virtual void Put(uint8_t byte) = 0;
};

// Collects output in memory: used by tests and by engine-parity checks.
class StringSink final : public CharSink {
 public:
  void Put(uint8_t byte) override { text_.push_back(static_cast<char>(byte)); }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

}  // namespace tandem::hw
