// Helpers shared by the interpreter's system files (mmu.cc, segmentation.cc,
// interrupts.cc, ops_system.cc, ops_far.cc, call_gates.cc, task_switch.cc):
// descriptor decoding (SDM vol. 3A 3.4.5, 5.8-5.10), accesses at an explicit
// privilege, segment loads without a segment register, far transfers through
// gates and TSSs, one-time logs. Not for the instruction families.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>

#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"  // IsCanonical

namespace tandem::accel::interp {

using x86::Segment;

inline bool LongMode(const x86::CpuState& s) { return s.msr.efer & x86::kEferLma; }
inline bool Mode64(const x86::CpuState& s) { return LongMode(s) && s.seg[x86::kCs].l(); }
inline bool RealMode(const x86::CpuState& s) { return !(s.cr0 & x86::kCr0Pe); }
inline bool V86Mode(const x86::CpuState& s) { return (s.cr0 & x86::kCr0Pe) && (s.rflags & x86::kFlagVm); }
inline int Iopl(const x86::CpuState& s) { return (s.rflags >> 12) & 3; }

// Descriptor fields (8-byte form).
inline uint32_t DescType(uint64_t d) { return (d >> 40) & 0xF; }
inline bool DescS(uint64_t d) { return (d >> 44) & 1; }
inline int DescDpl(uint64_t d) { return (d >> 45) & 3; }
inline bool DescPresent(uint64_t d) { return (d >> 47) & 1; }
inline bool DescIsCode(uint64_t d) { return DescS(d) && (DescType(d) & 8); }
inline bool DescConforming(uint64_t d) { return DescIsCode(d) && (DescType(d) & 4); }
// The hidden part a descriptor loads (base bits 32-63 come from hi for 16-byte
// system descriptors in long mode).
Segment SegmentFromDescriptor(uint16_t selector, uint64_t d, uint64_t hi = 0);

// Reads the descriptor a selector names from the GDT or LDT; raises
// vector(selector & ~3 | ext) when it lies outside the table.
uint64_t ReadDescriptor(Cpu& cpu, uint16_t selector, uint32_t ext = 0, uint8_t vector = x86::kGP);
// Address of the descriptor (for setting accessed/busy bits).
uint64_t DescriptorAddress(const Cpu& cpu, uint16_t selector);
// Sets the accessed bit in memory if clear.
void MarkAccessed(Cpu& cpu, uint16_t selector, uint64_t d);

// seg:offset -> linear for a segment that need not be loaded in a register
// (new stacks during far transfers and interrupts): #SS(0) when stack, else
// #GP(0). In 64-bit mode the base is 0 and only canonical form is checked.
uint64_t LinearizeWith(const x86::CpuState& s, const Segment& seg, bool stack, uint64_t offset, unsigned size,
                       Access access);

// Linear accesses at an explicit privilege (user = CPL 3).
uint64_t ReadLinearAs(Cpu& cpu, uint64_t linear, unsigned size, Access access, bool user);
void WriteLinearAs(Cpu& cpu, uint64_t linear, unsigned size, uint64_t value, bool user);

// Checks a new SS for a privilege change (far RET, IRET, interrupt stack
// switch) and returns its hidden part: vector(selector) on a bad selector or
// descriptor, #SS(selector) when not present.
Segment CheckStackSegment(Cpu& cpu, uint16_t selector, int cpl, uint32_t ext, uint8_t vector);
// The null SS that 64-bit mode uses at CPL < 3.
Segment NullStackSegment(int cpl);
// After a return to an outer ring: data segments more privileged than the new
// CPL become null (SDM vol. 2 RET/IRET).
void NullOuterDataSegments(Cpu& cpu, int new_cpl);
// Real-mode / v8086 segment load: base = selector << 4.
void LoadRealSegment(Cpu& cpu, int seg, uint16_t selector);

// Stack accesses on a segment that need not be loaded yet. PushValues writes
// the values in order below sp and returns the new sp; no register changes.
uint64_t ReadStack(Cpu& cpu, const Segment& ss, uint64_t sp, unsigned width, bool user);
uint64_t PushValues(Cpu& cpu, const Segment& ss, uint64_t sp, uint64_t mask, unsigned width,
                    std::initializer_list<uint64_t> values, bool user);

// Stack pointer width mask for a stack segment in the current mode.
inline uint64_t StackMask(const x86::CpuState& s, const Segment& ss) {
  if (Mode64(s)) return ~0ull;
  return ss.db() ? 0xFFFFFFFFull : 0xFFFFull;
}
// Writes sp under the mask, keeping the bits above it (16-bit stacks).
inline void SetSp(x86::CpuState& s, uint64_t mask, uint64_t sp) {
  s.gpr[x86::kRsp] = mask == ~0ull ? sp : mask == 0xFFFFFFFFull ? (sp & mask) : ((s.gpr[x86::kRsp] & ~mask) | (sp & mask));
}

// Reads width bytes at offset in the current TSS; #TS(TR + ext) beyond its
// limit (task_switch.cc).
uint64_t ReadTss(Cpu& cpu, uint32_t offset, unsigned width, uint32_t ext);

// Far JMP/CALL through the call gate `gate` that sel names (call_gates.cc,
// SDM vol. 3A 5.8); sets next_rip. operand_bits: the instruction's.
void FarThroughCallGate(Cpu& cpu, uint16_t sel, uint64_t gate, bool call, unsigned operand_bits);

// Hardware task switches (task_switch.cc, SDM vol. 3A ch. 7).
enum class TaskSwitchKind { kJmp, kCall, kIret, kEvent };
// Saves the current task into its TSS with return_eip and loads the task
// of the TSS descriptor d (GDT selector sel, already checked by the
// caller); faults after the commit point are the new task's. True when the
// new TSS's T flag asks for a debug trap.
bool SwitchTask(Cpu& cpu, uint16_t sel, uint64_t d, TaskSwitchKind kind, uint64_t return_eip, uint32_t ext);
// Far JMP/CALL to a TSS or task gate descriptor d; sets next_rip.
void FarToTask(Cpu& cpu, uint16_t sel, uint64_t d, bool call);
// An event through the IDT task gate `gate`: the switch, then the error
// code on the new task's stack (6.12.2). RIP is the return address.
void DeliverThroughTaskGate(Cpu& cpu, uint64_t gate, bool has_ec, uint32_t ec, uint32_t ext);
// IRET with NT = 1: back to the task in the TSS's link field; sets next_rip.
void TaskReturn(Cpu& cpu);

// MOV CRn/DRn (ops_system.cc). The decoder sends the forms of MOV, PUSH,
// POP, JMP, CALL and RET that name a segment, control or debug register or a
// far pointer to the handlers ops_far.cc registers for those mnemonics.
void MovCrDr(Cpu& cpu, const DecodedInsn& insn);

// Logs once per key per vCPU to stderr.
void LogOnce(Cpu& cpu, const std::string& key, const char* fmt, ...) __attribute__((format(printf, 3, 4)));

}  // namespace tandem::accel::interp
