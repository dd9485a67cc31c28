// The Intel 8042 keyboard controller of the PC/AT with an MF2 keyboard and
// no mouse behind it: enough for firmware and Linux's i8042/atkbd drivers.
// Follows the IBM PC/AT technical reference and QEMU's hw/input/pckbd.c.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>

#include "hw/io_device.h"
#include "hw/irq.h"
#include "hw/state_visitor.h"

namespace tandem::hw {

class I8042 final : public IoDevice {
 public:
  // Offsets within the controller's window: data at 0, status/command at 4
  // (ports 0x60 and 0x64 on the PC).
  static constexpr uint64_t kDataOffset = 0;
  static constexpr uint64_t kCommandOffset = 4;

  struct Callbacks {
    std::function<void()> reset;          // output port bit 0 pulsed low
    std::function<void(bool)> a20;        // output port bit 1 changed
  };

  // kbd_irq: IRQ1; aux_irq: IRQ12.
  I8042(IrqLine& kbd_irq, IrqLine& aux_irq, Callbacks callbacks);

  uint64_t Read(uint64_t offset, unsigned size) override;
  void Write(uint64_t offset, unsigned size, uint64_t value) override;

  // A byte from the keyboard (a scancode) as if a key were pressed.
  void KeyboardSend(uint8_t byte);

  bool a20_enabled() const { return output_port_ & kOutA20; }
  void Reset();
  // Saves or restores the state a snapshot carries (hw/state_visitor.h).
  void VisitState(StateVisitor& v);

 private:
  static constexpr uint8_t kOutReset = 0x01;
  static constexpr uint8_t kOutA20 = 0x02;

  enum class Source : uint8_t { kController, kKeyboard, kAux };

  void Queue(Source source, uint8_t byte);
  // A byte the guest wrote into the output buffer through the controller
  // (commands 0xD2/0xD3): it shows whatever the interface disable bits say,
  // as the controller's own replies do.
  void QueueWritten(Source as, uint8_t byte);
  void Refill();  // moves the next queued byte into the output buffer
  void UpdateIrqs();
  void ControllerCommand(uint8_t command);
  void ControllerData(uint8_t data);
  void KeyboardCommand(uint8_t byte);
  void WriteOutputPort(uint8_t value);
  void KeyboardReset();

  IrqLine& kbd_irq_;
  IrqLine& aux_irq_;
  Callbacks callbacks_;

  // Controller state.
  uint8_t command_byte_ = 0;
  uint8_t output_port_ = 0;
  uint8_t pending_command_ = 0;  // controller command awaiting its data byte
  bool obf_ = false;
  Source obuf_source_ = Source::kController;
  uint8_t obuf_ = 0;
  // The controller's replies, and bytes written by 0xD2/0xD3 as if they came from
  // the keyboard or the AUX device.
  struct ControllerByte {
    uint8_t value;
    Source source;
  };
  std::deque<ControllerByte> controller_queue_;
  std::deque<uint8_t> keyboard_queue_;
  struct AuxByte {
    uint8_t value;
    bool timeout;  // reported with the status timeout bit ("no device")
  };
  std::deque<AuxByte> aux_queue_;
  bool timeout_ = false;  // status bit 6 for the byte in the output buffer
  bool sys_flag_ = false;
  bool last_write_was_command_ = false;
  bool kbd_irq_level_ = false;
  bool aux_irq_level_ = false;

  // Keyboard state.
  uint8_t keyboard_pending_ = 0;  // keyboard command awaiting its parameter
  bool scanning_ = true;
  uint8_t scancode_set_ = 2;
};

}  // namespace tandem::hw
