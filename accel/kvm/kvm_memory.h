// The KVM memory slots of a VM, kept equal to the board's guest-physical map
// (KVM_SET_USER_MEMORY_REGION, Documentation/virt/kvm/api.rst 4.35): one slot
// per RAM/ROM region, ROM and read-only shadow RAM with KVM_MEM_READONLY so
// guest writes exit as MMIO. When the chipset switches a PAM segment the
// slots that changed are deleted and the new ones added.
#pragma once

#include <cstdint>
#include <vector>

#include "hw/guest_memory.h"
#include "hw/status.h"

namespace tandem::accel::kvm {

class KvmMemorySlots final : public hw::MemoryMapObserver {
 public:
  // vm_fd: the VM; max_slots: KVM_CAP_NR_MEMSLOTS (0 when unknown).
  KvmMemorySlots(int vm_fd, hw::GuestMemory& memory, int max_slots);
  ~KvmMemorySlots() override;
  KvmMemorySlots(const KvmMemorySlots&) = delete;
  KvmMemorySlots& operator=(const KvmMemorySlots&) = delete;

  // Makes the slots match the map; the first call registers every region.
  Status Sync();
  void MemoryMapChanged(uint64_t gpa, uint64_t size) override;

 private:
  struct Slot {
    uint64_t gpa = 0, size = 0, host = 0;
    uint32_t flags = 0;
    bool used = false;
    bool operator==(const Slot&) const = default;
  };
  Slot SlotFor(const hw::MemoryRegion& region) const;
  Status Set(uint32_t id, const Slot& slot, const char* name);

  int vm_fd_;
  hw::GuestMemory& memory_;
  int max_slots_;
  std::vector<Slot> slots_;  // indexed by slot id
};

}  // namespace tandem::accel::kvm
