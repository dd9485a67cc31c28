// Far control transfers and segment-register instructions (SDM vol. 2:
// JMP, CALL, RET, INT n, IRET, MOV/PUSH/POP Sreg, LDS/LES/LFS/LGS/LSS) in
// real, v8086, protected, compatibility and 64-bit mode. Transfers through
// call gates are call_gates.cc's, task switches task_switch.cc's.
#include <optional>

#include "accel/interp/debug_regs.h"
#include "accel/interp/system_internal.h"

namespace tandem::accel::interp {

using namespace x86;

namespace {

uint64_t OperandMask(unsigned bits) { return bits == 64 ? ~0ull : (1ull << bits) - 1; }

// The selector:offset a far JMP/CALL names (ptr16:xx immediate or m16:xx).
void FarTarget(Cpu& cpu, const DecodedInsn& insn, uint16_t* sel, uint64_t* offset) {
  const Operand& op = insn.op[0];
  if (op.kind == OperandKind::kFarPtr) {
    *sel = op.far_selector;
    *offset = op.imm & OperandMask(insn.operand_size);
    return;
  }
  if (op.kind != OperandKind::kMem) Raise(kUD);
  unsigned w = insn.operand_size / 8;
  uint64_t ea = cpu.EffectiveAddress(insn, 0);
  *offset = cpu.ReadMem(op.seg, ea, w);
  *sel = static_cast<uint16_t>(cpu.ReadMem(op.seg, (ea + w) & OperandMask(insn.address_size), 2));
}

// A code segment reached by far JMP/CALL (SDM vol. 2 JMP "far jump to a
// conforming or nonconforming code segment"); offset checked against it.
// Empty for a system descriptor (a gate or TSS: FarToSystem).
std::optional<Segment> CheckFarCode(Cpu& cpu, uint16_t sel, uint64_t offset, uint64_t* d_out) {
  const int cpl = cpu.cpl();
  const uint32_t err = sel & 0xFFFC;
  if (err == 0) Raise(kGP, 0);
  uint64_t d = ReadDescriptor(cpu, sel);
  *d_out = d;
  if (!DescS(d)) return std::nullopt;
  if (!DescIsCode(d)) Raise(kGP, err);
  if (DescConforming(d) ? DescDpl(d) > cpl : ((sel & 3) > cpl || DescDpl(d) != cpl)) Raise(kGP, err);
  if (!DescPresent(d)) Raise(kNP, err);
  Segment cs = SegmentFromDescriptor(static_cast<uint16_t>((sel & ~3) | cpl), d | (1ull << 40));
  bool long_mode = LongMode(cpu.s);
  if (long_mode && cs.l() && cs.db()) Raise(kGP, err);
  if (long_mode && cs.l() ? !IsCanonical(offset) : offset > cs.limit) Raise(kGP, 0);
  return cs;
}

// Far JMP/CALL to the system descriptor d: a call gate (the 64-bit one only
// in long mode), else a task gate or TSS (which long mode refuses).
void FarToSystem(Cpu& cpu, uint16_t sel, uint64_t d, bool call, unsigned operand_bits) {
  const uint32_t type = DescType(d);
  if (type == 0xC || (type == 4 && !LongMode(cpu.s))) {
    FarThroughCallGate(cpu, sel, d, call, operand_bits);
  } else {
    FarToTask(cpu, sel, d, call);
  }
}

// A code segment reached by far RET/IRET at privilege rpl >= CPL.
Segment CheckReturnCode(Cpu& cpu, uint16_t sel, uint64_t* d_out) {
  const uint32_t err = sel & 0xFFFC;
  const int rpl = sel & 3;
  if (err == 0) Raise(kGP, 0);
  if (rpl < cpu.cpl()) Raise(kGP, err);
  uint64_t d = ReadDescriptor(cpu, sel);
  if (!DescIsCode(d)) Raise(kGP, err);
  if (DescConforming(d) ? DescDpl(d) > rpl : DescDpl(d) != rpl) Raise(kGP, err);
  if (!DescPresent(d)) Raise(kNP, err);
  Segment cs = SegmentFromDescriptor(sel, d | (1ull << 40));
  if (LongMode(cpu.s) && cs.l() && cs.db()) Raise(kGP, err);
  *d_out = d;
  return cs;
}

bool Returns64(const CpuState& s, const Segment& cs) { return LongMode(s) && cs.l(); }

void CheckReturnOffset(const CpuState& s, const Segment& cs, uint64_t offset) {
  if (Returns64(s, cs) ? !IsCanonical(offset) : offset > cs.limit) Raise(kGP, 0);
}

// The new SS:SP popped by a return to an outer ring.
Segment ReturnStack(Cpu& cpu, uint16_t ss_sel, const Segment& cs) {
  int rpl = cs.selector & 3;
  if ((ss_sel & 0xFFFC) == 0 && Returns64(cpu.s, cs) && rpl < 3) return NullStackSegment(rpl);
  return CheckStackSegment(cpu, ss_sel, rpl, 0, kGP);
}

uint64_t MaskFor(const CpuState& s, const Segment& cs, const Segment& ss) {
  if (Returns64(s, cs)) return ~0ull;
  return ss.db() ? 0xFFFFFFFFull : 0xFFFFull;
}

void Interrupt(Cpu& cpu, uint8_t vector, Cpu::EventKind kind) {
  uint64_t insn_rip = cpu.s.rip;
  cpu.s.rip = cpu.next_rip;
  try {
    cpu.DeliverEvent(vector, kind);
  } catch (const GuestFault&) {
    cpu.s.rip = insn_rip;
    throw;
  }
  cpu.next_rip = cpu.s.rip;
  cpu.step_on_new_tf = true;  // delivery cleared TF: no single-step trap into the handler
}

// CR4.VME in v8086 mode: whether the TSS's interrupt redirection bitmap (the
// 32 bytes below the I/O bitmap) sends INT vector to the task's own IVT.
bool Redirected(Cpu& cpu, uint8_t vector) {
  const Segment& tr = cpu.s.tr;
  if ((tr.type() != 0x9 && tr.type() != 0xB) || tr.limit < 0x67) Raise(kGP, 0);
  const uint32_t byte = static_cast<uint32_t>(cpu.ReadLinearSystem(tr.base + 0x66, 2)) - 32 + vector / 8u;
  if (byte > tr.limit) Raise(kGP, 0);
  return !((cpu.ReadLinearSystem(tr.base + byte, 1) >> (vector & 7)) & 1);
}

// INT n through the v8086 task's IVT at linear 0, as real mode would (SDM
// vol. 3A 20.3.3.4-5, methods 5 and 6): at IOPL < 3 the FLAGS image shows
// VIF as IF and IOPL 3, and VIF clears instead of IF.
void RedirectToV86(Cpu& cpu, uint8_t vector) {
  CpuState& s = cpu.s;
  const bool iopl3 = Iopl(s) == 3;
  const auto entry = static_cast<uint32_t>(ReadLinearAs(cpu, vector * 4u, 4, Access::kRead, true));
  uint64_t flags = s.rflags & 0xFFFF;
  if (!iopl3) flags = (flags & ~kFlagIf) | kFlagIopl | ((s.rflags & kFlagVif) ? kFlagIf : 0);
  const uint64_t sp = PushValues(cpu, s.seg[kSs], s.gpr[kRsp] & 0xFFFF, 0xFFFF, 2,
                                 {flags, s.seg[kCs].selector, cpu.next_rip & 0xFFFF}, true);
  SetSp(s, 0xFFFF, sp);
  s.rflags &= ~(kFlagTf | kFlagRf | (iopl3 ? kFlagIf : kFlagVif));
  LoadRealSegment(cpu, kCs, static_cast<uint16_t>(entry >> 16));
  cpu.next_rip = entry & 0xFFFF;
  cpu.step_on_new_tf = true;
}

void IntN(Cpu& cpu, const DecodedInsn& insn) {
  const auto vector = static_cast<uint8_t>(insn.op[0].imm);
  if (V86Mode(cpu.s)) [[unlikely]] {
    if ((cpu.s.cr4 & kCr4Vme) && Redirected(cpu, vector)) {
      RedirectToV86(cpu, vector);
      return;
    }
    if (Iopl(cpu.s) < 3) Raise(kGP, 0);
  }
  Interrupt(cpu, vector, Cpu::EventKind::kSoftware);
}
void Int3(Cpu& cpu, const DecodedInsn&) { Interrupt(cpu, kBP, Cpu::EventKind::kSoftware); }
void Into(Cpu& cpu, const DecodedInsn&) {
  if (Mode64(cpu.s)) Raise(kUD);
  if (cpu.s.rflags & kFlagOf) Interrupt(cpu, kOF, Cpu::EventKind::kSoftware);
}
// ICEBP: a #DB trap without the gate DPL check. Entering the #DB handler
// clears GD, as for every debug exception (SDM vol. 3A 17.2.4).
void Int1(Cpu& cpu, const DecodedInsn&) {
  Interrupt(cpu, kDB, Cpu::EventKind::kExternal);
  cpu.s.dr[7] &= ~kDr7Gd;  // once delivered: a fault delivering it enters another handler
}

// RFLAGS after IRET from CPL cpl with operand width w (SDM vol. 2 IRET).
uint64_t IretFlags(const CpuState& s, uint64_t popped, int cpl, unsigned w) {
  uint64_t mask = kArithFlags | kFlagTf | kFlagDf | kFlagNt | kFlagRf | kFlagAc | kFlagId;
  if (cpl <= Iopl(s)) mask |= kFlagIf;
  if (cpl == 0) mask |= kFlagIopl | kFlagVif | kFlagVip;
  if (w == 2) mask &= 0xFFFF;
  return (s.rflags & ~mask) | (popped & mask) | 2;
}

void Iret(Cpu& cpu, const DecodedInsn& insn) {
  CpuState& s = cpu.s;
  s.nmi_blocked = false;  // even when IRET faults (SDM vol. 3A 6.7.1)
  const unsigned w = insn.operand_size / 8;
  const Segment ss = s.seg[kSs];
  const uint64_t mask = StackMask(s, ss);
  const uint64_t sp = s.gpr[kRsp] & mask;
  const int cpl = cpu.cpl();
  const bool user = cpl == 3;
  auto pop = [&](int i) { return ReadStack(cpu, ss, (sp + i * w) & mask, w, user); };

  if (RealMode(s) || V86Mode(s)) {
    // v8086 mode at IOPL < 3: only a 16-bit IRET with CR4.VME, which
    // loads IF into VIF (SDM vol. 3A 20.3.2).
    const bool virtual_if = V86Mode(s) && Iopl(s) < 3;
    if (virtual_if && (!(s.cr4 & kCr4Vme) || w != 2)) Raise(kGP, 0);
    uint64_t ip = pop(0), cs = pop(1) & 0xFFFF, flags = pop(2);
    if (ip > s.seg[kCs].limit && !V86Mode(s)) Raise(kGP, 0);
    if (virtual_if && (((flags & kFlagIf) && (s.rflags & kFlagVip)) || (flags & kFlagTf))) Raise(kGP, 0);
    uint64_t keep = w == 2 ? ~0xFFFFull : (kFlagVm | kFlagVif | kFlagVip | ~0xFFFFFFFFull);
    if (V86Mode(s)) keep |= kFlagIopl;
    if (virtual_if) keep = (keep | kFlagIf) & ~kFlagVif;
    s.rflags = (s.rflags & keep) | (flags & ~keep & 0x3F7FD7) | 2;
    if (virtual_if && (flags & kFlagIf)) s.rflags |= kFlagVif;
    LoadRealSegment(cpu, kCs, static_cast<uint16_t>(cs));
    SetSp(s, mask, sp + 3 * w);
    cpu.next_rip = ip & OperandMask(w * 8);
    return;
  }
  if (s.rflags & kFlagNt) {
    TaskReturn(cpu);
    return;
  }
  uint64_t ip = pop(0);
  auto sel = static_cast<uint16_t>(pop(1));
  uint64_t flags = pop(2);

  if (!LongMode(s) && w == 4 && (flags & kFlagVm) && cpl == 0) {
    // Return to v8086 mode: ESP, SS, ES, DS, FS, GS follow on the stack.
    uint64_t new_sp = pop(3);
    uint16_t seg_sel[5];
    for (int i = 0; i < 5; ++i) seg_sel[i] = static_cast<uint16_t>(pop(4 + i));
    s.rflags = (flags & 0x3F7FD7) | 2;
    const int order[5] = {kSs, kEs, kDs, kFs, kGs};
    for (int i = 0; i < 5; ++i) LoadRealSegment(cpu, order[i], seg_sel[i]);
    LoadRealSegment(cpu, kCs, sel);
    s.gpr[kRsp] = new_sp & 0xFFFFFFFF;
    cpu.next_rip = ip & 0xFFFF;
    return;
  }

  uint64_t d;
  Segment cs = CheckReturnCode(cpu, sel, &d);
  const int rpl = sel & 3;
  CheckReturnOffset(s, cs, ip);
  uint64_t new_flags = IretFlags(s, flags, cpl, w);
  // 64-bit mode pops SS:RSP always; other modes only on a privilege change.
  if (rpl > cpl || Mode64(s)) {
    uint64_t new_sp = pop(3);
    auto ss_sel = static_cast<uint16_t>(pop(4));
    Segment new_ss = ReturnStack(cpu, ss_sel, cs);
    MarkAccessed(cpu, sel, d);
    s.seg[kCs] = cs;
    s.seg[kSs] = new_ss;
    SetSp(s, MaskFor(s, cs, new_ss), new_sp);
    if (rpl > cpl) NullOuterDataSegments(cpu, rpl);
  } else {
    MarkAccessed(cpu, sel, d);
    s.seg[kCs] = cs;
    SetSp(s, mask, sp + 3 * w);
  }
  s.rflags = new_flags;
  cpu.next_rip = Returns64(s, cs) ? ip : ip & OperandMask(w * 8);
}

// The segment register LDS/LES/LFS/LGS/LSS loads.
int LoadFarPointerSeg(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_LDS: return kDs;
    case ZYDIS_MNEMONIC_LES: return kEs;
    case ZYDIS_MNEMONIC_LFS: return kFs;
    case ZYDIS_MNEMONIC_LGS: return kGs;
    default: return kSs;
  }
}

void LoadFarPointer(Cpu& cpu, const DecodedInsn& insn) {
  const Operand& mem = insn.op[1];
  if (mem.kind != OperandKind::kMem) Raise(kUD);
  unsigned w = insn.operand_size / 8;
  uint64_t ea = cpu.EffectiveAddress(insn, 1);
  uint64_t offset = cpu.ReadMem(mem.seg, ea, w);
  auto sel = static_cast<uint16_t>(cpu.ReadMem(mem.seg, (ea + w) & OperandMask(insn.address_size), 2));
  cpu.LoadSegment(LoadFarPointerSeg(insn.mnemonic), sel);
  cpu.WriteGpr(insn.op[0].reg, w, offset);
}

void FarJmp(Cpu& cpu, const DecodedInsn& insn) {
  uint16_t sel;
  uint64_t offset;
  FarTarget(cpu, insn, &sel, &offset);
  if (RealMode(cpu.s) || V86Mode(cpu.s)) {
    LoadRealSegment(cpu, kCs, sel);
    cpu.next_rip = offset;
    return;
  }
  uint64_t d;
  std::optional<Segment> cs = CheckFarCode(cpu, sel, offset, &d);
  if (!cs) {
    FarToSystem(cpu, sel, d, false, insn.operand_size);
    return;
  }
  MarkAccessed(cpu, sel, d);
  cpu.s.seg[kCs] = *cs;
  cpu.next_rip = offset;
}

void FarCall(Cpu& cpu, const DecodedInsn& insn) {
  CpuState& s = cpu.s;
  uint16_t sel;
  uint64_t offset;
  FarTarget(cpu, insn, &sel, &offset);
  const unsigned w = insn.operand_size / 8;
  const Segment& ss = s.seg[kSs];
  const uint64_t mask = StackMask(s, ss);
  const uint64_t ret = cpu.next_rip & OperandMask(insn.operand_size);
  if (RealMode(s) || V86Mode(s)) {
    uint64_t sp = PushValues(cpu, ss, s.gpr[kRsp] & mask, mask, w, {s.seg[kCs].selector, ret}, V86Mode(s));
    SetSp(s, mask, sp);
    LoadRealSegment(cpu, kCs, sel);
    cpu.next_rip = offset;
    return;
  }
  uint64_t d;
  std::optional<Segment> cs = CheckFarCode(cpu, sel, offset, &d);
  if (!cs) {
    FarToSystem(cpu, sel, d, true, insn.operand_size);
    return;
  }
  uint64_t sp = PushValues(cpu, ss, s.gpr[kRsp] & mask, mask, w, {s.seg[kCs].selector, ret}, cpu.cpl() == 3);
  MarkAccessed(cpu, sel, d);
  SetSp(s, mask, sp);
  s.seg[kCs] = *cs;
  cpu.next_rip = offset;
}

void FarRet(Cpu& cpu, const DecodedInsn& insn) {
  CpuState& s = cpu.s;
  const unsigned w = insn.operand_size / 8;
  const uint64_t imm = insn.operand_count && insn.op[0].kind == OperandKind::kImm ? insn.op[0].imm & 0xFFFF : 0;
  const Segment ss = s.seg[kSs];
  const uint64_t mask = StackMask(s, ss);
  const uint64_t sp = s.gpr[kRsp] & mask;
  const int cpl = cpu.cpl();
  const bool user = cpl == 3;
  uint64_t offset = ReadStack(cpu, ss, sp, w, user) & OperandMask(insn.operand_size);
  auto sel = static_cast<uint16_t>(ReadStack(cpu, ss, (sp + w) & mask, w, user));
  if (RealMode(s) || V86Mode(s)) {
    LoadRealSegment(cpu, kCs, sel);
    SetSp(s, mask, sp + 2 * w + imm);
    cpu.next_rip = offset;
    return;
  }
  uint64_t d;
  Segment cs = CheckReturnCode(cpu, sel, &d);
  CheckReturnOffset(s, cs, offset);
  const int rpl = sel & 3;
  if (rpl == cpl) {
    MarkAccessed(cpu, sel, d);
    s.seg[kCs] = cs;
    SetSp(s, mask, sp + 2 * w + imm);
  } else {
    uint64_t at = (sp + 2 * w + imm) & mask;
    uint64_t new_sp = ReadStack(cpu, ss, at, w, user);
    auto ss_sel = static_cast<uint16_t>(ReadStack(cpu, ss, (at + w) & mask, w, user));
    Segment new_ss = ReturnStack(cpu, ss_sel, cs);
    MarkAccessed(cpu, sel, d);
    s.seg[kCs] = cs;
    s.seg[kSs] = new_ss;
    SetSp(s, MaskFor(s, cs, new_ss), new_sp + imm);
    NullOuterDataSegments(cpu, rpl);
  }
  cpu.next_rip = offset;
}

void MovSreg(Cpu& cpu, const DecodedInsn& insn) {
  const Operand& dst = insn.op[0];
  if (dst.kind == OperandKind::kReg && dst.reg_class == RegClass::kSeg) {
    if (dst.reg == kCs || dst.reg > kGs) Raise(kUD);
    cpu.LoadSegment(dst.reg, static_cast<uint16_t>(cpu.ReadOperand(insn, 1)));
    if (dst.reg == kSs) cpu.s.interrupt_shadow = true;
    return;
  }
  const Operand& src = insn.op[1];
  if (src.reg > kGs) Raise(kUD);
  cpu.WriteOperand(insn, 0, cpu.s.seg[src.reg].selector);
}

void PushSreg(Cpu& cpu, const DecodedInsn& insn) {
  cpu.Push(cpu.s.seg[insn.op[0].reg].selector, insn.operand_size / 8);
}

void PopSreg(Cpu& cpu, const DecodedInsn& insn) {
  CpuState& s = cpu.s;
  const int seg = insn.op[0].reg;
  if (seg == kCs || seg > kGs) Raise(kUD);
  const unsigned w = insn.operand_size / 8;
  const uint64_t mask = StackMask(s, s.seg[kSs]);
  const uint64_t sp = s.gpr[kRsp] & mask;
  auto sel = static_cast<uint16_t>(cpu.ReadMem(kSs, sp, w));
  cpu.LoadSegment(seg, sel);
  SetSp(s, mask, sp + w);
  if (seg == kSs) cpu.s.interrupt_shadow = true;
}

// MOV with a segment, control or debug register operand.
void MovSystem(Cpu& cpu, const DecodedInsn& insn) {
  for (int i = 0; i < 2; ++i) {
    const Operand& o = insn.op[i];
    if (o.kind == OperandKind::kReg && (o.reg_class == RegClass::kCr || o.reg_class == RegClass::kDr)) {
      MovCrDr(cpu, insn);
      return;
    }
  }
  MovSreg(cpu, insn);
}

}  // namespace

// Registers the far/segment forms of MOV, PUSH, POP, JMP, CALL and RET too:
// the decoder uses them only for those forms (decode_cache.cc IsSystemForm).
void RegisterFarHandlers(HandlerTable& table) {
  table[ZYDIS_MNEMONIC_MOV] = MovSystem;
  table[ZYDIS_MNEMONIC_PUSH] = PushSreg;
  table[ZYDIS_MNEMONIC_POP] = PopSreg;
  table[ZYDIS_MNEMONIC_JMP] = FarJmp;
  table[ZYDIS_MNEMONIC_CALL] = FarCall;
  table[ZYDIS_MNEMONIC_RET] = FarRet;
  table[ZYDIS_MNEMONIC_INT] = IntN;
  table[ZYDIS_MNEMONIC_INT3] = Int3;
  table[ZYDIS_MNEMONIC_INTO] = Into;
  table[ZYDIS_MNEMONIC_INT1] = Int1;
  table[ZYDIS_MNEMONIC_IRET] = Iret;
  table[ZYDIS_MNEMONIC_IRETD] = Iret;
  table[ZYDIS_MNEMONIC_IRETQ] = Iret;
  table[ZYDIS_MNEMONIC_LDS] = LoadFarPointer;
  table[ZYDIS_MNEMONIC_LES] = LoadFarPointer;
  table[ZYDIS_MNEMONIC_LFS] = LoadFarPointer;
  table[ZYDIS_MNEMONIC_LGS] = LoadFarPointer;
  table[ZYDIS_MNEMONIC_LSS] = LoadFarPointer;
}

}  // namespace tandem::accel::interp
