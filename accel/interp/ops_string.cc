// String instructions: MOVS CMPS STOS LODS SCAS INS OUTS in all sizes with
// REP/REPE/REPNE (SDM vol. 2 "REP/REPE/REPZ/REPNE/REPNZ"). rSI/rDI/rCX are
// used at the address size; the source segment takes an override, ES:rDI
// does not. Each iteration updates the registers after its accesses succeed,
// so a fault restarts the instruction where it stopped; a long REP yields
// after a batch of iterations (RIP stays on it) so interrupts get in.
// Forward REP MOVS/STOS run a page's worth of iterations as one host copy
// where nothing in between could fault or be seen (BulkIterations).
#include <algorithm>
#include <cstring>

#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"
#include "accel/interp/system_internal.h"

namespace tandem::accel::interp {

namespace {

using namespace x86;

constexpr unsigned kIterationsPerStep = 4096;

enum class Str { kMovs, kCmps, kStos, kLods, kScas, kIns, kOuts };

int SourceSegment(const DecodedInsn& insn) {
  for (const Operand& o : insn.op) {
    if (o.kind == OperandKind::kMem && o.base == kRsi) return o.seg;
  }
  return kDs;
}

// The segment's limit is no tighter than the address size: an offset that
// does not wrap is within it (64-bit mode has no limits).
bool LimitCoversOffsets(const CpuState& s, int seg, uint64_t amask) {
  if (Mode64(s)) return true;
  const Segment& sg = s.seg[seg];
  const bool expand_down = (s.cr0 & kCr0Pe) && !(s.rflags & kFlagVm) && (sg.attrib & 0x4);
  return !expand_down && sg.limit >= amask;
}

// REP MOVS/STOS forward: the iterations, at most `budget`, that stay within
// one page of the destination (and of the source) as one host copy or fill,
// when both pages are RAM the TLB's direct slots reach (so not cached code,
// MMIO, a data breakpoint or an alignment check) and no limit or offset
// wrap can stop them early: nothing in between can fault. Returns how many
// it did, 0 for none (the caller goes one iteration at a time). The
// registers move as after that many iterations.
template <Str op>
uint64_t BulkIterations(Cpu& cpu, unsigned size, unsigned asz, uint64_t amask, int src_seg, uint64_t budget) {
  CpuState& s = cpu.s;
  const uint64_t si = s.gpr[kRsi] & amask, di = s.gpr[kRdi] & amask;
  if (!LimitCoversOffsets(s, kEs, amask) || (op == Str::kMovs && !LimitCoversOffsets(s, src_seg, amask))) return 0;
  uint8_t* dst = cpu.DirectDataChecked(kEs, di, size, true);
  if (!dst) return 0;
  const auto page_room = [size](const uint8_t* p) -> uint64_t { return (4096 - (reinterpret_cast<uintptr_t>(p) & 0xFFF)) / size; };
  const auto wrap_room = [&](uint64_t offset) -> uint64_t { return asz == 8 ? ~0ull : (amask - offset + 1) / size; };
  uint64_t n = std::min({s.gpr[kRcx] & amask, budget, page_room(dst), wrap_room(di)});
  const uint8_t* src = nullptr;
  if constexpr (op == Str::kMovs) {
    src = cpu.DirectDataChecked(src_seg, si, size, false);
    if (!src) return 0;
    n = std::min({n, page_room(src), wrap_room(si)});
  }
  if (n == 0) return 0;
  const uint64_t bytes = n * size;
  if constexpr (op == Str::kMovs) {
    if (dst > src && dst < src + bytes) {
      // The destination starts inside the source: each element copies one
      // the loop has just written (a pattern fill), as the iterations would.
      for (uint64_t i = 0; i < bytes; i += size) HostStore(dst + i, size, HostLoad(src + i, size));
    } else {
      std::memmove(dst, src, bytes);
    }
    cpu.WriteGpr(kRsi, asz, si + bytes);
  } else {
    const uint64_t value = cpu.ReadGpr(kRax, size);
    if (size == 1) {
      std::memset(dst, static_cast<int>(value), bytes);
    } else {
      for (uint64_t i = 0; i < bytes; i += size) HostStore(dst + i, size, value);
    }
  }
  cpu.WriteGpr(kRdi, asz, di + bytes);
  cpu.WriteGpr(kRcx, asz, (s.gpr[kRcx] - n) & amask);
  return n;
}

template <Str op>
void StringOp(Cpu& cpu, const DecodedInsn& insn) {
  x86::CpuState& s = cpu.s;
  const unsigned size = insn.operand_size / 8;
  const unsigned asz = insn.address_size / 8;
  const uint64_t amask = SizeMask(asz);
  const int src_seg = SourceSegment(insn);
  const bool rep = insn.rep || insn.repne;
  const uint64_t delta = (s.rflags & kFlagDf) ? -static_cast<uint64_t>(size) : size;
  const uint16_t port = static_cast<uint16_t>(s.gpr[kRdx]);
  if constexpr (op == Str::kIns || op == Str::kOuts) CheckIoPermission(cpu, port, size);
  // Single-stepping traps after each iteration (SDM vol. 3A 17.3.1.4), so
  // with TF one iteration is one step.
  for (unsigned budget = (s.rflags & kFlagTf) ? 1 : kIterationsPerStep;; --budget) {
    if (rep && (s.gpr[kRcx] & amask) == 0) return;
    if (budget == 0) {
      cpu.next_rip = s.rip;  // continue with this instruction after pending events
      // An interrupt or trap between iterations pushes RF = 1, so the
      // instruction's own breakpoint does not fire again when it resumes
      // (SDM vol. 3A 17.3.1.1); the run loop keeps it (cpu.cc).
      s.rflags |= kFlagRf;
      cpu.plain_break_ = true;
      return;
    }
    if constexpr (op == Str::kMovs || op == Str::kStos) {
      if (rep && delta == size && budget > 1) {
        if (const uint64_t n = BulkIterations<op>(cpu, size, asz, amask, src_seg, budget)) {
          budget -= n - 1;  // and the loop's own decrement
          continue;
        }
      }
    }
    const uint64_t si = s.gpr[kRsi] & amask;
    const uint64_t di = s.gpr[kRdi] & amask;
    bool stop = false;
    switch (op) {
      case Str::kMovs:
        cpu.WriteMem(kEs, di, size, cpu.ReadMem(src_seg, si, size));
        break;
      case Str::kStos:
        cpu.WriteMem(kEs, di, size, cpu.ReadGpr(kRax, size));
        break;
      case Str::kLods:
        cpu.WriteGpr(kRax, size, cpu.ReadMem(src_seg, si, size));
        break;
      case Str::kCmps:
      case Str::kScas: {
        uint64_t a = op == Str::kCmps ? cpu.ReadMem(src_seg, si, size) : cpu.ReadGpr(kRax, size);
        uint64_t b = cpu.ReadMem(kEs, di, size);
        uint64_t flags;
        SubWithFlags(a, b, false, size, &flags);
        SetFlags(s, kArithFlags, flags);
        stop = insn.rep ? !(flags & kFlagZf) : (flags & kFlagZf);
        break;
      }
      case Str::kIns: {
        // Check the destination before the port read, whose side effects
        // must not repeat when the write faults.
        uint64_t linear = cpu.Linearize(kEs, di, size, Access::kWrite);
        cpu.Translate(linear, Access::kWrite, cpu.cpl() == 3);
        cpu.WriteMem(kEs, di, size, cpu.socket.PioRead(port, size));
        break;
      }
      case Str::kOuts:
        cpu.socket.PioWrite(port, size, cpu.ReadMem(src_seg, si, size));
        cpu.SyncA20();
        break;
    }
    if constexpr (op == Str::kIns || op == Str::kOuts) {
      if (cpu.debug_.io_armed) [[unlikely]] CheckIoBreakpoints(cpu, port, size);
    }
    if constexpr (op == Str::kMovs || op == Str::kCmps || op == Str::kLods || op == Str::kOuts) {
      cpu.WriteGpr(kRsi, asz, si + delta);
    }
    if constexpr (op != Str::kLods && op != Str::kOuts) cpu.WriteGpr(kRdi, asz, di + delta);
    if (!rep) return;
    cpu.WriteGpr(kRcx, asz, (s.gpr[kRcx] - 1) & amask);
    // A data breakpoint traps after the iteration that hit it (SDM vol. 3A 17.3.1.2).
    if (cpu.debug_.hits) [[unlikely]] budget = 1;
    if constexpr (op == Str::kCmps || op == Str::kScas) {
      if (stop) return;
    }
  }
}

}  // namespace

void RegisterStringHandlers(HandlerTable& t) {
  for (auto m : {ZYDIS_MNEMONIC_MOVSB, ZYDIS_MNEMONIC_MOVSW, ZYDIS_MNEMONIC_MOVSD, ZYDIS_MNEMONIC_MOVSQ}) {
    t[m] = StringOp<Str::kMovs>;
  }
  for (auto m : {ZYDIS_MNEMONIC_CMPSB, ZYDIS_MNEMONIC_CMPSW, ZYDIS_MNEMONIC_CMPSD, ZYDIS_MNEMONIC_CMPSQ}) {
    t[m] = StringOp<Str::kCmps>;
  }
  for (auto m : {ZYDIS_MNEMONIC_STOSB, ZYDIS_MNEMONIC_STOSW, ZYDIS_MNEMONIC_STOSD, ZYDIS_MNEMONIC_STOSQ}) {
    t[m] = StringOp<Str::kStos>;
  }
  for (auto m : {ZYDIS_MNEMONIC_LODSB, ZYDIS_MNEMONIC_LODSW, ZYDIS_MNEMONIC_LODSD, ZYDIS_MNEMONIC_LODSQ}) {
    t[m] = StringOp<Str::kLods>;
  }
  for (auto m : {ZYDIS_MNEMONIC_SCASB, ZYDIS_MNEMONIC_SCASW, ZYDIS_MNEMONIC_SCASD, ZYDIS_MNEMONIC_SCASQ}) {
    t[m] = StringOp<Str::kScas>;
  }
  for (auto m : {ZYDIS_MNEMONIC_INSB, ZYDIS_MNEMONIC_INSW, ZYDIS_MNEMONIC_INSD}) t[m] = StringOp<Str::kIns>;
  for (auto m : {ZYDIS_MNEMONIC_OUTSB, ZYDIS_MNEMONIC_OUTSW, ZYDIS_MNEMONIC_OUTSD}) t[m] = StringOp<Str::kOuts>;
}

}  // namespace tandem::accel::interp
