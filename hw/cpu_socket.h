// What one CPU sees of the board: its own local APIC and interrupt pins, and
// the port-I/O and MMIO buses with that APIC's page decoded in front of the
// MMIO bus (every CPU's APIC answers at the same address, SDM vol. 3A
// 10.4.1). Engines reach devices only through their vCPU's socket.
//
// Threading: every call that runs device code takes the board's device lock
// (one lock for all devices, as QEMU's BQL: device code calls across devices,
// e.g. a UART raising an IRQ through the PIC into a local APIC that wakes
// another vCPU, so per-device locks would need an order over that whole
// chain). The interrupt hints are lock-free, for the instruction-boundary
// checks. Callbacks set with SetCpuLinks run under the device lock, possibly
// on another vCPU's thread, and must not take it again.
#pragma once

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>

#include "hw/bus.h"
#include "hw/intc/local_apic.h"

namespace tandem::hw {

class CpuSocket {
 public:
  CpuSocket(int index, LocalApic& lapic, Bus& pio, Bus& mmio, std::mutex& device_lock)
      : index_(index), lapic_(lapic), pio_(pio), mmio_(mmio), lock_(device_lock) {}
  CpuSocket(const CpuSocket&) = delete;
  CpuSocket& operator=(const CpuSocket&) = delete;

  int index() const { return index_; }
  uint8_t apic_id() const { return lapic_.initial_apic_id(); }

  uint64_t PioRead(uint64_t port, unsigned size) {
    std::lock_guard<std::mutex> hold(lock_);
    return pio_.Read(port, size);
  }
  void PioWrite(uint64_t port, unsigned size, uint64_t value) {
    std::lock_guard<std::mutex> hold(lock_);
    pio_.Write(port, size, value);
  }
  uint64_t MmioRead(uint64_t address, unsigned size) {
    std::lock_guard<std::mutex> hold(lock_);
    if (InApicPage(address)) return lapic_.Read(address & 0xFFF, size);
    return mmio_.Read(address, size);
  }
  void MmioWrite(uint64_t address, unsigned size, uint64_t value) {
    std::lock_guard<std::mutex> hold(lock_);
    if (InApicPage(address)) return lapic_.Write(address & 0xFFF, size, value);
    mmio_.Write(address, size, value);
  }

  // NMIs: lock-free (an atomic latch).
  bool HasPendingNmi() const { return lapic_.HasPendingNmi(); }
  void AcknowledgeNmi() { lapic_.AcknowledgeNmi(); }
  void ReturnNmi() {
    std::lock_guard<std::mutex> hold(lock_);
    lapic_.ReturnNmi();
  }
  // Lock-free: false when no external interrupt can be pending.
  bool MaybeInterrupt() const { return lapic_.MaybeInterrupt(); }
  bool HasPendingInterrupt() {
    std::lock_guard<std::mutex> hold(lock_);
    return lapic_.HasPendingInterrupt();
  }
  // The INTA cycle when an interrupt is pending: its vector. Otherwise
  // nothing, and MaybeInterrupt() turns false until something changes.
  std::optional<uint8_t> AcknowledgeInterrupt() {
    std::lock_guard<std::mutex> hold(lock_);
    if (!lapic_.HasPendingInterrupt()) {
      lapic_.ClearHintIfIdle();
      return std::nullopt;
    }
    return lapic_.AcknowledgeInterrupt();
  }

  // CR8 is TPR[7:4]; WRMSR/RDMSR IA32_APIC_BASE.
  uint8_t tpr() {
    std::lock_guard<std::mutex> hold(lock_);
    return lapic_.tpr();
  }
  void set_tpr(uint8_t value) {
    std::lock_guard<std::mutex> hold(lock_);
    lapic_.set_tpr(value);
  }
  uint64_t apic_base() {
    std::lock_guard<std::mutex> hold(lock_);
    return lapic_.apic_base();
  }
  void SetApicBase(uint64_t msr) {
    std::lock_guard<std::mutex> hold(lock_);
    lapic_.SetApicBase(msr);
  }

  // The engine's vCPU: wake, INIT and SIPI (see LocalApic::CpuLinks).
  void SetCpuLinks(LocalApic::CpuLinks links) {
    std::lock_guard<std::mutex> hold(lock_);
    lapic_.SetCpuLinks(std::move(links));
  }

  // The CPU waits for what only another CPU can send it (an NMI, INIT or
  // SIPI): HLT with interrupts off, or the wait-for-SIPI state. The board
  // ends the run when every CPU is stuck (Board::AllCpusStuck).
  void set_stuck(bool stuck) { stuck_.store(stuck); }
  bool stuck() const { return stuck_.load(); }

  // The APIC itself, for tests and for code that runs with the world paused.
  LocalApic& lapic() { return lapic_; }

 private:
  // The APIC cannot be relocated (local_apic.h), so its page is fixed.
  static bool InApicPage(uint64_t address) { return (address & ~0xFFFull) == LocalApic::kDefaultBase; }

  const int index_;
  LocalApic& lapic_;
  Bus& pio_;
  Bus& mmio_;
  std::mutex& lock_;
  std::atomic<bool> stuck_{false};
};

}  // namespace tandem::hw
