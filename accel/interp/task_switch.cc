// Hardware task switching for the interpreter (SDM vol. 3A ch. 7, vol. 2 JMP,
// CALL, IRET and INT n): 16- and 32-bit TSSs reached by far JMP/CALL to a TSS
// or task gate, by an event through an IDT task gate, and IRET with NT=1.
// Long mode has none of it: its callers raise #GP first.
//
// A switch reads the new TSS and checks what table 7-1 checks before the
// commit point in the old task's context; the segment checks after it fault
// in the new task's context (7.3 step 13).
#include "accel/interp/debug_regs.h"
#include "accel/interp/system_internal.h"

namespace tandem::accel::interp {

using namespace x86;

namespace {

constexpr uint32_t kTss32Limit = 0x67, kTss16Limit = 0x2B;
constexpr uint64_t kBusy = 1ull << 41;  // TSS descriptor type bit 1
constexpr uint64_t kDr6Bt = 1u << 15;   // DR6.BT: the debug trap of a TSS's T flag (17.2.3)
// DR7 L0-L3 and LE: a task's own breakpoint enables (17.2.4).
constexpr uint64_t kDr7LocalEnables = 0x155;
constexpr uint64_t kTssFlags = kArithFlags | kFlagTf | kFlagIf | kFlagDf | kFlagIopl | kFlagNt | kFlagRf | kFlagVm |
                               kFlagAc | kFlagVif | kFlagVip | kFlagId;

// What a task switch loads from a TSS (figures 7-2 and 7-11).
struct TaskImage {
  uint32_t cr3 = 0;
  uint32_t eip = 0;
  uint32_t eflags = 0;
  uint32_t gpr[8] = {};
  uint16_t seg[6] = {};  // kEs..kGs
  uint16_t ldt = 0;
  bool trap = false;
};

TaskImage ReadImage(Cpu& cpu, const Segment& tss, bool tss32) {
  TaskImage t;
  auto rd = [&](uint32_t off, unsigned w) { return static_cast<uint32_t>(cpu.ReadLinearSystem(tss.base + off, w)); };
  if (tss32) {
    t.cr3 = rd(0x1C, 4);
    t.eip = rd(0x20, 4);
    t.eflags = rd(0x24, 4);
    for (int i = 0; i < 8; ++i) t.gpr[i] = rd(0x28 + i * 4, 4);
    for (int i = 0; i < 6; ++i) t.seg[i] = static_cast<uint16_t>(rd(0x48 + i * 4, 2));
    t.ldt = static_cast<uint16_t>(rd(0x60, 2));
    t.trap = rd(0x64, 2) & 1;
  } else {
    t.eip = rd(0x0E, 2);
    t.eflags = rd(0x10, 2);
    for (int i = 0; i < 8; ++i) t.gpr[i] = rd(0x12 + i * 2, 2);
    for (int i = 0; i < 4; ++i) t.seg[i] = static_cast<uint16_t>(rd(0x22 + i * 2, 2));
    t.ldt = static_cast<uint16_t>(rd(0x2A, 2));
  }
  return t;
}

// The outgoing task's dynamic fields (7.2.1): EIP, EFLAGS, registers and
// selectors; CR3 and the LDT selector are static and stay.
void SaveImage(Cpu& cpu, const Segment& tss, uint64_t eip, uint64_t eflags) {
  const CpuState& s = cpu.s;
  const bool tss32 = tss.type() & 8;
  auto wr = [&](uint32_t off, unsigned w, uint64_t v) { cpu.WriteLinearSystem(tss.base + off, w, v); };
  if (tss32) {
    wr(0x20, 4, eip);
    wr(0x24, 4, eflags);
    for (int i = 0; i < 8; ++i) wr(0x28 + i * 4, 4, s.gpr[i]);
    for (int i = 0; i < 6; ++i) wr(0x48 + i * 4, 2, s.seg[i].selector);
  } else {
    wr(0x0E, 2, eip);
    wr(0x10, 2, eflags);
    for (int i = 0; i < 8; ++i) wr(0x12 + i * 2, 2, s.gpr[i]);
    for (int i = 0; i < 4; ++i) wr(0x22 + i * 2, 2, s.seg[i].selector);
  }
}

void SetBusy(Cpu& cpu, uint16_t sel, bool busy) {
  uint64_t at = DescriptorAddress(cpu, sel) + 5;
  auto access = static_cast<uint8_t>(cpu.ReadLinearSystem(at, 1));
  cpu.WriteLinearSystem(at, 1, busy ? access | 2 : access & ~2);
}

// The new task's LDT (table 7-1: #TS(LDT selector) for every problem).
void LoadTaskLdt(Cpu& cpu, uint16_t sel, uint32_t ext) {
  const uint32_t err = (sel & 0xFFFC) | ext;
  if ((sel & 0xFFFC) == 0) {
    cpu.s.ldtr = Segment{sel, 0, 0, Segment::kUnusable};
    return;
  }
  if (sel & 4) Raise(kTS, err);
  uint64_t d = ReadDescriptor(cpu, sel, ext, kTS);
  if (DescS(d) || DescType(d) != 2 || !DescPresent(d)) Raise(kTS, err);
  cpu.s.ldtr = SegmentFromDescriptor(sel, d);
}

Segment LoadTaskCode(Cpu& cpu, uint16_t sel, uint32_t ext) {
  const uint32_t err = (sel & 0xFFFC) | ext;
  if ((sel & 0xFFFC) == 0) Raise(kTS, ext);
  uint64_t d = ReadDescriptor(cpu, sel, ext, kTS);
  const int rpl = sel & 3;
  if (!DescIsCode(d) || (DescConforming(d) ? DescDpl(d) > rpl : DescDpl(d) != rpl)) Raise(kTS, err);
  if (!DescPresent(d)) Raise(kNP, err);
  MarkAccessed(cpu, sel, d);
  return SegmentFromDescriptor(sel, d | (1ull << 40));
}

// DS, ES, FS, GS of the new task: null is allowed.
Segment LoadTaskData(Cpu& cpu, uint16_t sel, int cpl, uint32_t ext) {
  const uint32_t err = (sel & 0xFFFC) | ext;
  if ((sel & 0xFFFC) == 0) return Segment{sel, 0, 0, Segment::kUnusable};
  uint64_t d = ReadDescriptor(cpu, sel, ext, kTS);
  if (!DescS(d) || (DescIsCode(d) && !(DescType(d) & 2))) Raise(kTS, err);
  if (!DescConforming(d) && (DescDpl(d) < cpl || DescDpl(d) < (sel & 3))) Raise(kTS, err);
  if (!DescPresent(d)) Raise(kNP, err);
  MarkAccessed(cpu, sel, d);
  return SegmentFromDescriptor(sel, d | (1ull << 40));
}

// Segment registers from the new task's selectors, in its context: the
// selectors are in place (with CPL = CS.RPL) before any descriptor check.
void LoadTaskSegments(Cpu& cpu, const TaskImage& t, uint32_t ext) {
  CpuState& s = cpu.s;
  if (s.rflags & kFlagVm) {
    for (int i = 0; i < 6; ++i) LoadRealSegment(cpu, i, t.seg[i]);
    LoadTaskLdt(cpu, t.ldt, ext);
    return;
  }
  const int cpl = t.seg[kCs] & 3;
  for (int i = 0; i < 6; ++i) s.seg[i] = Segment{t.seg[i], 0, 0, Segment::kUnusable};
  s.seg[kSs] = NullStackSegment(cpl);
  s.seg[kSs].selector = t.seg[kSs];
  LoadTaskLdt(cpu, t.ldt, ext);
  s.seg[kCs] = LoadTaskCode(cpu, t.seg[kCs], ext);
  s.seg[kSs] = CheckStackSegment(cpu, t.seg[kSs], cpl, ext, kTS);
  for (int seg : {kEs, kDs, kFs, kGs}) s.seg[seg] = LoadTaskData(cpu, t.seg[seg], cpl, ext);
}

// The last steps in the new task: EIP within CS (#GP), then the debug
// trap of the TSS's T flag before its first instruction (7.2.1).
void FinishSwitch(Cpu& cpu, bool trap, uint32_t ext) {
  CpuState& s = cpu.s;
  if (s.rip > s.seg[kCs].limit) Raise(kGP, ext);
  if (trap) DeliverDebugTrap(cpu, kDr6Bt);
  cpu.next_rip = s.rip;
}

}  // namespace

uint64_t ReadTss(Cpu& cpu, uint32_t offset, unsigned width, uint32_t ext) {
  const Segment& tr = cpu.s.tr;
  if (offset + width - 1 > tr.limit) Raise(kTS, (tr.selector & 0xFFFC) | ext);
  return cpu.ReadLinearSystem(tr.base + offset, width);
}

bool SwitchTask(Cpu& cpu, uint16_t sel, uint64_t d, TaskSwitchKind kind, uint64_t return_eip, uint32_t ext) {
  CpuState& s = cpu.s;
  const uint32_t err = (sel & 0xFFFC) | ext;
  const bool new32 = DescType(d) & 8;
  const Segment tss = SegmentFromDescriptor(sel, d | kBusy);
  if (tss.limit < (new32 ? kTss32Limit : kTss16Limit)) Raise(kTS, err);
  // Everything the old context can fault on comes first: the new TSS (read
  // through the old page tables), the old TSS's fields, the link field.
  TaskImage t = ReadImage(cpu, tss, new32);
  const bool nest = kind == TaskSwitchKind::kCall || kind == TaskSwitchKind::kEvent;
  uint64_t old_flags = s.rflags;
  if (kind == TaskSwitchKind::kIret) old_flags &= ~kFlagNt;
  SaveImage(cpu, s.tr, return_eip, old_flags);
  if (nest) cpu.WriteLinearSystem(tss.base, 2, s.tr.selector);
  if (kind == TaskSwitchKind::kJmp || kind == TaskSwitchKind::kIret) SetBusy(cpu, s.tr.selector, false);
  if (kind != TaskSwitchKind::kIret) SetBusy(cpu, sel, true);

  // Commit: from here on faults belong to the new task.
  s.tr = tss;
  if (new32 && (s.cr0 & kCr0Pg)) {
    s.cr3 = t.cr3;
    cpu.FlushTlb(false);
  }
  // A 16-bit TSS leaves the upper halves of EFLAGS, EIP and the registers
  // undefined (7.6): zero here, as KVM's task-switch emulation has them.
  uint64_t flags = t.eflags & kTssFlags;
  if (nest) flags |= kFlagNt;
  s.rflags = flags | 2;
  for (int i = 0; i < 8; ++i) s.gpr[i] = t.gpr[i];
  s.rip = t.eip;
  cpu.next_rip = t.eip;
  s.cr0 |= kCr0Ts;
  if (s.dr[7] & kDr7LocalEnables) {
    s.dr[7] &= ~kDr7LocalEnables;
    UpdateDebugState(cpu);
  }
  LoadTaskSegments(cpu, t, ext);
  return t.trap;
}

void FarToTask(Cpu& cpu, uint16_t sel, uint64_t d, bool call) {
  const int cpl = cpu.cpl();
  const uint32_t err = sel & 0xFFFC;
  const uint32_t type = DescType(d);
  if (LongMode(cpu.s) || (type != 1 && type != 5 && type != 9)) Raise(kGP, err);  // also a busy TSS
  if (DescDpl(d) < cpl || DescDpl(d) < (sel & 3)) Raise(kGP, err);
  if (!DescPresent(d)) Raise(kNP, err);
  uint16_t tss_sel = sel;
  uint64_t tss = d;
  if (type == 5) {  // task gate: it names the TSS
    tss_sel = static_cast<uint16_t>(d >> 16);
    if (!(tss_sel & 4)) tss = ReadDescriptor(cpu, tss_sel);
  }
  const uint32_t tss_err = tss_sel & 0xFFFC;
  if (tss_sel & 4) Raise(kGP, tss_err);  // TSS descriptors live in the GDT only
  if (DescS(tss) || (DescType(tss) != 1 && DescType(tss) != 9)) Raise(kGP, tss_err);
  if (!DescPresent(tss)) Raise(kNP, tss_err);
  const uint64_t ret = cpu.next_rip;
  const bool trap = SwitchTask(cpu, tss_sel, tss, call ? TaskSwitchKind::kCall : TaskSwitchKind::kJmp, ret, 0);
  FinishSwitch(cpu, trap, 0);
}

void DeliverThroughTaskGate(Cpu& cpu, uint64_t gate, bool has_ec, uint32_t ec, uint32_t ext) {
  CpuState& s = cpu.s;
  auto tss_sel = static_cast<uint16_t>(gate >> 16);
  const uint32_t err = (tss_sel & 0xFFFC) | ext;
  if (tss_sel & 4) Raise(kGP, err);
  uint64_t d = ReadDescriptor(cpu, tss_sel, ext);
  if (DescS(d) || (DescType(d) != 1 && DescType(d) != 9)) Raise(kGP, err);
  if (!DescPresent(d)) Raise(kNP, err);
  try {
    const bool trap = SwitchTask(cpu, tss_sel, d, TaskSwitchKind::kEvent, s.rip, ext);
    if (has_ec) {
      // On the new task's stack, as wide as its TSS (7.3, 6.12.2).
      const uint64_t mask = StackMask(s, s.seg[kSs]);
      uint64_t sp = PushValues(cpu, s.seg[kSs], s.gpr[kRsp] & mask, mask, (DescType(d) & 8) ? 4 : 2, {ec},
                               cpu.cpl() == 3);
      SetSp(s, mask, sp);
    }
    FinishSwitch(cpu, trap, ext);
  } catch (const GuestFault& f) {
    // Past the commit point (TR names the new task) a fault of INT n is
    // the new task's: delivered here, since the INT's caller would put the
    // old task's RIP back. Other events' faults go on to #DF handling.
    if (ext || s.tr.selector != tss_sel) throw;
    cpu.DeliverEvent(f.vector, Cpu::EventKind::kException, f.has_error_code, f.error_code);
  }
}

void TaskReturn(Cpu& cpu) {
  if (LongMode(cpu.s)) Raise(kGP, 0);
  auto link = static_cast<uint16_t>(ReadTss(cpu, 0, 2, 0));
  const uint32_t err = link & 0xFFFC;
  if (link & 4) Raise(kTS, err);
  uint64_t d = ReadDescriptor(cpu, link, 0, kTS);
  if (DescS(d) || (DescType(d) != 3 && DescType(d) != 0xB)) Raise(kTS, err);  // must be busy
  if (!DescPresent(d)) Raise(kNP, err);
  const bool trap = SwitchTask(cpu, link, d, TaskSwitchKind::kIret, cpu.next_rip, 0);
  FinishSwitch(cpu, trap, 0);
}

}  // namespace tandem::accel::interp
