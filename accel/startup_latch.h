// INIT and startup IPIs on their way to a vCPU (Intel SDM vol. 3A 8.4, the
// INIT-SIPI-SIPI sequence). The local APIC's CpuLinks latch them here, under
// the board's device lock and possibly on another vCPU's thread; the vCPU's
// own thread applies them to its state at an instruction boundary.
// Header-only: both engine libraries use it.
#pragma once

#include <atomic>
#include <cstdint>

#include "target-x86/cpu_state.h"

namespace tandem::accel {

class StartupLatch {
 public:
  // Any thread.
  void Init() {
    init_.store(true, std::memory_order_relaxed);
    pending_.store(true, std::memory_order_release);
  }
  void Startup(uint8_t vector) {
    sipi_.store(kSipiValid | vector, std::memory_order_relaxed);
    pending_.store(true, std::memory_order_release);
  }
  // The vCPU's thread: lock-free.
  bool pending() const { return pending_.load(std::memory_order_acquire); }

  // The vCPU's thread: INIT puts the CPU in the wait-for-SIPI state (its
  // IA32_APIC_BASE kept, as the local APIC keeps it), then a SIPI starts a
  // waiting CPU at its vector; a SIPI to a running CPU is ignored
  // (SDM 8.4.4.1). True when the state changed.
  bool Apply(x86::CpuState& s) {
    if (!pending_.exchange(false, std::memory_order_acq_rel)) return false;
    bool changed = false;
    if (init_.exchange(false, std::memory_order_relaxed)) {
      const uint64_t apic_base = s.msr.apic_base;
      s = x86::WaitForSipiState();
      s.msr.apic_base = apic_base;
      changed = true;
    }
    const unsigned sipi = sipi_.exchange(0, std::memory_order_relaxed);
    if ((sipi & kSipiValid) && s.wait_for_sipi) {
      x86::StartAtSipi(s, static_cast<uint8_t>(sipi));
      changed = true;
    }
    return changed;
  }

 private:
  static constexpr unsigned kSipiValid = 0x100;
  std::atomic<bool> pending_{false};
  std::atomic<bool> init_{false};
  std::atomic<unsigned> sipi_{0};
};

}  // namespace tandem::accel
