// Port I/O: IN and OUT with imm8 or DX, 1/2/4 bytes, to the board's port bus
// (SDM vol. 2 "IN", "OUT"; vol. 1 19.5 I/O permission: when CPL > IOPL, or in
// virtual-8086 mode, the TSS I/O permission bitmap decides; vol. 3A 17.2.5
// I/O breakpoints trap after the access).
#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

namespace tandem::accel::interp {

using namespace x86;

void CheckIoPermission(Cpu& cpu, uint16_t port, unsigned size) {
  const CpuState& s = cpu.s;
  if (!(s.cr0 & kCr0Pe)) return;
  const bool vm86 = s.rflags & kFlagVm;
  if (!vm86 && static_cast<uint64_t>(cpu.cpl()) <= ((s.rflags & kFlagIopl) >> 12)) return;
  // The I/O bitmap of a 32/64-bit TSS: every bit for the accessed ports must be 0.
  const Segment& tr = s.tr;
  const uint32_t type = tr.type();
  if ((type != 0x9 && type != 0xB) || tr.limit < 0x67) Raise(kGP, 0);
  uint32_t map = static_cast<uint32_t>(cpu.ReadLinearSystem(tr.base + 0x66, 2));
  uint32_t byte = map + port / 8;
  if (byte + 1 > tr.limit) Raise(kGP, 0);
  uint32_t bits = static_cast<uint32_t>(cpu.ReadLinearSystem(tr.base + byte, 2));
  if ((bits >> (port & 7)) & ((1u << size) - 1)) Raise(kGP, 0);
}

namespace {

void In(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[0].size;
  uint16_t port = static_cast<uint16_t>(cpu.ReadOperand(insn, 1));
  CheckIoPermission(cpu, port, size);
  cpu.WriteOperand(insn, 0, cpu.socket.PioRead(port, size) & SizeMask(size));
  if (cpu.debug_.io_armed) [[unlikely]] CheckIoBreakpoints(cpu, port, size);
}

void Out(Cpu& cpu, const DecodedInsn& insn) {
  const unsigned size = insn.op[1].size;
  uint16_t port = static_cast<uint16_t>(cpu.ReadOperand(insn, 0));
  CheckIoPermission(cpu, port, size);
  cpu.socket.PioWrite(port, size, cpu.ReadOperand(insn, 1));
  cpu.SyncA20();  // ports 0x92 and the 8042's gate it
  if (cpu.debug_.io_armed) [[unlikely]] CheckIoBreakpoints(cpu, port, size);
}

}  // namespace

void RegisterIoHandlers(HandlerTable& t) {
  t[ZYDIS_MNEMONIC_IN] = In;
  t[ZYDIS_MNEMONIC_OUT] = Out;
}

}  // namespace tandem::accel::interp
