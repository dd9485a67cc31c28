// The interpreter's run loop: instruction boundaries, external interrupts,
// HLT, single-step traps and fault delivery (SDM vol. 3A 6.5-6.9).
#include "accel/interp/cpu.h"

#include <algorithm>
#include <cstdio>

#include "accel/interp/atomic.h"

#include "accel/interp/decode_cache.h"
#include "accel/interp/flags.h"
#include "accel/interp/jit.h"

namespace tandem::accel::interp {

void Raise(uint8_t vector) { throw GuestFault{vector}; }
void Raise(uint8_t vector, uint32_t error_code) { throw GuestFault{vector, true, error_code}; }

namespace {

// Instructions between board polls (timers, serial input, timeout).
constexpr int kPollInterval = 16384;
constexpr uint64_t kHaltWaitNs = 10'000'000;

// Executes insn, fetched from CS:RIP; throws GuestFault with RIP unchanged.
// kDebug: DR7 has breakpoints enabled (debug_regs.cc checks around the instruction).
template <bool kDebug>
inline void ExecuteFetched(Cpu& cpu, const DecodedInsn& insn) {
  x86::CpuState& s = cpu.s;
  const uint64_t rip_before = s.rip;
  uint64_t next = s.rip + insn.length;
  if (!Is64BitCode(s)) next &= s.seg[x86::kCs].db() ? 0xFFFFFFFFull : 0xFFFFull;
  cpu.next_rip = next;
  const uint64_t flags_before = s.rflags;
  cpu.s.interrupt_shadow = false;  // a handler (STI, MOV SS, POP SS) may set it again
  cpu.step_on_new_tf = false;
  insn.handler(cpu, insn);
  s.rip = cpu.next_rip;
  ++cpu.retired_;
  if ((flags_before | s.rflags) & x86::kFlagRf) [[unlikely]] {
    // RF lasts one instruction: it clears on completion unless IRET loaded it,
    // or a REP string instruction stopped between iterations set it
    // (ops_string.cc) (SDM vol. 3A 17.3.1.1).
    const ZydisMnemonic m = insn.mnemonic;
    const bool rep_stopped = (insn.rep || insn.repne) && s.rip == rip_before;
    if (m != ZYDIS_MNEMONIC_IRET && m != ZYDIS_MNEMONIC_IRETD && m != ZYDIS_MNEMONIC_IRETQ && !rep_stopped) {
      s.rflags &= ~x86::kFlagRf;
    }
  }
  // Single-step trap after the instruction (SDM vol. 3A 17.3.1.4); MOV SS
  // and POP SS hold it back until after the next instruction (6.8.3).
  const bool step = (cpu.step_on_new_tf ? s.rflags : flags_before) & x86::kFlagTf &&
                    !(cpu.s.interrupt_shadow && insn.mnemonic != ZYDIS_MNEMONIC_STI);
  if constexpr (kDebug) {
    DebugAfterInstruction(cpu, insn, step);
  } else if (step) [[unlikely]] {
    DeliverDebugTrap(cpu, kDr6Bs);
  }
}

// Executes the instruction at CS:RIP; throws GuestFault with RIP unchanged.
template <bool kDebug>
inline void ExecuteOne(Cpu& cpu) {
  if constexpr (kDebug) {
    if (DebugBeforeInstruction(cpu)) return;
  }
  ExecuteFetched<kDebug>(cpu, cpu.Fetch());
}

inline void ExecuteOne(Cpu& cpu) {
  if (cpu.debug_.armed) [[unlikely]] {
    ExecuteOne<true>(cpu);
  } else {
    ExecuteOne<false>(cpu);
  }
}

// Delivers a fault raised by an instruction; a fault while delivering becomes
// a #DF here unless interrupts.cc already escalated it (it throws TripleFault
// when #DF delivery fails).
void DeliverFault(Cpu& cpu, const GuestFault& f) {
  // A fault pushes RFLAGS with RF set, so the IRET that restarts the
  // instruction does not hit its instruction breakpoint again (SDM vol. 3A 17.3.1.1).
  cpu.s.rflags |= x86::kFlagRf;
  try {
    cpu.DeliverEvent(f.vector, Cpu::EventKind::kException, f.has_error_code, f.error_code);
  } catch (const GuestFault&) {
    try {
      cpu.DeliverEvent(x86::kDF, Cpu::EventKind::kException, true, 0);
    } catch (const GuestFault&) {
      throw TripleFault{};
    }
  }
}

// Takes a pending NMI, else an external interrupt when RFLAGS.IF allows it.
// Two lock-free loads when nothing is pending.
inline bool TakeInterrupt(Cpu& cpu, hw::CpuSocket& irq) {
  if (irq.HasPendingNmi() && cpu.TakePendingNmi(irq)) return true;
  if (!(cpu.s.rflags & x86::kFlagIf) || cpu.s.interrupt_shadow || !irq.MaybeInterrupt()) return false;
  std::optional<uint8_t> vector = irq.AcknowledgeInterrupt();
  if (!vector) return false;
  cpu.s.halted = false;
  try {
    cpu.DeliverEvent(*vector, Cpu::EventKind::kExternal);
  } catch (const GuestFault& f) {
    DeliverFault(cpu, f);
  }
  return true;
}

// RunPlain's loop leaves out the instruction boundary's single-step, RF,
// breakpoint and interrupt-shadow work, which plain instructions cannot start.
inline bool PlainMayRun(const Cpu& cpu) {
  return !(cpu.s.rflags & (x86::kFlagTf | x86::kFlagRf)) && !cpu.s.interrupt_shadow && !cpu.debug_.armed;
}

}  // namespace

Cpu::Cpu(hw::Board& board, x86::CpuState& state, int cpu_index, LockedAccessDomain* locked)
    : decode_cache_(std::make_unique<DecodeCache>(board)),
      code_pages_(board.memory().code_pages()),
      code_owner_(code_pages_.AddOwner()),
      seen_write_epoch_(code_pages_.write_epoch()),
      seen_mark_epoch_(code_pages_.mark_epoch()),
      s(state),
      board(board),
      socket(board.cpu(cpu_index)),
      own_locked_(locked ? nullptr : std::make_unique<LockedAccessDomain>()),
      locked_(locked ? *locked : *own_locked_) {
  UpdateDebugState(*this);
  board.memory().AddObserver(this);
}

Cpu::~Cpu() {
  board.memory().RemoveObserver(this);
  code_pages_.RemoveOwner(code_owner_);
}

void Cpu::StateReplaced() {
  FlushTlb(/*include_global=*/true);
  SyncA20();
  UpdateDebugState(*this);
}

void Cpu::TakeCarriedEvents() {
  if (s.nmi_pending) {
    s.nmi_pending = false;
    socket.ReturnNmi();
  }
  if (!s.pending_event.valid) return;
  const x86::PendingEvent event = s.pending_event;
  s.pending_event = {};
  s.halted = false;
  try {
    DeliverEvent(event.vector, event.exception ? EventKind::kException : EventKind::kExternal, event.has_error_code,
                 event.error_code);
  } catch (const GuestFault& f) {
    DeliverFault(*this, f);
  }
}

bool Cpu::UpdateStuck() {
  // Only an NMI wakes a HLT with interrupts off, and only a SIPI a CPU that
  // waits for one: both come from other CPUs, if at all.
  const bool stuck = s.wait_for_sipi || (s.halted && !(s.rflags & x86::kFlagIf) &&
                                         !(socket.HasPendingNmi() && !s.nmi_blocked));
  socket.set_stuck(stuck);
  return stuck;
}

void Cpu::TakeStartup() {
  if (startup_.Apply(s)) StateReplaced();
}

void Cpu::EnableJit() {
  if (jit_) return;
  jit_ = std::make_unique<Jit>(*this);
  // Blocks index all Tlb::kEntries slots: nothing placed for the
  // interpreter's size may stay.
  FlushTlb(/*include_global=*/true);
  sys_.tlb.slot_mask = Tlb::kEntries - 1;
}

RunOutcome Cpu::Run() {
  hw::CpuSocket& irq = socket;
  kick.SetOwner();
  const bool debugging = debugger.single_step || !debugger.breakpoints.empty();
  try {
    TakeCarriedEvents();
    for (;;) {
      board.Poll();
      if (board.stop_requested()) return RunOutcome{RunOutcome::Kind::kBoardStop, ""};
      if (kick.Take()) return RunOutcome{RunOutcome::Kind::kKicked, ""};
      // Other writers' code changes are picked up every poll interval: a
      // vCPU that runs code another one wrote must serialize first anyway
      // (SDM vol. 3A 8.1.3), and loaders write while the world is paused.
      SyncCodeWrites();
      if (startup_.pending()) TakeStartup();
      if (UpdateStuck()) {
        if (board.AllCpusStuck()) return RunOutcome{RunOutcome::Kind::kHalted, x86::DumpRegisters(s)};
        if (kick.ReadyToWait() && !startup_.pending() && !irq.HasPendingNmi()) {
          board.WaitForEvent(kHaltWaitNs, kick.wake_fd());
        }
        continue;
      }
      if (s.halted) {
        if (!TakeInterrupt(*this, irq)) {
          // A wake after ReadyToWait() leaves the fd readable; one before it
          // left a hint or an NMI, so look again before sleeping.
          if (kick.ReadyToWait() && !irq.HasPendingNmi() && !irq.MaybeInterrupt() && !startup_.pending()) {
            board.WaitForEvent(kHaltWaitNs, kick.wake_fd());
          }
          continue;
        }
      }
      if (debugging) {
        if (std::optional<RunOutcome> stop = DebugSlice(irq)) return *stop;
        continue;
      }
      for (uint64_t n = 0; n < kPollInterval;) {
        const uint64_t retired_before = retired_;
        try {
          uint64_t ran = 0;
          if (TakeInterrupt(*this, irq)) {
            ran = 1;
          } else if (jit_ && JitMayRun() && ((ran = jit_->RunBlock(kPollInterval - n)) != 0 || jit_->fault_pending())) {
            if (std::optional<GuestFault> f = jit_->TakeFault()) {
              DeliverFault(*this, *f);
              ++ran;  // the delivery, as for a thrown fault below
            }
          } else if (!jit_ && PlainMayRun(*this)) {
            ran = RunPlain(kPollInterval - n);
          } else {
            ExecuteOne(*this);
            ran = 1;
          }
          n += ran;
        } catch (const GuestFault& f) {
          DeliverFault(*this, f);
          n += retired_ - retired_before + 1;  // what RunPlain retired before the fault, and the delivery
        }
        if (s.halted || board.stop_requested() || kick.pending()) [[unlikely]] break;
      }
    }
  } catch (const TripleFault&) {
    return RunOutcome{RunOutcome::Kind::kTripleFault, "triple fault\n" + x86::DumpRegisters(s)};
  }
}

// Under a debugger (QEMU's gdbstub semantics): breakpoints stop before the
// instruction at them; a single step runs exactly one instruction, with
// external interrupts held off as QEMU's default SSTEP_NOIRQ does.
std::optional<RunOutcome> Cpu::DebugSlice(hw::CpuSocket& irq) {
  for (uint64_t n = 0; n < kPollInterval; ++n) {
    const uint64_t linear = s.seg[x86::kCs].base + s.rip;
    for (uint64_t bp : debugger.breakpoints) {
      if (bp == linear && !debugger_resuming) return RunOutcome{RunOutcome::Kind::kDebug, ""};
    }
    debugger_resuming = false;
    try {
      if (debugger.single_step || !TakeInterrupt(*this, irq)) ExecuteOne(*this);
    } catch (const GuestFault& f) {
      DeliverFault(*this, f);
    }
    if (debugger.single_step) return RunOutcome{RunOutcome::Kind::kDebug, ""};
    if (s.halted || board.stop_requested() || kick.pending()) break;
  }
  return std::nullopt;
}

SliceEnd Cpu::RunSlice(uint64_t budget, SliceOptions options) {
  hw::CpuSocket& irq = socket;
  const uint64_t target = retired_ + budget;
  // Whether the slice ends after delivering fault f.
  const auto deliver = [&](const GuestFault& f) {
    ++slice_faults_;  // before: the delivery may end in a triple fault
    DeliverFault(*this, f);
    return options.stop_after_fault;
  };
  try {
    TakeCarriedEvents();
    // Pending interrupts are taken before the budget check, so a slice ends
    // with them delivered and RunSlice(0) only delivers them. Deliveries
    // retire nothing: the bound ends a slice stuck in a fault loop.
    for (uint64_t events = 0; events <= budget + 1024; ++events) {
      if (board.stop_requested()) return SliceEnd::kStop;
      // Other writers' code changes (a loader between slices, DMA), as Run
      // picks them up every poll interval: two loads when there are none.
      SyncCodeWrites();
      try {
        if (retired_ >= target && budget && !options.deliver_at_end) return SliceEnd::kBudget;
        if (TakeInterrupt(*this, irq)) continue;
        if (s.halted) return SliceEnd::kHalted;
        if (retired_ >= target) return SliceEnd::kBudget;
        if (jit_ && JitMayRun() && (jit_->RunBlock(target - retired_) != 0 || jit_->fault_pending())) {
          if (std::optional<GuestFault> f = jit_->TakeFault(); f && deliver(*f)) return SliceEnd::kBudget;
          continue;
        }
        if (!jit_ && PlainMayRun(*this)) {
          RunPlain(target - retired_);
        } else {
          ExecuteOne(*this);
        }
      } catch (const GuestFault& f) {
        if (deliver(f)) return SliceEnd::kBudget;
      }
    }
  } catch (const TripleFault&) {
    return SliceEnd::kTripleFault;
  }
  return SliceEnd::kBudget;
}

void Cpu::SetPlainData() {
  PlainData& p = plain_data_;
  const bool mode64 = Is64BitCode(s);
  // Data breakpoints and alignment checking (ReadLinear's test: misaligned
  // with EFLAGS.AC, as a kernel between STAC and CLAC has it) look at every
  // access: DirectDataChecked.
  p.valid = !debug_.data_armed && !(s.rflags & x86::kFlagAc);
  p.wrap = mode64 ? ~0ull : 0xFFFFFFFFull;
  const bool user = mode64 ? s.seg[x86::kSs].dpl() == 3 : UserAccess();  // 64-bit mode is never v8086
  p.tlb[0] = sys_.tlb.jit[user ? 1 : 0].data();
  p.tlb[1] = sys_.tlb.jit[user ? 3 : 2].data();
  const bool protected_mode = (s.cr0 & x86::kCr0Pe) && !(s.rflags & x86::kFlagVm);
  for (int i = 0; i < 6; ++i) {
    const x86::Segment& sg = s.seg[i];
    PlainData::Seg& f = p.seg[i];
    if (mode64) {
      // No limits; FS and GS alone have a base (canonical checked per access).
      f = {i >= x86::kFs ? sg.base : 0, ~0ull, ~0ull};
      continue;
    }
    // Protected mode: usable, data (type bit 3 clear), expand-up (bit 2
    // clear), writable (bit 1) for a write, as DirectDataChecked has it.
    const uint64_t end = static_cast<uint64_t>(sg.limit) + 1;
    const uint32_t type = sg.attrib & (x86::Segment::kUnusable | 0xE);
    const bool readable = !protected_mode || (type & ~0x2u) == 0;
    const bool writable = !protected_mode || type == 0x2;
    f = {sg.base, readable ? end : 0, writable ? end : 0};
  }
}

uint64_t Cpu::RunPlain(uint64_t budget) {
  const DecodedInsn* insn = &Fetch();
  if (!insn->plain) {
    ExecuteFetched<false>(*this, *insn);
    return 1;
  }
  // The code page CS:RIP is on: Fetch translated it and left it as the decode
  // cache's current page. Plain instructions change neither the code mode,
  // CS, the CPL nor the TLB, so RIPs in [page_rip, page_rip + page_span)
  // stay on this page. A write to the page (own or, at the poll, another
  // writer's) moves its generation and sends the fetch back to Fetch().
  const ZydisMachineMode mode = CodeMode(s);
  const bool mode64 = mode == ZYDIS_MACHINE_MODE_LONG_64;
  const x86::Segment& cs = s.seg[x86::kCs];
  const uint64_t linear = mode64 ? s.rip : ((cs.base + s.rip) & 0xFFFFFFFFull);
  const uint64_t page_rip = s.rip - (linear & 0xFFF);
  uint64_t page_span = 4096;
  if (!mode64) page_span = std::min<uint64_t>(page_span, cs.limit + 1 - page_rip);  // RIP <= limit
  const uint64_t ip_mask = mode64 ? ~0ull : cs.db() ? 0xFFFFFFFFull : 0xFFFFull;
  DecodeCache::Page* page = decode_cache_->last_page;
  const uint16_t first = page ? page->index[linear & 0xFFF] : 0;
  if (!first || &page->slot(first).insn != insn) {
    ExecuteFetched<false>(*this, *insn);  // not from the current page (cannot happen; kept safe)
    return 1;
  }
  // Locals rather than members where the compiler would reload them after
  // each handler call. Slots never move.
  x86::CpuState& st = s;
  hw::CpuSocket& irq = socket;
  DecodeCache::Slot* slot = &page->slot(first);
  // A store into a code page moves its generation and sets plain_break_
  // (InvalidateCodePage), so slots are compared with this copy.
  const uint32_t generation = page->generation;
  budget = std::max<uint64_t>(budget, 1);  // the first instruction runs regardless
  uint64_t left = budget;  // budget - left retired, added to retired_ on the way out (no handler reads it)
  uint64_t rip = st.rip;
  SetPlainData();
  plain_break_ = false;
  try {
    for (;;) {
      next_rip = (rip + slot->insn.length) & ip_mask;
      slot->insn.handler(*this, slot->insn);
      rip = next_rip;
      st.rip = rip;
      if (--left == 0) break;
      // After an MMIO access (it may have raised an interrupt), a store into
      // code, and every 32 instructions: interrupts, kicks and stops, which
      // otherwise come at no particular instruction. A REP stopped between
      // iterations set RF, which ExecuteFetched keeps until it completes.
      if (plain_break_ || (left & 31) == 0) [[unlikely]] {
        plain_break_ = false;
        if (page->generation != generation || (st.rflags & x86::kFlagRf) || irq.HasPendingNmi() ||
            ((st.rflags & x86::kFlagIf) && irq.MaybeInterrupt())) {
          break;
        }
        if ((left & 31) == 0 && (kick.pending() || board.stop_requested())) break;
      }
      const uint64_t offset = rip - page_rip;
      if (offset >= page_span) break;
      // The slot that ran after this one last time, when it is at the same
      // offset: the next handler's address then depends on this slot alone,
      // not on the handler's next_rip through the page's index.
      DecodeCache::Slot* next = slot->successor;
      if (offset != slot->successor_offset) [[unlikely]] {
        const uint16_t idx = page->index[offset];
        if (!idx) break;
        next = &page->slot(idx);
        slot->successor = next;
        slot->successor_offset = static_cast<uint16_t>(offset);
      }
      if (next->plain_mode != mode || next->generation != generation) break;
      slot = next;
    }
  } catch (...) {
    ClearPlainData();
    retired_ += budget - left;
    throw;
  }
  ClearPlainData();
  retired_ += budget - left;
  return budget - left;
}

void Cpu::Step() {
  SyncCodeWrites();
  if (TakeInterrupt(*this, socket)) return;
  if (s.halted) return;
  try {
    if (!jit_ && PlainMayRun(*this)) {
      RunPlain(1);
    } else {
      ExecuteOne(*this);
    }
  } catch (const GuestFault& f) {
    DeliverFault(*this, f);
  }
}

}  // namespace tandem::accel::interp
