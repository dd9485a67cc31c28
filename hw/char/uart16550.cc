// A PC16550D UART: register file, 16-byte receive FIFO and the IIR priority
// scheme of the NS PC16550D datasheet, tables II-IV.
#include "hw/char/uart16550.h"

namespace tandem::hw {
namespace {

// Register offsets.
constexpr uint64_t kRbrThr = 0;  // DLL when DLAB
constexpr uint64_t kIer = 1;     // DLM when DLAB
constexpr uint64_t kIirFcr = 2;
constexpr uint64_t kLcr = 3;
constexpr uint64_t kMcr = 4;
constexpr uint64_t kLsr = 5;
constexpr uint64_t kMsr = 6;
constexpr uint64_t kScr = 7;

constexpr uint8_t kIerRdi = 0x01;   // received data available
constexpr uint8_t kIerThri = 0x02;  // transmitter holding register empty
constexpr uint8_t kIerRlsi = 0x04;  // receiver line status
constexpr uint8_t kIerMsi = 0x08;   // modem status

constexpr uint8_t kIirNoInt = 0x01;
constexpr uint8_t kIirMsi = 0x00;
constexpr uint8_t kIirThri = 0x02;
constexpr uint8_t kIirRdi = 0x04;
constexpr uint8_t kIirRlsi = 0x06;
constexpr uint8_t kIirTimeout = 0x0C;
constexpr uint8_t kIirFifoEnabled = 0xC0;

constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearRx = 0x02;

constexpr uint8_t kLcrDlab = 0x80;

constexpr uint8_t kMcrDtr = 0x01;
constexpr uint8_t kMcrRts = 0x02;
constexpr uint8_t kMcrOut1 = 0x04;
constexpr uint8_t kMcrOut2 = 0x08;
constexpr uint8_t kMcrLoop = 0x10;

constexpr uint8_t kLsrDr = 0x01;
constexpr uint8_t kLsrOe = 0x02;
constexpr uint8_t kLsrBreakErrors = 0x1E;  // OE | PE | FE | BI
constexpr uint8_t kLsrThre = 0x20;
constexpr uint8_t kLsrTemt = 0x40;
constexpr uint8_t kLsrFifoError = 0x80;

constexpr uint8_t kMsrDcts = 0x01;
constexpr uint8_t kMsrDdsr = 0x02;
constexpr uint8_t kMsrTeri = 0x04;
constexpr uint8_t kMsrDdcd = 0x08;
constexpr uint8_t kMsrCts = 0x10;
constexpr uint8_t kMsrDsr = 0x20;
constexpr uint8_t kMsrRi = 0x40;
constexpr uint8_t kMsrDcd = 0x80;
constexpr uint8_t kMsrDeltas = 0x0F;

}  // namespace

Uart16550::Uart16550(CharSink& out, IrqLine& irq) : out_(out), irq_(irq) { Reset(); }

void Uart16550::Reset() {
  rx_fifo_.clear();
  divisor_ = 12;  // 9600 baud; firmware reprograms it
  ier_ = 0;
  fcr_ = 0;
  lcr_ = 0;
  mcr_ = 0;
  lsr_ = kLsrThre | kLsrTemt;
  // No modem on the host side: carrier, data set ready and clear to send.
  msr_ = kMsrDcd | kMsrDsr | kMsrCts;
  scr_ = 0;
  thr_ipending_ = false;
  UpdateIrq();
}

size_t Uart16550::RxTriggerLevel() const {
  static constexpr size_t kLevels[4] = {1, 4, 8, 14};
  return kLevels[fcr_ >> 6];
}

uint8_t Uart16550::ComputeIir() const {
  uint8_t iir = kIirNoInt;
  if ((ier_ & kIerRlsi) && (lsr_ & kLsrBreakErrors)) {
    iir = kIirRlsi;
  } else if ((ier_ & kIerRdi) && !rx_fifo_.empty()) {
    // A FIFO below its trigger level reports the character timeout at once:
    // drivers treat both codes alike, and we have no character clock.
    iir = (FifoEnabled() && rx_fifo_.size() < RxTriggerLevel()) ? kIirTimeout : kIirRdi;
  } else if ((ier_ & kIerThri) && thr_ipending_) {
    iir = kIirThri;
  } else if ((ier_ & kIerMsi) && (msr_ & kMsrDeltas)) {
    iir = kIirMsi;
  }
  return iir;
}

void Uart16550::UpdateIrq() {
  bool level = ComputeIir() != kIirNoInt;
  if (level != irq_level_) {
    irq_level_ = level;
    irq_.SetLevel(level);
  }
}

void Uart16550::PushRx(uint8_t byte) {
  if (rx_fifo_.size() >= RxCapacity()) {
    // Overrun: the byte in the shift register is lost, the FIFO is kept.
    lsr_ |= kLsrOe;
  } else {
    rx_fifo_.push_back(byte);
  }
  lsr_ |= kLsrDr;
  UpdateIrq();
}

bool Uart16550::CanReceive() const {
  return !(mcr_ & kMcrLoop) && rx_fifo_.size() < RxCapacity();
}

void Uart16550::ReceiveByte(uint8_t byte) {
  if (mcr_ & kMcrLoop) return;
  PushRx(byte);
}

void Uart16550::Transmit(uint8_t byte) {
  // Transmission is instantaneous: THR and the shift register are empty again
  // by the time the guest can look, and the THRE interrupt is re-armed.
  if (mcr_ & kMcrLoop) {
    PushRx(byte);
  } else {
    out_.Put(byte);
  }
  lsr_ |= kLsrThre | kLsrTemt;
  thr_ipending_ = true;
  UpdateIrq();
}

void Uart16550::UpdateModemStatus() {
  // In loopback the modem inputs are wired to the modem outputs:
  // CTS = RTS, DSR = DTR, RI = OUT1, DCD = OUT2 (datasheet, MCR bit 4).
  auto lines = [](uint8_t mcr) -> uint8_t {
    if (!(mcr & kMcrLoop)) return kMsrDcd | kMsrDsr | kMsrCts;
    uint8_t m = 0;
    if (mcr & kMcrRts) m |= kMsrCts;
    if (mcr & kMcrDtr) m |= kMsrDsr;
    if (mcr & kMcrOut1) m |= kMsrRi;
    if (mcr & kMcrOut2) m |= kMsrDcd;
    return m;
  };
  uint8_t before = msr_ & 0xF0;
  uint8_t after = lines(mcr_);
  uint8_t changed = before ^ after;
  uint8_t deltas = 0;
  if (changed & kMsrCts) deltas |= kMsrDcts;
  if (changed & kMsrDsr) deltas |= kMsrDdsr;
  if (changed & kMsrDcd) deltas |= kMsrDdcd;
  if ((before & kMsrRi) && !(after & kMsrRi)) deltas |= kMsrTeri;  // trailing edge of RI
  msr_ = static_cast<uint8_t>(after | (msr_ & kMsrDeltas) | deltas);
}

uint64_t Uart16550::Read(uint64_t offset, unsigned size) {
  uint8_t value = 0xFF;
  switch (offset) {
    case kRbrThr:
      if (lcr_ & kLcrDlab) {
        value = static_cast<uint8_t>(divisor_);
        break;
      }
      value = 0;
      if (!rx_fifo_.empty()) {
        value = rx_fifo_.front();
        rx_fifo_.pop_front();
      }
      if (rx_fifo_.empty()) lsr_ &= static_cast<uint8_t>(~(kLsrDr | kLsrFifoError));
      UpdateIrq();
      break;
    case kIer:
      value = (lcr_ & kLcrDlab) ? static_cast<uint8_t>(divisor_ >> 8) : ier_;
      break;
    case kIirFcr:
      value = ComputeIir();
      // Reading IIR when it reports THRE clears that source.
      if (value == kIirThri) thr_ipending_ = false;
      if (FifoEnabled()) value |= kIirFifoEnabled;
      UpdateIrq();
      break;
    case kLcr:
      value = lcr_;
      break;
    case kMcr:
      value = mcr_;
      break;
    case kLsr:
      value = lsr_;
      if (FifoEnabled() && (lsr_ & kLsrBreakErrors)) value |= kLsrFifoError;
      lsr_ &= static_cast<uint8_t>(~(kLsrBreakErrors | kLsrFifoError));
      UpdateIrq();
      break;
    case kMsr:
      value = msr_;
      msr_ &= static_cast<uint8_t>(~kMsrDeltas);
      UpdateIrq();
      break;
    case kScr:
      value = scr_;
      break;
  }
  return value;
}

void Uart16550::Write(uint64_t offset, unsigned size, uint64_t value64) {
  uint8_t value = static_cast<uint8_t>(value64);
  switch (offset) {
    case kRbrThr:
      if (lcr_ & kLcrDlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0xFF00) | value);
        break;
      }
      // Writing THR clears the THRE interrupt; the byte moves on to the
      // (empty) shift register at once and THRE rises again: a new edge.
      lsr_ &= static_cast<uint8_t>(~(kLsrThre | kLsrTemt));
      thr_ipending_ = false;
      UpdateIrq();
      Transmit(value);
      break;
    case kIer: {
      if (lcr_ & kLcrDlab) {
        divisor_ = static_cast<uint16_t>((divisor_ & 0x00FF) | (value << 8));
        break;
      }
      uint8_t changed = (ier_ ^ value) & 0x0F;
      ier_ = value & 0x0F;
      // Enabling THRI while THR is empty raises the interrupt again even if an
      // IIR read had cleared it; Linux's 8250 UART_BUG_THRE probe relies on it.
      if ((changed & kIerThri) && (ier_ & kIerThri) && (lsr_ & kLsrThre)) thr_ipending_ = true;
      UpdateIrq();
      break;
    }
    case kIirFcr: {
      uint8_t old = fcr_;
      if ((value ^ old) & kFcrEnable) {
        // Changing the FIFO enable bit clears both FIFOs.
        rx_fifo_.clear();
        lsr_ &= static_cast<uint8_t>(~(kLsrDr | kLsrFifoError));
      }
      if (value & kFcrClearRx) {
        rx_fifo_.clear();
        lsr_ &= static_cast<uint8_t>(~(kLsrDr | kLsrFifoError));
      }
      // Clearing the TX FIFO has nothing to do: transmission is instantaneous.
      fcr_ = value & 0xC9;  // enable, DMA mode, trigger level; reset bits self-clear
      UpdateIrq();
      break;
    }
    case kLcr:
      lcr_ = value;
      break;
    case kMcr:
      mcr_ = value & 0x1F;
      UpdateModemStatus();
      UpdateIrq();
      break;
    case kLsr:
    case kMsr:
      break;  // read-only (factory test writes are not modelled)
    case kScr:
      scr_ = value;
      break;
  }
}

void Uart16550::VisitState(StateVisitor& v) {
  v(rx_fifo_, divisor_, ier_, fcr_, lcr_, mcr_, lsr_, msr_, scr_, thr_ipending_, irq_level_);
}

}  // namespace tandem::hw
