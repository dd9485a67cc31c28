// `tandem lockstep` (see lockstep_command.h). One engine leads: it runs a
// slice (a JIT block may run past the budget) and the other follows one
// instruction at a time to the same count, so the follower's trace names the
// instructions of the slice. Between slices the driver alone moves time:
// both boards' clocks read retired instructions (1 ns each) plus the time
// skipped while both vCPUs are halted, and both boards are polled at the same
// counts. A divergence found at a coarse granularity is run again from the
// start, comparing after every slice from the last point known to agree.
#include "cli/lockstep_command.h"

#include <Zydis/Zydis.h>
#include <sys/mman.h>

#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <memory>
#include <optional>

#include "accel/accelerator.h"
#include "accel/interp/cpu.h"
#include "accel/interp/flag_effects.h"
#include "accel/interp/interp_engine.h"
#include "cli/run_options.h"
#include "hw/board.h"
#include "hw/virtio/virtio_rng.h"
#include "target-x86/page_walk.h"
#include "target-x86/state_diff.h"

namespace tandem::cli {

namespace {

using accel::interp::SliceEnd;
using accel::interp::SliceVcpu;

constexpr int kUsageError = 2;
constexpr uint64_t kNsPerInstruction = 1;
constexpr uint64_t kPageSize = 4096;

int Fail(const std::string& message) {
  std::fprintf(stderr, "tandem: %s\n", message.c_str());
  return kUsageError;
}

std::string Hex(uint64_t v, int width = 16) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%0*" PRIx64, width, v);
  return buf;
}

// One instruction as the follower was about to run it.
struct TraceEntry {
  uint64_t number = 0;  // 1-based count of the instruction in the run
  uint16_t cs = 0;
  uint64_t rip = 0;
  uint64_t linear = 0;
  ZydisMachineMode mode = ZYDIS_MACHINE_MODE_LONG_64;
  uint8_t bytes[15] = {};
  size_t length = 0;
};

ZydisMachineMode ZydisMode(const x86::CpuState& s) {
  switch (x86::ModeOf(s)) {
    case x86::CpuMode::kReal:
    case x86::CpuMode::kVirtual8086: return ZYDIS_MACHINE_MODE_REAL_16;
    case x86::CpuMode::kProtected16: return ZYDIS_MACHINE_MODE_LEGACY_16;
    case x86::CpuMode::kProtected32: return ZYDIS_MACHINE_MODE_LEGACY_32;
    case x86::CpuMode::kCompat16: return ZYDIS_MACHINE_MODE_LONG_COMPAT_16;
    case x86::CpuMode::kCompat32: return ZYDIS_MACHINE_MODE_LONG_COMPAT_32;
    case x86::CpuMode::kLong64: break;
  }
  return ZYDIS_MACHINE_MODE_LONG_64;
}

std::string Disassemble(const TraceEntry& e) {
  ZydisDisassembledInstruction insn;
  if (e.length && ZYAN_SUCCESS(ZydisDisassembleIntel(e.mode, e.linear, e.bytes, e.length, &insn))) {
    return insn.text;
  }
  return "(code not readable)";
}

std::string FormatEntry(const TraceEntry& e) {
  char buf[96];
  std::snprintf(buf, sizeof buf, "  #%-12" PRIu64 " %04x:%-16" PRIx64 " ", e.number, e.cs, e.rip);
  return buf + Disassemble(e);
}

// KVM cannot stop at an instruction count, so it always leads, one single
// step (KVM_GUESTDBG_SINGLESTEP) per slice, and the interpreter follows
// until it stands where KVM stands. A step is one instruction, except that
// an interrupt or exception delivered in it clears TF, so KVM runs the
// handler to its IRET and one instruction more as one step: the follower
// then traces the handler instruction by instruction. The instruction count
// is the interpreter's.
constexpr uint64_t kMaxFollow = 1 << 20;  // interpreter instructions per KVM step

struct Side {
  std::string engine;
  hw::ManualClock clock;
  hw::StringSink serial;
  std::unique_ptr<hw::Board> board;
  std::unique_ptr<SliceVcpu> vcpu;          // interp, jit
  std::unique_ptr<accel::Machine> machine;  // kvm: declared after the board, so destroyed before it
  std::unique_ptr<accel::Vcpu> kvm;
  x86::CpuState kvm_state;   // KVM's state after its last step
  uint64_t kvm_retired = 0;  // the follower's count where KVM stands
  std::string error;         // why KVM could not go on

  bool is_kvm() const { return kvm != nullptr; }
  uint64_t retired() const { return kvm ? kvm_retired : vcpu->instructions_retired(); }
  x86::CpuState& state() { return kvm ? kvm_state : vcpu->state(); }
  const x86::CpuState& state() const { return kvm ? kvm_state : vcpu->state(); }
  // After the driver changed state() (undefined flags taken from the other side).
  void StateEdited() {
    if (kvm) kvm->SetState(kvm_state);
  }
  void SetState(const x86::CpuState& s) {
    if (kvm) {
      kvm->SetState(s);
      kvm_state = s;
    } else {
      vcpu->SetState(s);
    }
  }
  // KVM's shadow (KVM_GET_VCPU_EVENTS) is not compared: around its
  // single-step traps it has not been checked against the architectural one.
  bool interrupt_shadow() const { return kvm ? false : vcpu->interrupt_shadow(); }
  uint64_t faults_delivered() const { return kvm ? 0 : vcpu->faults_delivered(); }
  SliceEnd RunSlice(uint64_t budget, accel::interp::SliceOptions options = {}) {
    if (!kvm) return vcpu->RunSlice(budget, options);
    accel::RunOutcome o = kvm->RunSlice(budget);
    // A REP string instruction traps after each iteration (SDM vol. 3A
    // 17.3.1.4) where the interpreter runs them in batches: KVM steps on to
    // the end of the instruction, or to an event that leaves it.
    for (;;) {
      const x86::CpuState before = kvm_state;
      kvm_state = kvm->GetState();
      const bool iterated = kvm_state.rip == before.rip && kvm_state.seg[x86::kCs].base == before.seg[x86::kCs].base &&
                            kvm_state.gpr[x86::kRcx] != before.gpr[x86::kRcx];
      if (o.kind != accel::RunOutcome::Kind::kSliceDone || o.idle || !iterated) break;
      o = kvm->RunSlice(1);
    }
    switch (o.kind) {
      case accel::RunOutcome::Kind::kSliceDone: return o.idle ? SliceEnd::kHalted : SliceEnd::kBudget;
      case accel::RunOutcome::Kind::kBoardStop: return SliceEnd::kStop;
      case accel::RunOutcome::Kind::kTripleFault: return SliceEnd::kTripleFault;
      case accel::RunOutcome::Kind::kHalted: return SliceEnd::kHalted;
      default: error = o.message; return SliceEnd::kStop;
    }
  }
};

// Where KVM's state holds what the engines cannot agree on, it takes the
// interpreter's: the TSC (KVM's runs on host time while it is stopped), and
// the attributes of a segment register holding a null selector (KVM keeps
// the old descriptor's, or none, where the interpreter marks it unusable).
void MaskKvm(x86::CpuState& kvm, const x86::CpuState& interp) {
  kvm.tsc = interp.tsc;
  for (int seg : {x86::kEs, x86::kSs, x86::kDs, x86::kFs, x86::kGs}) {
    if ((kvm.seg[seg].selector & ~3) == 0 && (interp.seg[seg].selector & ~3) == 0) {
      kvm.seg[seg].attrib = interp.seg[seg].attrib;
    }
  }
}

ZydisMnemonic MnemonicOf(const TraceEntry& e) {
  ZydisDecoder decoder;
  ZydisDecodedInstruction insn;
  const ZydisStackWidth width = e.mode == ZYDIS_MACHINE_MODE_LONG_64 ? ZYDIS_STACK_WIDTH_64 : ZYDIS_STACK_WIDTH_32;
  if (!e.length || !ZYAN_SUCCESS(ZydisDecoderInit(&decoder, e.mode, width)) ||
      !ZYAN_SUCCESS(ZydisDecoderDecodeInstruction(&decoder, nullptr, e.bytes, e.length, &insn))) {
    return ZYDIS_MNEMONIC_INVALID;
  }
  return insn.mnemonic;
}

// KVM single-steps by setting RFLAGS.TF in the guest, and PUSHF and
// SYSCALL (into R11) store it: those copies get the interpreter's TF (bit 8)
// back, as if KVM's stepping were invisible. (Interrupt and exception
// frames pushed inside a step keep it; their IRET restores it to KVM's own
// RFLAGS, so only a guest reading its frame's RFLAGS sees it.)
void HideTrapFlag(Side& kvm, const x86::CpuState& interp, ZydisMnemonic mnemonic) {
  x86::CpuState& s = kvm.kvm_state;
  if (mnemonic == ZYDIS_MNEMONIC_SYSCALL) {
    uint64_t& r11 = s.gpr[x86::kR11];
    if ((r11 ^ interp.gpr[x86::kR11]) == x86::kFlagTf) {
      r11 = interp.gpr[x86::kR11];
      kvm.StateEdited();
    }
    return;
  }
  if (mnemonic != ZYDIS_MNEMONIC_PUSHF && mnemonic != ZYDIS_MNEMONIC_PUSHFD && mnemonic != ZYDIS_MNEMONIC_PUSHFQ) {
    return;
  }
  hw::GuestMemory& memory = kvm.board->memory();
  auto reader = [&memory](uint64_t a, void* out, size_t n) { return memory.ReadPhys(a, out, n); };
  uint64_t linear = s.seg[x86::kSs].base + s.gpr[x86::kRsp] + 1;
  if (x86::ModeOf(s) != x86::CpuMode::kLong64) linear &= 0xFFFFFFFFull;
  std::optional<uint64_t> gpa = x86::LinearToPhysical(s, linear, reader);
  uint8_t byte;
  if (!gpa || !memory.ReadPhys(*gpa, &byte, 1)) return;
  byte = static_cast<uint8_t>((byte & ~1u) | ((interp.rflags >> 8) & 1));
  memory.WritePhys(*gpa, &byte, 1);
}

// Byte ranges where the two boards' RAM differs, as guest-physical addresses.
struct MemoryDiff {
  uint64_t bytes = 0;
  std::vector<uint64_t> pages;  // page numbers (RAM offset / 4 KiB), at most kMaxPages
  std::string text;             // the first ranges, one per line
  static constexpr size_t kMaxPages = 64;
};

uint64_t RamOffsetToPhys(const hw::MemoryMap& map, uint64_t offset) {
  return offset < map.ram_below_4g() ? offset : (4ull << 30) + (offset - map.ram_below_4g());
}

MemoryDiff CompareRam(const Side& a, const Side& b, const std::vector<uint64_t>* only_pages = nullptr) {
  MemoryDiff d;
  const uint8_t* pa = a.board->memory().ram();
  const uint8_t* pb = b.board->memory().ram();
  const hw::MemoryMap& map = a.board->memory_map();
  const uint64_t pages = map.ram_size() / kPageSize;
  int ranges = 0;
  auto check = [&](uint64_t page) {
    const uint64_t base = page * kPageSize;
    if (std::memcmp(pa + base, pb + base, kPageSize) == 0) return;
    if (d.pages.size() < MemoryDiff::kMaxPages) d.pages.push_back(page);
    for (uint64_t i = 0; i < kPageSize;) {
      if (pa[base + i] == pb[base + i]) {
        ++i;
        continue;
      }
      uint64_t start = i;
      while (i < kPageSize && pa[base + i] != pb[base + i]) ++i;
      d.bytes += i - start;
      if (ranges++ < 8) {
        std::string sa, sb;
        for (uint64_t k = start; k < std::min(i, start + 16); ++k) {
          sa += " " + Hex(pa[base + k], 2);
          sb += " " + Hex(pb[base + k], 2);
        }
        d.text += "  physical " + Hex(RamOffsetToPhys(map, base + start), 9) + ": " + a.engine + sa + " | " +
                  b.engine + sb + "\n";
      }
    }
  };
  if (only_pages) {
    for (uint64_t page : *only_pages) check(page);
  } else {
    // Pages neither guest has touched read as zero on both: skip them
    // rather than fault them all in.
    std::vector<unsigned char> ra(pages), rb(pages);
    const bool resident = mincore(const_cast<uint8_t*>(pa), pages * kPageSize, ra.data()) == 0 &&
                          mincore(const_cast<uint8_t*>(pb), pages * kPageSize, rb.data()) == 0;
    for (uint64_t page = 0; page < pages; ++page) {
      if (!resident || ((ra[page] | rb[page]) & 1)) check(page);
    }
  }
  if (ranges > 8) d.text += "  ... " + std::to_string(ranges - 8) + " more ranges\n";
  return d;
}

const char* SliceEndName(SliceEnd e) {
  switch (e) {
    case SliceEnd::kBudget: return "running";
    case SliceEnd::kHalted: return "halted";
    case SliceEnd::kStop: return "stopped by the board";
    case SliceEnd::kTripleFault: return "triple fault";
  }
  return "?";
}

enum class PassEnd { kAgree, kDiverged, kTimeout, kError };

struct PassResult {
  PassEnd end = PassEnd::kError;
  std::string text;              // the report (or the error)
  uint64_t instructions = 0;     // where it ended
  uint64_t agreed_at = 0;        // the last count at which everything compared equal
  uint64_t undefined_flags = 0;  // slices whose states differed only in flags left undefined
  uint64_t fine_undefined_flags = 0;  // those among the slices compared one by one
  std::vector<uint64_t> pages;   // RAM pages found different
  bool exact = false;            // the divergence is pinned to one instruction
  bool fine = false;             // it was found comparing after every slice
};

class Driver {
 public:
  Driver(const LockstepOptions& opt, RunOptions run, hw::BoardConfig config, BootImages images,
         std::string first, std::string second)
      : opt_(opt), run_(std::move(run)), config_(std::move(config)), images_(std::move(images)),
        names_{std::move(first), std::move(second)}, wall_time_(time(nullptr)) {}

  // One run from power-on. From instruction `fine_from` on, the leader runs
  // one slice (instruction or block) at a time between comparisons, and
  // `watch` pages of RAM are compared after each.
  // Compares after every slice that starts in [fine_from, fine_to), and the
  // `watch` pages there; elsewhere every opt_.every instructions.
  PassResult Pass(uint64_t fine_from, uint64_t fine_to, const std::vector<uint64_t>& watch);

 private:
  Status Build(Side& side, const std::string& engine);
  Status Boot(Side& side);
  void Tick(uint64_t retired);
  std::string Report(const std::string& what, uint64_t slice_start, uint64_t count, bool block,
                     const MemoryDiff* memory);
  std::string Analysis(const std::vector<x86::FieldPair>& fields);

  const LockstepOptions& opt_;
  RunOptions run_;
  hw::BoardConfig config_;
  BootImages images_;
  std::string names_[2];
  time_t wall_time_;  // both boards' RTC starts here, in every pass
  Side sides_[2];
  int leader_ = 1;
  uint64_t idle_ns_ = 0;
  // RFLAGS bits the current slice's instructions left undefined (0 with --strict-flags).
  uint64_t UndefinedFlags(Side& follower);
  // The code bytes of a trace entry, read from the follower's memory.
  void Fill(TraceEntry& e) {
    if (!e.length) e.length = sides_[1 - leader_].vcpu->ReadCode(e.linear, e.bytes, sizeof e.bytes);
  }

  std::vector<TraceEntry> ring_;  // the follower's last instructions
  static constexpr size_t kMaxSliceEntries = 1 << 16;
  std::vector<TraceEntry> slice_;  // the follower's instructions of the current slice
  size_t ring_next_ = 0;
  // The follower's state after each instruction of the current slice, with
  // the instruction, when a slice of several instructions is compared.
  std::vector<std::pair<TraceEntry, x86::CpuState>> steps_;
  x86::CpuState slice_start_state_;
};

Status Driver::Build(Side& side, const std::string& engine) {
  side.engine = engine;
  side.clock.Set(0);
  side.serial = hw::StringSink();
  side.kvm.reset();
  side.machine.reset();
  side.vcpu.reset();
  side.board.reset();
  side.kvm_retired = 0;
  side.error.clear();
  hw::BoardConfig config = config_;
  config.clock = &side.clock;
  config.serial_out = &side.serial;
  config.debugcon_out = nullptr;
  config.serial_in_fd = -1;
  config.timeout_ns = 0;  // --timeout is host time here, kept by the driver
  config.entropy = hw::virtio::VirtioRng::Seeded(hw::virtio::VirtioRng::kRepeatableSeed);  // the same bytes on both sides
  const time_t t = wall_time_;
  config.wall_clock = [t] { return t; };
  auto board = hw::Board::Create(std::move(config));
  if (!board.ok()) return board.status();
  side.board = std::move(*board);
  if (engine == "kvm") {
    auto kvm = accel::FindAccelerator(accel::AcceleratorList(), "kvm");
    if (!kvm.ok()) return kvm.status();
    auto machine = (*kvm)->create(*side.board);
    if (!machine.ok()) return machine.status();
    side.machine = std::move(*machine);
    auto vcpu = side.machine->CreateVcpu(0);
    if (!vcpu.ok()) return vcpu.status();
    side.kvm = std::move(*vcpu);
    return Boot(side);
  }
  auto vcpu = SliceVcpu::Create(*side.board, engine == "jit");
  if (!vcpu.ok()) return vcpu.status();
  side.vcpu = std::move(*vcpu);
  return Boot(side);
}

Status Driver::Boot(Side& side) {
  auto state = PrepareBoot(run_, *side.board, images_);
  if (!state.ok()) return state.status();
  side.SetState(*state);
  return Status();
}

void Driver::Tick(uint64_t retired) {
  const uint64_t now = retired * kNsPerInstruction + idle_ns_;
  for (Side& s : sides_) {
    s.clock.Set(now);
    s.board->Poll();
  }
}

uint64_t Driver::UndefinedFlags(Side& follower) {
  if (opt_.strict_flags || slice_.size() >= kMaxSliceEntries) return 0;
  uint64_t undefined = 0;
  for (TraceEntry& e : slice_) {
    Fill(e);
    const accel::interp::FlagEffects effects = accel::interp::DecodeFlagEffects(e.mode, e.bytes, e.length);
    undefined = (undefined & ~effects.defined) | effects.undefined;
  }
  return undefined;
}

PassResult Driver::Pass(uint64_t fine_from, uint64_t fine_to, const std::vector<uint64_t>& watch) {
  PassResult result;
  idle_ns_ = 0;
  ring_.assign(std::max(1u, opt_.context), TraceEntry{});
  ring_next_ = 0;
  for (int i = 0; i < 2; ++i) {
    if (Status s = Build(sides_[i], names_[i]); !s.ok()) {
      result.text = names_[i] + ": " + s.message();
      return result;
    }
  }
  // The JIT side leads (its blocks cannot stop mid-way), and KVM (it cannot
  // stop at a count); the other follows.
  leader_ = names_[0] == "kvm" || (names_[0] == "jit" && names_[1] != "jit") ? 0 : 1;
  Side& lead = sides_[leader_];
  Side& follow = sides_[1 - leader_];
  Side& a = sides_[0];
  Side& b = sides_[1];

  uint64_t next_tick = 0, next_memory = opt_.memory_every, agreed_at = 0;
  size_t serial_checked = 0;  // bytes of serial output known to agree
  timespec started;
  clock_gettime(CLOCK_MONOTONIC, &started);
  for (uint64_t slices = 0;; ++slices) {
    const uint64_t start = lead.retired();
    if (start >= next_tick) {
      Tick(start);
      next_tick = start + opt_.every;
    }
    const bool fine = (start >= fine_from && start < fine_to) || opt_.every == 1 || lead.is_kvm();
    const uint64_t kvm_steps = lead.is_kvm() ? lead.kvm->instructions_retired() : 0;
    const SliceEnd lead_end = lead.RunSlice(fine ? 1 : next_tick - start);
    if (!lead.error.empty()) {
      result.end = PassEnd::kError;
      result.text = lead.engine + ": " + lead.error;
      return result;
    }
    // KVM made a step: the follower goes on to where KVM stands, the same
    // linear RIP and RSP (an event's handler, or one instruction).
    const bool kvm_stepped = lead.is_kvm() && lead.kvm->instructions_retired() != kvm_steps;
    auto caught_up = [&] {
      if (!lead.is_kvm()) return false;
      if (!kvm_stepped) return true;
      if (follow.retired() == start) return false;
      if (follow.retired() - start >= kMaxFollow) return true;
      const x86::CpuState& k = lead.kvm_state;
      const x86::CpuState& f = follow.state();
      return k.rip == f.rip && k.seg[x86::kCs].base == f.seg[x86::kCs].base && k.gpr[x86::kRsp] == f.gpr[x86::kRsp];
    };
    uint64_t target = lead.retired();
    const bool keep_steps = fine && (lead.is_kvm() || target - start > 1);
    steps_.clear();
    if (keep_steps) slice_start_state_ = follow.state();
    SliceEnd follow_end;
    slice_.clear();
    for (;;) {
      // Where KVM stands after its step, the interrupt it takes next has
      // not been delivered yet: the interpreter stops there too.
      if (follow.retired() != start && caught_up()) break;
      follow_end = follow.RunSlice(0);  // delivers what is pending
      // A JIT block ends its slice by delivering the fault of the
      // instruction after it: the follower attempts that one too.
      if (follow_end != SliceEnd::kBudget || caught_up() ||
          (!lead.is_kvm() && follow.retired() >= target && follow.faults_delivered() >= lead.faults_delivered())) {
        break;
      }
      TraceEntry& e = ring_[ring_next_++ % ring_.size()];
      const x86::CpuState& s = follow.state();
      e.number = follow.retired() + 1;
      e.cs = s.seg[x86::kCs].selector;
      e.rip = s.rip;
      e.linear = s.seg[x86::kCs].base + s.rip;
      if (ZydisMode(s) != ZYDIS_MACHINE_MODE_LONG_64) e.linear &= 0xFFFFFFFFull;
      e.mode = ZydisMode(s);
      e.length = 0;  // the bytes are read when needed: from the same pages, mapped the same way
      if (slice_.size() < kMaxSliceEntries) slice_.push_back(e);
      follow_end = follow.RunSlice(1, {.stop_after_fault = true, .deliver_at_end = !lead.is_kvm()});
      if (keep_steps && steps_.size() < 4096) steps_.emplace_back(e, follow.state());
      if (follow_end != SliceEnd::kBudget) break;
    }
    if (lead.is_kvm()) {
      target = lead.kvm_retired = follow.retired();
      MaskKvm(lead.kvm_state, follow.state());
      if (kvm_stepped && slice_.size() == 1) {
        Fill(slice_.back());
        HideTrapFlag(lead, follow.state(), MnemonicOf(slice_.back()));
      }
    }
    result.instructions = target;
    auto diverged = [&](const std::string& what, const MemoryDiff* memory = nullptr) {
      result.end = PassEnd::kDiverged;
      result.agreed_at = agreed_at;
      result.exact = target - start <= 1 || lead.is_kvm();
      result.fine = fine;
      result.text = Report(what, start, target, target - start > 1, memory);
      if (memory) result.pages = memory->pages;
      return result;
    };
    if (follow.retired() != target) {
      return diverged(lead.engine + " ran to instruction " + std::to_string(target) + " (" +
                      SliceEndName(lead_end) + "), " + follow.engine + " stopped at " +
                      std::to_string(follow.retired()) + " (" + SliceEndName(follow_end) + ")");
    }
    if (!x86::SameState(a.state(), b.state())) {
      // Engines may differ where the SDM leaves a flag undefined (the JIT
      // and KVM give the host's choice): the leader takes the follower's and on.
      x86::CpuState& l = lead.state();
      const x86::CpuState& f = follow.state();
      const uint64_t flags = l.rflags ^ f.rflags;
      x86::CpuState same = l;
      same.rflags = f.rflags;
      if (!flags || (flags & ~UndefinedFlags(follow)) || !x86::SameState(same, f)) {
        return diverged("the CPU states differ");
      }
      l.rflags = f.rflags;
      lead.StateEdited();
      ++result.undefined_flags;
      if (fine) ++result.fine_undefined_flags;
    }
    if (!lead.is_kvm() && a.interrupt_shadow() != b.interrupt_shadow()) {
      return diverged(std::string("the interrupt shadow differs (") + a.engine + ": " +
                      (a.interrupt_shadow() ? "on" : "off") + ", " + b.engine + ": " +
                      (b.interrupt_shadow() ? "on" : "off") + ")");
    }
    if ((lead_end == SliceEnd::kTripleFault) != (follow_end == SliceEnd::kTripleFault) ||
        a.board->stop_reason() != b.board->stop_reason() || a.board->exit_status() != b.board->exit_status()) {
      return diverged(std::string("the boards' stop requests differ (") + a.engine + ": " +
                      SliceEndName(leader_ == 0 ? lead_end : follow_end) + ", " + b.engine + ": " +
                      SliceEndName(leader_ == 1 ? lead_end : follow_end) + ")");
    }
    if (a.serial.text().size() != b.serial.text().size() ||
        (a.serial.text().size() != serial_checked &&
         a.serial.text().compare(serial_checked, std::string::npos, b.serial.text(), serial_checked) != 0)) {
      return diverged("the serial output differs");
    }
    serial_checked = a.serial.text().size();
    if (fine && !watch.empty()) {
      MemoryDiff d = CompareRam(a, b, &watch);
      if (d.bytes) return diverged("guest RAM differs (a write diverged)", &d);
    }
    if (target >= next_memory) {
      MemoryDiff d = CompareRam(a, b);
      if (d.bytes) return diverged("guest RAM differs (a write diverged)", &d);
      next_memory = target + opt_.memory_every;
    }
    agreed_at = target;

    // How the slice ended, the same on both sides from here on.
    const x86::CpuState& s = lead.state();
    if (lead_end == SliceEnd::kStop || lead_end == SliceEnd::kTripleFault) {
      const bool reset = lead_end == SliceEnd::kTripleFault || lead.board->stop_reason() == hw::StopReason::kReset;
      if (lead.board->stop_reason() == hw::StopReason::kExit || (reset && run_.no_reboot)) {
        MemoryDiff d = CompareRam(a, b);
        if (d.bytes) return diverged("guest RAM differs at the end", &d);
        result.end = PassEnd::kAgree;
        result.text = lead.board->stop_reason() == hw::StopReason::kExit
                          ? "the guest exited with status " + std::to_string(lead.board->exit_status())
                          : std::string(reset && lead_end == SliceEnd::kTripleFault ? "triple fault" : "guest reset") +
                                " with --no-reboot";
        break;
      }
      for (Side* side : {&a, &b}) {
        side->board->Reset();
        if (Status st = Boot(*side); !st.ok()) {
          result.end = PassEnd::kError;
          result.text = st.message();
          return result;
        }
      }
      next_tick = target;  // poll the fresh boards at once
      continue;
    }
    if (lead_end == SliceEnd::kHalted) {
      if (!(s.rflags & x86::kFlagIf)) {
        MemoryDiff d = CompareRam(a, b);
        if (d.bytes) return diverged("guest RAM differs at the end", &d);
        result.end = PassEnd::kAgree;
        result.text = "the guest halted with interrupts disabled";
        break;
      }
      const uint64_t now = target * kNsPerInstruction + idle_ns_;
      const uint64_t deadline = std::min(a.board->NextDeadlineNs(), b.board->NextDeadlineNs());
      if (deadline == hw::TimedDevice::kNoDeadline) {
        result.end = PassEnd::kAgree;
        result.text = "the guest halted with no timer armed to wake it";
        break;
      }
      idle_ns_ += deadline > now ? deadline - now : 1000;
      next_tick = target;
    }
    if (run_.timeout_s > 0 && slices % 4096 == 0) {
      timespec t;
      clock_gettime(CLOCK_MONOTONIC, &t);
      double elapsed = static_cast<double>(t.tv_sec - started.tv_sec) + (t.tv_nsec - started.tv_nsec) / 1e9;
      if (elapsed > run_.timeout_s) {
        result.end = PassEnd::kTimeout;
        result.text = "timeout after " + std::to_string(target) + " instructions, no divergence so far";
        return result;
      }
    }
  }
  return result;
}

// For a divergence after a block of several instructions: on the follower,
// which instruction of the block last changed each differing field.
std::string Driver::Analysis(const std::vector<x86::FieldPair>& fields) {
  if (steps_.empty()) return "";
  std::string out;
  for (const x86::FieldPair& f : fields) {
    TraceEntry* writer = nullptr;
    uint64_t previous = 0;
    bool found = false;
    for (const x86::FieldPair& g : x86::AllFields(slice_start_state_, slice_start_state_)) {
      if (g.name == f.name) {
        previous = g.a;
        found = true;
      }
    }
    if (!found) continue;
    for (auto& [entry, state] : steps_) {
      for (const x86::FieldPair& g : x86::AllFields(state, state)) {
        if (g.name != f.name) continue;
        if (g.a != previous) writer = &entry;
        previous = g.a;
      }
    }
    if (writer) Fill(*writer);
    out += "  " + f.name + ": " +
           (writer ? "last changed on " + sides_[1 - leader_].engine + " by" + FormatEntry(*writer).substr(1)
                   : "not changed by the block on " + sides_[1 - leader_].engine) +
           "\n";
  }
  return out;
}

std::string Driver::Report(const std::string& what, uint64_t slice_start, uint64_t count, bool block,
                           const MemoryDiff* memory) {
  const Side& a = sides_[0];
  const Side& b = sides_[1];
  std::string out = "tandem lockstep: " + a.engine + " and " + b.engine + " diverge at instruction " +
                    std::to_string(count) + ": " + what + "\n";
  if (block) {
    out += "  " + sides_[leader_].engine + " ran instructions " + std::to_string(slice_start + 1) + ".." +
           std::to_string(count) + " as one slice; the states agreed before it\n";
  }
  const auto all = x86::AllFields(a.state(), b.state());
  const auto diff = x86::DiffStates(a.state(), b.state());
  char line[160];
  std::snprintf(line, sizeof line, "  %-16s %-18s %-18s\n", "register", a.engine.c_str(), b.engine.c_str());
  out += line;
  // The main register file always, other fields where they differ.
  auto main_field = [](const std::string& n) {
    static const char* const kMain[] = {"rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi", "r8", "r9", "r10",
                                        "r11", "r12", "r13", "r14", "r15", "rip", "rflags", "cs.sel", "ss.sel",
                                        "ds.sel", "es.sel", "fs.base", "gs.base", "cr0", "cr2", "cr3", "cr4",
                                        "msr.efer", "halted"};
    return std::find(std::begin(kMain), std::end(kMain), n) != std::end(kMain);
  };
  for (const x86::FieldPair& f : all) {
    const bool differs = f.a != f.b;
    if (!differs && !main_field(f.name)) continue;
    std::snprintf(line, sizeof line, "%s %-16s %-18s %-18s%s\n", differs ? "*" : " ", f.name.c_str(),
                  Hex(f.a).c_str(), Hex(f.b).c_str(), differs ? "  <- differs" : "");
    out += line;
  }
  if (!diff.empty()) {
    std::string names;
    for (const auto& f : diff) names += (names.empty() ? "" : ", ") + f.name;
    out += "differing: " + names + "\n";
  }
  if (block) out += Analysis(diff);
  out += "last instructions on " + sides_[1 - leader_].engine + " (the last one ran last):\n";
  for (size_t i = 0; i < ring_.size(); ++i) {
    TraceEntry& e = ring_[(ring_next_ + i) % ring_.size()];
    Fill(e);
    if (e.number) out += FormatEntry(e) + "\n";
  }
  MemoryDiff whole = memory ? *memory : CompareRam(a, b);
  if (whole.bytes) {
    out += "memory: " + std::to_string(whole.bytes) + " bytes differ" + (memory ? " (in the pages compared)" : "") +
           ":\n" + whole.text;
  } else {
    out += "memory: guest RAM is identical\n";
  }
  if (a.serial.text() != b.serial.text()) {
    out += "serial: " + a.engine + " wrote " + std::to_string(a.serial.text().size()) + " bytes, " + b.engine +
           " " + std::to_string(b.serial.text().size()) + "\n";
  }
  return out;
}

}  // namespace

void AddLockstepOptions(CLI::App& lockstep, LockstepOptions& opt) {
  lockstep.add_option("--accel", opt.accel, "the two engines, e.g. interp,jit")->capture_default_str();
  lockstep.add_option("--every", opt.every, "instructions between comparisons (1: every instruction or JIT block)")
      ->capture_default_str();
  lockstep.add_option("--memory-every", opt.memory_every, "instructions between whole-RAM comparisons")
      ->capture_default_str();
  lockstep.add_option("--context", opt.context, "instructions to disassemble at a divergence")->capture_default_str();
  lockstep.add_flag("--strict-flags", opt.strict_flags,
                    "count RFLAGS bits an instruction leaves undefined (SDM) as a divergence too");
  lockstep.add_option("run_options", opt.run_args, "options of `tandem run`, after --");
}

int Lockstep(const LockstepOptions& opt) {
  std::vector<std::string> names;
  {
    std::string item;
    for (char c : opt.accel + ",") {
      if (c == ',' || c == ':') {
        if (!item.empty()) names.push_back(item);
        item.clear();
      } else {
        item += c;
      }
    }
  }
  if (names.size() != 2) return Fail("lockstep: --accel names two engines, e.g. interp,jit");
  const auto accelerators = accel::AcceleratorList();
  for (const std::string& name : names) {
    auto found = accel::FindAccelerator(accelerators, name);
    if (!found.ok()) return Fail(found.message());
    accel::Availability a = (*found)->probe();
    if (!a.available) return Fail(name + ": " + a.reason);
    if (name != "interp" && name != "jit" && name != "kvm") {
      return Fail("lockstep: " + name + " cannot be stepped (interp, jit and kvm can)");
    }
  }
  if ((names[0] == "kvm") != (names[1] == "kvm") && names[0] != "interp" && names[1] != "interp") {
    return Fail("lockstep: kvm is stepped against interp (--accel kvm,interp)");
  }
  if (names[0] == "kvm" && names[1] == "kvm") return Fail("lockstep: kvm against itself cannot be stepped in step");
  if (opt.every < 1) return Fail("--every must be at least 1");
  if (opt.memory_every < 1) return Fail("--memory-every must be at least 1");
  if (opt.run_args.empty()) return Fail("lockstep: give the guest's run options after --, e.g. -- --bios guest.rom");
  for (const std::string& a : opt.run_args) {
    if (a == "--accel" || a.rfind("--accel=", 0) == 0) return Fail("lockstep: give the engines with lockstep's --accel");
  }
  auto run = ParseRunOptions(opt.run_args);
  if (!run.ok()) return Fail(run.message());
  // Each side's board would open its own NIC backend: two slirp stacks
  // binding the same hostfwd ports, or two readers of one TAP device.
  for (const std::string& nic : run->nics) {
    if (nic != "none") return Fail("lockstep: --nic " + nic + " is not supported (each side would open its own network backend); drop it or give --nic none");
  }
  hw::BoardConfig config;
  BootImages images;
  if (Status s = LoadImages(*run, config, images); !s.ok()) return Fail(s.message());

  Driver driver(opt, *run, std::move(config), std::move(images), names[0], names[1]);
  PassResult result = driver.Pass(UINT64_MAX, UINT64_MAX, {});
  // A divergence seen at a coarse granularity: again from power-on, comparing
  // after every slice (and the differing pages) from the last point where
  // everything agreed to where it was seen, and coarsely after that. Flags
  // left undefined can only be told apart there; when they explain the
  // sighting, the run goes on at full speed (a later sighting gets a pass of
  // its own). A sighting the fine pass neither finds nor explains stands.
  constexpr int kMaxPasses = 8;
  for (int pass = 1; pass < kMaxPasses && result.end == PassEnd::kDiverged && !result.fine &&
                     (!result.exact || !result.pages.empty());
       ++pass) {
    const PassResult seen = result;
    PassResult again = driver.Pass(seen.agreed_at, seen.instructions + 1, seen.pages);
    const std::string from = std::to_string(seen.agreed_at);
    if (again.end == PassEnd::kDiverged && again.fine) {
      result = again;
      result.text += "(first seen at instruction " + std::to_string(seen.instructions) +
                     "; found again comparing after every slice from instruction " + from + ")\n";
    } else if (again.fine_undefined_flags == 0) {
      result = seen;
      result.text += "(comparing after every slice from instruction " + from + " did not find it again: " +
                     again.text + ")\n";
      break;
    } else {
      result = again;  // explained: it agreed to the end, or a later sighting follows
    }
  }
  switch (result.end) {
    case PassEnd::kAgree:
      std::printf("tandem lockstep: %s and %s agree over %" PRIu64 " instructions; %s\n", names[0].c_str(),
                  names[1].c_str(), result.instructions, result.text.c_str());
      if (result.undefined_flags) {
        std::printf("  (flags the SDM leaves undefined differed after %" PRIu64
                    " slices; --strict-flags stops there)\n",
                    result.undefined_flags);
      }
      return 0;
    case PassEnd::kDiverged:
      std::fputs(result.text.c_str(), stdout);
      return 1;
    case PassEnd::kTimeout:
      std::printf("tandem lockstep: %s\n", result.text.c_str());
      return 124;
    case PassEnd::kError:
      break;
  }
  std::fprintf(stderr, "tandem: lockstep: %s\n", result.text.c_str());
  return 4;
}

}  // namespace tandem::cli
