// An Intel 82093AA-style I/O APIC with 24 input pins (82093AA datasheet
// 290566, ICH I/O APIC version 0x11): IOREGSEL/IOWIN at offsets 0x00/0x10,
// the ID, version and arbitration registers and the redirection table.
// Interrupt messages go out on the APIC bus to the local APICs their
// destination selects; fixed and lowest-priority delivery are modelled,
// SMI/NMI/INIT/ExtINT are logged once.
#pragma once

#include <array>
#include <cstdint>

#include "hw/guest_log.h"
#include "hw/intc/local_apic.h"
#include "hw/io_device.h"
#include "hw/irq.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class IoApic final : public IoDevice {
 public:
  static constexpr int kPins = 24;
  static constexpr uint64_t kRegSelOffset = 0x00, kWindowOffset = 0x10;
  static constexpr uint8_t kIdIndex = 0x00, kVersionIndex = 0x01, kArbitrationIndex = 0x02,
                           kRedirectionIndex = 0x10;  // entry n: low at 0x10 + 2n, high at 0x11 + 2n
  static constexpr uint32_t kVersionValue = 0x00170011;  // max redirection entry 23, version 0x11
  // Redirection entry bits.
  static constexpr uint64_t kPolarityLow = 1ull << 13, kRemoteIrr = 1ull << 14, kLevel = 1ull << 15,
                            kMasked = 1ull << 16;

  // id: the APIC ID the chip reports after reset (the firmware tables name it).
  explicit IoApic(ApicBus& bus, uint8_t id = 0);
  IoApic(const IoApic&) = delete;
  IoApic& operator=(const IoApic&) = delete;

  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  // Input pin 0..23 as a device's IRQ line (the level on the wire).
  IrqLine& Input(int pin) { return lines_[pin]; }
  void SetInput(int pin, bool level);
  // The local APIC's EOI for a level-triggered vector: clears remote IRR of
  // the entries using it and re-delivers those whose input is still asserted.
  void EndOfInterrupt(uint8_t vector);

  uint64_t redirection(int pin) const { return redirection_[pin]; }

  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

  // Guest diagnostics (unimp: what is not modelled); nullptr: none.
  void set_log(GuestLog* log) { log_ = log; }

 private:
  class Line final : public IrqLine {
   public:
    void Bind(IoApic* ioapic, int pin) {
      ioapic_ = ioapic;
      pin_ = pin;
    }
    void SetLevel(bool high) override { ioapic_->SetInput(pin_, high); }

   private:
    IoApic* ioapic_ = nullptr;
    int pin_ = 0;
  };

  bool Asserted(int pin) const;
  // Sends the pin's interrupt message if it is unmasked (and, for level
  // triggering, not already waiting for EOI).
  void Service(int pin);
  uint32_t ReadIndirect(uint8_t index) const;
  void WriteIndirect(uint8_t index, uint32_t value);

  ApicBus& bus_;
  std::array<Line, kPins> lines_;
  std::array<uint64_t, kPins> redirection_{};
  uint32_t levels_ = 0;  // input wire levels, bit per pin
  uint8_t regsel_ = 0;
  const uint8_t reset_id_;
  uint8_t id_ = 0;
  GuestLog* log_ = nullptr;
  bool logged_mode_ = false;
};

}  // namespace tandem::hw
