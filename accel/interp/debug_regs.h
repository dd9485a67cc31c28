// Hardware breakpoints for the interpreter (SDM vol. 3A 17.2-17.3): DR0-DR3
// instruction, data and I/O breakpoints under DR7, the DR6 status bits, DR7.GD
// and RF. The run loop only pays for them while DR7 enables one (armed).
#pragma once

#include <cstdint>

namespace tandem::accel::interp {

class Cpu;
struct DecodedInsn;

// DR6 status bits (SDM vol. 3A 17.2.3).
inline constexpr uint64_t kDr6Bd = 1u << 13, kDr6Bs = 1u << 14;
inline constexpr uint64_t kDr7Gd = 1u << 13;

// What the run loop and the linear access path test, derived from DR7 by
// UpdateDebugState on every MOV DRn and state load.
struct DebugState {
  bool armed = false;       // an enabled breakpoint: the run loop takes the checking path
  bool data_armed = false;  // an enabled data breakpoint: explicit linear accesses are checked
  bool io_armed = false;    // an enabled I/O breakpoint (CR4.DE): port accesses are checked
  uint8_t hits = 0;         // B0-B3 of data and I/O breakpoints the current instruction hit
  uint8_t held = 0;         // hits held back over a MOV SS / POP SS to the next instruction
};

void UpdateDebugState(Cpu& cpu);

// Before the instruction at CS:RIP (armed only): delivers the #DB fault of an
// enabled instruction breakpoint there unless RF is set; true when it did.
bool DebugBeforeInstruction(Cpu& cpu);
// After an instruction completed (armed only): delivers one #DB trap for the
// data and I/O breakpoints it hit, with BS when step says the single-step trap is due.
void DebugAfterInstruction(Cpu& cpu, const DecodedInsn& insn, bool step);
// Records data breakpoints that an explicit access of size bytes at
// linear matches (called from mmu.cc while data_armed).
void CheckDataBreakpoints(Cpu& cpu, uint64_t linear, unsigned size, bool write);

// Records I/O breakpoints that a port access of size bytes at port matches
// (called from ops_io.cc and ops_string.cc while io_armed, after the access).
void CheckIoBreakpoints(Cpu& cpu, uint16_t port, unsigned size);

// Delivers a #DB trap with DR6 B0-B3 replaced by the low bits of dr6_bits and
// the other bits (BS) added; the processor clears DR7.GD on entering the handler.
void DeliverDebugTrap(Cpu& cpu, uint64_t dr6_bits);
// MOV to or from DRn while DR7.GD is set: the #DB fault with DR6.BD.
[[noreturn]] void RaiseGeneralDetect(Cpu& cpu);

}  // namespace tandem::accel::interp
