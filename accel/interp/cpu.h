// The interpreter's vCPU: executes x86 code on the canonical x86::CpuState
// directly, decoding each instruction once (Zydis) and caching the decoded
// form by physical address. Guest exceptions are C++ exceptions (GuestFault)
// thrown by any helper and caught at the instruction boundary, so the
// no-fault path carries no error checks.
//
// Who implements what (files in accel/interp/):
//   cpu.cc            run loop, interrupt/halt handling, Step()
//   decode_cache.cc   Zydis decode -> DecodedInsn, cache, code-page invalidation
//   operands.cc       ReadOperand/WriteOperand/EffectiveAddress, Push/Pop
//   ops_*.cc          instruction families: ops_alu, ops_shift, ops_muldiv,
//                     ops_move, ops_string, ops_control, ops_io, ops_flags,
//                     ops_system (MOV CR, LGDT, CPUID, RDMSR, HLT, ...),
//                     ops_far (far JMP/CALL/RET, INT n, IRET, MOV/POP Sreg)
//   mmu.cc            linear->physical (32-bit, PAE, 4-level), TLB, #PF,
//                     physical RAM/ROM/MMIO access
//   segmentation.cc   descriptor loads and checks, segmented address checks
//   interrupts.cc     exception and interrupt delivery (IVT, IDT 32/64),
//                     double and triple fault
//   call_gates.cc     far JMP/CALL through call gates
//   task_switch.cc    hardware task switches (TSS, task gates, IRET with NT)
// References: Intel SDM vol. 2 (instructions), vol. 3A ch. 3-7 (segmentation,
// paging, interrupts, tasks).
#pragma once

#include <Zydis/Zydis.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "accel/accelerator.h"
#include "accel/kick_latch.h"
#include "accel/startup_latch.h"
#include "accel/interp/debug_regs.h"
#include "accel/interp/host_flags.h"
#include "accel/interp/slice.h"
#include "accel/interp/system_state.h"
#include "hw/board.h"
#include "target-x86/cpu_state.h"

namespace tandem::accel::interp {

// A guest exception raised by an instruction, delivered at its boundary.
struct GuestFault {
  uint8_t vector;
  bool has_error_code = false;
  uint32_t error_code = 0;
};
[[noreturn]] void Raise(uint8_t vector);
[[noreturn]] void Raise(uint8_t vector, uint32_t error_code);

// The vCPU hit a triple fault: the board must reset (thrown by interrupts.cc).
struct TripleFault {};

enum class Access : uint8_t { kRead, kWrite, kExecute };

class Cpu;
class Jit;
struct DecodedInsn;
struct LockedAccessDomain;  // atomic.h
using Handler = void (*)(Cpu& cpu, const DecodedInsn& insn);

// Register classes for register operands.
enum class RegClass : uint8_t { kGpr8Low, kGpr8High, kGpr16, kGpr32, kGpr64, kSeg, kCr, kDr, kXmm, kX87, kMmx, kFlags, kRip, kOther };

enum class OperandKind : uint8_t { kNone, kReg, kMem, kImm, kFarPtr };

struct Operand {
  OperandKind kind = OperandKind::kNone;
  uint8_t size = 0;  // bytes
  // kReg
  RegClass reg_class = RegClass::kOther;
  uint8_t reg = 0;  // index within the class (GPR number, SegReg, CRn, ...)
  // kMem: seg:[base + index*scale + disp]; base/index are GPR numbers, -1 for none.
  // base == kRipBase means RIP-relative (disp is relative to the next instruction).
  uint8_t seg = x86::kDs;
  int8_t base = -1;
  int8_t index = -1;
  uint8_t scale = 1;
  // One or the other: the decoded form of every cached instruction holds
  // four operands, so each byte counts (decode_cache.h).
  union {
    int64_t disp = 0;
    // kImm (sign-extended to the operand size by the decoder) or kFarPtr offset
    uint64_t imm;
  };
  uint16_t far_selector = 0;  // kFarPtr
  static constexpr int8_t kRipBase = 16;
};

// The cached, decoded form of one instruction.
struct DecodedInsn {
  Handler handler = nullptr;
  ZydisMnemonic mnemonic = ZYDIS_MNEMONIC_INVALID;
  uint8_t length = 0;
  uint8_t operand_size = 0;  // 16, 32 or 64 (bits)
  uint8_t address_size = 0;  // 16, 32 or 64 (bits)
  uint8_t operand_count = 0; // visible operands in op[]
  bool rep = false;          // F3 on string instructions (REP/REPE)
  bool repne = false;        // F2 on string instructions
  bool lock = false;
  uint8_t opcode = 0;        // last opcode byte
  uint8_t modrm_reg = 0;     // ModRM.reg, for group opcodes
  uint8_t modrm = 0;         // the whole ModRM byte (x87 forms), 0 without one
  // Runs in Cpu::RunPlain's loop: an integer, string or flag instruction that
  // leaves CS, SS, the control registers, EFER, the system bits of RFLAGS
  // (IF, TF, RF, VM, AC, IOPL), the interrupt shadow and the TLB as they were,
  // and does no port I/O. Its only way out of the loop is a fault.
  bool plain = false;
  Operand op[4];
};

// A handler that misbehaves on purpose, so that `tandem lockstep` can be
// shown to find it (TANDEM_PLANT_FAULT, read by interp_engine.cc).
enum class PlantedFault : uint8_t {
  kNone,
  kIncParity,  // INC computes PF inverted
  kCldSetsDf,  // CLD sets DF
};

class Cpu final : public hw::MemoryMapObserver {
 public:
  // cpu_index: which of the board's CPUs this is (its socket, APIC ID).
  // `locked`: the machine's lock for locked accesses that cannot be host
  // atomics (atomic.h), shared by all vCPUs of the board; null gives this
  // Cpu its own, which is right only while it is the board's single vCPU.
  Cpu(hw::Board& board, x86::CpuState& state, int cpu_index = 0, LockedAccessDomain* locked = nullptr);
  ~Cpu() override;

  // ---- cpu.cc ----
  // Runs until the board asks to stop, a kick (returns kKicked at an
  // instruction boundary) or a triple fault.
  RunOutcome Run();
  // Executes one instruction (or delivers one pending interrupt); for tests.
  void Step();
  // Executes the instruction at CS:RIP and, while they are plain
  // (DecodedInsn::plain) and nothing waits at the instruction boundary (an
  // interrupt, a kick, a board stop), the ones after it on the same code
  // page, at most `budget`; returns how many retired. Only without
  // single-step, RF, DR7 breakpoints or an interrupt shadow (PlainMayRun).
  uint64_t RunPlain(uint64_t budget);
  // Run()'s loop under a debugger: kDebug at a breakpoint or after a step.
  std::optional<RunOutcome> DebugSlice(hw::CpuSocket& irq);
  // Runs until `budget` more instructions retired (a JIT block may go past
  // it, and deliver the fault of the instruction after it), a HLT nothing
  // pending can wake, a board stop or a triple fault, without polling the
  // board or waiting: for lockstep, which owns time.
  SliceEnd RunSlice(uint64_t budget, SliceOptions options = {});
  uint64_t slice_faults() const { return slice_faults_; }  // faults RunSlice delivered
  uint64_t instructions_retired() const { return retired_; }
  // Translates hot code with the JIT from now on (jit.h).
  void EnableJit();
  const Jit* jit() const { return jit_.get(); }
  // Translated blocks assume code outside virtual-8086 mode without
  // single-step, RF, alignment checks, debug breakpoints or a pending
  // interrupt shadow.
  bool JitMayRun() const {
    return !(s.rflags & (x86::kFlagTf | x86::kFlagRf | x86::kFlagAc | x86::kFlagVm)) && !s.interrupt_shadow &&
           !(s.dr[7] & 0xFF);
  }

  // ---- operands.cc ----
  // General registers, immediates and memory inline (below the class);
  // the other register classes out of line.
  uint64_t ReadOperand(const DecodedInsn& insn, int i);
  void WriteOperand(const DecodedInsn& insn, int i, uint64_t value);
  uint64_t ReadOperandSlow(const DecodedInsn& insn, int i);
  void WriteOperandSlow(const DecodedInsn& insn, int i, uint64_t value);
  // Offset of a memory operand within its segment, wrapped to the address size.
  uint64_t EffectiveAddress(const DecodedInsn& insn, int i) const;
  // The same for an addressing form fixed at decode time (EaFormOf).
  enum class EaForm : uint8_t { kAny, kBase16, kBase32, kBase64 };  // kBase*: [base + disp], no index, not RIP
  static EaForm EaFormOf(const DecodedInsn& insn, int i);
  template <EaForm kEa>
  uint64_t EffectiveAddressOf(const DecodedInsn& insn, int i) const {
    if constexpr (kEa == EaForm::kAny) {
      return EffectiveAddress(insn, i);
    } else {
      const uint64_t ea = s.gpr[insn.op[i].base] + static_cast<uint64_t>(insn.op[i].disp);
      return kEa == EaForm::kBase16 ? ea & 0xFFFF : kEa == EaForm::kBase32 ? ea & 0xFFFFFFFF : ea;
    }
  }
  // ReadMem/WriteMem with their common case inline: a data access of 1..8
  // bytes inside one page that DirectData maps to host memory. Everything
  // else goes the whole way.
  uint64_t ReadData(int seg, uint64_t offset, unsigned size);
  void WriteData(int seg, uint64_t offset, unsigned size, uint64_t value);
  // The host address of seg:offset for this CPL's access of size bytes, or
  // null when it needs more than the common checks: the access lies in one
  // page, in 64-bit mode, real or v8086 mode, or a protected-mode expand-up
  // data segment (limit and canonical checks as Linearize makes them), and
  // the TLB's direct slot for the access (JitTlbEntry) holds its page.
  // Inside RunPlain it takes what plain instructions cannot change from
  // PlainData, worked out once.
  uint8_t* DirectData(int seg, uint64_t offset, unsigned size, bool write) const;
  uint8_t* DirectDataChecked(int seg, uint64_t offset, unsigned size, bool write) const;
  // What DirectData checks per access that no plain instruction changes (the
  // code mode, CPL, segment registers, EFLAGS.VM, DR7), as RunPlain starts;
  // valid only while it runs (SetPlainData / ClearPlainData), and not with
  // data breakpoints or EFLAGS.AC (then DirectDataChecked).
  struct PlainData {
    struct Seg {
      uint64_t base;
      uint64_t read_end, write_end;  // the last byte of an access must lie below; 0: the whole way
    };
    bool valid = false;
    uint64_t wrap = 0;  // linear addresses: 32 bits outside 64-bit mode
    const JitTlbEntry* tlb[2] = {};  // this CPL's direct slots, [write]
    Seg seg[6] = {};
  };
  PlainData plain_data_;
  // Ends RunPlain's run of instructions early, after the current one, for a
  // look at the instruction boundary: set by an MMIO access (it may have
  // raised an interrupt), a REP string instruction stopped between
  // iterations (RF) and a store into cached code (InvalidateCodePage).
  bool plain_break_ = false;
  void SetPlainData();
  void ClearPlainData() { plain_data_.valid = false; }
  bool UserAccess() const {  // CPL 3, as cpl() has it
    return (s.cr0 & x86::kCr0Pe) && ((s.rflags & x86::kFlagVm) || s.seg[x86::kSs].dpl() == 3);
  }
  // reg 0-15; with size 1, reg 16-19 name AH, CH, DH, BH (kHighByteBase + 0..3).
  static constexpr int kHighByteBase = 16;
  uint64_t ReadGpr(int reg, unsigned size) const;
  void WriteGpr(int reg, unsigned size, uint64_t value);  // 32-bit writes zero-extend
  void Push(uint64_t value, unsigned size);
  uint64_t Pop(unsigned size);
  unsigned StackSize() const;  // 2, 4 or 8 bytes: SS.B / long mode

  // ---- segmentation.cc ----
  // seg:offset -> linear, with limit and rights checks (#GP/#SS(0)).
  uint64_t Linearize(int seg, uint64_t offset, unsigned size, Access access);
  uint64_t ReadMem(int seg, uint64_t offset, unsigned size);
  void WriteMem(int seg, uint64_t offset, unsigned size, uint64_t value);
  // Loads a data/stack segment register as MOV/POP Sreg do, in any mode.
  void LoadSegment(int seg, uint16_t selector);
  int cpl() const;

  // ---- mmu.cc ----
  // Linear -> physical through the TLB; throws #PF with CR2 set.
  uint64_t Translate(uint64_t linear, Access access, bool user);
  // Linear accesses of 1..8 bytes, split at page boundaries, as the CPL's access.
  uint64_t ReadLinear(uint64_t linear, unsigned size, Access access = Access::kRead);
  void WriteLinear(uint64_t linear, unsigned size, uint64_t value);
  // Supervisor (implicit) accesses such as descriptor-table and IDT reads.
  uint64_t ReadLinearSystem(uint64_t linear, unsigned size);
  void WriteLinearSystem(uint64_t linear, unsigned size, uint64_t value);
  // ORs `bits` into a byte as a locked read-modify-write (the accessed bit
  // of a descriptor): a change another vCPU makes to the byte meanwhile stays.
  void SetBitsLinearSystem(uint64_t linear, uint8_t bits);
  uint64_t ReadPhys(uint64_t pa, unsigned size);
  void WritePhys(uint64_t pa, unsigned size, uint64_t value);
  void FlushTlb(bool include_global);
  void InvalidatePage(uint64_t linear);
  // Follows the board's A20 gate: while it is off, bit 20 of the physical
  // addresses translations give is 0 (the 8086 wrap at 1 MiB); a change
  // drops every translation. Called after port writes and SetState.
  // (Page-table reads are not masked; the KVM engine cannot mask at all.)
  void SyncA20();
  // The chipset remapped [gpa, gpa + size) (PAM): the TLB's host pointers
  // and the JIT's slots are stale, and code cached from those pages was read
  // from what the CPU no longer sees there.
  // Another vCPU's thread (its PAM write) defers the work to this vCPU's
  // own thread, which takes it at its next poll (SyncCodeWrites).
  void MemoryMapChanged(uint64_t gpa, uint64_t size) override;
  void ApplyMapChange(uint64_t gpa, uint64_t size);
  void TakeMapChange();
  std::mutex map_change_mutex_;  // guards the pending range
  uint64_t map_change_lo_ = ~0ull, map_change_hi_ = 0;
  std::atomic<bool> map_change_pending_{false};

  // ---- interrupts.cc ----
  enum class EventKind { kException, kExternal, kSoftware /* INT n, INT3, INTO */ };
  // Delivers through the IVT (real mode) or IDT; RIP must already be the
  // return address. Handles #DF escalation; throws TripleFault.
  void DeliverEvent(uint8_t vector, EventKind kind, bool has_error_code = false, uint32_t error_code = 0);
  // Delivers the source's pending NMI unless NMIs or the interrupt shadow
  // block it; true when it did. Called at each instruction boundary.
  bool TakePendingNmi(hw::CpuSocket& irq);

  // ---- decode_cache.cc ----
  // Drops cached decodes of a physical page (called on writes to code pages),
  // and the translated blocks of bytes [offset, offset + bytes) of it.
  // own_store: this vCPU's store (self-modifying code the JIT may back off
  // from), rather than a write noticed from outside (loader, DMA, another vCPU).
  void InvalidateCodePage(uint64_t pa, bool own_store = true, unsigned offset = 0, unsigned bytes = 4096);
  // After a write of this vCPU to a code page: tells the other writers' side
  // (hw::CodePages) so other vCPUs drop their copies.
  void NoteOwnCodeWrite(uint64_t pa);
  // Every poll interval and before Step(): drops decodes and blocks of pages
  // that another writer (a loader, DMA, another vCPU) changed, and JIT
  // direct-write slots of pages another vCPU now caches code from. Two
  // loads when nothing changed.
  void SyncCodeWrites() {
    if (code_pages_.write_epoch() != seen_write_epoch_ || code_pages_.mark_epoch() != seen_mark_epoch_)
        [[unlikely]] {
      SyncCodeWritesSlow();
    }
    if (map_change_pending_.load(std::memory_order_acquire)) [[unlikely]] TakeMapChange();
  }
  void SyncCodeWritesSlow();
  // The page is marked in the machine-wide hw::CodePages (by any vCPU).
  bool IsCodePage(uint64_t pa) const { return code_pages_.IsMarked(pa >> 12); }
  void MarkCodePage(uint64_t page_number);
  // mmu.cc: the JIT's TLB slots stop allowing direct writes to a page that
  // now holds code; RestoreJitWrites lets them write directly again once
  // it holds none.
  void ForgetJitWrites(uint64_t phys_page);
  void RestoreJitWrites(uint64_t phys_page);
  // The decoded instruction at CS:RIP: translated for execute, decoded once and
  // cached by physical address and code mode; raises #PF/#GP like a fetch.
  const DecodedInsn& Fetch();
  const DecodedInsn& FetchSlow(ZydisMachineMode mode, uint64_t linear, uint64_t pa, bool user);
  struct DecodeCache;
  std::unique_ptr<DecodeCache> decode_cache_;
  hw::CodePages& code_pages_;     // the board memory's, shared by every vCPU
  const int code_owner_;           // this vCPU's owner bit in code_pages_
  uint64_t seen_write_epoch_ = 0;  // code_pages_.write_epoch() as last synced
  uint64_t seen_mark_epoch_ = 0;   // code_pages_.mark_epoch() as last synced

  x86::CpuState& s;
  hw::Board& board;
  hw::CpuSocket& socket;  // this CPU's I/O, local APIC and interrupt pins
  // The host's undefined flags, which the JIT's native replays give too.
  const HostUndefinedFlags undefined_flags = HostUndefinedFlags::Probe();
  // Where RIP goes after the current instruction; handlers of control
  // transfers set it. Starts as RIP + length.
  uint64_t next_rip = 0;
  // SYSCALL/SYSRET single-step on RFLAGS.TF as they leave it, not as they
  // found it (a SYSRET that sets TF traps at once; FMASK can suppress the trap).
  bool step_on_new_tf = false;
  uint64_t retired_ = 0;
  // Vcpu::Kick: checked after every instruction or block and in HLT waits.
  KickLatch kick;
  // INIT and SIPI from the local APIC, applied at the poll interval.
  StartupLatch startup_;
  void TakeStartup();
  // Whether only another CPU can wake this one (HLT with interrupts off and
  // no NMI, or waiting for a SIPI); tells the socket (hw::CpuSocket::set_stuck).
  bool UpdateStuck();
  // The state was replaced (SetState, INIT, SIPI): translations (the TLB,
  // the JIT's slots) and debug state derived from the old one are dropped.
  void StateReplaced();
  // What a state from another engine may carry (CpuState::nmi_pending and
  // pending_event) goes where this engine keeps it: the NMI back to the
  // APIC's latch, the event delivered now. Called as a run starts.
  void TakeCarriedEvents();
  // DR7 breakpoints (debug_regs.cc); the run loop checks debug_.armed only.
  DebugState debug_;
  // A debugger's single-step and breakpoints (Vcpu::SetDebug): when set, Run()
  // interprets one instruction at a time and checks them.
  DebugConfig debugger;
  // Set by SetDebug: the instruction the debugger resumes at runs without a
  // breakpoint check (gdb resumes from a breakpoint's own address; in real
  // mode its PC is IP, not the linear address, so it cannot tell).
  bool debugger_resuming = false;
  // TLB, TSC epoch, one-time logs (system_state.h; mmu/segmentation/ops_system).
  SystemState sys_;
  std::unique_ptr<Jit> jit_;  // null: interpret only
  std::unique_ptr<LockedAccessDomain> own_locked_;  // when the constructor got none
  LockedAccessDomain& locked_;                      // the machine's (atomic.h)
  PlantedFault planted_fault = PlantedFault::kNone;
  uint64_t slice_faults_ = 0;
};

// Handler tables: each ops_*.cc registers its mnemonics.
using HandlerTable = std::array<Handler, ZYDIS_MNEMONIC_MAX_VALUE + 1>;
void RegisterAluHandlers(HandlerTable& table);
void RegisterShiftHandlers(HandlerTable& table);
void RegisterMulDivHandlers(HandlerTable& table);
void RegisterMoveHandlers(HandlerTable& table);
void RegisterStringHandlers(HandlerTable& table);
void RegisterControlHandlers(HandlerTable& table);
void RegisterIoHandlers(HandlerTable& table);
void RegisterFlagHandlers(HandlerTable& table);
void RegisterFpuStateHandlers(HandlerTable& table);  // ops_fpu_state.cc: FNINIT, FXSAVE, LDMXCSR, ...
void RegisterX87Handlers(HandlerTable& table);       // ops_x87.cc: x87 arithmetic, loads/stores, FNSAVE, ...
void RegisterSseHandlers(HandlerTable& table);       // ops_sse.cc, ops_sse_fp.cc: SSE/SSE2, MMX
// The SSE2 MOVSD/CMPSD (xmm operands), whose mnemonics the string forms share.
Handler SseStringFormHandler(ZydisMnemonic mnemonic);
void RegisterSystemHandlers(HandlerTable& table);
void RegisterFarHandlers(HandlerTable& table);
// A handler for this decoded form of an ALU instruction specialised by
// operand size, or null (ops_alu.cc); the decoder prefers it to the table's.
Handler SpecializedAluHandler(const DecodedInsn& insn);
Handler SpecializedMoveHandler(const DecodedInsn& insn);  // ops_move.cc: MOV
Handler SpecializedControlHandler(const DecodedInsn& insn);  // ops_control.cc: Jcc

// ---- inline operand and memory access (the handlers' hot path) ----

// Value bits of a general register operand, by RegClass (kGpr8Low..kGpr64).
inline constexpr uint64_t kGprClassMask[] = {0xFF, 0xFF, 0xFFFF, 0xFFFFFFFF, ~0ull};

inline uint64_t Cpu::EffectiveAddress(const DecodedInsn& insn, int i) const {
  const Operand& o = insn.op[i];
  uint64_t ea = static_cast<uint64_t>(o.disp);
  if (o.base >= 0) ea += o.base == Operand::kRipBase ? next_rip : s.gpr[o.base];
  if (o.index >= 0) ea += s.gpr[o.index] * o.scale;
  switch (insn.address_size) {
    case 16: return ea & 0xFFFF;
    case 32: return ea & 0xFFFFFFFF;
    default: return ea;
  }
}

inline Cpu::EaForm Cpu::EaFormOf(const DecodedInsn& insn, int i) {
  const Operand& o = insn.op[i];
  if (o.kind != OperandKind::kMem || o.base < 0 || o.base == Operand::kRipBase || o.index >= 0) return EaForm::kAny;
  switch (insn.address_size) {
    case 16: return EaForm::kBase16;
    case 32: return EaForm::kBase32;
    case 64: return EaForm::kBase64;
    default: return EaForm::kAny;
  }
}

inline uint8_t* Cpu::DirectData(int seg, uint64_t offset, unsigned size, bool write) const {
  const PlainData& p = plain_data_;
  if (!p.valid) [[unlikely]] return DirectDataChecked(seg, offset, size, write);
  const PlainData::Seg& f = p.seg[seg];
  const uint64_t last = offset + size - 1;
  if (last >= (write ? f.write_end : f.read_end) || last < offset) return nullptr;
  const uint64_t linear = (f.base + offset) & p.wrap;
  // One page; a write while another vCPU marked a code page this one has
  // not synced. A non-canonical address matches no slot (FillJitSlots).
  if ((linear & 0xFFF) + size > 4096) [[unlikely]] return nullptr;
  if (write && code_pages_.mark_epoch() != seen_mark_epoch_) [[unlikely]] return nullptr;
  const uint64_t page = linear >> 12;
  const JitTlbEntry& e = p.tlb[write][sys_.tlb.Slot(page)];
  if (!e.Holds(page)) return nullptr;
  return reinterpret_cast<uint8_t*>(linear + e.addend);
}

inline uint8_t* Cpu::DirectDataChecked(int seg, uint64_t offset, unsigned size, bool write) const {
  const x86::Segment& sg = s.seg[seg];
  uint64_t linear;
  bool user;
  if ((s.msr.efer & x86::kEferLma) && s.seg[x86::kCs].l()) {
    linear = offset + (seg >= x86::kFs ? sg.base : 0);
    // Canonical (bits 63..47 equal); the last byte is on the same page
    // (checked below), which no canonical boundary splits.
    if (((linear + (1ull << 47)) >> 48) != 0) return nullptr;
    user = s.seg[x86::kSs].dpl() == 3;  // CPL: 64-bit mode is protected, never v8086
  } else {
    if (s.cr0 & x86::kCr0Pe && !(s.rflags & x86::kFlagVm)) {
      // Usable, data (type bit 3 clear), expand-up (bit 2 clear), writable
      // (bit 1) for a write: what Linearize checks, in one compare.
      const uint32_t want = write ? 0x2 : 0;
      const uint32_t mask = write ? 0xE : 0xC;
      if ((sg.attrib & (x86::Segment::kUnusable | mask)) != want) return nullptr;
    }
    const uint64_t last = offset + size - 1;
    if (last > sg.limit || last < offset) return nullptr;
    linear = (sg.base + offset) & 0xFFFFFFFFull;
    user = UserAccess();
  }
  // Checks that apply to every access send it the whole way here: data
  // breakpoints, and alignment checking (ReadLinear's test: misaligned with
  // EFLAGS.AC). A write also does while another vCPU marked a code page this
  // one has not synced: its direct write slots may still allow that page.
  if ((linear & 0xFFF) + size > 4096 || debug_.data_armed) [[unlikely]] return nullptr;
  if ((linear & (size - 1)) && (s.rflags & x86::kFlagAc)) [[unlikely]] return nullptr;
  if (write && code_pages_.mark_epoch() != seen_mark_epoch_) [[unlikely]] return nullptr;
  const uint64_t page = linear >> 12;
  const JitTlbEntry& e = sys_.tlb.jit[(write ? 2 : 0) + (user ? 1 : 0)][sys_.tlb.Slot(page)];
  if (!e.Holds(page)) return nullptr;
  return reinterpret_cast<uint8_t*>(linear + e.addend);
}

// One host load or store of the access's width, as mmu.cc does them.
inline uint64_t HostLoad(const uint8_t* p, unsigned size) {
  switch (size) {
    case 1: return *p;
    case 2: { uint16_t v; __builtin_memcpy(&v, p, 2); return v; }
    case 4: { uint32_t v; __builtin_memcpy(&v, p, 4); return v; }
    case 8: { uint64_t v; __builtin_memcpy(&v, p, 8); return v; }
    default: { uint64_t v = 0; __builtin_memcpy(&v, p, size); return v; }
  }
}

inline void HostStore(uint8_t* p, unsigned size, uint64_t value) {
  switch (size) {
    case 1: *p = static_cast<uint8_t>(value); return;
    case 2: { uint16_t v = static_cast<uint16_t>(value); __builtin_memcpy(p, &v, 2); return; }
    case 4: { uint32_t v = static_cast<uint32_t>(value); __builtin_memcpy(p, &v, 4); return; }
    case 8: __builtin_memcpy(p, &value, 8); return;
    default: __builtin_memcpy(p, &value, size); return;
  }
}

inline uint64_t Cpu::ReadData(int seg, uint64_t offset, unsigned size) {
  if (size <= 8) [[likely]] {
    if (const uint8_t* host = DirectData(seg, offset, size, false)) [[likely]] return HostLoad(host, size);
  }
  return ReadMem(seg, offset, size);
}

inline void Cpu::WriteData(int seg, uint64_t offset, unsigned size, uint64_t value) {
  if (size <= 8) [[likely]] {
    if (uint8_t* host = DirectData(seg, offset, size, true)) [[likely]] return HostStore(host, size, value);
  }
  WriteMem(seg, offset, size, value);
}

inline uint64_t Cpu::ReadOperand(const DecodedInsn& insn, int i) {
  const Operand& o = insn.op[i];
  if (o.kind == OperandKind::kReg && o.reg_class <= RegClass::kGpr64) {
    const unsigned shift = o.reg_class == RegClass::kGpr8High ? 8 : 0;
    return (s.gpr[o.reg] >> shift) & kGprClassMask[static_cast<int>(o.reg_class)];
  }
  if (o.kind == OperandKind::kMem) return ReadData(o.seg, EffectiveAddress(insn, i), o.size);
  if (o.kind == OperandKind::kImm) return o.imm;
  return ReadOperandSlow(insn, i);
}

inline void Cpu::WriteOperand(const DecodedInsn& insn, int i, uint64_t value) {
  const Operand& o = insn.op[i];
  if (o.kind == OperandKind::kReg && o.reg_class <= RegClass::kGpr64) {
    uint64_t& r = s.gpr[o.reg];
    switch (o.reg_class) {
      case RegClass::kGpr32: r = value & 0xFFFFFFFF; return;  // zero-extends (SDM vol. 1 3.4.1.1)
      case RegClass::kGpr64: r = value; return;
      default: {
        const unsigned shift = o.reg_class == RegClass::kGpr8High ? 8 : 0;
        const uint64_t m = kGprClassMask[static_cast<int>(o.reg_class)] << shift;
        r = (r & ~m) | ((value << shift) & m);
        return;
      }
    }
  }
  if (o.kind == OperandKind::kMem) return WriteData(o.seg, EffectiveAddress(insn, i), o.size, value);
  WriteOperandSlow(insn, i, value);
}

}  // namespace tandem::accel::interp
