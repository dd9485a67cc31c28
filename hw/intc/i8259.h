// The PC/AT pair of Intel 8259A programmable interrupt controllers (master,
// slave cascaded on master IR2) plus the PIIX edge/level control registers
// (ELCR). Follows the Intel 8259A datasheet (231468) and QEMU's hw/intc/i8259.c.
#pragma once

#include <array>
#include <cstdint>
#include <functional>

#include "hw/guest_log.h"
#include "hw/io_device.h"
#include "hw/irq.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

// One 8259A: the command/data port pair and its eight request inputs.
class I8259 final : public IoDevice {
 public:
  // elcr_mask: which inputs may be made level-triggered through the ELCR.
  I8259(bool is_master, uint8_t elcr_mask);

  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  // Drives request input pin 0..7.
  void SetInput(int pin, bool level);
  // The INT output pin.
  bool output() const { return output_; }
  // Called with the new level whenever INT changes.
  void SetOutputCallback(std::function<void(bool)> callback) { on_output_ = std::move(callback); }

  // The highest-priority request that would be delivered now, or -1.
  int PendingIrq() const;
  // INTA for pin: moves the request to in-service (or not, in auto-EOI).
  void Acknowledge(int pin);
  uint8_t vector_base() const { return vector_base_; }

  uint8_t elcr() const { return elcr_; }
  void set_elcr(uint8_t value) { elcr_ = value & elcr_mask_; }
  uint8_t irr() const { return irr_; }
  uint8_t isr() const { return isr_; }
  uint8_t imr() const { return imr_; }

  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

  // Guest diagnostics (unimp: what is not modelled); nullptr: none.
  void set_log(GuestLog* log) { log_ = log; }

 private:
  int Priority(uint8_t mask) const;
  void InitReset();  // the part of the state ICW1 clears
  void UpdateOutput();

  const bool is_master_;
  const uint8_t elcr_mask_;
  std::function<void(bool)> on_output_;

  uint8_t last_irr_ = 0;  // input levels, for edge detection
  uint8_t irr_ = 0;
  uint8_t imr_ = 0;
  uint8_t isr_ = 0;
  uint8_t priority_add_ = 0;  // rotation: the pin with the highest priority
  uint8_t vector_base_ = 0;
  uint8_t elcr_ = 0;
  uint8_t init_state_ = 0;  // 0: ready, 1..3: expecting ICW2..ICW4
  bool init4_ = false;
  bool single_mode_ = false;
  bool read_isr_ = false;
  bool poll_ = false;
  bool special_mask_ = false;
  bool auto_eoi_ = false;
  bool rotate_on_auto_eoi_ = false;
  bool special_fully_nested_ = false;
  bool output_ = false;
  GuestLog* log_ = nullptr;
  bool logged_ltim_ = false;
};

// The two ELCR bytes (offset 0: master, 1: slave).
class I8259Elcr final : public IoDevice {
 public:
  I8259Elcr(I8259& master, I8259& slave) : master_(master), slave_(slave) {}
  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

 private:
  I8259& master_;
  I8259& slave_;
};

// The cascaded pair as the CPU sees it: 16 inputs and one INTR output.
// Not thread-safe: the board serializes device access.
class I8259Pair final : public InterruptSource {
 public:
  I8259Pair();
  I8259Pair(const I8259Pair&) = delete;
  I8259Pair& operator=(const I8259Pair&) = delete;

  // Input line for ISA IRQ 0..15. IRQ2 is the cascade; as on the AT, a
  // device asserting IRQ2 on the bus reaches slave pin 1 (IRQ9).
  IrqLine& Input(int irq) { return lines_[irq]; }

  bool HasPendingInterrupt() override { return master_.output(); }
  uint8_t AcknowledgeInterrupt() override;

  // Called (from inside a device access) whenever the INTR output changes,
  // e.g. to wake a halted vCPU. It must not re-enter the chipset.
  void SetOutputChangedCallback(std::function<void()> callback) { on_intr_changed_ = std::move(callback); }

  I8259& master() { return master_; }
  I8259& slave() { return slave_; }
  I8259Elcr& elcr() { return elcr_; }

  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

  void set_log(GuestLog* log) {
    master_.set_log(log);
    slave_.set_log(log);
  }

 private:
  class Line final : public IrqLine {
   public:
    void Bind(I8259* chip, int pin) {
      chip_ = chip;
      pin_ = pin;
    }
    void SetLevel(bool high) override { chip_->SetInput(pin_, high); }

   private:
    I8259* chip_ = nullptr;
    int pin_ = 0;
  };

  I8259 master_;
  I8259 slave_;
  I8259Elcr elcr_;
  std::array<Line, 16> lines_;
  std::function<void()> on_intr_changed_;
};

}  // namespace tandem::hw
