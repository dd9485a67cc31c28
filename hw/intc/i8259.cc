// The 8259A command set (ICW1-4, OCW1-3) and priority resolution, after the
// Intel 8259A datasheet and QEMU's hw/intc/i8259.c.
#include "hw/intc/i8259.h"

#include <cstdio>

namespace tandem::hw {
namespace {

constexpr int kCascadePin = 2;
constexpr int kSpuriousPin = 7;

}  // namespace

I8259::I8259(bool is_master, uint8_t elcr_mask) : is_master_(is_master), elcr_mask_(elcr_mask) {}

void I8259::Reset() {
  InitReset();
  elcr_ = 0;
  UpdateOutput();
}

void I8259::InitReset() {
  last_irr_ = 0;
  irr_ &= elcr_;
  imr_ = 0;
  isr_ = 0;
  priority_add_ = 0;
  vector_base_ = 0;
  init_state_ = 0;
  init4_ = false;
  single_mode_ = false;
  read_isr_ = false;
  poll_ = false;
  special_mask_ = false;
  auto_eoi_ = false;
  rotate_on_auto_eoi_ = false;
  special_fully_nested_ = false;
}

// Priority 0 is highest; pin (priority + priority_add_) & 7. 8 means none.
int I8259::Priority(uint8_t mask) const {
  if (mask == 0) return 8;
  int priority = 0;
  while ((mask & (1 << ((priority + priority_add_) & 7))) == 0) priority++;
  return priority;
}

int I8259::PendingIrq() const {
  int priority = Priority(irr_ & ~imr_);
  if (priority == 8) return -1;
  uint8_t in_service = isr_;
  if (special_mask_) in_service &= ~imr_;
  // Special fully nested mode: a slave request may nest inside another one.
  if (special_fully_nested_ && is_master_) in_service &= ~(1 << kCascadePin);
  int current = Priority(in_service);
  return priority < current ? (priority + priority_add_) & 7 : -1;
}

void I8259::UpdateOutput() {
  bool level = PendingIrq() >= 0;
  if (level != output_) {
    output_ = level;
    if (on_output_) on_output_(level);
  }
}

void I8259::SetInput(int pin, bool level) {
  uint8_t mask = static_cast<uint8_t>(1 << pin);
  if (elcr_ & mask) {
    // Level-triggered: the request follows the line.
    if (level) {
      irr_ |= mask;
      last_irr_ |= mask;
    } else {
      irr_ &= ~mask;
      last_irr_ &= ~mask;
    }
  } else if (level) {
    // Edge-triggered: only a rising edge latches a request.
    if (!(last_irr_ & mask)) irr_ |= mask;
    last_irr_ |= mask;
  } else {
    last_irr_ &= ~mask;
  }
  UpdateOutput();
}

void I8259::Acknowledge(int pin) {
  uint8_t mask = static_cast<uint8_t>(1 << pin);
  if (auto_eoi_) {
    if (rotate_on_auto_eoi_) priority_add_ = (pin + 1) & 7;
  } else {
    isr_ |= mask;
  }
  // A level-triggered request stays until the device drops its line.
  if (!(elcr_ & mask)) irr_ &= ~mask;
  UpdateOutput();
}

uint64_t I8259::Read(uint64_t offset, unsigned size) {
  if (poll_) {
    // OCW3 poll: the read acts as an acknowledge and returns 0x80 | level.
    poll_ = false;
    int irq = PendingIrq();
    if (irq < 0) return 0;
    Acknowledge(irq);
    return 0x80 | irq;
  }
  if ((offset & 1) == 0) return read_isr_ ? isr_ : irr_;
  return imr_;
}

void I8259::Write(uint64_t offset, unsigned size, uint64_t value64) {
  uint8_t value = static_cast<uint8_t>(value64);
  if ((offset & 1) == 0) {
    if (value & 0x10) {
      // ICW1
      InitReset();
      init_state_ = 1;
      init4_ = value & 0x01;
      single_mode_ = value & 0x02;
      if ((value & 0x08) && !logged_ltim_) {
        logged_ltim_ = true;
        if (log_) log_->Log(kLogUnimp, "tandem: i8259 ICW1 LTIM (level mode) ignored; use the ELCR");
      }
      UpdateOutput();
    } else if (value & 0x08) {
      // OCW3
      if (value & 0x04) poll_ = true;
      if (value & 0x02) read_isr_ = value & 0x01;
      if (value & 0x40) special_mask_ = (value >> 5) & 1;
      UpdateOutput();
    } else {
      // OCW2: bits 7-5 are R, SL, EOI.
      int command = value >> 5;
      switch (command) {
        case 0:  // rotate in auto-EOI mode: clear
        case 4:  // rotate in auto-EOI mode: set
          rotate_on_auto_eoi_ = command == 4;
          break;
        case 1:  // non-specific EOI
        case 5: {  // rotate on non-specific EOI
          int priority = Priority(isr_);
          if (priority != 8) {
            int irq = (priority + priority_add_) & 7;
            isr_ &= ~(1 << irq);
            if (command == 5) priority_add_ = (irq + 1) & 7;
          }
          break;
        }
        case 3:  // specific EOI
          isr_ &= ~(1 << (value & 7));
          break;
        case 6:  // set priority: the given pin becomes the lowest
          priority_add_ = (value + 1) & 7;
          break;
        case 7: {  // rotate on specific EOI
          int irq = value & 7;
          isr_ &= ~(1 << irq);
          priority_add_ = (irq + 1) & 7;
          break;
        }
        default:  // 2: no operation
          break;
      }
      UpdateOutput();
    }
    return;
  }
  switch (init_state_) {
    case 0:  // OCW1
      imr_ = value;
      UpdateOutput();
      break;
    case 1:  // ICW2
      vector_base_ = value & 0xF8;
      init_state_ = single_mode_ ? (init4_ ? 3 : 0) : 2;
      break;
    case 2:  // ICW3: the cascade wiring is fixed on the PC
      init_state_ = init4_ ? 3 : 0;
      break;
    case 3:  // ICW4
      special_fully_nested_ = (value >> 4) & 1;
      auto_eoi_ = (value >> 1) & 1;
      init_state_ = 0;
      break;
  }
}

uint64_t I8259Elcr::Read(uint64_t offset, unsigned size) {
  uint64_t value = offset == 0 ? master_.elcr() : slave_.elcr();
  if (size >= 2 && offset == 0) value |= static_cast<uint64_t>(slave_.elcr()) << 8;
  return value;
}

void I8259Elcr::Write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset == 0) {
    master_.set_elcr(static_cast<uint8_t>(value));
    if (size >= 2) slave_.set_elcr(static_cast<uint8_t>(value >> 8));
  } else {
    slave_.set_elcr(static_cast<uint8_t>(value));
  }
}

// ELCR masks as on the PIIX: IRQ0-2 and IRQ8/IRQ13 are always edge-triggered.
I8259Pair::I8259Pair() : master_(true, 0xF8), slave_(false, 0xDE), elcr_(master_, slave_) {
  for (int irq = 0; irq < 16; irq++) {
    if (irq == kCascadePin) {
      lines_[irq].Bind(&slave_, 1);  // IRQ2 on the ISA bus is IRQ9 on the AT
    } else if (irq < 8) {
      lines_[irq].Bind(&master_, irq);
    } else {
      lines_[irq].Bind(&slave_, irq - 8);
    }
  }
  slave_.SetOutputCallback([this](bool level) { master_.SetInput(kCascadePin, level); });
  master_.SetOutputCallback([this](bool) {
    if (on_intr_changed_) on_intr_changed_();
  });
}

void I8259Pair::Reset() {
  slave_.Reset();
  master_.Reset();
}

uint8_t I8259Pair::AcknowledgeInterrupt() {
  int irq = master_.PendingIrq();
  if (irq < 0) {
    // The request went away before INTA: the master answers IRQ7.
    return static_cast<uint8_t>(master_.vector_base() + kSpuriousPin);
  }
  uint8_t vector;
  if (irq == kCascadePin) {
    int slave_irq = slave_.PendingIrq();
    if (slave_irq >= 0) {
      slave_.Acknowledge(slave_irq);
    } else {
      slave_irq = kSpuriousPin;  // spurious IRQ15
    }
    vector = static_cast<uint8_t>(slave_.vector_base() + slave_irq);
  } else {
    vector = static_cast<uint8_t>(master_.vector_base() + irq);
  }
  master_.Acknowledge(irq);
  return vector;
}

void I8259::VisitState(StateVisitor& v) {
  v(last_irr_, irr_, imr_, isr_, priority_add_, vector_base_, elcr_, init_state_, init4_, single_mode_, read_isr_,
    poll_, special_mask_, auto_eoi_, rotate_on_auto_eoi_, special_fully_nested_, output_);
  priority_add_ &= 7;
  elcr_ &= elcr_mask_;
  if (init_state_ > 3) {
    v.Fail("i8259 initialization state " + std::to_string(init_state_));
    init_state_ = 0;
  }
}

void I8259Pair::VisitState(StateVisitor& v) {
  master_.VisitState(v);
  slave_.VisitState(v);
}

}  // namespace tandem::hw
