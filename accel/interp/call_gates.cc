// Far JMP and CALL through call gates for the interpreter (SDM vol. 3A 5.8,
// vol. 2 JMP and CALL): 16- and 32-bit gates with the stack switch through
// the TSS and the parameter copy for a call to a more privileged segment,
// and the 16-byte 64-bit gate of long mode. The far RET back to an outer
// ring is ops_far.cc's.
#include <vector>

#include "accel/interp/system_internal.h"

namespace tandem::accel::interp {

using namespace x86;

namespace {

// Pushes onto a stack the call switched to: its limit faults are
// #SS(new SS selector), not #SS(0) (vol. 2 CALL, MORE-PRIVILEGE).
uint64_t PushNewStack(Cpu& cpu, const Segment& ss, uint64_t sp, uint64_t mask, unsigned width,
                      const std::vector<uint64_t>& values) {
  try {
    for (uint64_t v : values) sp = PushValues(cpu, ss, sp, mask, width, {v}, (ss.selector & 3) == 3);
  } catch (const GuestFault& f) {
    if (f.vector == kSS) Raise(kSS, ss.selector & 0xFFFC);
    throw;
  }
  return sp;
}

// 64-bit pushes at rsp (64-bit gates): #SS(0) on a non-canonical address.
uint64_t Push64(Cpu& cpu, uint64_t rsp, std::initializer_list<uint64_t> values, bool user) {
  for (uint64_t v : values) {
    rsp -= 8;
    if (!IsCanonical(rsp)) Raise(kSS, 0);
    WriteLinearAs(cpu, rsp, 8, v, user);
  }
  return rsp;
}

}  // namespace

void FarThroughCallGate(Cpu& cpu, uint16_t sel, uint64_t gate, bool call, unsigned operand_bits) {
  CpuState& s = cpu.s;
  const int cpl = cpu.cpl();
  const uint32_t err = sel & 0xFFFC;
  const bool long_mode = LongMode(s);
  if (DescDpl(gate) < cpl || DescDpl(gate) < (sel & 3)) Raise(kGP, err);
  if (!DescPresent(gate)) Raise(kNP, err);
  uint64_t offset = gate & 0xFFFF;
  unsigned w = 2;  // gate size: what the call pushes
  if (long_mode) {
    // The upper half of the 16-byte gate must lie in the table and have type 0.
    const uint64_t limit = (sel & 4) ? s.ldtr.limit : s.gdtr.limit;
    if ((sel & ~7u) + 15ull > limit) Raise(kGP, err);
    uint64_t hi = cpu.ReadLinearSystem(DescriptorAddress(cpu, sel) + 8, 8);
    if ((hi >> 40) & 0x1F) Raise(kGP, err);
    offset |= ((gate >> 32) & 0xFFFF0000) | (hi << 32);
    w = 8;
  } else if (DescType(gate) & 8) {
    offset |= (gate >> 32) & 0xFFFF0000;
    w = 4;
  }
  const auto cs_sel = static_cast<uint16_t>(gate >> 16);
  const uint32_t cs_err = cs_sel & 0xFFFC;
  if (cs_err == 0) Raise(kGP, 0);
  uint64_t cd = ReadDescriptor(cpu, cs_sel);
  if (!DescIsCode(cd) || DescDpl(cd) > cpl) Raise(kGP, cs_err);
  if (!call && !DescConforming(cd) && DescDpl(cd) != cpl) Raise(kGP, cs_err);
  const int new_cpl = DescConforming(cd) ? cpl : DescDpl(cd);
  Segment cs = SegmentFromDescriptor(static_cast<uint16_t>((cs_sel & ~3) | new_cpl), cd | (1ull << 40));
  if (long_mode && (!cs.l() || cs.db())) Raise(kGP, cs_err);
  if (!DescPresent(cd)) Raise(kNP, cs_err);
  // A call to an inner ring checks the offset after the new stack.
  auto check_offset = [&] {
    if (long_mode ? !IsCanonical(offset) : offset > cs.limit) Raise(kGP, 0);
  };
  const bool inner = call && new_cpl < cpl;
  if (!inner) check_offset();

  const uint64_t ret = cpu.next_rip & (operand_bits == 64 ? ~0ull : (1ull << operand_bits) - 1);
  const uint16_t old_cs = s.seg[kCs].selector, old_ss = s.seg[kSs].selector;
  const bool user = new_cpl == 3;
  if (!call) {
    // JMP: same privilege only (checked above), nothing pushed.
  } else if (long_mode) {
    uint64_t rsp = s.gpr[kRsp];
    if (inner) {
      rsp = ReadTss(cpu, 4 + new_cpl * 8, 8, 0);
      check_offset();
      rsp = Push64(cpu, rsp, {old_ss, s.gpr[kRsp], old_cs, ret}, user);
      s.seg[kSs] = NullStackSegment(new_cpl);
    } else {
      rsp = Push64(cpu, rsp, {old_cs, ret}, user);
    }
    s.gpr[kRsp] = rsp;
  } else if (inner) {
    // The inner stack from the TSS; the gate's count of parameters (words
    // or dwords) follows from the old stack (vol. 3A 5.8.5).
    const bool tss32 = s.tr.type() & 8;
    const uint32_t at = tss32 ? 4 + new_cpl * 8 : 2 + new_cpl * 4;
    const uint64_t new_sp = ReadTss(cpu, at, tss32 ? 4 : 2, 0);
    const auto ss_sel = static_cast<uint16_t>(ReadTss(cpu, at + (tss32 ? 4 : 2), 2, 0));
    Segment ss = CheckStackSegment(cpu, ss_sel, new_cpl, 0, kTS);
    const uint64_t mask = ss.db() ? 0xFFFFFFFFull : 0xFFFFull;
    const Segment& old = s.seg[kSs];
    const uint64_t old_mask = StackMask(s, old);
    const uint64_t old_sp = s.gpr[kRsp] & old_mask;
    const unsigned count = (gate >> 32) & 0x1F;
    check_offset();
    std::vector<uint64_t> values = {old_ss, old_sp};
    for (unsigned i = count; i-- > 0;) {
      values.push_back(ReadStack(cpu, old, (old_sp + i * w) & old_mask, w, cpl == 3));
    }
    values.push_back(old_cs);
    values.push_back(ret);
    uint64_t sp = PushNewStack(cpu, ss, new_sp & mask, mask, w, values);
    s.seg[kSs] = ss;
    SetSp(s, mask, sp);
  } else {
    const uint64_t mask = StackMask(s, s.seg[kSs]);
    uint64_t sp = PushValues(cpu, s.seg[kSs], s.gpr[kRsp] & mask, mask, w, {old_cs, ret}, user);
    SetSp(s, mask, sp);
  }
  MarkAccessed(cpu, cs_sel, cd);
  s.seg[kCs] = cs;
  cpu.next_rip = offset;
}

}  // namespace tandem::accel::interp
