// 8042 controller commands (IBM PC/AT technical reference, "Keyboard
// controller") and the MF2 keyboard's command set (IBM PS/2 keyboard
// technical reference). No mouse: AUX writes are answered with a timeout.
#include "hw/input/i8042.h"

#include <string>

namespace tandem::hw {
namespace {

// Status register.
constexpr uint8_t kStatusObf = 0x01;
constexpr uint8_t kStatusSys = 0x04;
constexpr uint8_t kStatusCommand = 0x08;   // last write went to the command port
constexpr uint8_t kStatusUnlocked = 0x10;  // keyboard inhibit switch off
constexpr uint8_t kStatusAuxObf = 0x20;
constexpr uint8_t kStatusTimeout = 0x40;

// Command byte.
constexpr uint8_t kCcbKbdInt = 0x01;
constexpr uint8_t kCcbAuxInt = 0x02;
constexpr uint8_t kCcbSys = 0x04;
constexpr uint8_t kCcbKbdDisable = 0x10;
constexpr uint8_t kCcbAuxDisable = 0x20;
constexpr uint8_t kCcbTranslate = 0x40;

// Output port bits that reflect the output buffer.
constexpr uint8_t kOutObf = 0x10;
constexpr uint8_t kOutAuxObf = 0x20;
constexpr uint8_t kOutOnes = 0xCC;

// Keyboard replies.
constexpr uint8_t kAck = 0xFA;
constexpr uint8_t kResend = 0xFE;
constexpr uint8_t kSelfTestPassed = 0xAA;
constexpr uint8_t kEcho = 0xEE;

constexpr size_t kKeyboardQueueSize = 16;
// The real controller holds one byte; replies and written bytes that a guest
// never reads stop queueing here rather than growing without bound.
constexpr size_t kControllerQueueSize = 16;

}  // namespace

I8042::I8042(IrqLine& kbd_irq, IrqLine& aux_irq, Callbacks callbacks)
    : kbd_irq_(kbd_irq), aux_irq_(aux_irq), callbacks_(std::move(callbacks)) {
  Reset();
}

void I8042::Reset() {
  command_byte_ = kCcbKbdInt | kCcbAuxInt;
  output_port_ = kOutOnes | kOutA20 | kOutReset;
  pending_command_ = 0;
  obf_ = false;
  obuf_ = 0;
  timeout_ = false;
  sys_flag_ = false;
  last_write_was_command_ = true;
  controller_queue_.clear();
  keyboard_queue_.clear();
  aux_queue_.clear();
  KeyboardReset();
  UpdateIrqs();
}

void I8042::KeyboardReset() {
  keyboard_pending_ = 0;
  scanning_ = true;
  scancode_set_ = 2;
}

void I8042::Queue(Source source, uint8_t byte) {
  switch (source) {
    case Source::kController:
      return QueueWritten(Source::kController, byte);  // the controller's queue, and its bound
    case Source::kKeyboard:
      if (keyboard_queue_.size() < kKeyboardQueueSize) keyboard_queue_.push_back(byte);
      break;
    case Source::kAux:
      aux_queue_.push_back({byte, false});
      break;
  }
  Refill();
}

void I8042::QueueWritten(Source as, uint8_t byte) {
  if (controller_queue_.size() < kControllerQueueSize) controller_queue_.push_back({byte, as});
  Refill();
}

void I8042::Refill() {
  if (!obf_) {
    if (!controller_queue_.empty()) {
      obuf_ = controller_queue_.front().value;
      obuf_source_ = controller_queue_.front().source;
      controller_queue_.pop_front();
      timeout_ = false;
      obf_ = true;
    } else if (!keyboard_queue_.empty() && !(command_byte_ & kCcbKbdDisable)) {
      obuf_ = keyboard_queue_.front();
      keyboard_queue_.pop_front();
      obuf_source_ = Source::kKeyboard;
      timeout_ = false;
      obf_ = true;
    } else if (!aux_queue_.empty() && !(command_byte_ & kCcbAuxDisable)) {
      obuf_ = aux_queue_.front().value;
      timeout_ = aux_queue_.front().timeout;
      aux_queue_.pop_front();
      obuf_source_ = Source::kAux;
      obf_ = true;
    }
  }
  UpdateIrqs();
}

void I8042::UpdateIrqs() {
  bool aux = obf_ && obuf_source_ == Source::kAux;
  bool kbd_level = obf_ && !aux && (command_byte_ & kCcbKbdInt);
  bool aux_level = aux && (command_byte_ & kCcbAuxInt);
  if (kbd_level != kbd_irq_level_) {
    kbd_irq_level_ = kbd_level;
    kbd_irq_.SetLevel(kbd_level);
  }
  if (aux_level != aux_irq_level_) {
    aux_irq_level_ = aux_level;
    aux_irq_.SetLevel(aux_level);
  }
}

void I8042::KeyboardSend(uint8_t byte) {
  if (scanning_) Queue(Source::kKeyboard, byte);
}

uint64_t I8042::Read(uint64_t offset, unsigned size) {
  if (offset == kCommandOffset) {
    uint8_t status = kStatusUnlocked;
    if (obf_) status |= kStatusObf;
    if (obf_ && obuf_source_ == Source::kAux) status |= kStatusAuxObf;
    if (obf_ && timeout_) status |= kStatusTimeout;
    if (sys_flag_) status |= kStatusSys;
    if (last_write_was_command_) status |= kStatusCommand;
    return status;
  }
  if (offset != kDataOffset) return 0xFF;
  // An empty output buffer reads as its last contents.
  uint8_t value = obuf_;
  if (obf_) {
    obf_ = false;
    timeout_ = false;
    UpdateIrqs();  // the line drops, so the next byte is a new edge
    Refill();
  }
  return value;
}

void I8042::Write(uint64_t offset, unsigned size, uint64_t value64) {
  uint8_t value = static_cast<uint8_t>(value64);
  if (offset == kCommandOffset) {
    last_write_was_command_ = true;
    ControllerCommand(value);
  } else if (offset == kDataOffset) {
    last_write_was_command_ = false;
    ControllerData(value);
  }
}

void I8042::ControllerCommand(uint8_t command) {
  pending_command_ = 0;
  if (command >= 0x20 && command <= 0x3F) {
    // Read controller RAM; byte 0 is the command byte.
    Queue(Source::kController, command == 0x20 ? command_byte_ : 0);
    return;
  }
  if (command >= 0x60 && command <= 0x7F) {
    pending_command_ = command;
    return;
  }
  if (command >= 0xF0) {
    // Pulse output port bits 0-3 low where the command's bits are clear:
    // bit 0 is the CPU reset line.
    if (!(command & kOutReset) && callbacks_.reset) callbacks_.reset();
    return;
  }
  switch (command) {
    case 0xA7:  // disable AUX interface
      command_byte_ |= kCcbAuxDisable;
      break;
    case 0xA8:  // enable AUX interface
      command_byte_ &= ~kCcbAuxDisable;
      Refill();
      break;
    case 0xA9:  // AUX interface test: OK
      Queue(Source::kController, 0x00);
      break;
    case 0xAA:  // controller self test
      sys_flag_ = true;
      Queue(Source::kController, 0x55);
      break;
    case 0xAB:  // keyboard interface test: OK
      Queue(Source::kController, 0x00);
      break;
    case 0xAD:  // disable keyboard interface
      command_byte_ |= kCcbKbdDisable;
      UpdateIrqs();
      break;
    case 0xAE:  // enable keyboard interface
      command_byte_ &= ~kCcbKbdDisable;
      Refill();
      break;
    case 0xC0:  // read input port: keyboard not inhibited
      Queue(Source::kController, 0x80);
      break;
    case 0xD0: {  // read output port
      uint8_t port = output_port_ & ~(kOutObf | kOutAuxObf);
      if (obf_) port |= obuf_source_ == Source::kAux ? kOutAuxObf : kOutObf;
      Queue(Source::kController, port);
      break;
    }
    case 0xD1:  // write output port
    case 0xD2:  // write keyboard output buffer
    case 0xD3:  // write AUX output buffer
    case 0xD4:  // write to AUX device
      pending_command_ = command;
      break;
    case 0xDD:  // A20 off (HP Vectra extension, as QEMU)
      WriteOutputPort(output_port_ & ~kOutA20);
      break;
    case 0xDF:  // A20 on
      WriteOutputPort(output_port_ | kOutA20);
      break;
    default:
      break;  // unimplemented commands are ignored, as an absent feature
  }
}

void I8042::WriteOutputPort(uint8_t value) {
  uint8_t old = output_port_;
  output_port_ = value;
  if (((old ^ value) & kOutA20) && callbacks_.a20) callbacks_.a20(value & kOutA20);
  if (!(value & kOutReset) && callbacks_.reset) {
    output_port_ |= kOutReset;  // the reset takes the line back up
    callbacks_.reset();
  }
}

void I8042::ControllerData(uint8_t data) {
  uint8_t command = pending_command_;
  pending_command_ = 0;
  switch (command) {
    case 0:
      // Data for the keyboard; sending it re-enables the keyboard interface.
      command_byte_ &= ~kCcbKbdDisable;
      KeyboardCommand(data);
      break;
    case 0x60:
      command_byte_ = data;
      sys_flag_ = data & kCcbSys;
      Refill();
      break;
    case 0xD1:
      WriteOutputPort(data);
      break;
    case 0xD2:
      QueueWritten(Source::kKeyboard, data);
      break;
    case 0xD3:
      // Linux probes for an active multiplexer with this loopback while the
      // AUX interface is disabled, and waits 0.5 s for an answer that does
      // not come when the disable bit holds it back.
      QueueWritten(Source::kAux, data);
      break;
    case 0xD4:
      // No mouse: the controller times out and reports a resend request.
      aux_queue_.push_back({kResend, true});
      Refill();
      break;
    default:
      break;  // writes to controller RAM other than the command byte
  }
}

void I8042::KeyboardCommand(uint8_t byte) {
  if (keyboard_pending_) {
    uint8_t command = keyboard_pending_;
    keyboard_pending_ = 0;
    if (command == 0xF0) {  // select scancode set
      if (byte == 0) {
        Queue(Source::kKeyboard, kAck);
        static constexpr uint8_t kTranslated[4] = {0, 0x43, 0x41, 0x3F};
        Queue(Source::kKeyboard,
              (command_byte_ & kCcbTranslate) ? kTranslated[scancode_set_] : scancode_set_);
        return;
      }
      if (byte <= 3) scancode_set_ = byte;
      Queue(Source::kKeyboard, byte <= 3 ? kAck : kResend);
      return;
    }
    Queue(Source::kKeyboard, kAck);  // 0xED LEDs, 0xF3 typematic rate
    return;
  }
  switch (byte) {
    case 0xED:  // set LEDs
    case 0xF0:  // get/set scancode set
    case 0xF3:  // set typematic rate
      keyboard_pending_ = byte;
      Queue(Source::kKeyboard, kAck);
      break;
    case 0xEE:
      Queue(Source::kKeyboard, kEcho);
      break;
    case 0xF2:  // identify: MF2 keyboard
      Queue(Source::kKeyboard, kAck);
      Queue(Source::kKeyboard, 0xAB);
      Queue(Source::kKeyboard, (command_byte_ & kCcbTranslate) ? 0x41 : 0x83);
      break;
    case 0xF4:  // enable scanning
      scanning_ = true;
      Queue(Source::kKeyboard, kAck);
      break;
    case 0xF5:  // disable scanning and restore defaults
      scanning_ = false;
      scancode_set_ = 2;
      Queue(Source::kKeyboard, kAck);
      break;
    case 0xF6:  // restore defaults
      scancode_set_ = 2;
      Queue(Source::kKeyboard, kAck);
      break;
    case 0xF7:
    case 0xF8:
    case 0xF9:
    case 0xFA:
    case 0xFB:
    case 0xFC:
    case 0xFD:  // scancode set 3 key attributes
    case 0xFE:  // resend: nothing is lost here
      Queue(Source::kKeyboard, kAck);
      break;
    case 0xFF:  // reset and self test
      keyboard_queue_.clear();
      KeyboardReset();
      Queue(Source::kKeyboard, kAck);
      Queue(Source::kKeyboard, kSelfTestPassed);
      break;
    default:
      Queue(Source::kKeyboard, kResend);
      break;
  }
}

namespace {

// A queue's length, then its bytes; a length past what the controller could
// ever hold fails the load instead of allocating it.
template <typename Byte, typename VisitByte>
void VisitQueue(StateVisitor& v, std::deque<Byte>& queue, const char* what, VisitByte visit_byte) {
  uint32_t size = static_cast<uint32_t>(queue.size());
  v(size);
  if (v.loading()) {
    if (size > 4096) {
      v.Fail("an i8042 " + std::string(what) + " queue of " + std::to_string(size) + " bytes");
      size = 0;
    }
    queue.assign(size, Byte{});
  }
  for (Byte& byte : queue) visit_byte(byte);
}

}  // namespace

void I8042::VisitState(StateVisitor& v) {
  v(command_byte_, output_port_, pending_command_, obf_, obuf_source_, obuf_, keyboard_queue_, timeout_, sys_flag_,
    last_write_was_command_, kbd_irq_level_, aux_irq_level_, keyboard_pending_, scanning_, scancode_set_);
  bool bad_source = obuf_source_ > Source::kAux;
  VisitQueue(v, controller_queue_, "controller", [&](ControllerByte& byte) {
    v(byte.value, byte.source);
    if (byte.source > Source::kAux) {
      bad_source = true;
      byte.source = Source::kController;
    }
  });
  if (bad_source) {
    v.Fail("an i8042 output byte from an unknown source");
    obuf_source_ = Source::kController;
  }
  VisitQueue(v, aux_queue_, "mouse", [&](AuxByte& byte) { v(byte.value, byte.timeout); });
}

}  // namespace tandem::hw
