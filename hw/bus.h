// An address bus (port I/O or MMIO): an interval map from address ranges to
// devices. Overlapping registrations are refused, as Firecracker's bus does;
// ranges may be removed and added while the guest runs (PCI BARs).
// An access that hits no device behaves like a master abort: reads return all
// ones, writes are dropped, and each unassigned address is logged once
// (category guest_errors: guests probe for absent devices all the time).
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

#include "hw/guest_log.h"
#include "hw/io_device.h"
#include "hw/status.h"

namespace tandem::hw {

class Bus {
 public:
  // log: where accesses to no device are reported (nullptr: nowhere).
  explicit Bus(std::string name, GuestLog* log = nullptr) : name_(std::move(name)), log_(log) {}

  // Maps [base, base + length) to device; fails on overlap or empty range.
  Status Register(uint64_t base, uint64_t length, IoDevice* device, std::string device_name);
  // Removes the range registered at base for device (a BAR being moved or
  // disabled); false when no such range exists.
  bool Unregister(uint64_t base, IoDevice* device);

  uint64_t Read(uint64_t address, unsigned size);
  void Write(uint64_t address, unsigned size, uint64_t value);

  // True when some device claims the address.
  bool Claims(uint64_t address) const { return Find(address) != nullptr; }

 private:
  struct Range {
    uint64_t base;
    uint64_t length;
    IoDevice* device;
    std::string name;
  };
  const Range* Find(uint64_t address) const;
  void LogUnassigned(const char* what, uint64_t address, unsigned size);

  std::string name_;
  GuestLog* log_;
  std::map<uint64_t, Range> ranges_;  // keyed by base
  std::set<uint64_t> logged_unassigned_;
};

}  // namespace tandem::hw
