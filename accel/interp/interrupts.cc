// Exception and interrupt delivery for the interpreter (SDM vol. 3A ch. 6):
// the real-mode IVT, 32-bit IDT interrupt/trap gates (16- and 32-bit) with a
// stack switch through the TSS (also from v8086 mode), the 64-bit IDT with
// RSP0-2 and IST stacks, and double/triple fault classification (table 6-5).
// Task gates switch tasks (task_switch.cc). NMIs block further NMIs until
// IRET (6.7.1).
//
// Delivery reads everything and writes the new stack frame before it changes
// a register, so a fault during delivery leaves the state of the event.
#include "accel/interp/system_internal.h"

namespace tandem::accel::interp {

using namespace x86;

namespace {

bool Contributory(uint8_t v) { return v == kDE || v == kTS || v == kNP || v == kSS || v == kGP; }

void DeliverReal(Cpu& cpu, uint8_t vector) {
  CpuState& s = cpu.s;
  if (vector * 4u + 3 > s.idtr.limit) Raise(kGP, 0);
  uint32_t ivt = static_cast<uint32_t>(cpu.ReadLinearSystem(s.idtr.base + vector * 4u, 4));
  const Segment& ss = s.seg[kSs];
  uint64_t mask = StackMask(s, ss);
  uint64_t sp = PushValues(cpu, ss, s.gpr[kRsp] & mask, mask, 2,
                           {s.rflags & 0xFFFF, s.seg[kCs].selector, s.rip & 0xFFFF}, false);
  SetSp(s, mask, sp);
  s.rflags &= ~(kFlagIf | kFlagTf | kFlagAc | kFlagRf);
  LoadRealSegment(cpu, kCs, static_cast<uint16_t>(ivt >> 16));
  s.rip = ivt & 0xFFFF;
}

// Reads the gate for vector and checks it as common to 32- and 64-bit IDTs.
struct Gate {
  uint64_t lo, hi;
  uint32_t type;  // S bit and type, descriptor bits 40..44
};

Gate ReadGate(Cpu& cpu, uint8_t vector, Cpu::EventKind kind, uint32_t ext, bool long_mode) {
  CpuState& s = cpu.s;
  const uint32_t idt_err = vector * 8u + 2 + ext;
  unsigned entry = long_mode ? 16 : 8;
  if (vector * entry + entry - 1 > s.idtr.limit) Raise(kGP, idt_err);
  Gate g;
  g.lo = cpu.ReadLinearSystem(s.idtr.base + vector * entry, 8);
  g.hi = long_mode ? cpu.ReadLinearSystem(s.idtr.base + vector * entry + 8, 8) : 0;
  g.type = (g.lo >> 40) & 0x1F;
  bool valid = long_mode ? (g.type == 0xE || g.type == 0xF)
                         : (g.type == 0x5 || g.type == 0x6 || g.type == 0x7 || g.type == 0xE || g.type == 0xF);
  if (!valid) Raise(kGP, idt_err);
  if (kind == Cpu::EventKind::kSoftware && DescDpl(g.lo) < cpu.cpl()) Raise(kGP, idt_err);
  if (!DescPresent(g.lo)) Raise(kNP, idt_err);
  return g;
}

// The handler's code segment: #GP/#NP(selector + EXT) per SDM 6.12.1.
uint64_t CheckHandlerCs(Cpu& cpu, uint16_t sel, uint32_t ext) {
  if ((sel & 0xFFFC) == 0) Raise(kGP, ext);
  uint64_t d = ReadDescriptor(cpu, sel, ext);
  uint32_t err = (sel & 0xFFFC) | ext;
  if (!DescIsCode(d) || DescDpl(d) > cpu.cpl()) Raise(kGP, err);
  if (!DescPresent(d)) Raise(kNP, err);
  return d;
}

void DeliverProtected(Cpu& cpu, uint8_t vector, Cpu::EventKind kind, bool has_ec, uint32_t ec, uint32_t ext) {
  CpuState& s = cpu.s;
  Gate g = ReadGate(cpu, vector, kind, ext, false);
  if (g.type == 0x5) {
    DeliverThroughTaskGate(cpu, g.lo, has_ec, ec, ext);
    return;
  }
  const bool gate32 = g.type & 8, trap = g.type & 1;
  const uint16_t sel = static_cast<uint16_t>(g.lo >> 16);
  uint32_t offset = static_cast<uint32_t>((g.lo & 0xFFFF) | (gate32 ? (g.lo >> 32) & 0xFFFF0000 : 0));
  uint64_t d = CheckHandlerCs(cpu, sel, ext);
  const int cpl = cpu.cpl();
  const int new_cpl = DescConforming(d) ? cpl : DescDpl(d);
  const bool v86 = s.rflags & kFlagVm;
  const uint32_t cs_err = (sel & 0xFFFC) | ext;
  if (v86 && new_cpl != 0) Raise(kGP, cs_err);
  Segment cs = SegmentFromDescriptor(static_cast<uint16_t>((sel & ~3) | new_cpl), d | (1ull << 40));
  if (offset > cs.limit) Raise(kGP, ext);

  const unsigned w = gate32 ? 4 : 2;
  const uint64_t flags = gate32 ? s.rflags & 0xFFFFFFFF : s.rflags & 0xFFFF;
  Segment ss = s.seg[kSs];
  uint64_t sp;
  uint64_t mask;
  const bool user = new_cpl == 3;
  if (new_cpl < cpl) {
    const bool tss32 = s.tr.type() & 8;
    uint32_t at = tss32 ? 4 + new_cpl * 8 : 2 + new_cpl * 4;
    uint64_t new_sp = ReadTss(cpu, at, tss32 ? 4 : 2, ext);
    auto ss_sel = static_cast<uint16_t>(ReadTss(cpu, at + (tss32 ? 4 : 2), 2, ext));
    ss = CheckStackSegment(cpu, ss_sel, new_cpl, ext, kTS);
    mask = ss.db() ? 0xFFFFFFFFull : 0xFFFFull;
    sp = new_sp & mask;
    if (v86) {
      sp = PushValues(cpu, ss, sp, mask, w,
                      {s.seg[kGs].selector, s.seg[kFs].selector, s.seg[kDs].selector, s.seg[kEs].selector}, user);
    }
    sp = PushValues(cpu, ss, sp, mask, w, {s.seg[kSs].selector, s.gpr[kRsp] & (w == 4 ? 0xFFFFFFFF : 0xFFFF)},
                    user);
  } else {
    mask = StackMask(s, ss);
    sp = s.gpr[kRsp] & mask;
  }
  sp = PushValues(cpu, ss, sp, mask, w, {flags, s.seg[kCs].selector, s.rip & (w == 4 ? 0xFFFFFFFF : 0xFFFF)},
                  user);
  if (has_ec) sp = PushValues(cpu, ss, sp, mask, w, {ec}, user);

  // Commit.
  MarkAccessed(cpu, sel, d);
  if (new_cpl < cpl) {
    s.seg[kSs] = ss;
    if (v86) {
      for (int seg : {kEs, kDs, kFs, kGs}) s.seg[seg] = Segment{0, 0, 0, Segment::kUnusable};
    }
  }
  SetSp(s, mask, sp);
  s.seg[kCs] = cs;
  s.rip = offset;
  s.rflags &= ~(kFlagTf | kFlagNt | kFlagRf | kFlagVm);
  if (!trap) s.rflags &= ~kFlagIf;
}

void DeliverLong(Cpu& cpu, uint8_t vector, Cpu::EventKind kind, bool has_ec, uint32_t ec, uint32_t ext) {
  CpuState& s = cpu.s;
  Gate g = ReadGate(cpu, vector, kind, ext, true);
  const bool trap = g.type & 1;
  const uint16_t sel = static_cast<uint16_t>(g.lo >> 16);
  const uint64_t offset = (g.lo & 0xFFFF) | ((g.lo >> 32) & 0xFFFF0000) | (g.hi << 32);
  const unsigned ist = (g.lo >> 32) & 7;
  uint64_t d = CheckHandlerCs(cpu, sel, ext);
  const uint32_t cs_err = (sel & 0xFFFC) | ext;
  const int cpl = cpu.cpl();
  const int new_cpl = DescConforming(d) ? cpl : DescDpl(d);
  Segment cs = SegmentFromDescriptor(static_cast<uint16_t>((sel & ~3) | new_cpl), d | (1ull << 40));
  if (!cs.l() || cs.db()) Raise(kGP, cs_err);
  if (!IsCanonical(offset)) Raise(kGP, ext);

  uint64_t rsp;
  if (ist) {
    rsp = ReadTss(cpu, 0x24 + (ist - 1) * 8, 8, ext);
  } else if (new_cpl < cpl) {
    rsp = ReadTss(cpu, 4 + new_cpl * 8, 8, ext);
  } else {
    rsp = s.gpr[kRsp];
  }
  rsp &= ~0xFull;
  const bool user = new_cpl == 3;
  uint64_t frame[6] = {s.seg[kSs].selector, s.gpr[kRsp], s.rflags, s.seg[kCs].selector, s.rip, ec};
  const int n = has_ec ? 6 : 5;
  for (int i = 0; i < n; ++i) {
    rsp -= 8;
    if (!IsCanonical(rsp)) Raise(kSS, ext);
    WriteLinearAs(cpu, rsp, 8, frame[i], user);
  }

  MarkAccessed(cpu, sel, d);
  if (new_cpl < cpl) s.seg[kSs] = NullStackSegment(new_cpl);
  s.gpr[kRsp] = rsp;
  s.seg[kCs] = cs;
  s.rip = offset;
  s.rflags &= ~(kFlagTf | kFlagNt | kFlagRf | kFlagVm);
  if (!trap) s.rflags &= ~kFlagIf;
}

}  // namespace

void Cpu::DeliverEvent(uint8_t vector, EventKind kind, bool has_error_code, uint32_t error_code) {
  try {
    // EXT: the event is not an INT n/INT3/INTO of the program (SDM 6.13).
    const uint32_t ext = kind == EventKind::kSoftware ? 0 : 1;
    s.halted = false;
    if (!(s.cr0 & kCr0Pe)) {
      DeliverReal(*this, vector);
    } else if (s.msr.efer & kEferLma) {
      DeliverLong(*this, vector, kind, has_error_code, error_code, ext);
    } else {
      DeliverProtected(*this, vector, kind, has_error_code, error_code, ext);
    }
  } catch (const GuestFault& fault) {
    const bool exception = kind == EventKind::kException;
    if (exception && vector == kDF) throw TripleFault{};
    const bool first_contributory = exception && Contributory(vector);
    const bool first_pf = exception && vector == kPF;
    if ((first_contributory && Contributory(fault.vector)) ||
        (first_pf && (fault.vector == kPF || Contributory(fault.vector)))) {
      DeliverEvent(kDF, EventKind::kException, true, 0);
      return;
    }
    // A fault while delivering INT n belongs to that instruction: the INT
    // handler puts RIP back and the run loop delivers it.
    if (kind == EventKind::kSoftware) throw;
    DeliverEvent(fault.vector, EventKind::kException, fault.has_error_code, fault.error_code);
  }
}

bool Cpu::TakePendingNmi(hw::CpuSocket& irq) {
  // The MOV SS/POP SS shadow holds NMIs back one instruction (SDM 6.8.3);
  // the STI shadow does too, as on AMD processors (APM vol. 2 15.21.5).
  if (s.nmi_blocked || s.interrupt_shadow || !irq.HasPendingNmi()) return false;
  irq.AcknowledgeNmi();
  s.nmi_blocked = true;
  // An NMI is benign (table 6-4): a fault while delivering it is delivered
  // as itself, which DeliverEvent does for events that are not INT n.
  DeliverEvent(kNMI, EventKind::kExternal);
  return true;
}

}  // namespace tandem::accel::interp
