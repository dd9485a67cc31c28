#include "hw/bus.h"

namespace tandem::hw {

Status Bus::Register(uint64_t base, uint64_t length, IoDevice* device, std::string device_name) {
  if (length == 0 || base + length < base) {
    return Status::Error(name_ + ": bad range for " + device_name);
  }
  uint64_t last = base + length - 1;
  auto next = ranges_.lower_bound(base);
  if (next != ranges_.end() && next->first <= last) {
    return Status::Error(name_ + ": " + device_name + " overlaps " + next->second.name);
  }
  if (next != ranges_.begin()) {
    const Range& prev = std::prev(next)->second;
    if (prev.base + prev.length - 1 >= base) {
      return Status::Error(name_ + ": " + device_name + " overlaps " + prev.name);
    }
  }
  ranges_.emplace(base, Range{base, length, device, std::move(device_name)});
  return Status();
}

bool Bus::Unregister(uint64_t base, IoDevice* device) {
  auto it = ranges_.find(base);
  if (it == ranges_.end() || it->second.device != device) return false;
  ranges_.erase(it);
  return true;
}

const Bus::Range* Bus::Find(uint64_t address) const {
  auto it = ranges_.upper_bound(address);
  if (it == ranges_.begin()) return nullptr;
  const Range& r = std::prev(it)->second;
  return address - r.base < r.length ? &r : nullptr;
}

void Bus::LogUnassigned(const char* what, uint64_t address, unsigned size) {
  if (log_ && log_->enabled(kLogGuestErrors) && logged_unassigned_.insert(address).second) {
    log_->Log(kLogGuestErrors, "tandem: %s %s of %u bytes at 0x%llx hits no device", name_.c_str(), what, size,
              static_cast<unsigned long long>(address));
  }
}

uint64_t Bus::Read(uint64_t address, unsigned size) {
  if (const Range* r = Find(address)) return r->device->Read(address - r->base, size);
  LogUnassigned("read", address, size);
  return size >= 8 ? ~0ull : (1ull << (size * 8)) - 1;
}

void Bus::Write(uint64_t address, unsigned size, uint64_t value) {
  if (const Range* r = Find(address)) {
    r->device->Write(address - r->base, size, value);
    return;
  }
  LogUnassigned("write", address, size);
}

}  // namespace tandem::hw
