// The ACPI fixed-hardware power management registers of tandem's board (ACPI
// 6.4 section 4.8): PM1a event block (status, enable), PM1a control block and
// the 24-bit PM timer, as one 12-byte port window laid out like QEMU's PIIX4
// PM (offset 0 PM1a_STS, 2 PM1a_EN, 4 PM1a_CNT, 8 PM_TMR).
// SCI_EN always reads 1 (no SMI_CMD: the board is born in ACPI mode). Writing
// SLP_EN with SLP_TYP 5 (the DSDT's \_S5) powers off: request_exit(0). The
// fixed-feature power button (4.8.3.1.1, PM1_STS/PM1_EN bit 8) raises the SCI,
// a level, while PWRBTN_STS and PWRBTN_EN are both set. The timer overflow
// event is not modelled.
#pragma once

#include <cstdint>
#include <functional>

#include "hw/clock.h"
#include "hw/guest_log.h"
#include "hw/io_device.h"
#include "hw/irq.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class AcpiPm final : public IoDevice {
 public:
  static constexpr uint64_t kPm1StatusOffset = 0, kPm1EnableOffset = 2, kPm1ControlOffset = 4,
                            kPmTimerOffset = 8, kSize = 12;
  static constexpr uint16_t kSciEn = 1u << 0, kSlpEn = 1u << 13;
  static constexpr uint16_t kPowerButton = 1u << 8;  // PWRBTN_STS in PM1_STS, PWRBTN_EN in PM1_EN
  static constexpr unsigned kSlpTypShift = 10;
  static constexpr uint16_t kSlpTypS5 = 5;  // must match the DSDT's \_S5 package
  static constexpr uint64_t kTimerHz = 3579545;

  // sci: the SCI line (nullptr: none).
  AcpiPm(const Clock& clock, std::function<void(int)> request_exit, IrqLine* sci = nullptr)
      : clock_(clock), request_exit_(std::move(request_exit)), sci_(sci) {}

  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  // The PM timer's 24-bit count now.
  uint32_t TimerValue() const;
  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);
  // A press of the power button: sets PWRBTN_STS (QEMU's system_powerdown).
  // Called like a register access: with the vCPUs out of guest code.
  void PressPowerButton();
  bool sci_level() const { return sci_level_; }

  // Guest diagnostics (unimp: what is not modelled); nullptr: none.
  void set_log(GuestLog* log) { log_ = log; }

 private:
  uint32_t ReadRegister(uint64_t reg) const;  // reg: 0, 2, 4 or 8
  void UpdateSci();

  const Clock& clock_;
  std::function<void(int)> request_exit_;
  IrqLine* sci_;
  bool sci_level_ = false;
  uint16_t status_ = 0;
  uint16_t enable_ = 0;
  uint16_t control_ = kSciEn;
  GuestLog* log_ = nullptr;
  bool logged_sleep_ = false;
};

}  // namespace tandem::hw
