// Split virtqueue, device side (VIRTIO 1.2 2.7).
#include "hw/virtio/virtqueue.h"

#include <atomic>
#include <cstdio>

namespace tandem::hw::virtio {

namespace {
// Layout (2.7.5, 2.7.6, 2.7.8): a descriptor is 16 bytes; the driver ring is
// flags, idx, ring[size], used_event; the device ring flags, idx,
// {id, len}[size], avail_event.
constexpr uint64_t kDescSize = 16;
constexpr uint64_t kRingHeader = 4;
}  // namespace

std::string HexString(uint64_t value) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(value));
  return buf;
}

void VirtQueue::Reset() {
  config_ = Config{};
  config_.size = max_size_;
  last_avail_ = 0;
  used_idx_ = 0;
  signalled_used_ = 0;
  signalled_valid_ = false;
}

bool VirtQueue::ReadDesc(DmaMemory& dma, uint64_t table, uint32_t count, uint32_t index, uint64_t& addr,
                         uint32_t& len, uint16_t& flags, uint16_t& next, std::string& error) {
  if (index >= count) {
    error = "descriptor index " + std::to_string(index) + " beyond the table of " + std::to_string(count);
    return false;
  }
  uint8_t d[kDescSize];
  if (!dma.Read(table + index * kDescSize, d, sizeof d)) {
    error = "descriptor table at " + HexString(table) + " is not in RAM";
    return false;
  }
  addr = 0;
  for (int i = 7; i >= 0; --i) addr = addr << 8 | d[i];
  len = static_cast<uint32_t>(d[8] | d[9] << 8 | d[10] << 16 | static_cast<uint32_t>(d[11]) << 24);
  flags = static_cast<uint16_t>(d[12] | d[13] << 8);
  next = static_cast<uint16_t>(d[14] | d[15] << 8);
  return true;
}

bool VirtQueue::Pop(DmaMemory& dma, VirtChain& chain, std::string& error) {
  error.clear();
  if (!ready()) return false;
  // The avail_event written by the last Pop must be visible before idx is
  // read again, or a driver adding a buffer meanwhile may skip its notify
  // (2.7.10; QEMU's smp_mb in virtqueue_pop): a store-load fence.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint16_t avail_idx;
  if (!dma.Read(config_.driver + 2, &avail_idx, 2)) {
    error = "driver ring at " + HexString(config_.driver) + " is not in RAM";
    return false;
  }
  uint16_t pending = static_cast<uint16_t>(avail_idx - last_avail_);
  if (pending == 0) return false;
  if (pending > config_.size) {
    error = "driver ring idx " + std::to_string(avail_idx) + " is more than the queue size ahead";
    return false;
  }
  uint16_t head;
  if (!dma.Read(config_.driver + kRingHeader + 2ull * (last_avail_ % config_.size), &head, 2)) {
    error = "driver ring at " + HexString(config_.driver) + " is not in RAM";
    return false;
  }
  chain = VirtChain{};
  chain.head = head;
  uint64_t table = config_.desc;
  uint32_t count = config_.size;
  uint32_t index = head;
  bool indirect = false;
  // A chain visits each descriptor of its table at most once; more is a loop
  // (2.7.5.2: the driver MUST NOT create one).
  uint32_t budget = count;
  for (;;) {
    uint64_t addr;
    uint32_t len;
    uint16_t flags, next;
    if (!ReadDesc(dma, table, count, index, addr, len, flags, next, error)) return false;
    if (flags & kDescIndirect) {
      if (indirect) {
        error = "indirect descriptor inside an indirect table";
        return false;
      }
      if (flags & kDescNext) {
        error = "indirect descriptor with NEXT set";
        return false;
      }
      if (len == 0 || len % kDescSize) {
        error = "indirect table length " + std::to_string(len) + " is not a multiple of 16";
        return false;
      }
      indirect = true;
      table = addr;
      count = len / kDescSize;
      budget = count;
      index = 0;
      continue;
    }
    if (budget-- == 0) {
      error = "descriptor chain from head " + std::to_string(head) + " loops";
      return false;
    }
    bool writable = flags & kDescWrite;
    if (!writable && chain.writable_bytes) {
      error = "device-readable descriptor after a device-writable one";
      return false;
    }
    if (addr + len < addr) {
      error = "descriptor range at " + HexString(addr) + " wraps";
      return false;
    }
    chain.buffers.push_back(VirtBuffer{addr, len, writable});
    (writable ? chain.writable_bytes : chain.readable_bytes) += len;
    if (!(flags & kDescNext)) break;
    index = next;
  }
  ++last_avail_;
  // Tell the driver where we are: it notifies again when it passes this.
  if (event_idx_) {
    uint64_t avail_event = config_.device + kRingHeader + 8ull * config_.size;
    if (!dma.Write(avail_event, &last_avail_, 2)) {
      error = "device ring at " + HexString(config_.device) + " is not writable RAM";
      return false;
    }
  }
  return true;
}

bool VirtQueue::Push(DmaMemory& dma, uint16_t head, uint32_t written, std::string& error) {
  uint8_t elem[8] = {static_cast<uint8_t>(head), static_cast<uint8_t>(head >> 8), 0, 0,
                     static_cast<uint8_t>(written), static_cast<uint8_t>(written >> 8),
                     static_cast<uint8_t>(written >> 16), static_cast<uint8_t>(written >> 24)};
  uint64_t slot = config_.device + kRingHeader + 8ull * (used_idx_ % config_.size);
  uint16_t next = static_cast<uint16_t>(used_idx_ + 1);
  // The element first, then idx (2.7.8.2): the driver reads idx, then the slot.
  if (!dma.Write(slot, elem, sizeof elem) || !dma.Write(config_.device + 2, &next, 2)) {
    error = "device ring at " + HexString(config_.device) + " is not writable RAM";
    return false;
  }
  used_idx_ = next;
  return true;
}

bool VirtQueue::ShouldInterrupt(DmaMemory& dma) {
  if (!event_idx_) {
    uint16_t flags = 0;
    if (!dma.Read(config_.driver, &flags, 2)) return true;
    return !(flags & kAvailNoInterrupt);
  }
  // The used idx store before the used_event load (QEMU's virtio_notify).
  std::atomic_thread_fence(std::memory_order_seq_cst);
  uint16_t used_event = 0;
  if (!dma.Read(config_.driver + kRingHeader + 2ull * config_.size, &used_event, 2)) return true;
  uint16_t old = signalled_used_;
  bool first = !signalled_valid_;
  signalled_used_ = used_idx_;
  signalled_valid_ = true;
  // vring_need_event (2.7.10): interrupt when used_event lies in (old, new].
  return first || static_cast<uint16_t>(used_idx_ - used_event - 1) < static_cast<uint16_t>(used_idx_ - old);
}

void VirtQueue::VisitState(StateVisitor& v) {
  v(config_.size, config_.msix_vector, config_.enabled, config_.desc, config_.driver, config_.device, event_idx_,
    last_avail_, used_idx_, signalled_used_, signalled_valid_);
  if (config_.size > max_size_) {
    v.Fail("a virtqueue of " + std::to_string(config_.size) + " entries, larger than the device's " +
           std::to_string(max_size_));
    Reset();
  }
}

}  // namespace tandem::hw::virtio
