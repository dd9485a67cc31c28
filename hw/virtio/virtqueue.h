// A split virtqueue as the device side sees it (VIRTIO 1.2, 2.7 "Split
// Virtqueues"): the descriptor table, the driver (available) ring and the
// device (used) ring in guest memory, indirect descriptors (2.7.5.3) and
// VIRTIO_F_EVENT_IDX notification suppression (2.7.7, 2.7.10).
// Every guest-memory access goes through DmaMemory; a malformed ring (a
// descriptor loop, an address outside RAM, a bad length) is an error value,
// never a crash.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "hw/dma_memory.h"
#include "hw/state_visitor.h"

namespace tandem::hw::virtio {

// "0x1f00", for log lines about guest addresses.
std::string HexString(uint64_t value);

// One buffer of a descriptor chain: guest-physical range and direction.
struct VirtBuffer {
  uint64_t addr = 0;
  uint32_t len = 0;
  bool device_writable = false;
};

// A popped request: the head index (returned in the used ring) and its buffers.
struct VirtChain {
  uint16_t head = 0;
  std::vector<VirtBuffer> buffers;
  uint64_t readable_bytes = 0;
  uint64_t writable_bytes = 0;
};

class VirtQueue {
 public:
  static constexpr uint16_t kDescNext = 1, kDescWrite = 2, kDescIndirect = 4;
  static constexpr uint16_t kAvailNoInterrupt = 1;

  // The driver-visible configuration (common config registers, 4.1.4.3).
  struct Config {
    uint16_t size = 0;  // queue_size; the device's maximum at reset
    uint16_t msix_vector = 0xFFFF;
    bool enabled = false;
    uint64_t desc = 0, driver = 0, device = 0;
  };

  explicit VirtQueue(uint16_t max_size = 0) : max_size_(max_size) { Reset(); }

  void Reset();
  // Saves or restores the ring position and configuration (hw/state_visitor.h).
  void VisitState(StateVisitor& v);
  uint16_t max_size() const { return max_size_; }
  Config& config() { return config_; }
  const Config& config() const { return config_; }
  bool ready() const { return config_.enabled && config_.size != 0; }
  void set_event_idx(bool on) { event_idx_ = on; }

  // Pops the next available chain. Returns false with `error` empty when the
  // ring is empty, false with `error` set when the ring is malformed.
  bool Pop(DmaMemory& dma, VirtChain& chain, std::string& error);
  // Puts head with `written` bytes on the used ring; false (error set) when
  // the used ring is not writable RAM.
  bool Push(DmaMemory& dma, uint16_t head, uint32_t written, std::string& error);
  // After Push(es): whether the driver wants an interrupt now (avail flags,
  // or used_event with EVENT_IDX).
  bool ShouldInterrupt(DmaMemory& dma);

 private:
  bool ReadDesc(DmaMemory& dma, uint64_t table, uint32_t count, uint32_t index, uint64_t& addr, uint32_t& len,
                uint16_t& flags, uint16_t& next, std::string& error);

  uint16_t max_size_;
  Config config_;
  bool event_idx_ = false;
  uint16_t last_avail_ = 0;  // next driver-ring entry to consume
  uint16_t used_idx_ = 0;    // the device ring's idx as last written
  uint16_t signalled_used_ = 0;  // used idx at the last interrupt (EVENT_IDX)
  bool signalled_valid_ = false;
};

}  // namespace tandem::hw::virtio
