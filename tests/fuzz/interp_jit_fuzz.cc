// Differential fuzzing of the JIT against the interpreter: random code and
// registers in flat 64-bit mode on two boards, one run by the JIT, the other
// by the interpreter alone following it to the same instruction count (as
// `tandem lockstep` does). The CPU states and RAM must agree, except for the
// flags the executed instructions leave undefined (Zydis's flag tables, as
// lockstep masks them). Faults go through an IDT whose handlers halt, so
// exception delivery (vectors, error codes, CR2, the frame) is compared too.
// The accessed and dirty bits of the paging entries are left out, and an
// input that changed the entries otherwise is not compared at all: random
// code may rewrite the page tables without INVLPG, and whether a later
// access walks them again is up to the TLB (SDM vol. 3A 4.10.4.2).
#include <Zydis/Zydis.h>
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>

#include "accel/interp/cpu.h"
#include "accel/interp/flag_effects.h"
#include "accel/interp/interp_engine.h"
#include "hw/board.h"
#include "hw/loader/linux_boot.h"
#include "target-x86/state_diff.h"

namespace {

using namespace tandem;
using accel::interp::SliceEnd;
using accel::interp::SliceVcpu;

constexpr uint64_t kRam = 8 << 20;
constexpr uint64_t kIdt = 0x8000;      // 32 gates
constexpr uint64_t kHandler = 0x9000;  // HLT
constexpr uint64_t kCode = 0x200000;
constexpr uint64_t kData = 0x300000;
constexpr uint64_t kStack = 0x400000;
constexpr size_t kMaxCode = 512;
constexpr uint64_t kBudget = 64;

constexpr uint64_t kTablesBegin = hw::linux_boot::kPml4Address, kTablesEnd = hw::linux_boot::kPml4Address + 6 * 4096;

// The paging entries at [kTablesBegin, kTablesEnd) of a and b differ in more
// than their A and D bits.
bool TablesDiffer(const uint8_t* a, const uint8_t* b) {
  for (uint64_t i = kTablesBegin; i < kTablesEnd; ++i) {
    const uint8_t ignore = i % 8 == 0 ? 0x60 : 0;
    if ((a[i] ^ b[i]) & ~ignore) return true;
  }
  return false;
}

// RAM equal but for the A and D bits of the page tables' entries. Only the
// pages resident on either side are compared: the rest are still the zero
// pages DiscardRam left (a page swapped out would be skipped too, which can
// only hide a difference, never invent one). Touching all 8 MiB of both
// sides per input made the harness fault in 4096 pages and run at a few
// inputs a second.
bool SameRam(const uint8_t* a, const uint8_t* b) {
  constexpr uint64_t kPage = 4096, kPages = kRam / kPage;
  static_assert(kTablesBegin % kPage == 0);
  unsigned char resident_a[kPages], resident_b[kPages];
  if (mincore(const_cast<uint8_t*>(a), kRam, resident_a) != 0 || mincore(const_cast<uint8_t*>(b), kRam, resident_b) != 0) {
    __builtin_trap();
  }
  for (uint64_t page = 0; page < kPages; ++page) {
    if (!((resident_a[page] | resident_b[page]) & 1)) continue;
    const uint64_t at = page * kPage;
    if (at < kTablesBegin || at >= kTablesEnd) {
      if (std::memcmp(a + at, b + at, kPage) != 0) return false;
      continue;
    }
    if (TablesDiffer(a, b)) return false;
    page = kTablesEnd / kPage - 1;
  }
  return true;
}

struct Side {
  hw::ManualClock clock;
  std::unique_ptr<hw::Board> board;
  std::unique_ptr<SliceVcpu> vcpu;
  explicit Side(bool jit) {
    hw::BoardConfig config;
    config.ram_size = kRam;
    config.clock = &clock;
    config.virtio_rng = false;
    auto b = hw::Board::Create(std::move(config));
    if (!b.ok()) __builtin_trap();
    board = std::move(*b);
    auto v = SliceVcpu::Create(*board, jit);
    if (!v.ok()) __builtin_trap();
    vcpu = std::move(*v);
  }
  uint64_t retired() const { return vcpu->instructions_retired(); }
};

// The flags the instruction at the vCPU's RIP defines and leaves undefined.
accel::interp::FlagEffects FlagEffectsAtRip(SliceVcpu& v) {
  uint8_t bytes[15];
  const x86::CpuState& s = v.state();
  const size_t n = v.ReadCode(s.seg[x86::kCs].base + s.rip, bytes, sizeof bytes);
  return accel::interp::DecodeFlagEffects(ZYDIS_MACHINE_MODE_LONG_64, bytes, n);
}

// A fault's frame holds RFLAGS as they were, undefined flags included
// (SDM vol. 3A 6.14.2: RIP, CS, RFLAGS, RSP, SS above an error code). For a
// vCPU halted in the handler, those flags are masked in its frame in RAM,
// as in its registers. RFLAGS has bit 1 set, and CS (the boot selector)
// does not: that tells whether an error code sits below RIP.
void MaskFrameFlags(Side& side, uint64_t undefined) {
  const x86::CpuState& s = side.vcpu->state();
  if (!undefined || s.rip != kHandler + 1 || s.gpr[x86::kRsp] > kRam - 32) return;
  uint8_t* frame = side.board->memory().ram() + s.gpr[x86::kRsp];
  uint64_t slot;
  std::memcpy(&slot, frame + 16, 8);
  uint8_t* rflags = frame + ((slot & 2) ? 16 : 24);
  std::memcpy(&slot, rflags, 8);
  slot &= ~undefined;
  std::memcpy(rflags, &slot, 8);
}

void Prepare(Side& side, const x86::CpuState& state, const uint8_t* code, size_t code_size, const uint8_t* data,
             size_t data_size) {
  hw::GuestMemory& m = side.board->memory();
  m.DiscardRam();
  x86::CpuState s;
  if (!hw::EnterFlat64(m, kCode, &s)) __builtin_trap();
  // 64-bit interrupt gates (SDM vol. 3A 6.14.1) to a HLT, for every exception.
  for (int v = 0; v < 32; ++v) {
    uint8_t gate[16] = {};
    gate[0] = kHandler & 0xFF;
    gate[1] = (kHandler >> 8) & 0xFF;
    gate[2] = static_cast<uint8_t>(s.seg[x86::kCs].selector);
    gate[5] = 0x8E;  // present, DPL 0, interrupt gate
    m.WritePhys(kIdt + v * 16, gate, sizeof gate);
  }
  const uint8_t hlt = 0xF4;
  m.WritePhys(kHandler, &hlt, 1);
  m.WritePhys(kCode, code, code_size);
  m.WritePhys(kData, data, data_size);
  x86::CpuState start = state;
  start.seg = s.seg;
  start.gdtr = s.gdtr;
  start.cr0 = s.cr0 | x86::kCr0Ne;
  start.cr3 = s.cr3;
  start.cr4 = s.cr4 | x86::kCr4Osfxsr | x86::kCr4Osxmmexcpt;
  start.msr.efer = s.msr.efer;
  start.idtr = {kIdt, 32 * 16 - 1};
  start.rip = kCode;
  side.vcpu->SetState(start);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Side jit(true), interp(false);
  // Input: 8 bytes of flags, 15 registers of 8 bytes (RSP is fixed), then
  // the code; the data page repeats the code bytes.
  if (size < 8 + 15 * 8 + 1) return 0;
  x86::CpuState s;
  uint64_t word;
  std::memcpy(&word, data, 8);
  s.rflags = 2 | (word & (x86::kArithFlags | x86::kFlagDf));
  size_t at = 8;
  for (int r = 0; r < 16; ++r) {
    if (r == x86::kRsp) continue;
    std::memcpy(&word, data + at, 8);
    at += 8;
    // Half of the registers point into the data page, so loads and stores land.
    s.gpr[r] = (r & 1) ? kData + (word & 0xFFF) : word;
  }
  s.gpr[x86::kRsp] = kStack;
  const uint8_t* code = data + at;
  const size_t code_size = std::min(size - at, kMaxCode);
  Prepare(jit, s, code, code_size, code, code_size);
  Prepare(interp, s, code, code_size, code, code_size);
  static uint8_t tables[kTablesEnd];
  std::memcpy(tables + kTablesBegin, jit.board->memory().ram() + kTablesBegin, kTablesEnd - kTablesBegin);

  const uint64_t jit_start = jit.retired(), interp_start = interp.retired();
  const uint64_t jit_faults = jit.vcpu->faults_delivered(), interp_faults = interp.vcpu->faults_delivered();
  const SliceEnd jit_end = jit.vcpu->RunSlice(kBudget);
  const uint64_t target = jit.retired() - jit_start;
  SliceEnd interp_end = SliceEnd::kBudget;
  uint64_t undefined = 0;
  while (interp.retired() - interp_start < target) {
    const accel::interp::FlagEffects effects = FlagEffectsAtRip(*interp.vcpu);
    // An instruction that faults leaves the flags alone: its effects count
    // only when the step delivered no fault.
    const uint64_t faults = interp.vcpu->faults_delivered();
    interp_end = interp.vcpu->RunSlice(1);
    if (interp.vcpu->faults_delivered() == faults) undefined = (undefined & ~effects.defined) | effects.undefined;
    if (interp_end != SliceEnd::kBudget) break;
  }
  if (interp_end == SliceEnd::kBudget &&
      (jit_end == SliceEnd::kTripleFault ||
       interp.vcpu->faults_delivered() - interp_faults < jit.vcpu->faults_delivered() - jit_faults)) {
    // The JIT's slice went on past its last retired instruction into one
    // that faulted (a block's last instruction), or whose event ended in a
    // shutdown (ICEBP's #DB on a bad stack, which counts as no fault):
    // nothing retired, so the count did not show it. The interpreter runs
    // that instruction too, and must fault or shut down the same way.
    interp_end = interp.vcpu->RunSlice(1, {.stop_after_fault = true});
  } else if (interp_end == SliceEnd::kBudget && jit_end != SliceEnd::kBudget) {
    interp_end = interp.vcpu->RunSlice(0);  // deliver what is pending, as the JIT's slice did
  }
  x86::CpuState a = jit.vcpu->state(), b = interp.vcpu->state();
  a.rflags &= ~undefined;
  b.rflags &= ~undefined;
  a.tsc = b.tsc = 0;
  // Code that rewrote its page tables without INVLPG or a CR3 load sees the
  // old or the new entries as each engine's TLB happens to hold them (SDM
  // vol. 3A 4.10.4.2): the JIT's blocks fetch without a translation that
  // would evict a colliding data entry, say. Nothing to compare.
  if (TablesDiffer(tables, jit.board->memory().ram()) || TablesDiffer(tables, interp.board->memory().ram())) return 0;
  MaskFrameFlags(jit, undefined);
  MaskFrameFlags(interp, undefined);
  const bool same_ram = SameRam(jit.board->memory().ram(), interp.board->memory().ram());
  if (jit_end == interp_end && x86::SameState(a, b) && same_ram &&
      jit.retired() - jit_start == interp.retired() - interp_start) {
    return 0;
  }
  std::fprintf(stderr, "interp_jit_fuzz: the engines disagree after %llu (jit) / %llu (interp) instructions,"
               " ends %d / %d%s\n", static_cast<unsigned long long>(jit.retired() - jit_start),
               static_cast<unsigned long long>(interp.retired() - interp_start), static_cast<int>(jit_end),
               static_cast<int>(interp_end), same_ram ? "" : ", RAM differs");
  std::fprintf(stderr, "  undefined flags masked: %llx\n", static_cast<unsigned long long>(undefined));
  const uint8_t* ram_a = jit.board->memory().ram();
  const uint8_t* ram_b = interp.board->memory().ram();
  for (uint64_t i = 0, shown = 0; i < kRam && shown < 8; ++i) {
    if (ram_a[i] == ram_b[i]) continue;
    std::fprintf(stderr, "  RAM %06llx: jit %02x interp %02x\n", static_cast<unsigned long long>(i), ram_a[i], ram_b[i]);
    ++shown;
  }
  for (const x86::FieldPair& f : x86::DiffStates(a, b)) {
    std::fprintf(stderr, "  %-12s jit %016llx interp %016llx\n", f.name.c_str(),
                 static_cast<unsigned long long>(f.a), static_cast<unsigned long long>(f.b));
  }
  __builtin_trap();
}
