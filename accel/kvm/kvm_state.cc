#include "accel/kvm/kvm_state.h"

#include <cstddef>
#include <cstring>

namespace tandem::accel::kvm {

using x86::CpuState;
using x86::Segment;

kvm_segment ToKvmSegment(const Segment& seg) {
  kvm_segment k{};
  k.base = seg.base;
  k.limit = seg.limit;
  k.selector = seg.selector;
  k.type = seg.attrib & Segment::kTypeMask;
  k.s = (seg.attrib & Segment::kS) ? 1 : 0;
  k.dpl = (seg.attrib >> Segment::kDplShift) & 3;
  k.present = (seg.attrib & Segment::kP) ? 1 : 0;
  k.avl = (seg.attrib & Segment::kAvl) ? 1 : 0;
  k.l = (seg.attrib & Segment::kL) ? 1 : 0;
  k.db = (seg.attrib & Segment::kDb) ? 1 : 0;
  k.g = (seg.attrib & Segment::kG) ? 1 : 0;
  k.unusable = (seg.attrib & Segment::kUnusable) ? 1 : 0;
  return k;
}

Segment FromKvmSegment(const kvm_segment& k) {
  Segment seg;
  seg.selector = k.selector;
  seg.base = k.base;
  seg.limit = k.limit;
  seg.attrib = (k.type & Segment::kTypeMask) | (k.s ? Segment::kS : 0) |
               (static_cast<uint32_t>(k.dpl & 3) << Segment::kDplShift) | (k.present ? Segment::kP : 0) |
               (k.avl ? Segment::kAvl : 0) | (k.l ? Segment::kL : 0) | (k.db ? Segment::kDb : 0) |
               (k.g ? Segment::kG : 0) | (k.unusable ? Segment::kUnusable : 0);
  return seg;
}

void ToKvmRegs(const CpuState& s, kvm_regs* r) {
  using namespace x86;
  *r = kvm_regs{};
  r->rax = s.gpr[kRax];
  r->rbx = s.gpr[kRbx];
  r->rcx = s.gpr[kRcx];
  r->rdx = s.gpr[kRdx];
  r->rsi = s.gpr[kRsi];
  r->rdi = s.gpr[kRdi];
  r->rsp = s.gpr[kRsp];
  r->rbp = s.gpr[kRbp];
  r->r8 = s.gpr[kR8];
  r->r9 = s.gpr[kR9];
  r->r10 = s.gpr[kR10];
  r->r11 = s.gpr[kR11];
  r->r12 = s.gpr[kR12];
  r->r13 = s.gpr[kR13];
  r->r14 = s.gpr[kR14];
  r->r15 = s.gpr[kR15];
  r->rip = s.rip;
  r->rflags = s.rflags | 2;  // bit 1 is always set
}

void FromKvmRegs(const kvm_regs& r, CpuState* s) {
  using namespace x86;
  s->gpr[kRax] = r.rax;
  s->gpr[kRbx] = r.rbx;
  s->gpr[kRcx] = r.rcx;
  s->gpr[kRdx] = r.rdx;
  s->gpr[kRsi] = r.rsi;
  s->gpr[kRdi] = r.rdi;
  s->gpr[kRsp] = r.rsp;
  s->gpr[kRbp] = r.rbp;
  s->gpr[kR8] = r.r8;
  s->gpr[kR9] = r.r9;
  s->gpr[kR10] = r.r10;
  s->gpr[kR11] = r.r11;
  s->gpr[kR12] = r.r12;
  s->gpr[kR13] = r.r13;
  s->gpr[kR14] = r.r14;
  s->gpr[kR15] = r.r15;
  s->rip = r.rip;
  s->rflags = r.rflags;
}

void ToKvmSregs(const CpuState& s, kvm_sregs* k) {
  using namespace x86;
  *k = kvm_sregs{};
  k->es = ToKvmSegment(s.seg[kEs]);
  k->cs = ToKvmSegment(s.seg[kCs]);
  k->ss = ToKvmSegment(s.seg[kSs]);
  k->ds = ToKvmSegment(s.seg[kDs]);
  k->fs = ToKvmSegment(s.seg[kFs]);
  k->gs = ToKvmSegment(s.seg[kGs]);
  k->ldt = ToKvmSegment(s.ldtr);
  k->tr = ToKvmSegment(s.tr);
  k->gdt.base = s.gdtr.base;
  k->gdt.limit = s.gdtr.limit;
  k->idt.base = s.idtr.base;
  k->idt.limit = s.idtr.limit;
  k->cr0 = s.cr0;
  k->cr2 = s.cr2;
  k->cr3 = s.cr3;
  k->cr4 = s.cr4;
  k->cr8 = s.cr8;
  k->efer = s.msr.efer;
  k->apic_base = s.msr.apic_base;
}

void FromKvmSregs(const kvm_sregs& k, CpuState* s) {
  using namespace x86;
  s->seg[kEs] = FromKvmSegment(k.es);
  s->seg[kCs] = FromKvmSegment(k.cs);
  s->seg[kSs] = FromKvmSegment(k.ss);
  s->seg[kDs] = FromKvmSegment(k.ds);
  s->seg[kFs] = FromKvmSegment(k.fs);
  s->seg[kGs] = FromKvmSegment(k.gs);
  s->ldtr = FromKvmSegment(k.ldt);
  s->tr = FromKvmSegment(k.tr);
  s->gdtr = {k.gdt.base, k.gdt.limit};
  s->idtr = {k.idt.base, k.idt.limit};
  s->cr0 = k.cr0;
  s->cr2 = k.cr2;
  s->cr3 = k.cr3;
  s->cr4 = k.cr4;
  s->cr8 = k.cr8;
  s->msr.efer = k.efer;
  s->msr.apic_base = k.apic_base;
}

void ToKvmFpu(const x86::FxState& fx, kvm_fpu* f) {
  *f = kvm_fpu{};
  static_assert(sizeof(f->fpr) == sizeof(fx.st) && sizeof(f->xmm) == sizeof(fx.xmm));
  std::memcpy(f->fpr, fx.st.data(), sizeof f->fpr);
  std::memcpy(f->xmm, fx.xmm.data(), sizeof f->xmm);
  f->fcw = fx.fcw;
  f->fsw = fx.fsw;
  f->ftwx = fx.ftw;
  f->last_opcode = fx.fop;
  f->last_ip = fx.fip;
  f->last_dp = fx.fdp;
  f->mxcsr = fx.mxcsr;
}

void FromKvmFpu(const kvm_fpu& f, x86::FxState* fx) {
  std::memcpy(fx->st.data(), f.fpr, sizeof f.fpr);
  std::memcpy(fx->xmm.data(), f.xmm, sizeof f.xmm);
  fx->fcw = f.fcw;
  fx->fsw = f.fsw;
  fx->ftw = f.ftwx;
  fx->fop = f.last_opcode;
  fx->fip = f.last_ip;
  fx->fdp = f.last_dp;
  fx->mxcsr = f.mxcsr;
}

namespace {
constexpr size_t kFxLegacyBytes = offsetof(x86::FxState, reserved1);  // through XMM15
constexpr size_t kXstateBvOffset = 512;                               // XSAVE header (SDM vol. 1 13.4.2)
constexpr uint64_t kXstateX87Sse = 0x3;
}  // namespace

void ToXsave(const x86::FxState& fx, uint8_t* xsave) {
  uint32_t mxcsr_mask;
  std::memcpy(&mxcsr_mask, xsave + offsetof(x86::FxState, mxcsr_mask), 4);
  std::memcpy(xsave, &fx, kFxLegacyBytes);
  std::memcpy(xsave + offsetof(x86::FxState, mxcsr_mask), &mxcsr_mask, 4);  // a CPU property
  uint64_t bv;
  std::memcpy(&bv, xsave + kXstateBvOffset, 8);
  bv |= kXstateX87Sse;
  std::memcpy(xsave + kXstateBvOffset, &bv, 8);
}

void FromXsave(const uint8_t* xsave, x86::FxState* fx) {
  uint32_t mxcsr_mask = fx->mxcsr_mask;
  std::memcpy(static_cast<void*>(fx), xsave, kFxLegacyBytes);
  fx->mxcsr_mask = mxcsr_mask;
}

void ToKvmEvents(const CpuState& s, kvm_vcpu_events* e) {
  *e = {};
  e->flags = KVM_VCPUEVENT_VALID_SHADOW | KVM_VCPUEVENT_VALID_NMI_PENDING;
  // One kind of shadow in CpuState; STI's blocks interrupts and NMIs alike.
  e->interrupt.shadow = s.interrupt_shadow ? KVM_X86_SHADOW_INT_STI : 0;
  e->nmi.masked = s.nmi_blocked;
  e->nmi.pending = s.nmi_pending;
  const x86::PendingEvent& p = s.pending_event;
  if (!p.valid) return;
  if (p.exception) {
    e->exception.injected = 1;
    e->exception.nr = p.vector;
    e->exception.has_error_code = p.has_error_code;
    e->exception.error_code = p.error_code;
  } else if (p.vector == x86::kNMI) {
    e->nmi.injected = 1;
  } else {
    e->interrupt.injected = 1;
    e->interrupt.nr = p.vector;
  }
}

void FromKvmEvents(const kvm_vcpu_events& e, CpuState* s) {
  s->interrupt_shadow = e.interrupt.shadow != 0;
  s->nmi_blocked = e.nmi.masked;
  s->nmi_pending = e.nmi.pending;
  s->pending_event = {};
  x86::PendingEvent& p = s->pending_event;
  if (e.exception.injected) {
    p = {true, true, e.exception.nr, e.exception.has_error_code != 0, e.exception.error_code};
  } else if (e.nmi.injected) {
    p = {true, false, x86::kNMI, false, 0};
    s->nmi_blocked = true;
  } else if (e.interrupt.injected && !e.interrupt.soft) {
    // A software interrupt (INT n) is re-executed from its instruction instead.
    p = {true, false, e.interrupt.nr, false, 0};
  }
}

void ToKvmDebugRegs(const CpuState& s, kvm_debugregs* d) {
  *d = kvm_debugregs{};
  for (int i = 0; i < 4; ++i) d->db[i] = s.dr[i];
  d->dr6 = s.dr[6];
  d->dr7 = s.dr[7];
}

void FromKvmDebugRegs(const kvm_debugregs& d, CpuState* s) {
  for (int i = 0; i < 4; ++i) s->dr[i] = d.db[i];
  s->dr[6] = d.dr6;
  s->dr[7] = d.dr7;
}

namespace {
// MSR numbers (SDM vol. 4, table 2-2).
constexpr uint32_t kMsrTsc = 0x10;
constexpr uint32_t kMsrSysenterCs = 0x174, kMsrSysenterEsp = 0x175, kMsrSysenterEip = 0x176;
constexpr uint32_t kMsrMiscEnable = 0x1A0;
constexpr uint32_t kMsrMtrrVarBase = 0x200;  // 0x200..0x20F: base/mask pairs
constexpr uint32_t kMsrMtrrFixed[11] = {0x250, 0x258, 0x259, 0x268, 0x269, 0x26A,
                                        0x26B, 0x26C, 0x26D, 0x26E, 0x26F};
constexpr uint32_t kMsrPat = 0x277;
constexpr uint32_t kMsrMtrrDefType = 0x2FF;
constexpr uint32_t kMsrStar = 0xC0000081, kMsrLstar = 0xC0000082, kMsrCstar = 0xC0000083,
                   kMsrSfmask = 0xC0000084, kMsrKernelGsBase = 0xC0000102, kMsrTscAux = 0xC0000103;
}  // namespace

const std::vector<uint32_t>& CandidateMsrs() {
  static const std::vector<uint32_t> list = [] {
    std::vector<uint32_t> v = {kMsrSysenterCs, kMsrSysenterEsp, kMsrSysenterEip, kMsrStar,
                               kMsrLstar,      kMsrCstar,       kMsrSfmask,      kMsrKernelGsBase,
                               kMsrTscAux,     kMsrPat,         kMsrMiscEnable,  kMsrMtrrDefType};
    for (uint32_t m : kMsrMtrrFixed) v.push_back(m);
    for (uint32_t i = 0; i < 16; ++i) v.push_back(kMsrMtrrVarBase + i);
    v.push_back(kMsrTsc);
    return v;
  }();
  return list;
}

uint64_t* MsrField(CpuState& s, uint32_t index) {
  auto& m = s.msr;
  switch (index) {
    case kMsrTsc: return &s.tsc;
    case kMsrSysenterCs: return &m.sysenter_cs;
    case kMsrSysenterEsp: return &m.sysenter_esp;
    case kMsrSysenterEip: return &m.sysenter_eip;
    case kMsrMiscEnable: return &m.misc_enable;
    case kMsrPat: return &m.pat;
    case kMsrMtrrDefType: return &m.mtrr_def_type;
    case kMsrStar: return &m.star;
    case kMsrLstar: return &m.lstar;
    case kMsrCstar: return &m.cstar;
    case kMsrSfmask: return &m.sfmask;
    case kMsrKernelGsBase: return &m.kernel_gs_base;
    case kMsrTscAux: return &m.tsc_aux;
  }
  if (index >= kMsrMtrrVarBase && index < kMsrMtrrVarBase + 16) return &m.mtrr_var[index - kMsrMtrrVarBase];
  for (int i = 0; i < 11; ++i) {
    if (kMsrMtrrFixed[i] == index) return &m.mtrr_fixed[i];
  }
  return nullptr;
}

}  // namespace tandem::accel::kvm
