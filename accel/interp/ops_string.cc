// String instructions: MOVS CMPS STOS LODS SCAS INS OUTS in all sizes with
// REP/REPE/REPNE (SDM vol. 2 "REP/REPE/REPZ/REPNE/REPNZ"). rSI/rDI/rCX are
// used at the address size; the source segment takes an override, ES:rDI
// does not. Each iteration updates the registers after its accesses succeed,
// so a fault restarts the instruction where it stopped; a long REP yields
// after a batch of iterations (RIP stays on it) so interrupts get in.
#include "accel/interp/cpu.h"
#include "accel/interp/flags.h"

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
