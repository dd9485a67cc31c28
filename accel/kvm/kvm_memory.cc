// KVM memory slots following the board's memory map (kvm_memory.h).
#include "accel/kvm/kvm_memory.h"

#include <sys/ioctl.h>

#include <algorithm>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "accel/kvm/kvm_uapi.h"

namespace tandem::accel::kvm {

KvmMemorySlots::KvmMemorySlots(int vm_fd, hw::GuestMemory& memory, int max_slots)
    : vm_fd_(vm_fd), memory_(memory), max_slots_(max_slots) {
  memory_.AddObserver(this);
}

KvmMemorySlots::~KvmMemorySlots() { memory_.RemoveObserver(this); }

KvmMemorySlots::Slot KvmMemorySlots::SlotFor(const hw::MemoryRegion& r) const {
  bool rom = r.kind == hw::RegionKind::kRom;
  uint8_t* host = (rom ? memory_.rom() : memory_.ram()) + r.host_offset;
  return Slot{r.gpa, r.size, reinterpret_cast<uint64_t>(host),
              r.kind == hw::RegionKind::kRam ? 0u : static_cast<uint32_t>(KVM_MEM_READONLY), true};
}

Status KvmMemorySlots::Set(uint32_t id, const Slot& slot, const char* name) {
  kvm_userspace_memory_region region{};
  region.slot = id;
  region.flags = slot.flags;
  region.guest_phys_addr = slot.gpa;
  region.memory_size = slot.used ? slot.size : 0;  // size 0 deletes the slot
  region.userspace_addr = slot.host;
  if (ioctl(vm_fd_, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    char what[200];
    std::snprintf(what, sizeof what, "KVM refused memory slot '%s' (0x%" PRIx64 "-0x%" PRIx64 "): %s", name,
                  slot.gpa, slot.gpa + slot.size - 1, std::strerror(errno));
    return Status::Error(what);
  }
  return Status();
}

// Slots overlapping a new region must go before it comes: delete every slot
// the new map lacks, then add what it has that no slot holds.
Status KvmMemorySlots::Sync() {
  const auto& regions = memory_.map().regions();
  std::vector<Slot> wanted;
  for (const hw::MemoryRegion& r : regions) wanted.push_back(SlotFor(r));
  for (uint32_t id = 0; id < slots_.size(); ++id) {
    Slot& slot = slots_[id];
    if (!slot.used || std::find(wanted.begin(), wanted.end(), slot) != wanted.end()) continue;
    Slot gone = slot;
    gone.used = false;
    gone.flags = 0;
    if (Status s = Set(id, gone, "(removed)"); !s.ok()) return s;
    slot = Slot{};
  }
  for (size_t i = 0; i < wanted.size(); ++i) {
    if (std::find(slots_.begin(), slots_.end(), wanted[i]) != slots_.end()) continue;
    uint32_t id = 0;
    while (id < slots_.size() && slots_[id].used) ++id;
    if (max_slots_ > 0 && id >= static_cast<uint32_t>(max_slots_)) {
      return Status::Error("KVM offers " + std::to_string(max_slots_) + " memory slots, the board needs more");
    }
    if (id == slots_.size()) slots_.emplace_back();
    if (Status s = Set(id, wanted[i], regions[i].name); !s.ok()) return s;
    slots_[id] = wanted[i];
  }
  return Status();
}

// A failure here leaves part of the shadow area unmapped: the guest then sees
// MMIO there, so say why once per failure.
void KvmMemorySlots::MemoryMapChanged(uint64_t, uint64_t) {
  if (Status s = Sync(); !s.ok()) std::fprintf(stderr, "kvm: %s\n", s.message().c_str());
}

}  // namespace tandem::accel::kvm
