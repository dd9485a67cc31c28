// Device and CPU state in and out of a snapshot with one function per device
// (the idea of QEMU's VMStateDescription and Bochs's register_state, written
// as code): a device's VisitState() names each field once, in order; a
// StateWriter copies the fields out, a StateReader copies them back in. The
// bytes are the fields' host (little-endian x86-64) representation, so a
// snapshot is read by the tandem build that wrote it or a later one that
// bumps the format version whenever a field list changes.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <deque>
#include <string>
#include <type_traits>
#include <vector>

namespace tandem::hw {

class StateVisitor {
 public:
  virtual ~StateVisitor() = default;
  virtual bool loading() const = 0;
  // Copies `size` bytes out of (saving) or into (loading) `data`.
  virtual void Raw(void* data, size_t size) = 0;

  // Any number of fields: v(a, b, c).
  template <typename... T>
  void operator()(T&... fields) {
    (Field(fields), ...);
  }

  // Marks where a device's fields begin, so that state from another board
  // layout fails to load naming the device rather than loading garbage.
  void Section(const std::string& name) {
    uint8_t n = static_cast<uint8_t>(std::min<size_t>(name.size(), 255));
    std::string found = name.substr(0, n);
    Raw(&n, 1);
    if (loading()) found.assign(n, '\0');
    Raw(found.data(), n);
    if (loading() && found != name) Fail("expected the state of " + name + ", found " + found);
  }

  // A loaded value the device cannot take (an index past its table): the
  // load fails with this message; devices clamp the value so that nothing
  // reads out of bounds before the caller sees the failure.
  void Fail(const std::string& message) {
    if (error_.empty()) error_ = message;
  }
  const std::string& error() const { return error_; }

 private:
  template <typename T>
  void Field(T& value) {
    if constexpr (std::is_same_v<T, bool>) {
      uint8_t byte = value;
      Raw(&byte, 1);
      value = byte != 0;  // any other byte would be undefined as a bool
    } else if constexpr (std::is_enum_v<T>) {
      // Enums go as their underlying type; the device range-checks them.
      std::underlying_type_t<T> raw = static_cast<std::underlying_type_t<T>>(value);
      Raw(&raw, sizeof raw);
      value = static_cast<T>(raw);
    } else if constexpr (std::is_trivially_copyable_v<T>) {
      Raw(&value, sizeof value);
    } else {
      Container(value);
    }
  }
  template <typename T>
  void Field(std::atomic<T>& value) {
    T plain = value.load();
    Field(plain);
    value.store(plain);
  }
  // std::deque / std::vector of plain values: a count, then the elements.
  template <typename C>
  void Container(C& c) {
    uint32_t n = static_cast<uint32_t>(c.size());
    Raw(&n, sizeof n);
    if (loading()) {
      if (n > kMaxElements) {
        Fail("a queue of " + std::to_string(n) + " entries");
        n = 0;
      }
      c.clear();
      c.resize(n);
    }
    for (auto& element : c) Field(element);
  }
  static constexpr uint32_t kMaxElements = 1u << 20;
  std::string error_;
};

// Appends the visited fields to a byte vector.
class StateWriter final : public StateVisitor {
 public:
  bool loading() const override { return false; }
  void Raw(void* data, size_t size) override {
    const auto* p = static_cast<const uint8_t*>(data);
    bytes_.insert(bytes_.end(), p, p + size);
  }
  std::vector<uint8_t>& bytes() { return bytes_; }

 private:
  std::vector<uint8_t> bytes_;
};

// Reads the visited fields back from bytes a StateWriter produced; running
// past the end fails the load (and reads zeros).
class StateReader final : public StateVisitor {
 public:
  StateReader(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool loading() const override { return true; }
  void Raw(void* data, size_t size) override {
    if (size > size_ - pos_) {
      Fail("the state ends early");
      std::memset(data, 0, size);
      pos_ = size_;
      return;
    }
    std::memcpy(data, data_ + pos_, size);
    pos_ += size;
  }
  // Whether every byte was read (a longer record is from another layout).
  bool at_end() const { return pos_ == size_; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

}  // namespace tandem::hw
