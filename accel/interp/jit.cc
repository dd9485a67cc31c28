// The JIT's translator and block cache (see jit.h). A block is a run of up
// to kMaxBlockInsns 64-bit instructions from one physical page, ending at a
// control transfer or at the first instruction it cannot translate, which it
// hands to the interpreter before it leaves (as it does one that crosses into
// the next page, fetched then as the interpreter fetches it); it is keyed by
// linear RIP, physical address and CPL class and dropped when the guest
// writes to its page (the interpreter's code-page tracking).
//
// Translated code keeps the guest registers in x86::CpuState (r12) and loads
// the ones an instruction names into host registers just around it; a value
// still in its host register from an earlier instruction of the block is not
// loaded again (Translator::valid_; stores are never deferred, so CpuState is
// current at every fault and call). The
// guest's arithmetic flags stay in the host's RFLAGS between instructions
// whenever the translator knows they are there, and go to CpuState::rflags
// at block exits and before any call; everything else that runs in a block
// (the TLB lookup, register moves) leaves RFLAGS alone (SHRX, LEA, MOVZX,
// JRCXZ). SDM vol. 1 3.4.3 for the flags, vol. 2 for each instruction.
//
// Accesses through one base register a few instructions apart share one
// TLB lookup: the first checks all their bytes at once (a window, which
// must lie in one page), and the rest are at their offset from its first
// byte, whose linear address stays in r10 (Translator::Window). A loop's
// block keeps the registers it carries in host registers across its branch
// back (Translator's loop entry). Blocks run in one frame that Runtime's
// shared entry sets up, and leave through its shared exit.
#include "accel/interp/jit.h"

#include <asmjit/x86.h>
#include <cpuid.h>
#include <sys/mman.h>

#include <algorithm>
#include <array>
#include <deque>
#include <cstring>
#include <utility>

#include "accel/interp/atomic.h"
#include "accel/interp/debug_regs.h"
#include "accel/interp/decode_cache.h"
#include "accel/interp/flags.h"
#include "accel/interp/system_state.h"

namespace tandem::accel::interp {

namespace ax = asmjit::x86;
using asmjit::Label;

namespace {

constexpr unsigned kMaxBlockInsns = 64;
// How far past an instruction the translator looks for accesses that can
// share its TLB lookup (Translator::OpenWindow).
constexpr unsigned kWindowLookahead = 8;
constexpr unsigned kRepIterationsPerCall = 1024;
// Direct exits a block may link: it ends at its first branch, and a
// conditional one has two (a Linux boot has no block with more; a further
// exit would go through the jump cache).
constexpr size_t kMaxLinks = 2;
constexpr uint64_t kArith = x86::kArithFlags;  // CF PF AF ZF SF OF: 0x8D5
constexpr int32_t kRipOffset = offsetof(x86::CpuState, rip);
constexpr int32_t kFlagsOffset = offsetof(x86::CpuState, rflags);
constexpr int32_t kShadowOffset = offsetof(x86::CpuState, interrupt_shadow);
constexpr int32_t kRspOffset = 8 * x86::kRsp;

// CpuState*, the JIT TLB slots and the constant 12 (SHRX count) live in
// callee-saved registers; r11 holds the host address of a memory operand.
const ax::Gp kState = ax::r12;
const ax::Gp kTlb = ax::r14;
const ax::Gp kTwelve = ax::r15;
const ax::Gp kHostAddr = ax::r11;
const ax::Gp kLinear = ax::r10;
// Minus the instructions left before the dispatcher must run: it counts up
// to 0, so that a loop's flag-free budget check is one SHRX (EmitDirect).
const ax::Gp kBudget = ax::r13;

// The registers a loop keeps in host registers across its branch back:
// all but r9, where its flag-free budget check keeps rcx.
constexpr uint32_t kLoopRegisters = 0x7FF & ~(1u << 9);
// Translated code runs in the frame that Runtime's entry sets up (the
// callee-saved registers and the budget given) and leaves by its exit; blocks
// jump to each other inside it, so they have no prologue or epilogue of their own.
using EnterFn = uint64_t (*)(x86::CpuState* state, JitTlbEntry* tlb, uint64_t budget, const void* code);

int GprNumber(ZydisRegister r) {
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) return r - ZYDIS_REGISTER_AX;
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) return r - ZYDIS_REGISTER_EAX;
  if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) return r - ZYDIS_REGISTER_RAX;
  if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_BL) return r - ZYDIS_REGISTER_AL;
  if (r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH) return r - ZYDIS_REGISTER_AH;
  if (r >= ZYDIS_REGISTER_SPL && r <= ZYDIS_REGISTER_R15B) return r - ZYDIS_REGISTER_SPL + 4;
  return -1;
}

bool IsHighByte(ZydisRegister r) { return r >= ZYDIS_REGISTER_AH && r <= ZYDIS_REGISTER_BH; }

// The register of r's width numbered `host`.
ZydisRegister WithNumber(ZydisRegister r, int host) {
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) return static_cast<ZydisRegister>(ZYDIS_REGISTER_AX + host);
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) return static_cast<ZydisRegister>(ZYDIS_REGISTER_EAX + host);
  if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) return static_cast<ZydisRegister>(ZYDIS_REGISTER_RAX + host);
  if (IsHighByte(r)) return r;  // only ever mapped to itself
  if (host < 4) return static_cast<ZydisRegister>(ZYDIS_REGISTER_AL + host);
  return static_cast<ZydisRegister>(ZYDIS_REGISTER_SPL + host - 4);
}

bool IsCondJump(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_JB: case ZYDIS_MNEMONIC_JBE: case ZYDIS_MNEMONIC_JL: case ZYDIS_MNEMONIC_JLE:
    case ZYDIS_MNEMONIC_JNB: case ZYDIS_MNEMONIC_JNBE: case ZYDIS_MNEMONIC_JNL: case ZYDIS_MNEMONIC_JNLE:
    case ZYDIS_MNEMONIC_JNO: case ZYDIS_MNEMONIC_JNP: case ZYDIS_MNEMONIC_JNS: case ZYDIS_MNEMONIC_JNZ:
    case ZYDIS_MNEMONIC_JO: case ZYDIS_MNEMONIC_JP: case ZYDIS_MNEMONIC_JS: case ZYDIS_MNEMONIC_JZ:
      return true;
    default:
      return false;
  }
}

// Integer instructions whose effect is fully described by their operands
// and the arithmetic flags, so that replaying them on the host is exact.
bool IsReplayable(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_ADD: case ZYDIS_MNEMONIC_OR: case ZYDIS_MNEMONIC_ADC: case ZYDIS_MNEMONIC_SBB:
    case ZYDIS_MNEMONIC_AND: case ZYDIS_MNEMONIC_SUB: case ZYDIS_MNEMONIC_XOR: case ZYDIS_MNEMONIC_CMP:
    case ZYDIS_MNEMONIC_TEST: case ZYDIS_MNEMONIC_INC: case ZYDIS_MNEMONIC_DEC: case ZYDIS_MNEMONIC_NEG:
    case ZYDIS_MNEMONIC_NOT: case ZYDIS_MNEMONIC_MOV: case ZYDIS_MNEMONIC_MOVZX: case ZYDIS_MNEMONIC_MOVSX:
    case ZYDIS_MNEMONIC_MOVSXD: case ZYDIS_MNEMONIC_LEA: case ZYDIS_MNEMONIC_XCHG: case ZYDIS_MNEMONIC_XADD:
    case ZYDIS_MNEMONIC_CMPXCHG: case ZYDIS_MNEMONIC_SHL: case ZYDIS_MNEMONIC_SHR: case ZYDIS_MNEMONIC_SAR:
    case ZYDIS_MNEMONIC_ROL: case ZYDIS_MNEMONIC_ROR: case ZYDIS_MNEMONIC_RCL: case ZYDIS_MNEMONIC_RCR:
    case ZYDIS_MNEMONIC_SHLD: case ZYDIS_MNEMONIC_SHRD: case ZYDIS_MNEMONIC_MUL: case ZYDIS_MNEMONIC_IMUL:
    case ZYDIS_MNEMONIC_BSF: case ZYDIS_MNEMONIC_BSR: case ZYDIS_MNEMONIC_BSWAP: case ZYDIS_MNEMONIC_CBW:
    case ZYDIS_MNEMONIC_CWDE: case ZYDIS_MNEMONIC_CDQE: case ZYDIS_MNEMONIC_CWD: case ZYDIS_MNEMONIC_CDQ:
    case ZYDIS_MNEMONIC_CQO: case ZYDIS_MNEMONIC_CLC: case ZYDIS_MNEMONIC_STC: case ZYDIS_MNEMONIC_CMC:
    case ZYDIS_MNEMONIC_LAHF: case ZYDIS_MNEMONIC_SAHF: case ZYDIS_MNEMONIC_CMPXCHG16B:
    case ZYDIS_MNEMONIC_BT: case ZYDIS_MNEMONIC_BTS: case ZYDIS_MNEMONIC_BTR: case ZYDIS_MNEMONIC_BTC:
    case ZYDIS_MNEMONIC_SETB: case ZYDIS_MNEMONIC_SETBE: case ZYDIS_MNEMONIC_SETL: case ZYDIS_MNEMONIC_SETLE:
    case ZYDIS_MNEMONIC_SETNB: case ZYDIS_MNEMONIC_SETNBE: case ZYDIS_MNEMONIC_SETNL: case ZYDIS_MNEMONIC_SETNLE:
    case ZYDIS_MNEMONIC_SETNO: case ZYDIS_MNEMONIC_SETNP: case ZYDIS_MNEMONIC_SETNS: case ZYDIS_MNEMONIC_SETNZ:
    case ZYDIS_MNEMONIC_SETO: case ZYDIS_MNEMONIC_SETP: case ZYDIS_MNEMONIC_SETS: case ZYDIS_MNEMONIC_SETZ:
    case ZYDIS_MNEMONIC_CMOVB: case ZYDIS_MNEMONIC_CMOVBE: case ZYDIS_MNEMONIC_CMOVL: case ZYDIS_MNEMONIC_CMOVLE:
    case ZYDIS_MNEMONIC_CMOVNB: case ZYDIS_MNEMONIC_CMOVNBE: case ZYDIS_MNEMONIC_CMOVNL:
    case ZYDIS_MNEMONIC_CMOVNLE: case ZYDIS_MNEMONIC_CMOVNO: case ZYDIS_MNEMONIC_CMOVNP:
    case ZYDIS_MNEMONIC_CMOVNS: case ZYDIS_MNEMONIC_CMOVNZ: case ZYDIS_MNEMONIC_CMOVO: case ZYDIS_MNEMONIC_CMOVP:
    case ZYDIS_MNEMONIC_CMOVS: case ZYDIS_MNEMONIC_CMOVZ:
      return true;
    default:
      return false;
  }
}

// SSE instructions that EmitReplay runs on the host's XMM registers: moves,
// logic, integer arithmetic, shuffles and packs, none of which reads MXCSR,
// so the host computes exactly what the guest's CPU does. The SSE4.2 string
// compares that return an index (in ECX) are here too: they set ECX and
// every arithmetic flag from their operands alone (with EAX and EDX, the
// explicit lengths), and read no flag (SDM vol. 1 12.10.5).
bool IsSseReplayable(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVD: case ZYDIS_MNEMONIC_MOVQ: case ZYDIS_MNEMONIC_MOVDQA: case ZYDIS_MNEMONIC_MOVDQU:
    case ZYDIS_MNEMONIC_MOVAPS: case ZYDIS_MNEMONIC_MOVUPS: case ZYDIS_MNEMONIC_MOVAPD: case ZYDIS_MNEMONIC_MOVUPD:
    case ZYDIS_MNEMONIC_PXOR: case ZYDIS_MNEMONIC_POR: case ZYDIS_MNEMONIC_PAND: case ZYDIS_MNEMONIC_PANDN:
    case ZYDIS_MNEMONIC_XORPS: case ZYDIS_MNEMONIC_XORPD: case ZYDIS_MNEMONIC_ANDPS: case ZYDIS_MNEMONIC_ANDPD:
    case ZYDIS_MNEMONIC_ORPS: case ZYDIS_MNEMONIC_ORPD: case ZYDIS_MNEMONIC_ANDNPS: case ZYDIS_MNEMONIC_ANDNPD:
    case ZYDIS_MNEMONIC_PADDB: case ZYDIS_MNEMONIC_PADDW: case ZYDIS_MNEMONIC_PADDD: case ZYDIS_MNEMONIC_PADDQ:
    case ZYDIS_MNEMONIC_PSUBB: case ZYDIS_MNEMONIC_PSUBW: case ZYDIS_MNEMONIC_PSUBD: case ZYDIS_MNEMONIC_PSUBQ:
    case ZYDIS_MNEMONIC_PADDUSB: case ZYDIS_MNEMONIC_PADDUSW: case ZYDIS_MNEMONIC_PSUBUSB: case ZYDIS_MNEMONIC_PSUBUSW:
    case ZYDIS_MNEMONIC_PADDSB: case ZYDIS_MNEMONIC_PADDSW: case ZYDIS_MNEMONIC_PSUBSB: case ZYDIS_MNEMONIC_PSUBSW:
    case ZYDIS_MNEMONIC_PCMPEQB: case ZYDIS_MNEMONIC_PCMPEQW: case ZYDIS_MNEMONIC_PCMPEQD:
    case ZYDIS_MNEMONIC_PCMPGTB: case ZYDIS_MNEMONIC_PCMPGTW: case ZYDIS_MNEMONIC_PCMPGTD:
    case ZYDIS_MNEMONIC_PUNPCKLBW: case ZYDIS_MNEMONIC_PUNPCKLWD: case ZYDIS_MNEMONIC_PUNPCKLDQ:
    case ZYDIS_MNEMONIC_PUNPCKLQDQ: case ZYDIS_MNEMONIC_PUNPCKHBW: case ZYDIS_MNEMONIC_PUNPCKHWD:
    case ZYDIS_MNEMONIC_PUNPCKHDQ: case ZYDIS_MNEMONIC_PUNPCKHQDQ: case ZYDIS_MNEMONIC_PACKUSWB:
    case ZYDIS_MNEMONIC_PACKSSWB: case ZYDIS_MNEMONIC_PACKSSDW: case ZYDIS_MNEMONIC_PSHUFD:
    case ZYDIS_MNEMONIC_PSHUFLW: case ZYDIS_MNEMONIC_PSHUFHW: case ZYDIS_MNEMONIC_PSHUFB: case ZYDIS_MNEMONIC_PALIGNR:
    case ZYDIS_MNEMONIC_PSLLW: case ZYDIS_MNEMONIC_PSLLD: case ZYDIS_MNEMONIC_PSLLQ: case ZYDIS_MNEMONIC_PSRLW:
    case ZYDIS_MNEMONIC_PSRLD: case ZYDIS_MNEMONIC_PSRLQ: case ZYDIS_MNEMONIC_PSRAW: case ZYDIS_MNEMONIC_PSRAD:
    case ZYDIS_MNEMONIC_PSLLDQ: case ZYDIS_MNEMONIC_PSRLDQ: case ZYDIS_MNEMONIC_PMOVMSKB:
    case ZYDIS_MNEMONIC_PMINUB: case ZYDIS_MNEMONIC_PMAXUB: case ZYDIS_MNEMONIC_PMINSW: case ZYDIS_MNEMONIC_PMAXSW:
    case ZYDIS_MNEMONIC_PAVGB: case ZYDIS_MNEMONIC_PAVGW: case ZYDIS_MNEMONIC_PMULLW: case ZYDIS_MNEMONIC_PMULHW:
    case ZYDIS_MNEMONIC_PMULHUW: case ZYDIS_MNEMONIC_PMULUDQ: case ZYDIS_MNEMONIC_PMADDWD: case ZYDIS_MNEMONIC_PSADBW:
    case ZYDIS_MNEMONIC_SHUFPS: case ZYDIS_MNEMONIC_SHUFPD: case ZYDIS_MNEMONIC_UNPCKLPS: case ZYDIS_MNEMONIC_UNPCKHPS:
    case ZYDIS_MNEMONIC_UNPCKLPD: case ZYDIS_MNEMONIC_UNPCKHPD: case ZYDIS_MNEMONIC_MOVHLPS: case ZYDIS_MNEMONIC_MOVLHPS:
    case ZYDIS_MNEMONIC_MOVLPS: case ZYDIS_MNEMONIC_MOVHPS: case ZYDIS_MNEMONIC_MOVLPD: case ZYDIS_MNEMONIC_MOVHPD:
    case ZYDIS_MNEMONIC_PCMPISTRI: case ZYDIS_MNEMONIC_PCMPESTRI:
      return true;
    default:
      return false;
  }
}

// 16-byte memory operands that need no alignment (the rest are #GP(0) unless
// 16-byte aligned, SDM vol. 1 11.6.6).
// (The string compares too: SDM vol. 1 12.10.3.)
bool IsUnalignedSse(ZydisMnemonic m) {
  return m == ZYDIS_MNEMONIC_MOVDQU || m == ZYDIS_MNEMONIC_MOVUPS || m == ZYDIS_MNEMONIC_MOVUPD ||
         m == ZYDIS_MNEMONIC_PCMPISTRI || m == ZYDIS_MNEMONIC_PCMPESTRI;
}

bool IsXmm(ZydisRegister r) { return r >= ZYDIS_REGISTER_XMM0 && r <= ZYDIS_REGISTER_XMM15; }

// Instructions that run through the interpreter's handler in the middle of
// a block: they change nothing a block depends on (mode, CPL, paging,
// RFLAGS.TF/IF/AC, debug registers, the interrupt shadow, RIP beyond the
// next instruction). Faults they raise leave the block precisely.
bool RunsInline(const ZydisDecodedInstruction& zi) {
  switch (zi.meta.isa_ext) {
    case ZYDIS_ISA_EXT_SSE: case ZYDIS_ISA_EXT_SSE2: case ZYDIS_ISA_EXT_SSE3: case ZYDIS_ISA_EXT_SSSE3:
    case ZYDIS_ISA_EXT_SSE4: case ZYDIS_ISA_EXT_MMX: case ZYDIS_ISA_EXT_X87:
      return zi.mnemonic != ZYDIS_MNEMONIC_MONITOR && zi.mnemonic != ZYDIS_MNEMONIC_MWAIT;
    default: break;
  }
  if (zi.meta.category == ZYDIS_CATEGORY_STRINGOP) return true;  // MOVS, STOS, LODS, CMPS, SCAS (not INS/OUTS)
  switch (zi.mnemonic) {
    case ZYDIS_MNEMONIC_DIV: case ZYDIS_MNEMONIC_IDIV: case ZYDIS_MNEMONIC_CLD: case ZYDIS_MNEMONIC_STD:
    case ZYDIS_MNEMONIC_BT: case ZYDIS_MNEMONIC_BTS: case ZYDIS_MNEMONIC_BTR: case ZYDIS_MNEMONIC_BTC:
    case ZYDIS_MNEMONIC_LZCNT: case ZYDIS_MNEMONIC_TZCNT: case ZYDIS_MNEMONIC_POPCNT: case ZYDIS_MNEMONIC_CPUID:
    case ZYDIS_MNEMONIC_RDTSC: case ZYDIS_MNEMONIC_RDTSCP: case ZYDIS_MNEMONIC_PUSHFQ: case ZYDIS_MNEMONIC_ENTER:
    case ZYDIS_MNEMONIC_LEAVE: case ZYDIS_MNEMONIC_CMPXCHG8B: case ZYDIS_MNEMONIC_CMPXCHG16B:
    case ZYDIS_MNEMONIC_MOVBE: case ZYDIS_MNEMONIC_CRC32: case ZYDIS_MNEMONIC_XLAT: case ZYDIS_MNEMONIC_PUSH:
    case ZYDIS_MNEMONIC_POP: case ZYDIS_MNEMONIC_FXSAVE: case ZYDIS_MNEMONIC_FXSAVE64: case ZYDIS_MNEMONIC_FXRSTOR:
    case ZYDIS_MNEMONIC_FXRSTOR64: case ZYDIS_MNEMONIC_FWAIT:
    // The GS base that blocks read at run time (the kernel's entry paths).
    case ZYDIS_MNEMONIC_SWAPGS:
    // IF does not change how a block runs; a POPF that sets TF or AC, or
    // enables a pending interrupt, leaves the block after it (Interpret).
    case ZYDIS_MNEMONIC_CLI: case ZYDIS_MNEMONIC_PUSHF: case ZYDIS_MNEMONIC_PUSHFD: case ZYDIS_MNEMONIC_POPF:
    case ZYDIS_MNEMONIC_POPFD: case ZYDIS_MNEMONIC_POPFQ:
      return true;
    // Anything replayable whose operands the replay cannot take (high-byte
    // registers beside REX operands, bit strings in memory, ...).
    default:
      return IsReplayable(zi.mnemonic);
  }
}

bool IsGpr(const ZydisDecodedOperand& o) { return o.type == ZYDIS_OPERAND_TYPE_REGISTER && GprNumber(o.reg.value) >= 0; }

// Where CpuState keeps CR0, CR2, CR3 and CR4 (read as they are); -1 for the
// others (CR8 is the local APIC's TPR).
int32_t ControlRegisterOffset(ZydisRegister r) {
  switch (r) {
    case ZYDIS_REGISTER_CR0: return offsetof(x86::CpuState, cr0);
    case ZYDIS_REGISTER_CR2: return offsetof(x86::CpuState, cr2);
    case ZYDIS_REGISTER_CR3: return offsetof(x86::CpuState, cr3);
    case ZYDIS_REGISTER_CR4: return offsetof(x86::CpuState, cr4);
    default: return -1;
  }
}

// MOV to or from a control, debug or segment register (the same mnemonic as
// a plain MOV) changes what a block was translated under: paging, DR7
// breakpoints, the MOV SS interrupt shadow.
bool NamesSystemRegister(const ZydisDecodedInstruction& zi, const ZydisDecodedOperand* zops) {
  for (unsigned i = 0; i < zi.operand_count_visible; ++i) {
    if (zops[i].type != ZYDIS_OPERAND_TYPE_REGISTER) continue;
    const ZydisRegisterClass c = ZydisRegisterGetClass(zops[i].reg.value);
    if (c == ZYDIS_REGCLASS_CONTROL || c == ZYDIS_REGCLASS_DEBUG || c == ZYDIS_REGCLASS_SEGMENT) return true;
  }
  return false;
}

// What a block is translated under besides its bytes, CPL and CS base (the
// block key; 0 is 64-bit code). Bits 0-1 code size (1: 32-bit, 2: 16-bit),
// bit 2 SS.B, bit 3 real mode, bit 4 long mode (compatibility mode), bit 5
// SSE instructions fault (#UD or #NM: CR0.EM, CR0.TS, no CR4.OSFXSR); four
// bits per segment register from bit 8 (kSegRead, kSegWrite, kSegBaseZero:
// inline accesses may read, may write, need not add a base; kSegMaxLimit:
// the limit is 4 GiB - 1 with a zero base in protected mode, 64 KiB - 1 in
// real mode, the two common cases, whose checks are cheaper, EmitSegmented);
// the CS limit in the top half. Other limits are checked at run time against
// CpuState, so only the rights and kinds of segments are fixed here (SDM
// vol. 3A 5.3-5.5).
constexpr uint64_t kKeyCode32 = 1, kKeyCode16 = 2, kKeyStack32 = 4, kKeyReal = 8, kKeyLong = 16, kKeyNoSse = 32;
constexpr unsigned kSegRead = 1, kSegWrite = 2, kSegBaseZero = 4, kSegMaxLimit = 8;
constexpr unsigned kKeySegShift = 8, kKeySegBits = 4;

uint64_t ModeKey(const x86::CpuState& s) {
  const bool lma = s.msr.efer & x86::kEferLma;
  const uint64_t no_sse = ((s.cr0 & (x86::kCr0Em | x86::kCr0Ts)) || !(s.cr4 & x86::kCr4Osfxsr)) ? kKeyNoSse : 0;
  if (lma && s.seg[x86::kCs].l()) return no_sse;
  const bool pe = s.cr0 & x86::kCr0Pe;
  uint64_t key = (s.seg[x86::kCs].db() ? kKeyCode32 : kKeyCode16) | no_sse;
  if (s.seg[x86::kSs].db()) key |= kKeyStack32;
  if (!pe) key |= kKeyReal;
  if (lma) key |= kKeyLong;
  for (int i = 0; i < 6; ++i) {
    const x86::Segment& g = s.seg[i];
    uint64_t bits = 0;
    if (!pe) {
      bits = kSegRead | kSegWrite;  // real mode checks limits only
    } else if (!g.unusable()) {
      const uint32_t type = g.type();
      if ((type & 0xC) != 0x4) {  // expand-down data: left to the interpreter
        if ((type & 0xA) != 0x8) bits |= kSegRead;
        if (!(type & 8) && (type & 2)) bits |= kSegWrite;
      }
    }
    if (g.base == 0) bits |= kSegBaseZero;
    if (pe ? g.limit == 0xFFFFFFFF && g.base == 0 : g.limit == 0xFFFF) bits |= kSegMaxLimit;
    key |= bits << (kKeySegShift + kKeySegBits * i);
  }
  return key | static_cast<uint64_t>(s.seg[x86::kCs].limit) << 32;
}

// 64-bit code's key has no code-size bit (nor any other but kKeyNoSse).
bool Is64BitKey(uint64_t key) { return (key & (kKeyCode32 | kKeyCode16)) == 0; }
unsigned KeyCodeBits(uint64_t key) { return Is64BitKey(key) ? 64 : (key & kKeyCode32) ? 32 : 16; }

// The CPL as instruction fetch and the TLB see it (segmentation.cc's cpl()).
bool UserMode(const x86::CpuState& s) {
  return (s.cr0 & x86::kCr0Pe) && ((s.rflags & x86::kFlagVm) || s.seg[x86::kSs].dpl() == 3);
}

int SegmentIndex(ZydisRegister r) {
  switch (r) {
    case ZYDIS_REGISTER_ES: return x86::kEs;
    case ZYDIS_REGISTER_CS: return x86::kCs;
    case ZYDIS_REGISTER_SS: return x86::kSs;
    case ZYDIS_REGISTER_DS: return x86::kDs;
    case ZYDIS_REGISTER_FS: return x86::kFs;
    case ZYDIS_REGISTER_GS: return x86::kGs;
    default: return -1;
  }
}

}  // namespace

struct Jit::Block {
  uint64_t rip = 0;  // RIP, or EIP/IP outside 64-bit mode
  uint64_t phys = 0;
  // Translated from [phys, phys + guest_bytes), never past the page; until
  // then (or when nothing could be), what its first instruction may span.
  unsigned guest_bytes = 15;
  uint64_t key = 0;      // ModeKey()
  uint64_t cs_base = 0;  // outside 64-bit mode, the linear address is cs_base + rip
  uint32_t context = 0;  // numbers (key, user, cs_base) for the jump cache
  size_t bytes = 0;      // host code and this record, counted against the cache bound
  // The decode cache's page of these bytes and the mode they were decoded in:
  // Interpret() takes its instructions' decoded forms from there.
  const Cpu::DecodeCache::Page* code_page = nullptr;
  uint8_t mode = 0;
  bool user = false;
  bool valid = true;
  void* fn = nullptr;  // the block's code (its allocation)
  size_t code_room = 0;  // what the arena allocated there
  const void* chain_entry = nullptr;  // where it is entered: after the loop entry's flag load
  // Exits that may jump straight to another block: in the record, since
  // translated code holds their addresses (and one allocation fewer).
  std::array<Link, kMaxLinks> links{};
  uint8_t link_count = 0;
  std::vector<Link*> incoming;       // other blocks' links that jump here
  std::vector<uint64_t> insn_rip;    // allocated once, at its final size
};

// The most host code one block may need (kMaxBlockInsns instructions with
// their slow paths): the arena is flushed before it has less room left.
constexpr size_t kMaxBlockCode = 64u << 10;

// Where translated code lives: one mapping, filled from the start and
// emptied whole (Jit::FlushCache). A dropped block's room is given back once
// no translated code runs (Jit::FreeDeadBlocks: it may have been running
// when it was dropped) and taken again, smallest fit first, before the
// untouched end: code the guest rewrites (the kernel patching itself, exec
// after exec reusing pages) otherwise left a quarter of the Linux boot's
// arena dead. Pages are populated a chunk at a time ahead of use: a first
// touch per page costs a fault each, which on some hosts (a paravirtualized
// guest kernel) takes several microseconds, while populating a chunk is one
// call.
class CodeArena {
 public:
  static constexpr size_t kUnit = 64;  // allocations are aligned to a cache line

  explicit CodeArena(size_t size) : size_(size) {
    void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p != MAP_FAILED) base_ = static_cast<uint8_t*>(p);
  }
  ~CodeArena() {
    if (base_) munmap(base_, size_);
  }
  CodeArena(const CodeArena&) = delete;
  CodeArena& operator=(const CodeArena&) = delete;

  static size_t Room(size_t bytes) { return (bytes + kUnit - 1) & ~(kUnit - 1); }
  // What the untouched end has left.
  size_t left() const { return base_ ? size_ - used_ : 0; }
  // Room for `bytes` of code (rounded up to Room(bytes)), or nullptr when full.
  uint8_t* Allocate(size_t bytes) {
    bytes = Room(bytes);
    if (uint8_t* p = TakeFreed(bytes / kUnit)) return p;
    if (bytes > left()) return nullptr;
    uint8_t* p = base_ + used_;
    used_ += bytes;
    if (used_ > populated_) {
      const size_t end = std::min(size_, (used_ + kPopulateChunk - 1) & ~(kPopulateChunk - 1));
      // (Where MADV_POPULATE_WRITE is missing, pages fault in as they are written.)
      madvise(base_ + populated_, end - populated_, kPopulateWrite);
      populated_ = end;
    }
    return p;
  }
  // Gives back what Allocate(bytes) returned, when none of it can run any more.
  void Free(uint8_t* p, size_t bytes) {
    const size_t units = Room(bytes) / kUnit;
    if (units == 0 || units >= kBins) return;  // (larger than any block: kept until the flush)
    freed_[units].push_back(p);
    nonempty_[units / 64] |= uint64_t{1} << (units % 64);
  }
  // Forgets all but the first `keep` bytes (the shared code).
  void Reset(size_t keep) {
    used_ = keep;
    for (auto& list : freed_) list.clear();
    nonempty_.fill(0);
  }
  size_t used() const { return used_; }

  // Relocates `code` to memory of its own here and copies it there; nullptr
  // when full. `room` receives what to give back to Free.
  void* Add(asmjit::CodeHolder& code, size_t* room) {
    const size_t estimate = code.codeSize();  // (relocation may only shrink it)
    uint8_t* p = Allocate(estimate);
    if (!p) return nullptr;
    if (code.relocateToBase(reinterpret_cast<uint64_t>(p)) != asmjit::kErrorOk) {
      Free(p, estimate);
      return nullptr;
    }
    code.copyFlattenedData(p, code.codeSize(), asmjit::CopySectionFlags::kPadTargetBuffer);
    *room = Room(estimate);
    return p;
  }

 private:
  // Freed room in the smallest list of at least `units`, split if larger.
  uint8_t* TakeFreed(size_t units) {
    for (size_t word = units / 64; word < nonempty_.size(); ++word) {
      uint64_t bits = nonempty_[word];
      if (word == units / 64) bits &= ~uint64_t{0} << (units % 64);
      if (!bits) continue;
      const size_t found = word * 64 + static_cast<size_t>(__builtin_ctzll(bits));
      std::vector<uint8_t*>& list = freed_[found];
      uint8_t* p = list.back();
      list.pop_back();
      if (list.empty()) nonempty_[found / 64] &= ~(uint64_t{1} << (found % 64));
      if (found > units) Free(p + units * kUnit, (found - units) * kUnit);
      return p;
    }
    return nullptr;
  }

  static constexpr size_t kPopulateChunk = 1u << 20;
  static constexpr int kPopulateWrite = 23;  // MADV_POPULATE_WRITE (Linux 5.14)
  static constexpr size_t kBins = kMaxBlockCode / kUnit + 1;
  uint8_t* base_ = nullptr;
  size_t size_;
  size_t used_ = 0;
  size_t populated_ = 0;
  std::array<std::vector<uint8_t*>, kBins> freed_;  // by size in units
  std::array<uint64_t, (kBins + 63) / 64> nonempty_{};
};

struct Jit::Runtime {
  // (After the Jit's jump cache is made: the code holds its address.)
  Runtime(Jit* jit, size_t arena_bytes);
  CodeArena arena;
  size_t shared_bytes = 0;  // the arena's first bytes: the code below
  EnterFn enter = nullptr;
  const void* exit = nullptr;  // where every block leaves (with rax = instructions run)
  // An exit by a link not yet set (rcx = the Link): RIP is its target, and
  // the link is left for RunBlock to set.
  const void* link_exit = nullptr;
  // Jit::Interpret for the block in rsi (edx, ecx: its index and branch
  // arguments), called from the block: it returns there when the block goes
  // on, and otherwise leaves the block.
  const void* interpret = nullptr;
  // RIP (in CpuState) through the jump cache for the context in edx, or
  // the exit.
  const void* jump_cache_exit = nullptr;
  const Jit::JumpEntry* jump_cache = nullptr;  // (the Jit's, for translated code)
  // The exit for the RIP that Jit::JumpTag gave rcx with the context in edx.
  const void* tag_exit = nullptr;
};

namespace {

// The instructions of a block-to-be, decoded once each, in order, as far as
// asked: the translator looks a few instructions ahead (shared page windows).
// Decoding stops at the page's end, the CS limit or bytes that do not decode.
class DecodeAhead {
 public:
  struct Insn {
    uint64_t rip;
    ZydisDecodedInstruction zi;
    ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
  };
  DecodeAhead(const ZydisDecoder& decoder, const uint8_t* page, unsigned offset, uint64_t rip, uint64_t ip_end)
      : decoder_(decoder), page_(page), offset_(offset), rip_(rip), ip_end_(ip_end) {
    insns_.reserve(kCapacity);  // never grown: what Get returned stays where it is
  }
  // Instruction n of the block, or null where decoding stops before it.
  const Insn* Get(unsigned n) {
    while (insns_.size() <= n && insns_.size() < kCapacity && !stopped_) {
      const uint64_t rip = insns_.empty() ? rip_ : insns_.back().rip + insns_.back().zi.length;
      const unsigned offset = offset_ + static_cast<unsigned>(rip - rip_);
      Insn& in = insns_.emplace_back();
      in.rip = rip;
      const ZyanStatus status =
          offset >= 4096 ? ZYDIS_STATUS_NO_MORE_DATA
                         : ZydisDecoderDecodeFull(&decoder_, page_ + offset, 4096 - offset, &in.zi, in.zops);
      if (!ZYAN_SUCCESS(status) || rip + in.zi.length - 1 > ip_end_) {
        insns_.pop_back();
        stopped_ = true;
        // Cut short by the page's end, with room for the longest instruction
        // below the CS limit (so the fetch, not the limit, decides).
        crosses_page_ = status == ZYDIS_STATUS_NO_MORE_DATA && offset < 4096 && ip_end_ - rip >= 14;
      }
    }
    return n < insns_.size() ? &insns_[n] : nullptr;
  }
  // Whether instruction n (where Get gives null) starts in the page and
  // runs past its end.
  bool CrossesPage(unsigned n) const { return stopped_ && n == insns_.size() && crosses_page_; }

 private:
  static constexpr unsigned kCapacity = kMaxBlockInsns + kWindowLookahead;
  const ZydisDecoder& decoder_;
  const uint8_t* page_;
  unsigned offset_;
  uint64_t rip_, ip_end_;
  std::vector<Insn> insns_;
  bool stopped_ = false;
  bool crosses_page_ = false;
};

// Emits one block. Every instruction boundary has the guest registers in
// CpuState; `flags_in_host_` says whether the guest's arithmetic flags are
// in the host's RFLAGS (true) or in CpuState::rflags (false).
class Translator {
 public:
  // With loop_entry, the block starts by loading the guest flags into the
  // host's, and a branch back to its own start jumps past that with the flags
  // still there (a loop pays no flag sync or link lookup per iteration), and
  // with the guest registers `loop_regs` in their host registers: a value
  // carried from one iteration to the next stays in a register rather than
  // going through CpuState's store and load every time.
  // host_cmpxchg16b: the machine's locked accesses may use the host's
  // CMPXCHG16B (LockedAccessDomain); without it, CMPXCHG16B is interpreted so
  // that every vCPU goes through the same mutex.
  Translator(Jit* jit, Jit::Block* block, ax::Assembler& a, bool user, bool loop_entry, uint32_t loop_regs,
             bool host_cmpxchg16b, DecodeAhead& ahead)
      : jit_(jit), block_(block), a_(a), user_(user), code_bits_(KeyCodeBits(block->key)), loop_entry_(loop_entry),
        loop_regs_(loop_entry ? loop_regs : 0),
        host_cmpxchg16b_(host_cmpxchg16b), ahead_(ahead),
        epilogue_(a.newLabel()), chain_entry_(a.newLabel()), loop_body_(a.newLabel()),
        interpret_thunk_(a.newLabel()) {}

  bool branches_to_itself() const { return branches_to_itself_; }
  // The guest registers in host registers at every branch back to the start.
  uint32_t valid_at_branches_back() const { return valid_at_branches_back_; }

  void Prologue() {
    a_.bind(chain_entry_);
    valid_ = 0;
    if (loop_entry_) {
      NeedFlagsInHost();
      LoadRegisters(loop_regs_);
      a_.bind(loop_body_);  // (the branches back arrive with loop_regs_ too)
    }
  }

  Label chain_entry() const { return chain_entry_; }

  void Epilogue() {
    for (auto& slow : slow_paths_) EmitSlowPath(slow);
    // An exit whose link is not set, or whose budget ran out: RIP, and the
    // link for RunBlock to set when it finds the target.
    for (const auto& [link, stub, jump] : link_stubs_) {
      a_.bind(stub);
      a_.mov(ax::rcx, reinterpret_cast<uint64_t>(link));
      a_.jmp(asmjit::imm(jit_->runtime().link_exit));
    }
    // An exit to another page that the jump cache missed, or whose budget
    // ran out (the target's tag in rcx).
    if (tag_exit_.isValid()) {
      a_.bind(tag_exit_);
      a_.mov(ax::edx, block_->context);
      a_.jmp(asmjit::imm(jit_->runtime().tag_exit));
    }
    // Every call of Jit::Interpret goes through here: the block pointer is
    // emitted once per block rather than at each slow path, and the Jit and
    // the address once per Jit (Runtime). Entered by a call, it leaves the
    // stack as a direct call would.
    a_.bind(interpret_thunk_);
    a_.mov(ax::rsi, reinterpret_cast<uint64_t>(block_));
    a_.jmp(asmjit::imm(jit_->runtime().interpret));
    a_.bind(epilogue_);
    a_.jmp(asmjit::imm(jit_->runtime().exit));
  }

  // Translates instruction `index` at `rip`, or hands it to the interpreter
  // and ends the block; false when the block ends before it (nothing was
  // emitted). Sets `ended` for a block-ending one. The instruction after an
  // STI runs in its shadow, before any interrupt (SDM vol. 3A 6.8.3), and the
  // block then leaves for the dispatcher, which takes one that the STI let
  // in, as the interpreter's loop does after that instruction: not a branch,
  // whose exits would chain on to other blocks.
  bool Add(unsigned index, uint64_t rip, const ZydisDecodedInstruction& zi, const ZydisDecodedOperand* zops,
           bool* ended) {
    if (!after_sti_) {
      AddOne(index, rip, &zi, zops, ended);
      return true;
    }
    switch (zi.meta.category) {
      case ZYDIS_CATEGORY_COND_BR: case ZYDIS_CATEGORY_UNCOND_BR: case ZYDIS_CATEGORY_CALL: case ZYDIS_CATEGORY_RET:
        return false;
      default:
        break;
    }
    AddOne(index, rip, &zi, zops, ended);
    after_sti_ = false;
    if (*ended) return true;  // (left the block already)
    a_.mov(ax::byte_ptr(kState, kShadowOffset), 0);  // what STI set, the instruction took
    SyncFlags();
    Clobber(Bit(ax::rax));
    a_.mov(ax::rax, next_rip_);
    a_.mov(ax::qword_ptr(kState, kRipOffset), ax::rax);
    EmitLeave(index_ + 1);
    *ended = true;
    return true;
  }

  // Ends a block whose last instruction (count in all) did not: on to the
  // next block at `rip`, or, after an STI, out to the dispatcher with its
  // shadow set for the instruction there (Add).
  void EmitEnd(uint64_t rip, unsigned count) {
    if (!after_sti_) return EmitExit(rip, count);
    SyncFlags();
    Clobber(Bit(ax::rax));
    a_.mov(ax::rax, rip);
    a_.mov(ax::qword_ptr(kState, kRipOffset), ax::rax);
    EmitLeave(count);
  }

  // The instruction at `rip` that starts in the block's page and runs into
  // the next (DecodeAhead::CrossesPage): the interpreter fetches it when it
  // runs, raising what the fetch raises, and the block ends.
  void AddCrossing(unsigned index, uint64_t rip) {
    bool ended;
    AddOne(index, rip, nullptr, nullptr, &ended);
    after_sti_ = false;  // (the interpreter ran it in the shadow)
  }

  // Translates the instruction, or interprets it and leaves the block: a
  // system instruction (IRET, SYSCALL, MOV to CR3, IN/OUT, HLT...) whose
  // effects the rest of the block was not translated under, or one the
  // translator does not take. Leaving here rather than before it saves a
  // pass through the dispatcher, and lets other blocks chain to its block.
  // zi is null for one that crosses into the next page (AddCrossing).
  void AddOne(unsigned index, uint64_t rip, const ZydisDecodedInstruction* zi, const ZydisDecodedOperand* zops,
              bool* ended) {
    index_ = index;
    rip_ = rip;
    next_rip_ = zi ? rip + zi->length : rip;
    *ended = false;
    // Only EmitReplay carries a window on past an instruction.
    incoming_window_ = window_;
    window_ = Window{};
    if (zi && Translate(*zi, zops, ended)) return;
    EmitInterpreted(/*ends_block=*/true);
    *ended = true;
  }

  bool Translate(const ZydisDecodedInstruction& zi, const ZydisDecodedOperand* zops, bool* ended) {
    const ZydisMnemonic m = zi.mnemonic;
    // Guest stores in a block are host stores, so a fence must be a host
    // fence for other vCPUs to see the guest's ordering (MFENCE orders a
    // store before a later load, which x86 otherwise lets pass).
    switch (m) {
      case ZYDIS_MNEMONIC_MFENCE: a_.mfence(); return true;
      case ZYDIS_MNEMONIC_SFENCE: a_.sfence(); return true;
      case ZYDIS_MNEMONIC_LFENCE: a_.lfence(); return true;
      default: break;
    }
    // No architectural effect here: no caches to hint at.
    switch (m) {
      case ZYDIS_MNEMONIC_NOP: case ZYDIS_MNEMONIC_ENDBR64: case ZYDIS_MNEMONIC_ENDBR32: case ZYDIS_MNEMONIC_PAUSE:
      case ZYDIS_MNEMONIC_PREFETCHT0: case ZYDIS_MNEMONIC_PREFETCHT1: case ZYDIS_MNEMONIC_PREFETCHT2:
      case ZYDIS_MNEMONIC_PREFETCHNTA: case ZYDIS_MNEMONIC_PREFETCHW: case ZYDIS_MNEMONIC_PREFETCH:
        return true;
      default:
        break;
    }
    // Reading a segment selector changes nothing (the kernel saves DS/ES on
    // every context switch): zero-extended into a 32/64-bit register.
    if (m == ZYDIS_MNEMONIC_MOV && IsGpr(zops[0]) && zops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        SegmentIndex(zops[1].reg.value) >= 0) {
      EmitReadSelector(GprNumber(zops[0].reg.value), SegmentIndex(zops[1].reg.value), zi.operand_width);
      return true;
    }
    if ((m == ZYDIS_MNEMONIC_CLI || m == ZYDIS_MNEMONIC_STI) && !user_) {
      EmitInterruptFlag(m == ZYDIS_MNEMONIC_STI);
      after_sti_ = m == ZYDIS_MNEMONIC_STI;
      return true;
    }
    // Reading a control register changes nothing (CR2 in the page-fault
    // handler); a read at CPL > 0 faults in the interpreter, precisely.
    if (m == ZYDIS_MNEMONIC_MOV && IsGpr(zops[0]) && zops[1].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        ZydisRegisterGetClass(zops[1].reg.value) == ZYDIS_REGCLASS_CONTROL) {
      const int32_t offset = ControlRegisterOffset(zops[1].reg.value);
      if (code_bits_ == 64 && !user_ && offset >= 0) {
        EmitReadControl(GprNumber(zops[0].reg.value), offset);
      } else {
        EmitInterpreted(false);
      }
      return true;
    }
    if (m == ZYDIS_MNEMONIC_SWAPGS && code_bits_ == 64 && !user_) {
      EmitSwapgs();
      return true;
    }
    // A segment register write (MOV, POP, LDS...) changes the block key; in
    // 64-bit mode only MOV to CR/DR/SS matters (FS/GS bases are read at run time).
    if ((m == ZYDIS_MNEMONIC_MOV || code_bits_ != 64) && NamesSystemRegister(zi, zops)) return false;
    // (A 66h prefix on a near branch truncates RIP on some CPUs: left to the interpreter.)
    const bool rel = zops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && (code_bits_ != 64 || zi.operand_width == 64);
    if (IsCondJump(m) && rel) {
      if (!TargetWithinCs(Target(zi, zops))) return false;  // #GP at the jump: the interpreter's
      EmitJcc(zi, zops);
      *ended = true;
      return true;
    }
    if (m == ZYDIS_MNEMONIC_JMP && rel) {
      if (!TargetWithinCs(Target(zi, zops))) return false;
      EmitDirect(Target(zi, zops), index_ + 1);
      *ended = true;
      return true;
    }
    if (code_bits_ == 32 && (block_->key & kKeyStack32) && zi.operand_width == 32 && SegmentAllows(ZYDIS_REGISTER_SS, true)) {
      // 32-bit code on a 32-bit stack: PUSH, POP, CALL and RET in host code,
      // with SS's limit checked as for any operand.
      if (m == ZYDIS_MNEMONIC_PUSH && (IsGpr(zops[0]) || zops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE)) {
        EmitPush32(zops[0]);
        return true;
      }
      if (m == ZYDIS_MNEMONIC_POP && IsGpr(zops[0])) {
        EmitPop32(GprNumber(zops[0].reg.value));
        return true;
      }
      if (m == ZYDIS_MNEMONIC_CALL && rel && TargetWithinCs(Target(zi, zops))) {
        EmitCallRel32(Target(zi, zops));
        *ended = true;
        return true;
      }
      if (m == ZYDIS_MNEMONIC_RET && (zi.opcode == 0xC3 || zi.opcode == 0xC2)) {
        EmitRet32(zi.operand_count_visible ? zops[0].imm.value.u & 0xFFFF : 0);
        *ended = true;
        return true;
      }
    }
    if (code_bits_ != 64) {
      // Other stack instructions and near CALL/RET go to the interpreter (16-bit stacks and operands).
    } else if (m == ZYDIS_MNEMONIC_CALL && zops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE && zi.operand_width == 64) {
      EmitCallRel(Target(zi, zops));
      *ended = true;
      return true;
    }
    if (m == ZYDIS_MNEMONIC_RET && (zi.opcode == 0xC3 || zi.opcode == 0xC2) && zi.operand_width == 64) {
      EmitRet(zi.operand_count_visible ? zops[0].imm.value.u : 0);
      *ended = true;
      return true;
    }
    if ((m == ZYDIS_MNEMONIC_PUSH || m == ZYDIS_MNEMONIC_POP) && zi.operand_width == 64 &&
        (IsGpr(zops[0]) || (m == ZYDIS_MNEMONIC_PUSH && zops[0].type == ZYDIS_OPERAND_TYPE_IMMEDIATE))) {
      if (m == ZYDIS_MNEMONIC_PUSH) EmitPush(zops[0]);
      else EmitPop(GprNumber(zops[0].reg.value));
      return true;
    }
    if (code_bits_ == 64 && m == ZYDIS_MNEMONIC_PUSH && zi.operand_width == 64 && Addressable(zops[0], false) &&
        zops[0].size == 64) {
      EmitPushMemory(zi, zops[0]);
      return true;
    }
    if (code_bits_ == 64 && m == ZYDIS_MNEMONIC_LEAVE && zi.operand_width == 64) {
      EmitLeaveFrame();
      return true;
    }
    if (IsReplayable(m) && (m != ZYDIS_MNEMONIC_CMPXCHG16B || host_cmpxchg16b_) && EmitReplay(zi, zops)) return true;
    if (IsSseReplayable(m) && !(block_->key & kKeyNoSse) && !(zi.attributes & ZYDIS_ATTRIB_HAS_VEX) &&
        EmitReplay(zi, zops)) {
      return true;
    }
    if (code_bits_ == 64 && (m == ZYDIS_MNEMONIC_JMP || m == ZYDIS_MNEMONIC_CALL) &&
        zi.meta.branch_type == ZYDIS_BRANCH_TYPE_NEAR && zi.operand_width == 64 && TakesOperand(zops[0], 64)) {
      EmitIndirect(zi, zops[0], m == ZYDIS_MNEMONIC_CALL);
      *ended = true;
      return true;
    }
    if ((m == ZYDIS_MNEMONIC_BT || m == ZYDIS_MNEMONIC_BTS || m == ZYDIS_MNEMONIC_BTR || m == ZYDIS_MNEMONIC_BTC) &&
        code_bits_ == 64 && zi.address_width == 64 && zi.operand_count_visible == 2 && IsGpr(zops[1]) &&
        (zops[0].size == 32 || zops[0].size == 64) && zops[1].size == zops[0].size &&
        Addressable(zops[0], m != ZYDIS_MNEMONIC_BT)) {
      EmitBitString(zi, zops[0], GprNumber(zops[1].reg.value));
      return true;
    }
    if (m == ZYDIS_MNEMONIC_PUSHFQ && code_bits_ == 64 && !user_) {
      EmitPushf();
      return true;
    }
    if (m == ZYDIS_MNEMONIC_DIV && (zi.operand_width == 32 || zi.operand_width == 64) &&
        TakesOperand(zops[0], zi.operand_width)) {
      EmitDiv(zi, zops[0]);
      return true;
    }
    if (RunsInline(zi)) {
      EmitInterpreted(false);
      return true;
    }
    return false;
  }

  // Leaves the block for `rip` after `count` instructions. A target in the
  // block's own page (so with the same translation, which only MOV CR3 or
  // INVLPG outside any block can change) continues in its block directly
  // once Jit::RunBlock has linked it, while budget remains.
  void EmitExit(uint64_t rip, unsigned count) {
    SyncFlags();
    const uint64_t cs_base = block_->cs_base;
    if (((cs_base + rip) >> 12) != ((cs_base + block_->rip) >> 12) ||
        block_->link_count == kMaxLinks) {
      // Another page: a patched link would outlive a write to that page, so
      // go through the jump cache, which loses the entry with the block. The
      // slot and tag are known here, and the indirect jump is this exit's
      // own, so the host predicts it as it would a link.
      if (block_->context >= Jit::kJumpContexts) {
        a_.mov(ax::rax, rip);
        a_.mov(ax::qword_ptr(kState, kRipOffset), ax::rax);
        EmitLeave(count);
        return;
      }
      if (!tag_exit_.isValid()) tag_exit_ = a_.newLabel();
      a_.mov(ax::rcx, Jit::JumpTag(rip, block_->context));
      a_.add(kBudget, count);
      a_.jge(tag_exit_);
      a_.mov(ax::rdx, reinterpret_cast<uint64_t>(&jit_->runtime().jump_cache[Jit::JumpSlot(rip)]));
      a_.cmp(ax::rcx, ax::qword_ptr(ax::rdx, offsetof(Jit::JumpEntry, tag)));
      a_.jne(tag_exit_);
      a_.jmp(ax::qword_ptr(ax::rdx, offsetof(Jit::JumpEntry, code)));
      valid_ = 0;
      return;
    }
    // The link holds its target's chain entry, or this exit's stub until
    // RunBlock links it; RIP is stored only on the way out (the stub), since
    // translated code never reads it.
    Clobber(Bit(ax::rax) | Bit(ax::rcx));
    Jit::Link* link = &block_->links[block_->link_count++];
    *link = Jit::Link{nullptr, nullptr, rip, block_, nullptr};
    const Label stub = a_.newLabel(), jump = a_.newLabel();
    link_stubs_.push_back({link, stub, jump});
    a_.add(kBudget, count);
    a_.jge(stub);
    a_.bind(jump);
    a_.long_().jmp(stub);  // (rel32: RunBlock points it at the target block)
    valid_ = 0;  // what follows is reached through labels
  }

  // Points each link's jump at its stub, now that the code is at `fn`.
  void PointLinksAtStubs(const void* fn, const asmjit::CodeHolder& code) const {
    const auto at = [&](Label l) { return static_cast<uint8_t*>(const_cast<void*>(fn)) + code.labelOffsetFromBase(l); };
    for (const auto& [link, stub, jump] : link_stubs_) {
      link->unlinked = at(stub);
      link->jump = at(jump) + 1;  // past the E9
    }
  }

  // Leaves the block after `count` instructions with RIP already stored.
  void EmitLeave(unsigned count) {
    a_.add(kBudget, count);
    a_.jmp(epilogue_);
    valid_ = 0;
  }

 private:
  // What the address arithmetic (EmitLinear, EmitSegmented) leaves for the
  // TLB lookup: r8 may already hold the linear address of the access's last
  // byte; and where that of its first byte is known to be below 64 KiB (a
  // real-mode segment at 0 with 16-bit addresses), its page is its TLB slot.
  enum class LastByte { kNotInR8, kInR8, kInR8FirstBelow64K };

  // A shared page window: kHostAddr holds the TLB addend (host minus linear
  // address) of the page that holds [base + lo, base + hi) in segment seg,
  // for writes too when `write`; the access that opened it checked all those
  // bytes at once (EmitReplay), so later accesses through the same,
  // unchanged base register within them need no lookup of their own. Only
  // EmitReplay keeps it past an instruction (Add drops it first): anything
  // else may call out, which clobbers kHostAddr, or change the base.
  struct Window {
    bool valid = false;
    ZydisRegister seg = ZYDIS_REGISTER_NONE, base = ZYDIS_REGISTER_NONE;
    unsigned address_width = 0;
    int64_t lo = 0, hi = 0;
    bool write = false;
    // kLinear still holds the linear address of byte lo: an access in the
    // window is then [kHostAddr + kLinear + its offset from lo], with no
    // address arithmetic of its own.
    bool lo_in_linear = false;
  };
  struct SlowPath {
    Label entry, done;
    unsigned index = 0;
    bool flags_in_host_before = false, flags_in_host_after = false;
    uint32_t reload = 0;  // host registers (= guest numbers) valid at `done`
    // A near branch the slow path interprets whole: `done` is reached with
    // RIP at its target, and a fault leaves the block (Interpret's `branch`).
    bool branch = false;
    // The instruction (its memory operand window_operand) opened a window:
    // once interpreted, the window's lookup is made again, and where it
    // still misses the block ends after the instruction (at next_rip),
    // since what follows relies on it.
    Window window;
    ZydisDecodedOperand window_operand{};
    uint64_t next_rip = 0;
  };

  static constexpr int64_t kMaxWindow = 256;

  // A memory operand a window can cover: base register plus displacement,
  // in a segment whose checks the TLB lookup makes (64-bit code other than
  // FS/GS; a flat segment in protected mode with 32-bit addresses; a 64 KiB
  // real-mode segment with 16-bit addresses, where a window that wraps at
  // 64 KiB spans two pages and misses, EmitSegmented), at most 8 bytes.
  bool WindowOperand(const ZydisDecodedOperand& m, unsigned address_width) const {
    if (m.type != ZYDIS_OPERAND_TYPE_MEMORY || m.mem.type != ZYDIS_MEMOP_TYPE_MEM) return false;
    if (m.mem.index != ZYDIS_REGISTER_NONE || GprNumber(m.mem.base) < 0 || m.size == 0 || m.size > 64) return false;
    if (code_bits_ == 64) return m.mem.segment != ZYDIS_REGISTER_FS && m.mem.segment != ZYDIS_REGISTER_GS;
    const int seg = SegmentIndex(m.mem.segment);
    const unsigned want_width = (block_->key & kKeyReal) ? 16 : 32;
    return address_width == want_width && seg >= 0 && (SegmentBits(seg) & kSegMaxLimit);
  }
  static int64_t Disp(const ZydisDecodedOperand& m) { return m.mem.disp.has_displacement ? m.mem.disp.value : 0; }

  bool WindowHolds(const Window& w, const ZydisDecodedOperand& m, unsigned address_width, bool write) const {
    const int64_t disp = Disp(m);
    return w.valid && WindowOperand(m, address_width) && m.mem.segment == w.seg && m.mem.base == w.base &&
           address_width == w.address_width && disp >= w.lo && disp + m.size / 8 <= w.hi && (!write || w.write);
  }

  // The window that the access m of the instruction at index_ opens: its
  // bytes and those of the next few instructions' accesses through the same
  // base, up to the first instruction that is not a plain integer one or
  // that changes the base. Invalid when no later access would use it.
  Window OpenWindow(const ZydisDecodedOperand& m, unsigned address_width, bool write) {
    const int64_t disp = Disp(m);
    Window w{true, m.mem.segment, m.mem.base, address_width, disp, disp + m.size / 8, write};
    const int base = GprNumber(m.mem.base);
    bool used = false;
    for (unsigned j = index_ + 1; j <= index_ + kWindowLookahead && j < kMaxBlockInsns; ++j) {
      const DecodeAhead::Insn* in = ahead_.Get(j);
      if (!in || !IsReplayable(in->zi.mnemonic) || (in->zi.attributes & ZYDIS_ATTRIB_HAS_VEX)) break;
      const ZydisDecodedOperand* access = nullptr;
      bool writes_base = false;
      for (unsigned k = 0; k < in->zi.operand_count; ++k) {
        const ZydisDecodedOperand& o = in->zops[k];
        if (o.type == ZYDIS_OPERAND_TYPE_MEMORY && o.mem.type == ZYDIS_MEMOP_TYPE_MEM) access = &o;
        if (o.type == ZYDIS_OPERAND_TYPE_REGISTER && (o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) &&
            GprNumber(o.reg.value) == base) {
          writes_base = true;
        }
      }
      if (access) {
        const int64_t d = Disp(*access);
        if (!WindowOperand(*access, in->zi.address_width) || access->mem.segment != w.seg ||
            access->mem.base != w.base || in->zi.address_width != address_width ||
            std::max(w.hi, d + access->size / 8) - std::min(w.lo, d) > kMaxWindow) {
          break;
        }
        w.lo = std::min(w.lo, d);
        w.hi = std::max(w.hi, d + access->size / 8);
        w.write |= (access->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) != 0;
        used = true;
      }
      if (writes_base) break;
    }
    if (!used || (code_bits_ != 64 && !SegmentAllows(w.seg, w.write))) return Window{};  // (as EmitLinear checks)
    return w;
  }

  // kLinear = the first byte of window w, opened by the access m (its base
  // plus w.lo), and kHostAddr = the addend of that byte's page, or a jump to
  // `miss` unless all of w lies in one page with w's rights.
  bool EmitWindowLookup(const ZydisDecodedOperand& m, const Window& w, Label miss) {
    ZydisDecodedOperand first = m;
    first.mem.disp.has_displacement = true;
    first.mem.disp.value = w.lo;
    const unsigned span = static_cast<unsigned>(w.hi - w.lo);
    LastByte last = LastByte::kNotInR8;
    if (!EmitLinear(first, w.address_width, span, w.write, miss, &last)) return false;
    EmitTlbLookup(w.write, span, miss, last, true);
    return true;
  }

  uint64_t Target(const ZydisDecodedInstruction& zi, const ZydisDecodedOperand* zops) const {
    const uint64_t target = next_rip_ + zops[0].imm.value.u;
    return TruncateIp(target, zi.operand_width);
  }

  // A target the branch may go to: in 64-bit code a canonical one (near the
  // top of the lower half a relative branch can leave it), elsewhere one
  // within the CS limit. Otherwise the interpreter runs the branch, whose
  // #GP is at the branch, not at the target.
  bool TargetWithinCs(uint64_t target) const {
    if (code_bits_ == 64) return IsCanonical(target);
    return target <= (block_->key >> 32);
  }

  // host RFLAGS -> CpuState::rflags (clobbers rax and the host flags): the
  // arithmetic bits where the two differ are flipped in CpuState. LAHF and
  // SETO rather than PUSHF, which is microcoded: with PUSHF, this sequence
  // took a third of translated code's time in a shell loop.
  void SyncFlags() {
    if (!flags_in_host_) return;
    Clobber(Bit(ax::rax));
    a_.lahf();                 // AH = SF ZF 0 AF 0 PF 1 CF: RFLAGS bits 7-0
    a_.seto(ax::al);
    a_.shl(ax::al, 3);
    a_.ror(ax::ax, 8);         // AX = OF << 11 | RFLAGS bits 7-0
    a_.xor_(ax::rax, ax::qword_ptr(kState, kFlagsOffset));
    a_.and_(ax::eax, static_cast<int32_t>(kArith));
    a_.xor_(ax::qword_ptr(kState, kFlagsOffset), ax::rax);
  }

  // CpuState::rflags -> host RFLAGS (arithmetic flags only; DF, TF and AC
  // stay 0): SAHF, and OF from an ADD that overflows when it is set, rather
  // than POPF, which is microcoded (SyncFlags).
  void LoadFlags() {
    Clobber(Bit(ax::rax));
    a_.mov(ax::eax, ax::dword_ptr(kState, kFlagsOffset));
    a_.ror(ax::ax, 8);         // AH = RFLAGS bits 7-0, AL = bits 15-8
    a_.shr(ax::al, 3);
    a_.and_(ax::al, 1);        // OF
    a_.add(ax::al, 0x7F);      // 1 + 7Fh overflows, 0 + 7Fh does not
    a_.sahf();                 // SF ZF AF PF CF
  }

  void LoadRegisters(uint32_t regs) {
    for (int n = 0; n < 16; ++n) {
      if (regs >> n & 1) a_.mov(ax::gpq(n), ax::qword_ptr(kState, 8 * n));
    }
    valid_ |= regs;
  }

  void NeedFlagsInHost() {
    if (!flags_in_host_) LoadFlags();
    flags_in_host_ = true;
  }

  // kLinear = the linear address of memory operand m (flag-free). Outside
  // 64-bit mode the offset is checked against the segment's limit, a failing
  // check jumping to `slow` (the interpreter raises the fault); false when
  // the segment's kind or rights leave the access to the interpreter.
  bool EmitLinear(const ZydisDecodedOperand& m, unsigned address_width, unsigned size, bool write, Label slow,
                  LastByte* last) {
    *last = LastByte::kNotInR8;
    if (code_bits_ != 64 && !SegmentAllows(m.mem.segment, write)) return false;
    const ZydisRegister base = m.mem.base, index = m.mem.index;
    const int64_t disp = m.mem.disp.has_displacement ? m.mem.disp.value : 0;
    if (base == ZYDIS_REGISTER_RIP || base == ZYDIS_REGISTER_EIP) {
      if (index != ZYDIS_REGISTER_NONE) return false;
      uint64_t ea = next_rip_ + disp;
      if (address_width == 32) ea &= 0xFFFFFFFF;
      a_.mov(kLinear, ea);
    } else {
      const int b = base == ZYDIS_REGISTER_NONE ? -2 : GprNumber(base);
      const int i = index == ZYDIS_REGISTER_NONE ? -2 : GprNumber(index);
      if (b == -1 || i == -1) return false;
      // 32-bit addresses wrap: written as 32-bit MOV/LEA, which zero-extend.
      const ax::Gp out = address_width == 32 ? kLinear.r32() : kLinear;
      const bool small = disp == static_cast<int32_t>(disp);
      // A base that the lookup does not clobber (rcx, r8-r10) is loaded into
      // its own host register, where the next access through it finds it.
      constexpr uint32_t kBaseKeepers = 1u << 0 | 1u << 2 | 1u << 3 | 1u << 5 | 1u << 6 | 1u << 7;
      if (b >= 0 && (kBaseKeepers >> b & 1) && !(valid_ >> b & 1)) LoadRegisters(1u << b);
      const bool base_cached = b >= 0 && (valid_ >> b & 1);
      if (base_cached && i < 0 && small) {
        if (disp) a_.lea(out, ax::ptr(ax::gpq(b), static_cast<int32_t>(disp)));
        else if (address_width == 16) a_.movzx(kLinear.r32(), ax::gpw(b));
        else if (address_width == 32) a_.mov(out, ax::gpd(b));
        else a_.mov(out, ax::gpq(b));
      } else {
        if (base_cached) a_.mov(kLinear, ax::gpq(b));
        else if (b >= 0 && i < 0 && address_width == 32) a_.mov(out, ax::dword_ptr(kState, 8 * b));
        else if (b >= 0) a_.mov(kLinear, ax::qword_ptr(kState, 8 * b));
        else a_.mov(kLinear.r32(), 0);
        ax::Gp disp_reg = ax::r8;
        if (!small) a_.mov(disp_reg, disp);
        if (i >= 0) {
          static constexpr uint32_t kShift[9] = {0, 0, 1, 0, 2, 0, 0, 0, 3};
          // A cached index is read where it is, unless kLinear or disp_reg overwrote it.
          ax::Gp index_reg = ax::r9;
          if ((valid_ >> i & 1) && i < 8) index_reg = ax::gpq(i);
          else a_.mov(ax::r9, ax::qword_ptr(kState, 8 * i));
          a_.lea(small ? out : kLinear,
                 ax::ptr(kLinear, index_reg, kShift[m.mem.scale], small ? static_cast<int32_t>(disp) : 0));
        } else if (small && disp) {
          a_.lea(out, ax::ptr(kLinear, static_cast<int32_t>(disp)));
        }
        if (!small) a_.lea(out, ax::ptr(kLinear, disp_reg));
      }
      if (address_width == 16 && !(base_cached && i < 0 && small && !disp)) a_.movzx(kLinear.r32(), kLinear.r16());
    }
    Clobber(Bit(kLinear) | Bit(ax::r8) | Bit(ax::r9) | Bit(ax::rcx));
    if (code_bits_ != 64) {
      *last = EmitSegmented(m.mem.segment, size, address_width, slow);
      return true;
    }
    if (m.mem.segment == ZYDIS_REGISTER_FS || m.mem.segment == ZYDIS_REGISTER_GS) {
      const int seg = m.mem.segment == ZYDIS_REGISTER_FS ? x86::kFs : x86::kGs;
      a_.mov(ax::r9, ax::qword_ptr(kState, static_cast<int32_t>(offsetof(x86::CpuState, seg) +
                                                                 seg * sizeof(x86::Segment) +
                                                                 offsetof(x86::Segment, base))));
      a_.lea(kLinear, ax::ptr(kLinear, ax::r9));
    }
    return true;
  }

  // Offset kLinear in segment `sreg` -> linear address, with the limit check
  // of an expand-up segment: offset + size - 1 <= limit, computed as the sign
  // of limit - last byte without touching the flags. Clobbers rcx, r8, r9.
  unsigned SegmentBits(int seg) const {
    return (block_->key >> (kKeySegShift + kKeySegBits * seg)) & ((1u << kKeySegBits) - 1);
  }
  bool SegmentAllows(ZydisRegister sreg, bool write) const {
    const int seg = SegmentIndex(sreg);
    return seg >= 0 && (SegmentBits(seg) & (write ? kSegWrite : kSegRead));
  }

  //
  // Two common cases need no check of their own: a flat segment (base 0,
  // limit 4 GiB - 1), where the last byte of an access past the limit lies
  // at 4 GiB, a page the TLB never holds in the slot of the first byte's
  // page; and a 64 KiB real-mode segment with 16-bit addresses, where the
  // last byte's offset is wrapped to 16 bits so that an access past the
  // limit ends below where it starts, again on another page (with base 0
  // no wrap is needed: it ends at 64 KiB, on a page whose slot is not the
  // first byte's). In both the TLB lookup misses and the interpreter raises
  // the fault. Says whether r8 holds the linear address of the last byte for
  // EmitTlbLookup.
  LastByte EmitSegmented(ZydisRegister sreg, unsigned size, unsigned address_width, Label slow) {
    const int seg = SegmentIndex(sreg);
    const unsigned bits = SegmentBits(seg);
    const int32_t seg_offset = static_cast<int32_t>(offsetof(x86::CpuState, seg) + seg * sizeof(x86::Segment));
    if (bits & kSegMaxLimit) {
      if (!(block_->key & kKeyReal)) return LastByte::kNotInR8;  // flat: the offset is the linear address
      if (address_width == 16) {
        a_.lea(ax::r8d, ax::ptr(kLinear, static_cast<int32_t>(size - 1)));
        if (bits & kSegBaseZero) return LastByte::kInR8FirstBelow64K;
        a_.movzx(ax::r8d, ax::r8w);
        a_.mov(ax::r9, ax::qword_ptr(kState, seg_offset + static_cast<int32_t>(offsetof(x86::Segment, base))));
        a_.lea(kLinear, ax::ptr(kLinear, ax::r9));
        a_.mov(kLinear.r32(), kLinear.r32());
        a_.lea(ax::r8, ax::ptr(ax::r8, ax::r9));
        a_.mov(ax::r8d, ax::r8d);
        return LastByte::kInR8;
      }
    }
    a_.lea(ax::r8, ax::ptr(kLinear, static_cast<int32_t>(size - 1)));
    a_.not_(ax::r8);
    a_.mov(ax::r9d, ax::dword_ptr(kState, seg_offset + static_cast<int32_t>(offsetof(x86::Segment, limit))));
    a_.lea(ax::rcx, ax::ptr(ax::r9, ax::r8, 0, 1));  // limit - last byte
    a_.mov(ax::r8d, 63);
    a_.shrx(ax::rcx, ax::rcx, ax::r8);
    Label within = a_.newLabel();
    a_.jecxz(ax::rcx, within);
    a_.jmp(slow);
    a_.bind(within);
    if (!(bits & kSegBaseZero)) {
      a_.mov(ax::r9, ax::qword_ptr(kState, seg_offset + static_cast<int32_t>(offsetof(x86::Segment, base))));
      a_.lea(kLinear, ax::ptr(kLinear, ax::r9));
      a_.mov(kLinear.r32(), kLinear.r32());  // linear addresses wrap at 4 GiB outside 64-bit mode
    }
    return LastByte::kNotInR8;
  }

  // kHostAddr = host address of `size` bytes at kLinear, or a jump to `slow`
  // (flag-free: SHRX/RORX/LEA/MOV/NOT/JRCXZ). Clobbers rcx, r8, r9.
  // With `addend_only`, kHostAddr is left holding host minus linear address,
  // for an operand [kHostAddr + kLinear].
  void EmitTlbLookup(bool write, unsigned size, Label slow, LastByte last = LastByte::kNotInR8,
                     bool addend_only = false) {
    const int32_t kind_offset = static_cast<int32_t>(((write ? 2 : 0) + (user_ ? 1 : 0)) * Tlb::kEntries *
                                                     sizeof(JitTlbEntry));
    static_assert(sizeof(JitTlbEntry) == 16);
    Clobber(Bit(ax::rcx) | Bit(ax::r8) | Bit(ax::r9) | Bit(kHostAddr));
    if (last == LastByte::kNotInR8) a_.lea(ax::r8, ax::ptr(kLinear, static_cast<int32_t>(size - 1)));
    a_.shrx(ax::r8, ax::r8, kTwelve);  // page of the last byte
    static_assert(Tlb::kJitIndexBits >= 4);
    if (last == LastByte::kInR8FirstBelow64K) {
      a_.shrx(ax::r9, kLinear, kTwelve);  // the page is its own slot
    } else {
      // slot: kJitIndexBits bits from bit 12 of the linear address (AND would
      // clobber the flags): rotated to the top, shifted down.
      a_.rorx(ax::r9, kLinear, 12 + Tlb::kJitIndexBits);
      a_.mov(ax::ecx, 64 - Tlb::kJitIndexBits);
      a_.shrx(ax::r9, ax::r9, ax::rcx);
    }
    a_.lea(ax::r9, ax::ptr(ax::r9, ax::r9));
    a_.mov(ax::rcx, ax::qword_ptr(kTlb, ax::r9, 3, kind_offset));
    a_.lea(ax::rcx, ax::ptr(ax::rcx, ax::r8, 0, 1));  // last page - slot page
    Label hit = a_.newLabel();
    a_.jecxz(ax::rcx, hit);
    a_.jmp(slow);
    a_.bind(hit);
    a_.mov(kHostAddr, ax::qword_ptr(kTlb, ax::r9, 3, kind_offset + 8));
    if (!addend_only) a_.lea(kHostAddr, ax::ptr(kHostAddr, kLinear));
  }

  SlowPath& NewSlowPath(bool flags_before, bool flags_after) {
    SlowPath& p = slow_paths_.emplace_back();
    p.entry = a_.newLabel();
    p.done = a_.newLabel();
    p.index = index_;
    p.flags_in_host_before = flags_before;
    p.flags_in_host_after = flags_after;
    return p;
  }

  // Calls Jit::Interpret for the instruction; the call returns only when
  // the block goes on (Runtime::interpret leaves it otherwise).
  void EmitInterpretCall(unsigned index, bool branch = false) {
    a_.mov(ax::edx, index);
    a_.mov(ax::ecx, branch ? 1 : 0);
    a_.call(interpret_thunk_);
    valid_ = 0;  // (the interpreter may have changed any guest register)
  }

  void EmitSlowPath(const SlowPath& p) {
    a_.bind(p.entry);
    flags_in_host_ = p.flags_in_host_before;
    SyncFlags();
    EmitInterpretCall(p.index, p.branch);
    if (p.window.valid) {
      // (The flags are in CpuState here, as the way out wants them.)
      Label miss = a_.newLabel(), hit = a_.newLabel();
      EmitWindowLookup(p.window_operand, p.window, miss);
      a_.jmp(hit);
      a_.bind(miss);
      a_.mov(ax::rax, p.next_rip);
      a_.mov(ax::qword_ptr(kState, kRipOffset), ax::rax);
      EmitLeave(p.index + 1);
      a_.bind(hit);
    }
    if (p.flags_in_host_after) LoadFlags();
    LoadRegisters(p.reload);
    a_.jmp(p.done);
  }

  // The whole instruction on the interpreter, inline. One that ends the
  // block (a branch, a system instruction, one crossing into the next page)
  // goes on through the jump cache to where it left RIP, unless the
  // interpreter's loop must see what it did (Interpret): the jump cache
  // finds a block of the same context only, so a change of mode or CPL
  // leaves for the dispatcher there.
  void EmitInterpreted(bool ends_block) {
    SyncFlags();
    flags_in_host_ = false;
    EmitInterpretCall(index_, ends_block);
    if (ends_block) EmitJumpCacheExit(index_ + 1);
  }

  void EmitReadSelector(int reg, int seg, unsigned width) {
    Clobber(Bit(ax::rax) | 1u << reg);
    a_.movzx(ax::eax, ax::word_ptr(kState, static_cast<int32_t>(offsetof(x86::CpuState, seg) + seg * sizeof(x86::Segment) +
                                                                offsetof(x86::Segment, selector))));
    if (width == 16) {
      a_.mov(ax::word_ptr(kState, 8 * reg), ax::ax);
    } else {
      a_.mov(ax::qword_ptr(kState, 8 * reg), ax::rax);
    }
  }

  // CLI or STI at CPL 0 (SS.DPL, as Cpu::cpl() has it, checked at run time)
  // clears or sets IF; anything else (CPL 1-2, IOPL) is the interpreter's.
  // STI sets the interrupt shadow where IF was clear (ops_system.cc).
  void EmitInterruptFlag(bool set) {
    SlowPath& slow = Cpl0SlowPath();
    if (set) {
      a_.test(ax::dword_ptr(kState, kFlagsOffset), static_cast<int32_t>(x86::kFlagIf));
      a_.setz(ax::byte_ptr(kState, kShadowOffset));
      a_.or_(ax::qword_ptr(kState, kFlagsOffset), static_cast<int32_t>(x86::kFlagIf));
    } else {
      a_.and_(ax::qword_ptr(kState, kFlagsOffset), static_cast<int32_t>(~x86::kFlagIf));
    }
    BindDone(slow);
  }

  // A slow path for an instruction that only CPL 0 may run in a block that
  // is not CPL 3's (CPL 1 and 2 are the interpreter's, which raises #GP),
  // and the run-time check that takes it: SS.DPL, as Cpu::cpl() has it.
  // The guest's flags go to CpuState first (the check is a TEST).
  SlowPath& Cpl0SlowPath() {
    SyncFlags();
    flags_in_host_ = false;
    SlowPath& slow = NewSlowPath(false, false);
    if (!(block_->key & kKeyReal)) {
      constexpr int32_t kSsAttrib =
          offsetof(x86::CpuState, seg) + x86::kSs * sizeof(x86::Segment) + offsetof(x86::Segment, attrib);
      a_.test(ax::dword_ptr(kState, kSsAttrib), static_cast<int32_t>(3u << x86::Segment::kDplShift));
      a_.jnz(slow.entry);
    }
    return slow;
  }

  // SWAPGS at CPL 0 in 64-bit code (every kernel entry and exit): blocks
  // read the GS base from CpuState at each access.
  void EmitSwapgs() {
    SlowPath& slow = Cpl0SlowPath();
    constexpr int32_t kGsBase =
        offsetof(x86::CpuState, seg) + x86::kGs * sizeof(x86::Segment) + offsetof(x86::Segment, base);
    constexpr int32_t kKernelGsBase = offsetof(x86::CpuState, msr) + offsetof(x86::Msrs, kernel_gs_base);
    Clobber(Bit(ax::rax) | Bit(ax::rcx));
    a_.mov(ax::rax, ax::qword_ptr(kState, kGsBase));
    a_.mov(ax::rcx, ax::qword_ptr(kState, kKernelGsBase));
    a_.mov(ax::qword_ptr(kState, kGsBase), ax::rcx);
    a_.mov(ax::qword_ptr(kState, kKernelGsBase), ax::rax);
    BindDone(slow);
  }

  // MOV from CR0, CR2, CR3 or CR4 at CPL 0 in 64-bit code (CR2 in the
  // page-fault handler): a read changes nothing.
  void EmitReadControl(int reg, int32_t offset) {
    SlowPath& slow = Cpl0SlowPath();
    Clobber(Bit(ax::rax) | 1u << reg);
    a_.mov(ax::rax, ax::qword_ptr(kState, offset));
    a_.mov(ax::qword_ptr(kState, 8 * reg), ax::rax);
    BindDone(slow);
  }

  // Leaves after `count` instructions for CpuState::rip, straight into its
  // block when the jump cache has one for this context and budget remains
  // (Runtime::jump_cache_exit; flags already in CpuState; clobbers rax, rcx,
  // rdx, r8 and the host flags).
  void EmitJumpCacheExit(unsigned count) {
    a_.add(kBudget, count);
    a_.jge(epilogue_);
    a_.mov(ax::edx, block_->context);
    a_.jmp(asmjit::imm(jit_->runtime().jump_cache_exit));
    valid_ = 0;
  }

  void EmitJcc(const ZydisDecodedInstruction& zi, const ZydisDecodedOperand* zops) {
    NeedFlagsInHost();
    Label taken = a_.newLabel();
    a_.j(static_cast<ax::CondCode>(zi.opcode & 0xF), taken);
    const uint32_t valid = valid_;
    EmitExit(next_rip_, index_ + 1);
    a_.bind(taken);
    valid_ = valid;  // (only the branch reaches `taken`)
    EmitDirect(Target(zi, zops), index_ + 1);
  }

  // A direct exit to `rip`; back to the block's own start within the budget
  // it stays in host code with the flags in the host (flag-free budget check).
  void EmitDirect(uint64_t rip, unsigned count) {
    if (rip == block_->rip) {
      branches_to_itself_ = true;
      valid_at_branches_back_ &= valid_;
    }
    if (rip == block_->rip && loop_entry_ && flags_in_host_) {
      LoadRegisters(loop_regs_ & ~valid_);
      // JRCXZ is the flag-free branch: rcx, where the loop carries it (a
      // guest register), waits in r9, which is not among kLoopRegisters.
      // kBudget >> 12 is 0 once it has counted up to 0 (it passes 0 by less
      // than 4096: by one block's instructions), and not while it is negative.
      const bool carries_rcx = loop_regs_ & Bit(ax::rcx);
      if (carries_rcx) a_.mov(ax::r9, ax::rcx);
      a_.lea(kBudget, ax::ptr(kBudget, static_cast<int32_t>(count)));
      a_.shrx(ax::rcx, kBudget, kTwelve);
      Label spent = a_.newLabel();
      a_.jecxz(ax::rcx, spent);  // (JRCXZ reaches 127 bytes only)
      if (carries_rcx) a_.mov(ax::rcx, ax::r9);
      a_.jmp(loop_body_);
      a_.bind(spent);
      Clobber(Bit(ax::rcx) | Bit(ax::r9));
      a_.lea(kBudget, ax::ptr(kBudget, -static_cast<int32_t>(count)));
    }
    EmitExit(rip, count);
  }

  // kLinear = RSP + delta, then the stack slot's host address (or the slow path).
  Label StackAccess(int32_t delta, bool write, const SlowPath& slow) {
    Clobber(kStackClobbers);
    a_.mov(kLinear, ax::qword_ptr(kState, kRspOffset));
    if (delta) a_.lea(kLinear, ax::ptr(kLinear, delta));
    EmitTlbLookup(write, 8, slow.entry);
    return slow.done;
  }

  // kLinear = the linear address of the dword at SS:ESP + delta, the new
  // offset in rdx (wrapped to 32 bits), or a jump to the slow path.
  void StackAccess32(int32_t delta, bool write, const SlowPath& slow) {
    Clobber(kStackClobbers);
    a_.mov(ax::edx, ax::dword_ptr(kState, kRspOffset));
    if (delta) a_.lea(ax::edx, ax::ptr(ax::rdx, delta));
    a_.mov(kLinear.r32(), ax::edx);
    EmitTlbLookup(write, 4, slow.entry, EmitSegmented(ZYDIS_REGISTER_SS, 4, 32, slow.entry));
  }

  void EmitPush32(const ZydisDecodedOperand& op) {
    SlowPath& slow = NewSlowPath(flags_in_host_, flags_in_host_);
    StackAccess32(-4, true, slow);
    if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
      a_.mov(ax::eax, static_cast<uint32_t>(op.imm.value.u));
    } else {
      a_.mov(ax::eax, ax::dword_ptr(kState, 8 * GprNumber(op.reg.value)));  // PUSH ESP: the old value
    }
    a_.mov(ax::dword_ptr(kHostAddr), ax::eax);
    a_.mov(ax::qword_ptr(kState, kRspOffset), ax::rdx);
    Clobber(kStackClobbers);
    BindDone(slow);
  }

  void EmitPop32(int reg) {
    SlowPath& slow = NewSlowPath(flags_in_host_, flags_in_host_);
    StackAccess32(0, false, slow);
    a_.mov(ax::eax, ax::dword_ptr(kHostAddr));
    a_.lea(ax::edx, ax::ptr(ax::rdx, 4));
    a_.mov(ax::qword_ptr(kState, kRspOffset), ax::rdx);
    a_.mov(ax::qword_ptr(kState, 8 * reg), ax::rax);  // after ESP: POP ESP loads ESP
    Clobber(kStackClobbers | 1u << reg);
    BindDone(slow);
  }

  void EmitCallRel32(uint64_t target) {
    SlowPath& slow = NewSlowPath(flags_in_host_, flags_in_host_);
    StackAccess32(-4, true, slow);
    a_.mov(ax::eax, static_cast<uint32_t>(next_rip_));
    a_.mov(ax::dword_ptr(kHostAddr), ax::eax);
    a_.mov(ax::qword_ptr(kState, kRspOffset), ax::rdx);
    EmitExit(target, index_ + 1);
    BindDone(slow);  // the slow path interpreted the CALL
    SyncFlags();
    EmitLeave(index_ + 1);
  }

  // A return address past the CS limit is #GP(0) at the RET: the interpreter's.
  void EmitRet32(uint64_t release) {
    SyncFlags();  // the limit check below uses the host flags
    flags_in_host_ = false;
    SlowPath& slow = NewSlowPath(false, false);
    StackAccess32(0, false, slow);
    a_.mov(ax::eax, ax::dword_ptr(kHostAddr));
    a_.mov(ax::ecx, static_cast<uint32_t>(block_->key >> 32));
    a_.cmp(ax::rax, ax::rcx);
    a_.ja(slow.entry);
    a_.lea(ax::edx, ax::ptr(ax::rdx, static_cast<int32_t>(4 + release)));
    a_.mov(ax::qword_ptr(kState, kRspOffset), ax::rdx);
    a_.mov(ax::qword_ptr(kState, kRipOffset), ax::rax);
    EmitJumpCacheExit(index_ + 1);
    BindDone(slow);
    EmitLeave(index_ + 1);
  }

  // A 64-bit push of what `load_rax` puts in rax, once the stack slot's
  // lookup (which clobbers rax) has found it; a miss or fault takes `slow`.
  template <typename LoadRax>
  void EmitPush64(const SlowPath& slow, LoadRax load_rax) {
    StackAccess(-8, true, slow);
    load_rax();
    a_.mov(ax::qword_ptr(kHostAddr), ax::rax);
    a_.mov(ax::qword_ptr(kState, kRspOffset), kLinear);
  }

  void EmitPush(const ZydisDecodedOperand& op) {
    SlowPath& slow = NewSlowPath(flags_in_host_, flags_in_host_);
    EmitPush64(slow, [&] {
      if (op.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        a_.mov(ax::rax, op.imm.value.s);
      } else {
        a_.mov(ax::rax, ax::qword_ptr(kState, 8 * GprNumber(op.reg.value)));
      }
    });
    Clobber(kStackClobbers);
    BindDone(slow);
  }

  // PUSH of a memory operand (the kernel's exit paths copy the IRET frame
  // so): its address is RSP's before the push, and a fault in either access
  // runs the whole instruction on the interpreter.
  void EmitPushMemory(const ZydisDecodedInstruction& zi, const ZydisDecodedOperand& op) {
    SlowPath& slow = NewSlowPath(flags_in_host_, flags_in_host_);
    EmitLoadOperand(zi, op, slow);
    Clobber(Bit(ax::rsi));  // (not among the stack lookup's registers)
    a_.mov(ax::rsi, ax::rax);
    EmitPush64(slow, [&] { a_.mov(ax::rax, ax::rsi); });
    Clobber(kStackClobbers);
    BindDone(slow);
  }

  // LEAVE with a 64-bit stack: RSP = RBP, then POP RBP.
  void EmitLeaveFrame() {
    SlowPath& slow = NewSlowPath(flags_in_host_, flags_in_host_);
    Clobber(kStackClobbers);
    a_.mov(kLinear, ax::qword_ptr(kState, 8 * x86::kRbp));
    EmitTlbLookup(false, 8, slow.entry);
    a_.mov(ax::rax, ax::qword_ptr(kHostAddr));
    a_.lea(kLinear, ax::ptr(kLinear, 8));
    a_.mov(ax::qword_ptr(kState, kRspOffset), kLinear);
    a_.mov(ax::qword_ptr(kState, 8 * x86::kRbp), ax::rax);
    Clobber(Bit(ax::rbp));
    BindDone(slow);
  }

  void EmitPop(int reg) {
    SlowPath& slow = NewSlowPath(flags_in_host_, flags_in_host_);
    StackAccess(0, false, slow);
    a_.mov(ax::rax, ax::qword_ptr(kHostAddr));
    a_.lea(kLinear, ax::ptr(kLinear, 8));
    a_.mov(ax::qword_ptr(kState, kRspOffset), kLinear);
    a_.mov(ax::qword_ptr(kState, 8 * reg), ax::rax);  // after RSP: POP RSP loads RSP
    Clobber(kStackClobbers | 1u << reg);
    BindDone(slow);
  }

  void EmitCallRel(uint64_t target) {
    SlowPath& slow = NewSlowPath(flags_in_host_, flags_in_host_);
    EmitPush64(slow, [&] { a_.mov(ax::rax, next_rip_); });
    EmitExit(target, index_ + 1);
    // The slow path interpreted the CALL: RIP is already the target.
    BindDone(slow);
    SyncFlags();
    EmitLeave(index_ + 1);
  }

  void EmitRet(uint64_t release) {
    SlowPath& slow = NewSlowPath(flags_in_host_, false);
    slow.branch = true;  // a TLB miss on the stack goes on through the jump cache too
    StackAccess(0, false, slow);
    a_.mov(ax::rax, ax::qword_ptr(kHostAddr));
    // A non-canonical return address is #GP at the RET: the interpreter's.
    EmitCanonicalCheck(slow);
    a_.lea(kLinear, ax::ptr(kLinear, static_cast<int32_t>(8 + release)));
    a_.mov(ax::qword_ptr(kState, kRspOffset), kLinear);
    a_.mov(ax::qword_ptr(kState, kRipOffset), ax::rax);
    LeaveThroughJumpCache(slow);
  }

  // Whether EmitLinear takes memory operand `op` (checked before a slow
  // path is made for it).
  bool Addressable(const ZydisDecodedOperand& op, bool write) const {
    if (op.type != ZYDIS_OPERAND_TYPE_MEMORY) return false;
    if (code_bits_ != 64 && !SegmentAllows(op.mem.segment, write)) return false;
    const ZydisRegister base = op.mem.base, index = op.mem.index;
    if (base == ZYDIS_REGISTER_RIP || base == ZYDIS_REGISTER_EIP) return index == ZYDIS_REGISTER_NONE;
    return (base == ZYDIS_REGISTER_NONE || GprNumber(base) >= 0) && (index == ZYDIS_REGISTER_NONE || GprNumber(index) >= 0);
  }

  // A general register or addressable memory of `size` bits: the operand of
  // JMP/CALL (EmitIndirect) or DIV (EmitDiv).
  bool TakesOperand(const ZydisDecodedOperand& op, unsigned size) const {
    return op.size == size && (IsGpr(op) ? !IsHighByte(op.reg.value) : Addressable(op, false));
  }

  // rax = the value of register or memory operand `op` (8 bytes, or 4
  // zero-extended), or a jump to `slow` for a miss or a fault.
  void EmitLoadOperand(const ZydisDecodedInstruction& zi, const ZydisDecodedOperand& op, const SlowPath& slow) {
    const unsigned bytes = op.size / 8;
    if (op.type == ZYDIS_OPERAND_TYPE_MEMORY) {
      LastByte last = LastByte::kNotInR8;
      EmitLinear(op, zi.address_width, bytes, false, slow.entry, &last);
      EmitTlbLookup(false, bytes, slow.entry, last);
      Clobber(Bit(ax::rax));
      if (bytes == 8) a_.mov(ax::rax, ax::qword_ptr(kHostAddr));
      else a_.mov(ax::eax, ax::dword_ptr(kHostAddr));
      return;
    }
    const int n = GprNumber(op.reg.value);
    if (valid_ >> n & 1) {
      if (bytes == 8) a_.mov(ax::rax, ax::gpq(n));
      else a_.mov(ax::eax, ax::gpd(n));
    } else {
      if (bytes == 8) a_.mov(ax::rax, ax::qword_ptr(kState, 8 * n));
      else a_.mov(ax::eax, ax::dword_ptr(kState, 8 * n));
    }
    Clobber(Bit(ax::rax));
  }

  // BT/BTS/BTR/BTC of a bit string in memory, the bit's number in a register
  // (the kernel's bitmaps): the signed number picks the dword or qword
  // (SDM vol. 2, BT), and the host instruction gets the bit within it, so
  // that it does not index host memory from the guest's number itself.
  void EmitBitString(const ZydisDecodedInstruction& zi, const ZydisDecodedOperand& mem, int bit_reg) {
    const bool wide = mem.size == 64;
    const unsigned shift = wide ? 6 : 5;
    const bool write = zi.mnemonic != ZYDIS_MNEMONIC_BT;
    NeedFlagsInHost();
    SlowPath& slow = NewSlowPath(true, true);
    LastByte last = LastByte::kNotInR8;  // (unused: the bit's offset moves the address)
    EmitLinear(mem, zi.address_width, mem.size / 8, write, slow.entry, &last);
    // All flag-free until the instruction itself: the guest's flags are in the host's.
    Clobber(Bit(ax::rax) | Bit(ax::rcx) | Bit(ax::rdx));
    if (wide) a_.mov(ax::rax, ax::qword_ptr(kState, 8 * bit_reg));
    else a_.movsxd(ax::rax, ax::dword_ptr(kState, 8 * bit_reg));
    a_.mov(ax::ecx, shift);
    a_.sarx(ax::rdx, ax::rax, ax::rcx);
    a_.lea(kLinear, ax::ptr(kLinear, ax::rdx, shift - 3));
    a_.mov(ax::ecx, 64 - shift);
    a_.shlx(ax::rax, ax::rax, ax::rcx);
    a_.shrx(ax::rax, ax::rax, ax::rcx);  // the bit within the operand
    EmitTlbLookup(write, mem.size / 8, slow.entry);
    const ax::Mem operand = wide ? ax::qword_ptr(kHostAddr) : ax::dword_ptr(kHostAddr);
    const ax::Gp bit = wide ? ax::Gp(ax::rax) : ax::Gp(ax::eax);
    if (zi.attributes & ZYDIS_ATTRIB_HAS_LOCK) a_.lock();
    switch (zi.mnemonic) {
      case ZYDIS_MNEMONIC_BT: a_.bt(operand, bit); break;
      case ZYDIS_MNEMONIC_BTS: a_.bts(operand, bit); break;
      case ZYDIS_MNEMONIC_BTR: a_.btr(operand, bit); break;
      default: a_.btc(operand, bit); break;
    }
    BindDone(slow);
  }

  // PUSHFQ in 64-bit code at CPL 0 (the kernel's irqsave locks): RFLAGS
  // with VM and RF clear, as the interpreter pushes it.
  void EmitPushf() {
    SyncFlags();
    flags_in_host_ = false;
    SlowPath& slow = NewSlowPath(false, false);
    EmitPush64(slow, [&] {
      a_.mov(ax::rax, ax::qword_ptr(kState, kFlagsOffset));
      a_.and_(ax::rax, static_cast<int32_t>(~(x86::kFlagVm | x86::kFlagRf)));
    });
    BindDone(slow);
  }

  // Unsigned DIV of EDX:EAX or RDX:RAX on the host, when the divisor is not
  // 0 and the quotient fits (high half below the divisor); else the
  // interpreter raises #DE. The interpreter leaves the flags, which DIV
  // leaves undefined, as they were: so does this (they stay in CpuState).
  void EmitDiv(const ZydisDecodedInstruction& zi, const ZydisDecodedOperand& op) {
    SyncFlags();
    flags_in_host_ = false;
    SlowPath& slow = NewSlowPath(false, false);
    EmitLoadOperand(zi, op, slow);
    const bool wide = op.size == 64;
    Clobber(Bit(ax::rcx) | Bit(ax::rdx));
    a_.mov(ax::rcx, ax::rax);
    a_.mov(ax::rax, ax::qword_ptr(kState, 8 * x86::kRax));
    a_.mov(ax::rdx, ax::qword_ptr(kState, 8 * x86::kRdx));
    if (wide) {
      a_.cmp(ax::rdx, ax::rcx);
      a_.jae(slow.entry);
      a_.div(ax::rcx);
    } else {
      a_.cmp(ax::edx, ax::ecx);
      a_.jae(slow.entry);
      a_.div(ax::ecx);  // (zero-extends both results, as a 32-bit register write does)
    }
    a_.mov(ax::qword_ptr(kState, 8 * x86::kRax), ax::rax);
    a_.mov(ax::qword_ptr(kState, 8 * x86::kRdx), ax::rdx);
    Clobber(Bit(ax::rax) | Bit(ax::rdx));
    BindDone(slow);
  }

  // JMP/CALL through a register or memory in 64-bit code (the kernel's
  // retpoline thunks, function pointers, jump tables): the target is read,
  // the return address pushed, and the block left through the jump cache.
  // A fault, a non-canonical target (#GP at the branch) or a store into code
  // sends the whole instruction to the interpreter, which has then done it.
  void EmitIndirect(const ZydisDecodedInstruction& zi, const ZydisDecodedOperand& op, bool call) {
    SlowPath& slow = NewSlowPath(flags_in_host_, false);
    slow.branch = true;
    EmitLoadOperand(zi, op, slow);
    EmitCanonicalCheck(slow);
    // RIP first, while rax holds the target: the slow path starts the
    // instruction over from its own RIP (Interpret).
    a_.mov(ax::qword_ptr(kState, kRipOffset), ax::rax);
    if (call) EmitPush64(slow, [&] { a_.mov(ax::rax, next_rip_); });
    LeaveThroughJumpCache(slow);
  }

  // The end of a translated branch whose target is in CpuState::rip (and of
  // its slow path, which interpreted it as a branch): on through the jump cache.
  void LeaveThroughJumpCache(SlowPath& slow) {
    SyncFlags();
    flags_in_host_ = false;
    BindDone(slow);
    EmitJumpCacheExit(index_ + 1);
  }

  // A non-canonical address in rax jumps to the slow path (flag-free;
  // clobbers rcx and rdx).
  void EmitCanonicalCheck(const SlowPath& slow) {
    Clobber(Bit(ax::rcx) | Bit(ax::rdx));
    a_.mov(ax::ecx, 16);
    a_.shlx(ax::rdx, ax::rax, ax::rcx);
    a_.sarx(ax::rdx, ax::rdx, ax::rcx);
    a_.not_(ax::rdx);
    a_.lea(ax::rcx, ax::ptr(ax::rax, ax::rdx, 0, 1));  // rax - canonical(rax)
    Label canonical = a_.newLabel();
    a_.jecxz(ax::rcx, canonical);
    a_.jmp(slow.entry);
    a_.bind(canonical);
  }

  // Re-encodes the instruction with host registers standing in for the
  // guest's and [r11] for its memory operand, and runs it on the host.
  bool EmitReplay(const ZydisDecodedInstruction& zi, const ZydisDecodedOperand* zops) {
    const unsigned visible = zi.operand_count_visible;
    const bool lea = zi.mnemonic == ZYDIS_MNEMONIC_LEA;
    const ZydisAccessedFlags* f = zi.cpu_flags;
    const uint64_t tested = f ? f->tested : 0;
    const uint64_t written = f ? (f->modified | f->set_0 | f->set_1 | f->undefined) : 0;
    if ((tested | written) & ~kArith) return false;
    const ZydisMnemonic m = zi.mnemonic;
    // XCHG of a register with itself re-encodes as 90 (NOP), which in 64-bit
    // mode does not zero-extend a 32-bit register as 87 C0 does.
    if (m == ZYDIS_MNEMONIC_XCHG && zops[0].type == ZYDIS_OPERAND_TYPE_REGISTER &&
        zops[1].type == ZYDIS_OPERAND_TYPE_REGISTER && zops[0].reg.value == zops[1].reg.value) {
      return false;
    }
    if ((m == ZYDIS_MNEMONIC_BT || m == ZYDIS_MNEMONIC_BTS || m == ZYDIS_MNEMONIC_BTR || m == ZYDIS_MNEMONIC_BTC) &&
        zops[0].type == ZYDIS_OPERAND_TYPE_MEMORY && zops[1].type == ZYDIS_OPERAND_TYPE_REGISTER) {
      return false;  // a bit string: the register offset reaches beyond the operand
    }

    int host_of[16];
    std::fill(std::begin(host_of), std::end(host_of), -1);
    bool written_reg[16] = {};
    // Registers whose old value the instruction needs: read, conditionally
    // written, or written in part (8/16 bits keep the rest).
    bool read_reg[16] = {};
    // Guest XMM n runs in host XMM n (translated code keeps nothing there).
    uint32_t xmm_used = 0, xmm_written = 0;
    uint32_t used_hosts = 1u << 4 | 1u << 11;  // host RSP and the address register never hold guest values
    auto identity_ok = [](int n) { return n >= 0 && n <= 10 && n != 4; };
    int mem = -1;
    for (unsigned k = 0; k < zi.operand_count; ++k) {
      const ZydisDecodedOperand& o = zops[k];
      if (o.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        const int n = GprNumber(o.reg.value);
        if (n < 0 && IsXmm(o.reg.value) && k < visible) {
          const int x = o.reg.value - ZYDIS_REGISTER_XMM0;
          xmm_used |= 1u << x;
          if (o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) xmm_written |= 1u << x;
          continue;
        }
        if (n < 0) {
          if (k < visible) return false;
          const ZydisRegisterClass c = ZydisRegisterGetClass(o.reg.value);
          if (c == ZYDIS_REGCLASS_FLAGS) continue;
          return false;  // RIP, segment, control... registers
        }
        if (k >= visible && !identity_ok(n)) return false;  // implicit: must stay where it is
        if (IsHighByte(o.reg.value) && !identity_ok(n)) return false;
        if (o.actions & ZYDIS_OPERAND_ACTION_MASK_WRITE) written_reg[n] = true;
        // (BSF/BSR leave the destination as it was when the source is 0.)
        if ((o.actions & (ZYDIS_OPERAND_ACTION_MASK_READ | ZYDIS_OPERAND_ACTION_CONDWRITE)) || o.size < 32 ||
            IsHighByte(o.reg.value) || m == ZYDIS_MNEMONIC_BSF || m == ZYDIS_MNEMONIC_BSR) {
          read_reg[n] = true;
        }
        if (host_of[n] < 0 && identity_ok(n)) {
          host_of[n] = n;
          used_hosts |= 1u << n;
        }
        if (host_of[n] < 0) host_of[n] = -2;  // assigned below
      } else if (o.type == ZYDIS_OPERAND_TYPE_MEMORY) {
        if (k >= visible || mem >= 0) return false;
        if (o.mem.type != ZYDIS_MEMOP_TYPE_MEM && !(lea && o.mem.type == ZYDIS_MEMOP_TYPE_AGEN)) return false;
        mem = static_cast<int>(k);
        if (lea && o.mem.base != ZYDIS_REGISTER_RIP && o.mem.base != ZYDIS_REGISTER_EIP) {
          for (ZydisRegister r : {o.mem.base, o.mem.index}) {
            if (r == ZYDIS_REGISTER_NONE) continue;
            const int n = GprNumber(r);
            if (n < 0) return false;
            read_reg[n] = true;
            if (host_of[n] < 0 && identity_ok(n)) {
              host_of[n] = n;
              used_hosts |= 1u << n;
            }
            if (host_of[n] < 0) host_of[n] = -2;
          }
        }
      } else if (o.type != ZYDIS_OPERAND_TYPE_IMMEDIATE) {
        return false;
      }
    }
    for (int n = 0; n < 16; ++n) {
      if (host_of[n] != -2) continue;
      int h = 0;
      while (h <= 10 && (used_hosts >> h & 1)) ++h;
      if (h > 10) return false;
      host_of[n] = h;
      used_hosts |= 1u << h;
    }
    // Host-flag access beyond the arithmetic flags, or faults the host would
    // take itself, never reach here: DIV/IDIV and the like are not replayable.
    const bool is_shift = zi.meta.category == ZYDIS_CATEGORY_SHIFT || zi.meta.category == ZYDIS_CATEGORY_ROTATE;
    const bool needs_flags = tested || (written && written != kArith) || (is_shift && written);

    // The operand is [r11 + r10] (TLB addend + linear address) unless r10
    // holds a guest register of the instruction.
    const bool linear_kept = !(used_hosts >> kLinear.id() & 1);
    // An access inside the window an earlier one looked up needs no lookup;
    // otherwise it may open a window of its own (no code is emitted here).
    const ZydisDecodedOperand* access = mem >= 0 && !lea ? &zops[mem] : nullptr;
    const bool access_writes = access && (access->actions & ZYDIS_OPERAND_ACTION_MASK_WRITE);
    const bool aligned16 = access && access->size == 128 && !IsUnalignedSse(zi.mnemonic);
    const bool windowed =
        access && linear_kept && WindowHolds(incoming_window_, *access, zi.address_width, access_writes);
    const Window opened = !access || windowed || !linear_kept || aligned16 ||
                                  !WindowOperand(*access, zi.address_width) || written_reg[GprNumber(access->mem.base)]
                              ? Window{}
                              : OpenWindow(*access, zi.address_width, access_writes);
    // The operand's offset from kLinear, where that holds the window's first byte.
    int32_t from_lo = 0;
    if (windowed && incoming_window_.lo_in_linear) from_lo = static_cast<int32_t>(Disp(*access) - incoming_window_.lo);
    if (opened.valid) from_lo = static_cast<int32_t>(Disp(*access) - opened.lo);

    ZydisEncoderRequest req;
    if (!ZYAN_SUCCESS(ZydisEncoderDecodedInstructionToEncoderRequest(&zi, zops, static_cast<ZyanU8>(visible), &req))) {
      return false;
    }
    // The LOCK prefix must survive re-encoding: the host's locked instruction
    // on the guest page's host address is what keeps a guest RMW atomic
    // against other vCPU threads (XCHG with memory locks by itself).
    if ((zi.attributes & ZYDIS_ATTRIB_HAS_LOCK) && !(req.prefixes & ZYDIS_ATTRIB_HAS_LOCK)) return false;
    req.machine_mode = ZYDIS_MACHINE_MODE_LONG_64;  // the host's: same semantics for 16/32-bit operands
    bool rip_relative_lea = false;
    for (unsigned k = 0; k < visible; ++k) {
      ZydisEncoderOperand& e = req.operands[k];
      if (e.type == ZYDIS_OPERAND_TYPE_REGISTER) {
        if (IsXmm(e.reg.value)) continue;  // XMM n is host XMM n
        e.reg.value = WithNumber(e.reg.value, host_of[GprNumber(e.reg.value)]);
      } else if (e.type == ZYDIS_OPERAND_TYPE_MEMORY) {
        if (lea) {
          if (e.mem.base == ZYDIS_REGISTER_RIP || e.mem.base == ZYDIS_REGISTER_EIP) {
            rip_relative_lea = true;
          } else {
            if (e.mem.base != ZYDIS_REGISTER_NONE) e.mem.base = WithNumber(e.mem.base, host_of[GprNumber(e.mem.base)]);
            if (e.mem.index != ZYDIS_REGISTER_NONE) {
              e.mem.index = WithNumber(e.mem.index, host_of[GprNumber(e.mem.index)]);
            }
          }
        } else {
          e.mem.base = ZYDIS_REGISTER_R11;
          e.mem.index = linear_kept ? ZYDIS_REGISTER_R10 : ZYDIS_REGISTER_NONE;
          e.mem.scale = linear_kept ? 1 : 0;
          e.mem.displacement = from_lo;
        }
      }
    }
    if (!lea) {
      req.prefixes &= ~(ZYDIS_ATTRIB_HAS_SEGMENT | ZYDIS_ATTRIB_HAS_SEGMENT_CS | ZYDIS_ATTRIB_HAS_SEGMENT_SS |
                        ZYDIS_ATTRIB_HAS_SEGMENT_DS | ZYDIS_ATTRIB_HAS_SEGMENT_ES | ZYDIS_ATTRIB_HAS_SEGMENT_FS |
                        ZYDIS_ATTRIB_HAS_SEGMENT_GS);
      req.address_size_hint = ZYDIS_ADDRESS_SIZE_HINT_NONE;
    }

    if (rip_relative_lea) {
      // LEA reg, [rip + disp]: a constant, written with the operand size's rules.
      const ZydisDecodedOperand& m = zops[1];
      uint64_t value = next_rip_ + m.mem.disp.value;
      if (zi.address_width == 32) value &= 0xFFFFFFFF;
      const int n = GprNumber(zops[0].reg.value);
      Clobber(Bit(ax::rax) | 1u << n);
      switch (zi.operand_width) {
        case 16:
          a_.mov(ax::word_ptr(kState, 8 * n), static_cast<int32_t>(value & 0xFFFF));
          break;
        case 32:
          a_.mov(ax::eax, static_cast<uint32_t>(value));
          a_.mov(ax::qword_ptr(kState, 8 * n), ax::rax);
          break;
        default:
          a_.mov(ax::rax, value);
          a_.mov(ax::qword_ptr(kState, 8 * n), ax::rax);
          break;
      }
      return true;
    }

    uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];
    ZyanUSize length = sizeof(bytes);
    if (!ZYAN_SUCCESS(ZydisEncoderEncodeInstruction(&req, bytes, &length))) return false;

    if (needs_flags) NeedFlagsInHost();
    const bool flags_before = flags_in_host_;
    const bool flags_after = flags_in_host_ || written;
    SlowPath* slow = nullptr;
    if (access) {
      const ZydisDecodedOperand& m = *access;
      const bool write = access_writes;
      const unsigned size = m.size / 8;
      if (size == 0 || size > (xmm_used || zi.mnemonic == ZYDIS_MNEMONIC_CMPXCHG16B ? 16 : 8)) return false;
      // Alignment (aligned16) is a property of the offset (the interpreter's
      // check), and the host instruction needs its (linear) address aligned:
      // both hold when the linear address and the segment base are aligned.
      // The base is checked where it is not known to be 0 (FS and GS in
      // 64-bit code: the kernel's per-CPU CMPXCHG16B). (CMPXCHG16B too.)
      const int seg = SegmentIndex(m.mem.segment);
      const bool base_zero = code_bits_ == 64 ? seg != x86::kFs && seg != x86::kGs
                                              : (SegmentBits(seg) & kSegBaseZero) != 0;
      LastByte last = LastByte::kNotInR8;
      if (windowed) {
        // Inside the window an earlier access checked: no lookup, nothing
        // that can miss, and no address to form while kLinear holds its start.
        window_ = incoming_window_;
        if (!window_.lo_in_linear) {
          const Label unused = a_.newLabel();
          if (!EmitLinear(m, zi.address_width, size, write, unused, &last)) return false;
        }
      }
      // Nothing emitted yet, so giving up here needs no undo... except the
      // flag load above, which is harmless.
      if (!windowed) slow = &NewSlowPath(flags_before, flags_after);
      if (opened.valid) {
        // The window's bytes are looked up at once; this access is at
        // disp - lo within them.
        if (!EmitWindowLookup(m, opened, slow->entry)) {
          slow_paths_.pop_back();
          return false;
        }
        slow->window = opened;
        slow->window_operand = m;
        slow->next_rip = next_rip_;
        window_ = opened;
        window_.lo_in_linear = true;  // (its slow path leaves it so too)
      } else if (!windowed && !EmitLinear(m, zi.address_width, size, write, slow->entry, &last)) {
        slow_paths_.pop_back();
        return false;  // (flags already loaded: still consistent)
      }
      if (aligned16) {
        // Flag-free: the low four bits shifted to the top are zero when aligned.
        auto check = [&](const ax::Gp& value) {
          Label aligned = a_.newLabel();
          a_.mov(ax::r9d, 60);  // (r8 may hold the last byte's address)
          a_.shlx(ax::rcx, value, ax::r9);
          a_.jecxz(ax::rcx, aligned);
          a_.jmp(slow->entry);
          a_.bind(aligned);
        };
        check(kLinear);
        if (!base_zero) {
          a_.mov(ax::rcx, ax::qword_ptr(kState, static_cast<int32_t>(offsetof(x86::CpuState, seg) +
                                                                     seg * sizeof(x86::Segment) +
                                                                     offsetof(x86::Segment, base))));
          check(ax::rcx);
        }
      }
      if (!windowed && !opened.valid) EmitTlbLookup(write, size, slow->entry, last, linear_kept);
    }
    constexpr int32_t kXmmOffset = offsetof(x86::CpuState, fx) + offsetof(x86::FxState, xmm);
    for (int n = 0; n < 16; ++n) {
      const bool cached = host_of[n] == n && (valid_ >> n & 1);
      if (host_of[n] >= 0 && read_reg[n] && !cached) a_.mov(ax::gpq(host_of[n]), ax::qword_ptr(kState, 8 * n));
      if (xmm_used >> n & 1) a_.movdqu(ax::xmm(n), ax::xmmword_ptr(kState, kXmmOffset + 16 * n));
    }
    a_.embed(bytes, length);
    for (int n = 0; n < 16; ++n) {
      if (host_of[n] >= 0 && written_reg[n]) a_.mov(ax::qword_ptr(kState, 8 * n), ax::gpq(host_of[n]));
      if (xmm_written >> n & 1) a_.movdqu(ax::xmmword_ptr(kState, kXmmOffset + 16 * n), ax::xmm(n));
    }
    // Identity-mapped registers now hold their guest values; a host register
    // that stood in for another guest register does not.
    for (int n = 0; n < 16; ++n) {
      if (host_of[n] < 0) continue;
      if (host_of[n] == n) valid_ |= 1u << n;
      else Clobber(1u << host_of[n]);
    }
    if (slow) BindDone(*slow);
    flags_in_host_ = flags_after;
    // A register-only instruction keeps the window open unless it changes
    // the window's base (so does an access through it, or the one opening it).
    if (!access) window_ = incoming_window_;
    if (window_.valid && written_reg[GprNumber(window_.base)]) window_ = Window{};
    if (!linear_kept) window_.lo_in_linear = false;  // r10 held a guest register
    return true;
  }

  Jit* jit_;
  Jit::Block* block_;
  ax::Assembler& a_;
  bool user_;
  unsigned code_bits_;  // 64, 32 or 16
  bool loop_entry_;
  uint32_t loop_regs_;
  bool host_cmpxchg16b_;
  DecodeAhead& ahead_;
  bool branches_to_itself_ = false;
  uint32_t valid_at_branches_back_ = ~0u;
  Window window_, incoming_window_;  // after the current instruction; before it (Add)
  Label epilogue_;
  Label chain_entry_;  // where a chained jump from another block lands
  Label loop_body_;    // with loop_entry_: after the flag load, for branches to the start
  Label interpret_thunk_;  // calls Jit::Interpret for the block (Epilogue)
  unsigned index_ = 0;
  uint64_t rip_ = 0, next_rip_ = 0;
  bool flags_in_host_ = false;
  bool after_sti_ = false;  // the last instruction added was an STI
  std::deque<SlowPath> slow_paths_;  // (deque: an emitter holds a reference while it emits)
  struct LinkStub {
    Jit::Link* link;
    Label stub;  // the exit's way out to RunBlock
    Label jump;  // the JMP that RunBlock points at the target block
  };
  std::vector<LinkStub> link_stubs_;  // EmitExit's links
  Label tag_exit_;  // EmitExit's way out for exits to other pages, once one needs it
  // Host registers 0-10 (bit n) that hold guest register n, which CpuState
  // holds too (write-through), so an instruction need not load it. Emitters
  // drop what they overwrite; labels that other paths reach start empty, or
  // with what those paths reload (a slow path reloads SlowPath::reload).
  uint32_t valid_ = 0;
  static constexpr uint32_t Bit(const ax::Gp& r) { return 1u << r.id(); }
  static constexpr uint32_t kCallClobbers = 1u << 0 | 1u << 1 | 1u << 2 | 1u << 6 | 1u << 7 | 1u << 8 | 1u << 9 |
                                            1u << 10 | 1u << 11;  // rax rcx rdx rsi rdi r8-r11
  static constexpr uint32_t kStackClobbers = 1u << 0 | 1u << 1 | 1u << 2 | 1u << 8 | 1u << 9 | 1u << 10 | 1u << 11;
  void Clobber(uint32_t hosts) { valid_ &= ~hosts; }
  // The fast path reaches `done` with valid_; the slow path reloads the same.
  void BindDone(SlowPath& p) {
    p.reload = valid_;
    a_.bind(p.done);
  }
};

}  // namespace

Jit::Runtime::Runtime(Jit* jit, size_t arena_bytes) : arena(arena_bytes) {
  asmjit::CodeHolder code;
  code.init(asmjit::Environment::host());
  ax::Assembler a(&code);
  for (const ax::Gp& r : {ax::rbx, ax::rbp, ax::r12, ax::r13, ax::r14, ax::r15}) a.push(r);
  a.sub(ax::rsp, 8);  // 16-byte alignment at calls; holds the budget
  a.mov(ax::qword_ptr(ax::rsp), ax::rdx);
  a.mov(kBudget, ax::rdx);
  a.neg(kBudget);
  a.mov(kState, ax::rdi);
  a.mov(kTlb, ax::rsi);
  a.mov(kTwelve.r32(), 12);
  a.jmp(ax::rcx);
  const Label exit_label = a.newLabel(), link_exit_label = a.newLabel(), interpret_label = a.newLabel(),
              jump_cache_label = a.newLabel(), tag_exit_label = a.newLabel(), jump_missed_label = a.newLabel();
  static_assert(sizeof(Jit::JumpEntry) == 16);
  a.bind(jump_cache_label);
  a.mov(ax::rax, ax::qword_ptr(kState, kRipOffset));
  a.mov(ax::rcx, ax::rax);
  a.shr(ax::rcx, Jit::kJumpShift);  // Jit::JumpSlot
  a.xor_(ax::rcx, ax::rax);
  a.and_(ax::ecx, static_cast<int32_t>(Jit::kJumpSlots - 1));
  a.shl(ax::ecx, 4);
  a.mov(ax::r8, reinterpret_cast<uint64_t>(jit->jump_cache_.data()));
  a.add(ax::rcx, ax::r8);
  a.shl(ax::rdx, 48);  // Jit::JumpTag
  a.xor_(ax::rdx, ax::rax);
  a.cmp(ax::rdx, ax::qword_ptr(ax::rcx, offsetof(Jit::JumpEntry, tag)));
  a.jne(jump_missed_label);
  a.jmp(ax::qword_ptr(ax::rcx, offsetof(Jit::JumpEntry, code)));
  a.bind(interpret_label);
  a.push(ax::rdx);  // the index, for after the call (and 16-byte alignment)
  a.mov(ax::rdi, reinterpret_cast<uint64_t>(jit));
  a.mov(ax::rax, reinterpret_cast<uint64_t>(&Jit::Interpret));
  a.call(ax::rax);
  a.pop(ax::rdx);
  const Label leave = a.newLabel();
  a.test(ax::rax, ax::rax);
  a.jnz(leave);
  a.ret();
  a.bind(leave);
  a.add(ax::rsp, 8);  // the return address into the block
  a.lea(ax::rax, ax::ptr(ax::rax, ax::rdx, 0, -1));  // instructions completed: 1 leaves before it, 2 after
  a.add(kBudget, ax::rax);
  a.jmp(exit_label);
  a.bind(tag_exit_label);
  a.shl(ax::rdx, 48);
  a.xor_(ax::rcx, ax::rdx);
  a.mov(ax::qword_ptr(kState, kRipOffset), ax::rcx);
  // (Or the budget ran out: RunBlock then skips a lookup that might have hit.)
  a.bind(jump_missed_label);
  a.mov(ax::rax, reinterpret_cast<uint64_t>(&jit->jump_missed_));
  a.mov(ax::byte_ptr(ax::rax), 1);
  a.jmp(exit_label);
  a.bind(link_exit_label);
  a.mov(ax::rax, ax::qword_ptr(ax::rcx, offsetof(Jit::Link, target_rip)));
  a.mov(ax::qword_ptr(kState, kRipOffset), ax::rax);
  a.mov(ax::rax, reinterpret_cast<uint64_t>(&jit->last_link_));
  a.mov(ax::qword_ptr(ax::rax), ax::rcx);
  a.bind(exit_label);
  a.mov(ax::rax, ax::qword_ptr(ax::rsp));
  a.add(ax::rax, kBudget);  // instructions run: budget given - budget left
  a.add(ax::rsp, 8);
  for (const ax::Gp& r : {ax::r15, ax::r14, ax::r13, ax::r12, ax::rbp, ax::rbx}) a.pop(r);
  a.ret();
  size_t room = 0;
  void* fn = arena.Add(code, &room);
  if (!fn) return;  // (no mapping: nothing is translated)
  shared_bytes = arena.used();
  enter = reinterpret_cast<EnterFn>(fn);
  exit = static_cast<const uint8_t*>(fn) + code.labelOffsetFromBase(exit_label);
  link_exit = static_cast<const uint8_t*>(fn) + code.labelOffsetFromBase(link_exit_label);
  interpret = static_cast<const uint8_t*>(fn) + code.labelOffsetFromBase(interpret_label);
  jump_cache_exit = static_cast<const uint8_t*>(fn) + code.labelOffsetFromBase(jump_cache_label);
  jump_cache = jit->jump_cache_.data();
  tag_exit = static_cast<const uint8_t*>(fn) + code.labelOffsetFromBase(tag_exit_label);
}

Jit::Jit(Cpu& cpu, size_t max_cache_bytes)
    : cpu_(cpu),
      lookup_(kLookupSlots, nullptr),
      jump_cache_(kJumpSlots),
      jump_targets_(kJumpSlots),
      max_cache_bytes_(max_cache_bytes) {
  runtime_ = std::make_unique<Runtime>(this, std::max<size_t>(max_cache_bytes, 1u << 20) + 4 * kMaxBlockCode);
}

Jit::~Jit() = default;

bool Jit::HostSupported(std::string* why) {
#if defined(__x86_64__)
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d) || !(b & (1u << 8))) {
    if (why) *why = "the host CPU lacks BMI2";
    return false;
  }
  return true;
#else
  if (why) *why = "the JIT needs an x86-64 host";
  return false;
#endif
}

uint64_t Jit::Interpret(Jit* jit, Block* block, uint64_t index, uint64_t branch) {
  Cpu& cpu = jit->cpu_;
  x86::CpuState& s = cpu.s;
  ++jit->stats_.interpreted;
  s.rip = block->insn_rip[index];
  cpu.s.interrupt_shadow = false;
  cpu.step_on_new_tf = false;
  jit->leave_block_ = false;
  const uint64_t rip = s.rip;
  uint64_t next = 0;
  try {
    // The interpreter's decoded form from its cache (the block is dropped
    // when its bytes change), rather than a copy in every block.
    const DecodedInsn* cached = nullptr;
    if (const Cpu::DecodeCache::Page* page = block->code_page) {
      if (const uint16_t idx = page->index[(block->phys + (rip - block->rip)) & 0xFFF]) {
        const Cpu::DecodeCache::Slot& slot = page->slot(idx);
        if (slot.mode == block->mode && slot.generation == page->generation &&
            slot.second_page_pa == Cpu::DecodeCache::kNoSecondPage) {
          cached = &slot.insn;
        }
      }
    }
    const DecodedInsn& insn = cached ? *cached : cpu.Fetch();
    next = Is64BitKey(block->key) ? rip + insn.length : TruncateIp(rip + insn.length, KeyCodeBits(block->key));
    cpu.next_rip = next;
    insn.handler(cpu, insn);
    // A REP string instruction does one iteration per call and leaves RIP
    // on itself until done; each iteration counts as an instruction, as in
    // the interpreter's loop. The block gives up after a bounded number so
    // that interrupts and timers still run between iterations.
    // The handler leaves next_rip alone on the last iteration, so it starts
    // as the following instruction each time (found by tandem lockstep).
    for (unsigned i = 1; cpu.next_rip == rip && i < kRepIterationsPerCall; ++i) {
      ++jit->extra_retired_;
      cpu.next_rip = next;
      insn.handler(cpu, insn);
    }
    // Its stops set RF (ops_string.cc); a finished one clears it, as the
    // interpreter's loop does (blocks start with RF clear).
    if ((insn.rep || insn.repne) && cpu.next_rip != rip) s.rflags &= ~x86::kFlagRf;
    s.rip = cpu.next_rip;
    // SYSCALL and SYSRET trap on the TF they load, after themselves, as the
    // interpreter's loop has it (ExecuteFetched); a block ran with TF clear.
    if (cpu.step_on_new_tf && (s.rflags & x86::kFlagTf) && !s.interrupt_shadow) {
      DeliverDebugTrap(cpu, kDr6Bs);
      jit->leave_block_ = true;
    }
  } catch (const GuestFault& f) {
    // No C++ exception may unwind through translated code: RunBlock's
    // caller delivers this one (TakeFault), and RunBlock rethrows others.
    jit->pending_fault_ = f;
    return 1;
  } catch (...) {
    jit->pending_exception_ = std::current_exception();
    return 1;
  }
  // An NMI the instruction raised (an ICR write, say) is taken at the next
  // boundary, as the interpreter's loop would.
  if (jit->leave_block_ || !block->valid || cpu.board.stop_requested() || cpu.socket.HasPendingNmi()) {
    return 2;
  }
  // Blocks run only where Cpu::JitMayRun allows, and not halted (HLT, MOV
  // SS, a MOV to DR7 end the block here). An interrupt that the instruction
  // raised (a device's MMIO or port register: a virtio notify completing a
  // request) or unmasked (POPF, an EOI, a TPR write) is taken at this
  // boundary, as the interpreter's loop takes it after every instruction;
  // tandem lockstep found blocks that ran on past it.
  if (!cpu.JitMayRun() || s.halted) return 2;
  if ((s.rflags & x86::kFlagIf) && cpu.socket.MaybeInterrupt() && cpu.socket.HasPendingInterrupt()) return 2;
  return s.rip != next && !branch ? 2 : 0;
}

bool Jit::InvalidatePage(uint64_t phys_page, bool own_store, unsigned offset, unsigned bytes) {
  auto it = blocks_by_page_.find(phys_page);
  if (it == blocks_by_page_.end()) return false;
  std::vector<Block*>& in_page = it->second;
  const auto written = [&](const Block* b) {
    const unsigned start = static_cast<unsigned>(b->phys & 0xFFF);
    return start < offset + bytes && offset < start + b->guest_bytes;
  };
  const auto kept = std::partition(in_page.begin(), in_page.end(), [&](const Block* b) { return !written(b); });
  if (kept == in_page.end()) return false;
  for (auto dropped = kept; dropped != in_page.end(); ++dropped) {
    Block* b = *dropped;
    b->valid = false;
    for (Link* in : b->incoming) {
      in->PointAt(in->unlinked);
      in->target = nullptr;
    }
    for (unsigned i = 0; i < b->link_count; ++i) {
      Link& out = b->links[i];
      if (!out.target) continue;
      auto& in = out.target->incoming;
      in.erase(std::remove(in.begin(), in.end(), &out), in.end());
    }
    if (last_link_ && last_link_->owner == b) last_link_ = nullptr;
    Block*& slot = lookup_[LookupSlot(b->rip)];
    if (slot == b) slot = nullptr;
    if (jump_targets_[JumpSlot(b->rip)].block == b) ClearJumpSlot(JumpSlot(b->rip));
    auto& list = blocks_[b->phys];
    for (auto& owned : list) {
      if (owned.get() == b) {
        dead_.push_back(std::move(owned));
        owned = std::move(list.back());
        list.pop_back();
        break;
      }
    }
    ++stats_.blocks_invalidated;
    stats_.cache_bytes -= b->bytes;
  }
  in_page.erase(kept, in_page.end());
  if (in_page.empty()) blocks_by_page_.erase(it);
  if (own_store) {
    SmcPage& smc = smc_pages_[phys_page];
    if (++smc.drops == kSmcDrops) smc.rest = kSmcRest;
  }
  leave_block_ = true;
  return true;
}

void Jit::FlushJumpCache(bool include_global) {
  ++stats_.jump_cache_flushes;
  if (include_global) {
    std::fill(jump_cache_.begin(), jump_cache_.end(), JumpEntry{});
    std::fill(jump_targets_.begin(), jump_targets_.end(), JumpTarget{});
    local_slots_.clear();
    global_slots_.clear();
    std::fill(global_regions_.begin(), global_regions_.end(), false);
    global_huge_ = false;
    return;
  }
  for (uint32_t i : local_slots_) {
    if (!jump_targets_[i].global) ClearJumpSlot(i);
  }
  local_slots_.clear();
}

void Jit::FlushJumpCachePage(uint64_t linear_page) {
  FlushJumpCache(/*include_global=*/false);
  if (!global_huge_ && !global_regions_[RegionBit(linear_page)]) return;
  size_t kept = 0;
  for (uint32_t i : global_slots_) {
    const JumpTarget& e = jump_targets_[i];
    if (!e.global) continue;  // dropped or refilled since: its own list has it
    const Block& b = *e.block;
    const uint64_t page = (Is64BitKey(b.key) ? b.rip : (b.cs_base + b.rip) & 0xFFFFFFFF) >> 12;
    if (((page ^ linear_page) >> (e.page_shift - 12)) == 0) {
      ClearJumpSlot(i);
    } else {
      global_slots_[kept++] = i;
    }
  }
  global_slots_.resize(kept);
}

void Jit::FillJumpEntry(uint64_t rip, uint64_t linear, Block* b) {
  if (b->context >= kJumpContexts) return;  // (not seen: a few contexts per guest)
  const uint32_t slot = JumpSlot(rip);
  // The translation RunBlock just used is in the TLB slot of the page.
  const TlbEntry& t = cpu_.sys_.tlb.entries[cpu_.sys_.tlb.Slot(linear >> 12)];
  const bool global = t.page == (linear >> 12) && t.global;
  const bool listed = jump_targets_[slot].block && jump_targets_[slot].global == global;
  const auto fill = [&] {
    jump_cache_[slot] = JumpEntry{JumpTag(rip, b->context), b->chain_entry};
    jump_targets_[slot] = JumpTarget{b, global, t.page_shift};
  };
  fill();
  if (listed) return;
  std::vector<uint32_t>& list = global ? global_slots_ : local_slots_;
  // Dropped blocks leave their slots listed; a list that outgrows the table
  // is one full flush away from empty again.
  if (list.size() >= 2 * kJumpSlots) {
    FlushJumpCache(/*include_global=*/true);
    fill();
  }
  list.push_back(slot);
  if (global) {
    if (t.page_shift >= 30) global_huge_ = true;
    global_regions_[RegionBit(linear >> 12)] = true;
  }
}

// Drops every block at once (outside translated code: RunBlock calls it).
void Jit::FlushCache() {
  for (auto& [phys, list] : blocks_) {
    for (auto& b : list) dead_.push_back(std::move(b));
  }
  blocks_.clear();
  blocks_by_page_.clear();
  std::fill(lookup_.begin(), lookup_.end(), nullptr);
  FlushJumpCache();
  last_link_ = nullptr;
  stats_.cache_bytes = 0;
  ++stats_.cache_flushes;
  FreeDeadBlocks();
  runtime_->arena.Reset(runtime_->shared_bytes);
}

void Jit::FreeDeadBlocks() {
  for (const auto& b : dead_) {
    if (b->fn) runtime_->arena.Free(static_cast<uint8_t*>(b->fn), b->code_room);
  }
  dead_.clear();
}

Jit::Block* Jit::Find(uint64_t rip, uint64_t phys, bool user, uint64_t key, uint64_t cs_base) {
  auto it = blocks_.find(phys);
  if (it == blocks_.end()) return nullptr;
  for (auto& b : it->second) {
    if (b->rip == rip && b->user == user && b->key == key && b->cs_base == cs_base) return b.get();
  }
  return nullptr;
}

std::unique_ptr<Jit::Block> Jit::Compile(uint64_t rip, uint64_t phys, bool user, uint64_t key) {
  auto block = std::make_unique<Block>();
  block->bytes = sizeof(Block);
  block->rip = rip;
  block->phys = phys;
  block->user = user;
  block->key = key;
  block->cs_base = Is64BitKey(key) ? 0 : cpu_.s.seg[x86::kCs].base;
  uint32_t& context = contexts_[{key, user, block->cs_base}];
  if (context == 0) context = static_cast<uint32_t>(contexts_.size());
  block->context = context;
  hw::GuestMemory::Span span = cpu_.board.memory().Lookup(phys & ~0xFFFull);
  if (!span.host || span.length < 4096 || !runtime_->enter) return block;
  const uint8_t* page = span.host;
  // The page is marked as code before its bytes are read, as the
  // interpreter's decode marks it: a write from now on drops the block.
  // Nothing goes into the interpreter's decode cache here: a slow path
  // decodes its instruction when it first runs (Interpret), so the cache
  // holds only what the interpreter actually ran, not every translated
  // instruction twice over.
  const Cpu::DecodeCache::Page* code_page = cpu_.decode_cache_->GetPage(phys);
  cpu_.MarkCodePage(phys >> 12);

  ZydisDecoder decoder;
  const unsigned code_bits = KeyCodeBits(key);
  // Decoded as the interpreter's decode cache does (CodeMode there).
  ZydisMachineMode mode = ZYDIS_MACHINE_MODE_LONG_64;
  if (code_bits == 32) mode = (key & kKeyLong) ? ZYDIS_MACHINE_MODE_LONG_COMPAT_32 : ZYDIS_MACHINE_MODE_LEGACY_32;
  if (code_bits == 16) {
    mode = (key & kKeyReal) ? ZYDIS_MACHINE_MODE_REAL_16
           : (key & kKeyLong) ? ZYDIS_MACHINE_MODE_LONG_COMPAT_16 : ZYDIS_MACHINE_MODE_LEGACY_16;
  }
  ZydisDecoderInit(&decoder, mode,
                   code_bits == 64 ? ZYDIS_STACK_WIDTH_64 : code_bits == 32 ? ZYDIS_STACK_WIDTH_32 : ZYDIS_STACK_WIDTH_16);
  // Outside 64-bit mode the block ends before an instruction past the CS
  // limit or one that would wrap IP/EIP: the interpreter raises or wraps.
  const uint64_t ip_end = code_bits == 64 ? ~0ull : std::min<uint64_t>(key >> 32, code_bits == 32 ? 0xFFFFFFFF : 0xFFFF);
  // A block that branches back to its own start is translated a second time
  // with a loop entry (Translator).
  uint32_t loop_regs = 0;
  DecodeAhead ahead(decoder, page, static_cast<unsigned>(phys & 0xFFF), rip, ip_end);
  for (const bool loop_entry : {false, true}) {
    compile_rips_.clear();
    block->link_count = 0;
    asmjit::CodeHolder code;
    code.init(asmjit::Environment::host());
    ax::Assembler a(&code);
    Translator t(this, block.get(), a, user, loop_entry, loop_regs, cpu_.locked_.host_cmpxchg16b, ahead);
    t.Prologue();

    uint64_t rip_i = rip;
    unsigned n = 0;
    bool ended = false;
    while (n < kMaxBlockInsns && !ended) {
      const DecodeAhead::Insn* in = ahead.Get(n);
      if (!in) {
        if (ahead.CrossesPage(n)) {
          t.AddCrossing(n, rip_i);
          compile_rips_.push_back(rip_i);
          ++n;
          ended = true;
        }
        break;
      }
      if (!t.Add(n, in->rip, in->zi, in->zops, &ended)) break;
      compile_rips_.push_back(in->rip);
      ++n;
      rip_i = in->rip + in->zi.length;
    }
    if (n == 0) return block;
    if (!ended) t.EmitEnd(rip_i, n);
    t.Epilogue();
    if (!loop_entry && t.branches_to_itself()) {  // again, with the loop entry
      loop_regs = t.valid_at_branches_back() & kLoopRegisters;
      continue;
    }
    block->fn = runtime_->arena.Add(code, &block->code_room);
    if (!block->fn) {
      block->link_count = 0;
      return block;
    }
    block->chain_entry = reinterpret_cast<const uint8_t*>(block->fn) + code.labelOffsetFromBase(t.chain_entry());
    t.PointLinksAtStubs(reinterpret_cast<const void*>(block->fn), code);
    block->code_page = code_page;
    block->mode = static_cast<uint8_t>(mode);
    block->insn_rip.assign(compile_rips_.begin(), compile_rips_.end());
    block->guest_bytes = static_cast<unsigned>(rip_i - rip);
    block->bytes += code.codeSize() + block->insn_rip.size() * sizeof(uint64_t);
    ++stats_.blocks_compiled;
    stats_.guest_insns_translated += n;
    stats_.arena_bytes = runtime_->arena.used();
    return block;
  }
  return block;
}

uint64_t Jit::RunBlock(uint64_t budget) {
  if (!dead_.empty()) FreeDeadBlocks();
  const bool jump_missed = std::exchange(jump_missed_, false);
  x86::CpuState& s = cpu_.s;
  const uint64_t rip = s.rip;
  const uint64_t key = ModeKey(s);
  uint64_t linear = rip, cs_base = 0;
  if (!Is64BitKey(key)) {
    if (rip > s.seg[x86::kCs].limit) return 0;  // #GP on the fetch: the interpreter's
    cs_base = s.seg[x86::kCs].base;
    linear = (cs_base + rip) & 0xFFFFFFFF;
  }
  const bool user = UserMode(s);
  // The jump cache's block for this RIP and context is the one its
  // translation gives until that changes (FlushJumpCache, INVLPG, a dropped
  // block): no TLB lookup, whose slot the code page shares with data pages.
  // Where the block left because the jump cache missed, it would miss here
  // too, and reading its slot costs a host cache miss or two.
  Block* b = nullptr;
  if (!jump_missed) {
    b = jump_targets_[JumpSlot(rip)].block;
    if (b && b->rip == rip && b->user == user && b->key == key && b->cs_base == cs_base) {
      return Enter(b, rip, budget);
    }
  }
  const uint64_t phys = cpu_.Translate(linear, Access::kExecute, user);
  Block*& slot = lookup_[LookupSlot(rip)];
  b = slot;
  if (!b || b->rip != rip || b->phys != phys || b->user != user || b->key != key || b->cs_base != cs_base) {
    b = Find(rip, phys, user, key, cs_base);
    if (!b) {
      if (!smc_pages_.empty()) {
        auto smc = smc_pages_.find(phys >> 12);
        if (smc != smc_pages_.end() && smc->second.rest) {
          if (--smc->second.rest == 0) smc->second.drops = 0;
          return 0;  // the interpreter's decode cache copes with patched bytes more cheaply
        }
      }
      // (Freed room may not fit what comes, so the arena may fill first.)
      if (stats_.cache_bytes >= max_cache_bytes_ || runtime_->arena.left() < kMaxBlockCode) FlushCache();
      std::unique_ptr<Block> fresh = Compile(rip, phys, user, key);
      stats_.cache_bytes += fresh->bytes;
      b = fresh.get();
      blocks_by_page_[phys >> 12].push_back(b);
      blocks_[phys].push_back(std::move(fresh));
    }
    slot = b;
  }
  if (!b->fn) {
    last_link_ = nullptr;
    return 0;
  }
  if (jump_targets_[JumpSlot(rip)].block != b) FillJumpEntry(rip, linear, b);
  return Enter(b, rip, budget);
}

// Links the block that just left for `rip` to b (chaining) and runs b.
uint64_t Jit::Enter(Block* b, uint64_t rip, uint64_t budget) {
  x86::CpuState& s = cpu_.s;
  Link* link = last_link_;
  last_link_ = nullptr;
  if (link && link->target_rip == rip && link->owner->user == b->user && link->owner->key == b->key &&
      link->owner->cs_base == b->cs_base && (link->owner->phys >> 12) == (b->phys >> 12)) {
    link->PointAt(b->chain_entry);
    link->target = b;
    b->incoming.push_back(link);
  }
  ++stats_.dispatches;
  const uint64_t n = runtime_->enter(&s, cpu_.sys_.tlb.jit[0].data(), budget, b->chain_entry);
  cpu_.retired_ += n + extra_retired_;
  stats_.instructions_in_blocks += n + extra_retired_;
  extra_retired_ = 0;
  if (pending_exception_) {
    std::exception_ptr e = pending_exception_;
    pending_exception_ = nullptr;
    std::rethrow_exception(e);
  }
  return n;
}

}  // namespace tandem::accel::interp
