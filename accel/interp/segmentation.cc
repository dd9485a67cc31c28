// Segmentation for the interpreter (SDM vol. 3A ch. 3 and 5): seg:offset ->
// linear with limit and type checks in real, v8086, protected and 64-bit
// mode; MOV/POP Sreg descriptor loads; CPL.
#include <cstdarg>
#include <cstdio>

#include "accel/interp/system_internal.h"

namespace tandem::accel::interp {

using namespace x86;

// CPL is SS.DPL (as VMX defines it), so it stays 0 between setting CR0.PE
// and the far jump that loads a protected-mode CS.
int Cpu::cpl() const {
  if (!(s.cr0 & kCr0Pe)) return 0;
  if (s.rflags & kFlagVm) return 3;
  return s.seg[kSs].dpl();
}

uint64_t LinearizeWith(const CpuState& s, const Segment& seg, bool stack, uint64_t offset, unsigned size,
                       Access access) {
  const uint8_t vector = stack ? kSS : kGP;
  if (Mode64(s)) {
    if (!IsCanonical(offset) || !IsCanonical(offset + size - 1)) Raise(vector, 0);
    return offset;
  }
  uint64_t last = offset + size - 1;
  if (!(s.cr0 & kCr0Pe) || (s.rflags & kFlagVm)) {
    if (last > seg.limit) Raise(vector, 0);
    return (seg.base + offset) & 0xFFFFFFFFull;
  }
  if (seg.unusable()) Raise(vector, 0);
  uint32_t type = seg.type();
  switch (access) {
    case Access::kWrite:
      if ((type & 8) || !(type & 2)) Raise(vector, 0);  // code, or read-only data
      break;
    case Access::kRead:
      if ((type & 0xA) == 0x8) Raise(vector, 0);  // execute-only code
      break;
    case Access::kExecute:
      if (!(type & 8)) Raise(vector, 0);
      break;
  }
  if ((type & 0xC) == 0x4) {  // expand-down data: valid offsets are limit+1 .. 64K/4G-1
    uint64_t upper = seg.db() ? 0xFFFFFFFFull : 0xFFFFull;
    if (offset <= seg.limit || last > upper) Raise(vector, 0);
  } else if (last > seg.limit) {
    Raise(vector, 0);
  }
  return (seg.base + offset) & 0xFFFFFFFFull;
}

uint64_t Cpu::Linearize(int seg, uint64_t offset, unsigned size, Access access) {
  const Segment& sg = s.seg[seg];
  if (Mode64(s)) [[likely]] {
    uint64_t linear = offset + (seg >= kFs ? sg.base : 0);
    if (!IsCanonical(linear) || !IsCanonical(linear + size - 1)) Raise(seg == kSs ? kSS : kGP, 0);
    return linear;
  }
  return LinearizeWith(s, sg, seg == kSs, offset, size, access);
}

uint64_t Cpu::ReadMem(int seg, uint64_t offset, unsigned size) {
  return ReadLinear(Linearize(seg, offset, size, Access::kRead), size);
}

void Cpu::WriteMem(int seg, uint64_t offset, unsigned size, uint64_t value) {
  WriteLinear(Linearize(seg, offset, size, Access::kWrite), size, value);
}

Segment SegmentFromDescriptor(uint16_t selector, uint64_t d, uint64_t hi) {
  Segment g;
  g.selector = selector;
  g.base = ((d >> 16) & 0xFFFFFF) | (((d >> 56) & 0xFF) << 24) | ((hi & 0xFFFFFFFFull) << 32);
  uint32_t limit = static_cast<uint32_t>((d & 0xFFFF) | ((d >> 32) & 0xF0000));
  g.attrib = static_cast<uint32_t>((d >> 40) & 0xF0FF);
  g.limit = (g.attrib & Segment::kG) ? (limit << 12) | 0xFFF : limit;
  return g;
}

uint64_t DescriptorAddress(const Cpu& cpu, uint16_t selector) {
  const CpuState& s = cpu.s;
  return ((selector & 4) ? s.ldtr.base : s.gdtr.base) + (selector & ~7u);
}

uint64_t ReadDescriptor(Cpu& cpu, uint16_t selector, uint32_t ext, uint8_t vector) {
  const CpuState& s = cpu.s;
  uint32_t error = (selector & 0xFFFC) | ext;
  uint64_t limit;
  if (selector & 4) {
    if ((s.ldtr.selector & 0xFFFC) == 0 || s.ldtr.unusable()) Raise(vector, error);
    limit = s.ldtr.limit;
  } else {
    limit = s.gdtr.limit;
  }
  if ((selector & ~7u) + 7ull > limit) Raise(vector, error);
  return cpu.ReadLinearSystem(DescriptorAddress(cpu, selector), 8);
}

void MarkAccessed(Cpu& cpu, uint16_t selector, uint64_t d) {
  if (!DescS(d) || (d & (1ull << 40))) return;
  cpu.SetBitsLinearSystem(DescriptorAddress(cpu, selector) + 5, 1);
}

void LoadRealSegment(Cpu& cpu, int seg, uint16_t selector) {
  Segment& g = cpu.s.seg[seg];
  g.selector = selector;
  g.base = static_cast<uint64_t>(selector) << 4;
  if (cpu.s.rflags & kFlagVm) {
    g.limit = 0xFFFF;
    g.attrib = (seg == kCs ? 0xB : 0x3) | Segment::kS | Segment::kP | (3u << Segment::kDplShift);
    return;
  }
  // Real mode keeps the cached limit and size (unreal mode); the segment is
  // usable and privilege 0.
  g.attrib = (g.attrib & ~(Segment::kUnusable | (3u << Segment::kDplShift))) | Segment::kP | Segment::kS;
}

void Cpu::LoadSegment(int seg, uint16_t selector) {
  if (!(s.cr0 & kCr0Pe) || (s.rflags & kFlagVm)) {
    LoadRealSegment(*this, seg, selector);
    return;
  }
  if (seg == kCs) Raise(kUD);
  const int cur = cpl();
  const int rpl = selector & 3;
  const uint32_t err = selector & 0xFFFC;
  if (err == 0) {
    if (seg == kSs && !(Mode64(s) && cur < 3 && rpl == cur)) Raise(kGP, 0);
    Segment& g = s.seg[seg];
    g.selector = selector;
    g.base = 0;
    g.limit = 0;
    // A null SS in 64-bit mode still carries the CPL.
    g.attrib = Segment::kUnusable | (seg == kSs ? (static_cast<uint32_t>(cur) << Segment::kDplShift) : 0);
    return;
  }
  uint64_t d = ReadDescriptor(*this, selector);
  if (seg == kSs) {
    if (rpl != cur || !DescS(d) || DescIsCode(d) || !(DescType(d) & 2) || DescDpl(d) != cur) Raise(kGP, err);
    if (!DescPresent(d)) Raise(kSS, err);
  } else {
    if (!DescS(d) || (DescIsCode(d) && !(DescType(d) & 2))) Raise(kGP, err);
    if (!DescConforming(d) && (rpl > DescDpl(d) || cur > DescDpl(d))) Raise(kGP, err);
    if (!DescPresent(d)) Raise(kNP, err);
  }
  MarkAccessed(*this, selector, d);
  s.seg[seg] = SegmentFromDescriptor(selector, d | (1ull << 40));
}

Segment CheckStackSegment(Cpu& cpu, uint16_t selector, int cpl, uint32_t ext, uint8_t vector) {
  uint32_t err = (selector & 0xFFFC) | ext;
  if ((selector & 0xFFFC) == 0) Raise(vector, ext);
  if ((selector & 3) != cpl) Raise(vector, err);
  uint64_t d = ReadDescriptor(cpu, selector, ext, vector);
  if (!DescS(d) || DescIsCode(d) || !(DescType(d) & 2) || DescDpl(d) != cpl) Raise(vector, err);
  if (!DescPresent(d)) Raise(kSS, err);
  MarkAccessed(cpu, selector, d);
  return SegmentFromDescriptor(selector, d | (1ull << 40));
}

Segment NullStackSegment(int cpl) {
  Segment g;
  g.selector = static_cast<uint16_t>(cpl);
  g.attrib = Segment::kUnusable | (static_cast<uint32_t>(cpl) << Segment::kDplShift) | Segment::kS | 0x3 |
             Segment::kP;
  return g;
}

// SDM vol. 2 IRET/RET, RETURN-TO-OUTER-PRIVILEGE-LEVEL: a null selector
// (also one with RPL 3, e.g. 3) or a descriptor the new CPL may not use
// becomes selector 0. The base stays (FS/GS bases set through the MSRs).
void NullOuterDataSegments(Cpu& cpu, int new_cpl) {
  for (int seg : {kEs, kDs, kFs, kGs}) {
    Segment& g = cpu.s.seg[seg];
    if (g.unusable() || (g.selector & 0xFFFC) == 0) {
      g.selector = 0;
      g.attrib = Segment::kUnusable;
      continue;
    }
    bool conforming_code = (g.type() & 0xC) == 0xC;
    if (!conforming_code && g.dpl() < new_cpl) {
      g.selector = 0;
      g.attrib = Segment::kUnusable;
    }
  }
}

uint64_t ReadStack(Cpu& cpu, const Segment& ss, uint64_t sp, unsigned width, bool user) {
  return ReadLinearAs(cpu, LinearizeWith(cpu.s, ss, true, sp, width, Access::kRead), width, Access::kRead, user);
}

uint64_t PushValues(Cpu& cpu, const Segment& ss, uint64_t sp, uint64_t mask, unsigned width,
                    std::initializer_list<uint64_t> values, bool user) {
  for (uint64_t v : values) {
    sp = (sp - width) & mask;
    WriteLinearAs(cpu, LinearizeWith(cpu.s, ss, true, sp, width, Access::kWrite), width, v, user);
  }
  return sp;
}

void LogOnce(Cpu& cpu, const std::string& key, const char* fmt, ...) {
  hw::GuestLog& log = cpu.board.log();
  if (!log.enabled(hw::kLogUnimp) || !cpu.sys_.logged.insert(key).second) return;
  char text[400];
  std::va_list args;
  va_start(args, fmt);
  std::vsnprintf(text, sizeof text, fmt, args);
  va_end(args);
  log.Log(hw::kLogUnimp, "interp: %s (logged once)", text);
}

}  // namespace tandem::accel::interp
