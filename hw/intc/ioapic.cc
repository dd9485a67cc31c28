// 82093AA I/O APIC: indirect registers, redirection, edge/level inputs and
// remote IRR (datasheet 290566 sections 3.1-3.2; QEMU's hw/intc/ioapic.c).
#include "hw/intc/ioapic.h"

#include <cstdio>

namespace tandem::hw {

namespace {
constexpr uint64_t kDeliveryStatus = 1ull << 12;
constexpr uint64_t kLogical = 1ull << 11;
// Writable redirection bits: everything but delivery status and remote IRR;
// bits 17..55 are reserved.
constexpr uint64_t kWritable = 0xFF0000000001AFFFull;
constexpr uint32_t kModeFixed = 0, kModeLowest = 1;
}  // namespace

IoApic::IoApic(ApicBus& bus, uint8_t id) : bus_(bus), reset_id_(id & 0xF) {
  for (int pin = 0; pin < kPins; ++pin) lines_[pin].Bind(this, pin);
  Reset();
}

void IoApic::Reset() {
  redirection_.fill(kMasked);
  regsel_ = 0;
  id_ = reset_id_;
  // Input levels are wires: they survive a reset of the chip.
}

bool IoApic::Asserted(int pin) const {
  bool level = levels_ & (1u << pin);
  return (redirection_[pin] & kPolarityLow) ? !level : level;
}

void IoApic::SetInput(int pin, bool level) {
  if (pin < 0 || pin >= kPins) return;
  bool was_asserted = Asserted(pin);
  if (level) {
    levels_ |= 1u << pin;
  } else {
    levels_ &= ~(1u << pin);
  }
  bool asserted = Asserted(pin);
  if (redirection_[pin] & kLevel) {
    if (asserted) Service(pin);
  } else if (asserted && !was_asserted) {
    Service(pin);  // an edge while masked is lost, as on the 82093AA
  }
}

void IoApic::Service(int pin) {
  uint64_t entry = redirection_[pin];
  if (entry & kMasked) return;
  bool level = entry & kLevel;
  if (level && (entry & kRemoteIrr)) return;  // still waiting for the EOI
  uint32_t mode = (entry >> 8) & 7;
  if (mode != kModeFixed && mode != kModeLowest) {
    if (!logged_mode_) {
      logged_mode_ = true;
      if (log_) {
        log_->Log(kLogUnimp, "tandem: I/O APIC pin %d delivery mode %u not delivered (only fixed/lowest priority)",
                  pin, mode);
      }
    }
    return;
  }
  ApicMessage m;
  m.vector = static_cast<uint8_t>(entry & 0xFF);
  m.mode = static_cast<uint8_t>(mode);
  m.dest = static_cast<uint8_t>(entry >> 56);
  m.logical = entry & kLogical;
  m.level = level;
  // Remote IRR waits for an EOI only when some APIC took the interrupt.
  if (level) redirection_[pin] |= kRemoteIrr;
  if (bus_.Deliver(m, nullptr) == 0 && level) redirection_[pin] &= ~kRemoteIrr;
}

void IoApic::EndOfInterrupt(uint8_t vector) {
  for (int pin = 0; pin < kPins; ++pin) {
    uint64_t& entry = redirection_[pin];
    if ((entry & 0xFF) != vector || !(entry & kLevel) || !(entry & kRemoteIrr)) continue;
    entry &= ~kRemoteIrr;
    if (Asserted(pin)) Service(pin);
  }
}

uint32_t IoApic::ReadIndirect(uint8_t index) const {
  switch (index) {
    case kIdIndex: return static_cast<uint32_t>(id_) << 24;
    case kVersionIndex: return kVersionValue;
    case kArbitrationIndex: return static_cast<uint32_t>(id_) << 24;
    default:
      break;
  }
  if (index >= kRedirectionIndex && index < kRedirectionIndex + 2 * kPins) {
    uint64_t entry = redirection_[(index - kRedirectionIndex) / 2];
    return static_cast<uint32_t>((index & 1) ? entry >> 32 : entry);
  }
  return 0xFFFFFFFF;
}

void IoApic::WriteIndirect(uint8_t index, uint32_t value) {
  if (index == kIdIndex) {
    id_ = (value >> 24) & 0xF;
    return;
  }
  if (index < kRedirectionIndex || index >= kRedirectionIndex + 2 * kPins) return;
  int pin = (index - kRedirectionIndex) / 2;
  uint64_t& entry = redirection_[pin];
  uint64_t updated = (index & 1) ? (entry & 0xFFFFFFFFull) | (static_cast<uint64_t>(value) << 32)
                                 : (entry & ~0xFFFFFFFFull) | value;
  uint64_t read_only = kDeliveryStatus | kRemoteIrr;
  entry = (updated & kWritable) | (entry & read_only);
  if (!(entry & kLevel)) entry &= ~kRemoteIrr;  // remote IRR is undefined for edge; keep it clear
  // Unmasking a level-triggered pin whose input is asserted delivers it.
  if ((entry & kLevel) && Asserted(pin)) Service(pin);
}

uint64_t IoApic::Read(uint64_t offset, unsigned size) {
  if (offset == kRegSelOffset) return regsel_;
  if (offset >= kWindowOffset && offset < kWindowOffset + 4) {
    uint64_t value = ReadIndirect(regsel_) >> (8 * (offset - kWindowOffset));
    return size >= 4 ? value : value & ((1ull << (8 * size)) - 1);
  }
  return 0;
}

void IoApic::Write(uint64_t offset, unsigned size, uint64_t value) {
  if (offset == kRegSelOffset) {
    regsel_ = static_cast<uint8_t>(value);
  } else if (offset == kWindowOffset) {
    WriteIndirect(regsel_, static_cast<uint32_t>(value));
  }
}

void IoApic::VisitState(StateVisitor& v) { v(redirection_, levels_, regsel_, id_); }

}  // namespace tandem::hw
