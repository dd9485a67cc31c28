// Named fields of x86::CpuState (see state_diff.h); the x87 registers and
// XMM registers come in 64-bit halves, as in the FXSAVE image (SDM vol. 1 10.5.1).
#include "target-x86/state_diff.h"

#include <cstring>

namespace tandem::x86 {

namespace {

const char* const kGprNames[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi",
                                 "r8",  "r9",  "r10", "r11", "r12", "r13", "r14", "r15"};
const char* const kSegNames[] = {"es", "cs", "ss", "ds", "fs", "gs"};

uint64_t Half(const std::array<uint8_t, 16>& bytes, int half) {
  uint64_t v;
  std::memcpy(&v, bytes.data() + 8 * half, 8);
  return v;
}

// Calls visit(name_parts..., a, b) for each field; Name builds the name only
// when the visitor asks for it.
template <typename Visit>
void Walk(const CpuState& a, const CpuState& b, Visit&& visit) {
  auto named = [&](auto name_fn, uint64_t va, uint64_t vb) { return visit(name_fn, va, vb); };
  auto fixed = [](const char* n) { return [n] { return std::string(n); }; };
  for (int i = 0; i < 16; ++i) if (!named(fixed(kGprNames[i]), a.gpr[i], b.gpr[i])) return;
  if (!named(fixed("rip"), a.rip, b.rip)) return;
  if (!named(fixed("rflags"), a.rflags, b.rflags)) return;
  auto segment = [&](std::string n, const Segment& x, const Segment& y) {
    return named([n] { return n + ".sel"; }, x.selector, y.selector) &&
           named([n] { return n + ".base"; }, x.base, y.base) &&
           named([n] { return n + ".limit"; }, x.limit, y.limit) &&
           named([n] { return n + ".attrib"; }, x.attrib, y.attrib);
  };
  for (int i = 0; i < 6; ++i) if (!segment(kSegNames[i], a.seg[i], b.seg[i])) return;
  if (!segment("ldtr", a.ldtr, b.ldtr) || !segment("tr", a.tr, b.tr)) return;
  if (!named(fixed("gdtr.base"), a.gdtr.base, b.gdtr.base) ||
      !named(fixed("gdtr.limit"), a.gdtr.limit, b.gdtr.limit) ||
      !named(fixed("idtr.base"), a.idtr.base, b.idtr.base) ||
      !named(fixed("idtr.limit"), a.idtr.limit, b.idtr.limit) || !named(fixed("cr0"), a.cr0, b.cr0) ||
      !named(fixed("cr2"), a.cr2, b.cr2) || !named(fixed("cr3"), a.cr3, b.cr3) ||
      !named(fixed("cr4"), a.cr4, b.cr4) || !named(fixed("cr8"), a.cr8, b.cr8))
    return;
  for (int i = 0; i < 8; ++i) {
    if (!named([i] { return "dr" + std::to_string(i); }, a.dr[i], b.dr[i])) return;
  }
  if (!named(fixed("xcr0"), a.xcr0, b.xcr0) || !named(fixed("tsc"), a.tsc, b.tsc)) return;
  const Msrs &m = a.msr, &n = b.msr;
  if (!named(fixed("msr.efer"), m.efer, n.efer) || !named(fixed("msr.star"), m.star, n.star) ||
      !named(fixed("msr.lstar"), m.lstar, n.lstar) || !named(fixed("msr.cstar"), m.cstar, n.cstar) ||
      !named(fixed("msr.sfmask"), m.sfmask, n.sfmask) ||
      !named(fixed("msr.kernel_gs_base"), m.kernel_gs_base, n.kernel_gs_base) ||
      !named(fixed("msr.sysenter_cs"), m.sysenter_cs, n.sysenter_cs) ||
      !named(fixed("msr.sysenter_esp"), m.sysenter_esp, n.sysenter_esp) ||
      !named(fixed("msr.sysenter_eip"), m.sysenter_eip, n.sysenter_eip) ||
      !named(fixed("msr.tsc_aux"), m.tsc_aux, n.tsc_aux) || !named(fixed("msr.apic_base"), m.apic_base, n.apic_base) ||
      !named(fixed("msr.pat"), m.pat, n.pat) || !named(fixed("msr.misc_enable"), m.misc_enable, n.misc_enable) ||
      !named(fixed("msr.mtrr_def_type"), m.mtrr_def_type, n.mtrr_def_type))
    return;
  for (int i = 0; i < 11; ++i) {
    if (!named([i] { return "msr.mtrr_fixed" + std::to_string(i); }, m.mtrr_fixed[i], n.mtrr_fixed[i])) return;
  }
  for (int i = 0; i < 16; ++i) {
    if (!named([i] { return "msr.mtrr_var" + std::to_string(i); }, m.mtrr_var[i], n.mtrr_var[i])) return;
  }
  const FxState &f = a.fx, &g = b.fx;
  if (!named(fixed("fcw"), f.fcw, g.fcw) || !named(fixed("fsw"), f.fsw, g.fsw) ||
      !named(fixed("ftw"), f.ftw, g.ftw) || !named(fixed("fop"), f.fop, g.fop) ||
      !named(fixed("fip"), f.fip, g.fip) || !named(fixed("fdp"), f.fdp, g.fdp) ||
      !named(fixed("mxcsr"), f.mxcsr, g.mxcsr) || !named(fixed("mxcsr_mask"), f.mxcsr_mask, g.mxcsr_mask))
    return;
  for (int i = 0; i < 8; ++i) {
    // Bytes 10..15 of each x87 slot are reserved: only the 80-bit value counts.
    if (!named([i] { return "st" + std::to_string(i) + ".lo"; }, Half(f.st[i], 0), Half(g.st[i], 0)) ||
        !named([i] { return "st" + std::to_string(i) + ".hi"; }, Half(f.st[i], 1) & 0xFFFF,
               Half(g.st[i], 1) & 0xFFFF))
      return;
  }
  for (int i = 0; i < 16; ++i) {
    if (!named([i] { return "xmm" + std::to_string(i) + ".lo"; }, Half(f.xmm[i], 0), Half(g.xmm[i], 0)) ||
        !named([i] { return "xmm" + std::to_string(i) + ".hi"; }, Half(f.xmm[i], 1), Half(g.xmm[i], 1)))
      return;
  }
  if (!named(fixed("halted"), a.halted, b.halted)) return;
  named(fixed("nmi_blocked"), a.nmi_blocked, b.nmi_blocked);
}

}  // namespace

std::vector<FieldPair> AllFields(const CpuState& a, const CpuState& b) {
  std::vector<FieldPair> out;
  Walk(a, b, [&](auto name, uint64_t va, uint64_t vb) {
    out.push_back({name(), va, vb});
    return true;
  });
  return out;
}

std::vector<FieldPair> DiffStates(const CpuState& a, const CpuState& b) {
  std::vector<FieldPair> out;
  Walk(a, b, [&](auto name, uint64_t va, uint64_t vb) {
    if (va != vb) out.push_back({name(), va, vb});
    return true;
  });
  return out;
}

// The same fields as Walk, compared directly: this runs after every slice.
bool SameState(const CpuState& a, const CpuState& b) {
  auto same_segment = [](const Segment& x, const Segment& y) {
    return x.selector == y.selector && x.base == y.base && x.limit == y.limit && x.attrib == y.attrib;
  };
  if (a.gpr != b.gpr || a.rip != b.rip || a.rflags != b.rflags) return false;
  for (int i = 0; i < 6; ++i) {
    if (!same_segment(a.seg[i], b.seg[i])) return false;
  }
  if (!same_segment(a.ldtr, b.ldtr) || !same_segment(a.tr, b.tr)) return false;
  if (a.gdtr.base != b.gdtr.base || a.gdtr.limit != b.gdtr.limit || a.idtr.base != b.idtr.base ||
      a.idtr.limit != b.idtr.limit)
    return false;
  if (a.cr0 != b.cr0 || a.cr2 != b.cr2 || a.cr3 != b.cr3 || a.cr4 != b.cr4 || a.cr8 != b.cr8) return false;
  if (a.dr != b.dr || a.xcr0 != b.xcr0 || a.tsc != b.tsc) return false;
  static_assert(sizeof(Msrs) % 8 == 0, "Msrs holds only 64-bit values: memcmp sees no padding");
  if (std::memcmp(&a.msr, &b.msr, sizeof(Msrs)) != 0) return false;
  const FxState &f = a.fx, &g = b.fx;
  if (f.fcw != g.fcw || f.fsw != g.fsw || f.ftw != g.ftw || f.fop != g.fop || f.fip != g.fip || f.fdp != g.fdp ||
      f.mxcsr != g.mxcsr || f.mxcsr_mask != g.mxcsr_mask)
    return false;
  for (int i = 0; i < 8; ++i) {
    if (std::memcmp(f.st[i].data(), g.st[i].data(), 10) != 0) return false;
  }
  if (f.xmm != g.xmm) return false;
  return a.halted == b.halted && a.nmi_blocked == b.nmi_blocked;
}

}  // namespace tandem::x86
