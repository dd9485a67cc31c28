// Operand access for the handlers: registers with x86's partial-register
// rules, effective addresses (SDM vol. 1 3.7.5, vol. 2 2.1.5) and the stack.
#include <cstdint>

#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

namespace tandem::accel::interp {

uint64_t Cpu::ReadGpr(int reg, unsigned size) const {
  switch (size) {
    case 1:
      if (reg >= kHighByteBase) return (s.gpr[reg - kHighByteBase] >> 8) & 0xFF;
      return s.gpr[reg] & 0xFF;
    case 2: return s.gpr[reg] & 0xFFFF;
    case 4: return s.gpr[reg] & 0xFFFFFFFF;
    default: return s.gpr[reg];
  }
}

void Cpu::WriteGpr(int reg, unsigned size, uint64_t value) {
  switch (size) {
    case 1:
      if (reg >= kHighByteBase) {
        uint64_t& r = s.gpr[reg - kHighByteBase];
        r = (r & ~0xFF00ull) | ((value & 0xFF) << 8);
      } else {
        s.gpr[reg] = (s.gpr[reg] & ~0xFFull) | (value & 0xFF);
      }
      break;
    case 2: s.gpr[reg] = (s.gpr[reg] & ~0xFFFFull) | (value & 0xFFFF); break;
    case 4: s.gpr[reg] = value & 0xFFFFFFFF; break;  // zero-extends (SDM vol. 1 3.4.1.1)
    default: s.gpr[reg] = value; break;
  }
}

uint64_t Cpu::ReadOperandSlow(const DecodedInsn& insn, int i) {
  const Operand& o = insn.op[i];
  switch (o.kind) {
    case OperandKind::kReg:
      switch (o.reg_class) {
        case RegClass::kGpr8Low: return s.gpr[o.reg] & 0xFF;
        case RegClass::kGpr8High: return (s.gpr[o.reg] >> 8) & 0xFF;
        case RegClass::kGpr16: return s.gpr[o.reg] & 0xFFFF;
        case RegClass::kGpr32: return s.gpr[o.reg] & 0xFFFFFFFF;
        case RegClass::kGpr64: return s.gpr[o.reg];
        case RegClass::kSeg: return s.seg[o.reg].selector;
        case RegClass::kCr:
          switch (o.reg) {
            case 0: return s.cr0;
            case 2: return s.cr2;
            case 3: return s.cr3;
            case 4: return s.cr4;
            case 8: return s.cr8;
            default: Raise(x86::kUD);
          }
        case RegClass::kDr: return s.dr[o.reg & 7];
        default: Raise(x86::kUD);
      }
    case OperandKind::kMem: return ReadMem(o.seg, EffectiveAddress(insn, i), o.size);
    case OperandKind::kImm:
    case OperandKind::kFarPtr: return o.imm;
    default: Raise(x86::kUD);
  }
}

void Cpu::WriteOperandSlow(const DecodedInsn& insn, int i, uint64_t value) {
  const Operand& o = insn.op[i];
  switch (o.kind) {
    case OperandKind::kReg:
      switch (o.reg_class) {
        case RegClass::kGpr8Low: s.gpr[o.reg] = (s.gpr[o.reg] & ~0xFFull) | (value & 0xFF); return;
        case RegClass::kGpr8High: s.gpr[o.reg] = (s.gpr[o.reg] & ~0xFF00ull) | ((value & 0xFF) << 8); return;
        case RegClass::kGpr16: s.gpr[o.reg] = (s.gpr[o.reg] & ~0xFFFFull) | (value & 0xFFFF); return;
        case RegClass::kGpr32: s.gpr[o.reg] = value & 0xFFFFFFFF; return;
        case RegClass::kGpr64: s.gpr[o.reg] = value; return;
        case RegClass::kSeg: LoadSegment(o.reg, static_cast<uint16_t>(value)); return;
        default: Raise(x86::kUD);  // CRn/DRn writes have side effects: ops_system.cc does them
      }
    case OperandKind::kMem: WriteMem(o.seg, EffectiveAddress(insn, i), o.size, value); return;
    default: Raise(x86::kUD);
  }
}

unsigned Cpu::StackSize() const {
  if (Is64BitCode(s)) return 8;
  return s.seg[x86::kSs].db() ? 4 : 2;
}

// The stack pointer changes only after the memory access succeeded, so a
// faulting PUSH/POP can be restarted.
void Cpu::Push(uint64_t value, unsigned size) {
  unsigned ss = StackSize();
  uint64_t sp = (s.gpr[x86::kRsp] - size) & SizeMask(ss);
  WriteData(x86::kSs, sp, size, value);
  WriteGpr(x86::kRsp, ss, sp);
}

uint64_t Cpu::Pop(unsigned size) {
  unsigned ss = StackSize();
  uint64_t sp = s.gpr[x86::kRsp] & SizeMask(ss);
  uint64_t value = ReadData(x86::kSs, sp, size);
  WriteGpr(x86::kRsp, ss, sp + size);
  return value;
}

}  // namespace tandem::accel::interp
