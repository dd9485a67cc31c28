// A National Semiconductor PC16550D UART (the PC's COM port), following the
// NS PC16550D datasheet (June 1995) and QEMU's hw/char/serial.c for details
// drivers rely on (THRE re-arm on IER write, FIFO-mode IIR bits).
#pragma once

#include <cstdint>
#include <deque>

#include "hw/char_io.h"
#include "hw/io_device.h"
#include "hw/irq.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class Uart16550 final : public IoDevice {
 public:
  // Transmitted bytes go to out; the interrupt output drives irq.
  Uart16550(CharSink& out, IrqLine& irq);

  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  // Host input: true when the receiver can take another byte without overrun.
  bool CanReceive() const;
  // A byte arriving on the serial input pin (ignored in loopback mode, where
  // the input is disconnected as on the real chip).
  void ReceiveByte(uint8_t byte);

  // Power-on state (master reset pin).
  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

  uint16_t divisor() const { return divisor_; }
  bool irq_level() const { return irq_level_; }

 private:
  static constexpr size_t kFifoSize = 16;

  void PushRx(uint8_t byte);
  void Transmit(uint8_t byte);
  uint8_t ComputeIir() const;
  void UpdateIrq();
  void UpdateModemStatus();  // MSR inputs from MCR in loopback, else the host's
  size_t RxCapacity() const { return FifoEnabled() ? kFifoSize : 1; }
  bool FifoEnabled() const { return (fcr_ & 0x01) != 0; }
  size_t RxTriggerLevel() const;

  CharSink& out_;
  IrqLine& irq_;

  std::deque<uint8_t> rx_fifo_;
  uint16_t divisor_ = 0;
  uint8_t ier_ = 0;
  uint8_t fcr_ = 0;
  uint8_t lcr_ = 0;
  uint8_t mcr_ = 0;
  uint8_t lsr_ = 0;
  uint8_t msr_ = 0;
  uint8_t scr_ = 0;
  bool thr_ipending_ = false;  // THRE interrupt armed (cleared by IIR read / THR write)
  bool irq_level_ = false;
};

}  // namespace tandem::hw
