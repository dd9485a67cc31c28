// Instruction fetch and decode: Zydis 4.0 turns the bytes at CS:RIP into our
// compact DecodedInsn once; the result is cached by physical address and code
// mode, and dropped when the guest writes over the bytes (self-modifying code,
// SDM vol. 3A 8.1.3: the write is seen by the next instruction fetched).
#include "accel/interp/decode_cache.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

#include "accel/interp/flags.h"
#include "accel/interp/jit.h"
#include "accel/interp/ops_sse.h"

namespace tandem::accel::interp {

namespace {

void RaiseUd(Cpu&, const DecodedInsn&) { Raise(x86::kUD); }

// GPR number (0-15) of a general register of any width, -1 if not a GPR.
int GprNumber(ZydisRegister r) {
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) return r - ZYDIS_REGISTER_AX;
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) return r - ZYDIS_REGISTER_EAX;
  if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) return r - ZYDIS_REGISTER_RAX;
  return -1;
}

Operand ConvertRegister(ZydisRegister r, uint16_t bits) {
  Operand o;
  o.kind = OperandKind::kReg;
  o.size = static_cast<uint8_t>(bits / 8);
  if (r >= ZYDIS_REGISTER_AL && r <= ZYDIS_REGISTER_R15B) {
    int v = r - ZYDIS_REGISTER_AL;  // AL CL DL BL AH CH DH BH SPL BPL SIL DIL R8B..
    if (v >= 4 && v < 8) {
      o.reg_class = RegClass::kGpr8High;
      o.reg = static_cast<uint8_t>(v - 4);
    } else {
      o.reg_class = RegClass::kGpr8Low;
      o.reg = static_cast<uint8_t>(v < 4 ? v : v - 4);
    }
    o.size = 1;
    return o;
  }
  if (r >= ZYDIS_REGISTER_AX && r <= ZYDIS_REGISTER_R15W) {
    o.reg_class = RegClass::kGpr16;
    o.reg = static_cast<uint8_t>(r - ZYDIS_REGISTER_AX);
    return o;
  }
  if (r >= ZYDIS_REGISTER_EAX && r <= ZYDIS_REGISTER_R15D) {
    o.reg_class = RegClass::kGpr32;
    o.reg = static_cast<uint8_t>(r - ZYDIS_REGISTER_EAX);
    return o;
  }
  if (r >= ZYDIS_REGISTER_RAX && r <= ZYDIS_REGISTER_R15) {
    o.reg_class = RegClass::kGpr64;
    o.reg = static_cast<uint8_t>(r - ZYDIS_REGISTER_RAX);
    return o;
  }
  int id = ZydisRegisterGetId(r);
  o.reg = static_cast<uint8_t>(id < 0 ? 0 : id);
  switch (ZydisRegisterGetClass(r)) {
    case ZYDIS_REGCLASS_SEGMENT: o.reg_class = RegClass::kSeg; break;  // ES CS SS DS FS GS = x86::SegReg
    case ZYDIS_REGCLASS_CONTROL: o.reg_class = RegClass::kCr; break;
    case ZYDIS_REGCLASS_DEBUG: o.reg_class = RegClass::kDr; break;
    case ZYDIS_REGCLASS_XMM: o.reg_class = RegClass::kXmm; break;
    case ZYDIS_REGCLASS_X87: o.reg_class = RegClass::kX87; break;
    case ZYDIS_REGCLASS_MMX: o.reg_class = RegClass::kMmx; break;
    case ZYDIS_REGCLASS_FLAGS: o.reg_class = RegClass::kFlags; break;
    case ZYDIS_REGCLASS_IP: o.reg_class = RegClass::kRip; break;
    default: o.reg_class = RegClass::kOther; break;
  }
  return o;
}

Operand ConvertOperand(const ZydisDecodedOperand& zo, const ZydisDecodedInstruction& zi) {
  Operand o;
  switch (zo.type) {
    case ZYDIS_OPERAND_TYPE_REGISTER:
      return ConvertRegister(zo.reg.value, zo.size);
    case ZYDIS_OPERAND_TYPE_MEMORY: {
      o.kind = OperandKind::kMem;
      o.size = static_cast<uint8_t>(std::min<unsigned>(zo.size / 8, 255));
      int seg = zo.mem.segment == ZYDIS_REGISTER_NONE ? static_cast<int>(x86::kDs) : ZydisRegisterGetId(zo.mem.segment);
      o.seg = static_cast<uint8_t>(seg);
      if (zo.mem.base == ZYDIS_REGISTER_RIP || zo.mem.base == ZYDIS_REGISTER_EIP) {
        o.base = Operand::kRipBase;
      } else {
        o.base = static_cast<int8_t>(GprNumber(zo.mem.base));
      }
      o.index = static_cast<int8_t>(GprNumber(zo.mem.index));
      o.scale = zo.mem.scale ? zo.mem.scale : 1;
      o.disp = zo.mem.disp.value;
      return o;
    }
    case ZYDIS_OPERAND_TYPE_IMMEDIATE: {
      o.kind = OperandKind::kImm;
      if (zo.imm.is_relative) {
        // Branch displacement: kept sign-extended to 64 bits; handlers add
        // it to next_rip and truncate to the operand size.
        o.size = static_cast<uint8_t>(zi.operand_width / 8);
        o.imm = zo.imm.value.u;
      } else if (zo.imm.is_signed && zi.operand_width >= zo.size) {
        // Sign-extended to the operand size (e.g. 83 /0 ib, 6A ib, REX.W C7).
        o.size = static_cast<uint8_t>(zi.operand_width / 8);
        o.imm = zo.imm.value.u & SizeMask(o.size);
      } else {
        o.size = static_cast<uint8_t>(zo.size / 8);
        o.imm = zo.imm.value.u & SizeMask(o.size ? o.size : 8);
      }
      return o;
    }
    case ZYDIS_OPERAND_TYPE_POINTER:
      o.kind = OperandKind::kFarPtr;
      o.size = static_cast<uint8_t>(zo.size / 8);
      o.imm = zo.ptr.offset;
      o.far_selector = zo.ptr.segment;
      return o;
    default:
      return o;
  }
}

// Forms that share a mnemonic with core instructions but belong to the system
// half: MOV/PUSH/POP Sreg, MOV CRn/DRn, far JMP/CALL/RET.
bool IsSystemForm(const DecodedInsn& insn) {
  for (int i = 0; i < insn.operand_count; ++i) {
    const Operand& o = insn.op[i];
    if (o.kind == OperandKind::kFarPtr) return true;
    if (o.kind == OperandKind::kReg &&
        (o.reg_class == RegClass::kSeg || o.reg_class == RegClass::kCr || o.reg_class == RegClass::kDr)) {
      return true;
    }
  }
  switch (insn.mnemonic) {
    case ZYDIS_MNEMONIC_CALL:
    case ZYDIS_MNEMONIC_JMP:
      return insn.opcode == 0xFF && (insn.modrm_reg == 3 || insn.modrm_reg == 5);
    case ZYDIS_MNEMONIC_RET:
      return insn.opcode == 0xCA || insn.opcode == 0xCB;
    default:
      return false;
  }
}

bool IsStringLike(ZydisMnemonic m) {
  switch (m) {
    case ZYDIS_MNEMONIC_MOVSB: case ZYDIS_MNEMONIC_MOVSW: case ZYDIS_MNEMONIC_MOVSD: case ZYDIS_MNEMONIC_MOVSQ:
    case ZYDIS_MNEMONIC_CMPSB: case ZYDIS_MNEMONIC_CMPSW: case ZYDIS_MNEMONIC_CMPSD: case ZYDIS_MNEMONIC_CMPSQ:
    case ZYDIS_MNEMONIC_STOSB: case ZYDIS_MNEMONIC_STOSW: case ZYDIS_MNEMONIC_STOSD: case ZYDIS_MNEMONIC_STOSQ:
    case ZYDIS_MNEMONIC_LODSB: case ZYDIS_MNEMONIC_LODSW: case ZYDIS_MNEMONIC_LODSD: case ZYDIS_MNEMONIC_LODSQ:
    case ZYDIS_MNEMONIC_SCASB: case ZYDIS_MNEMONIC_SCASW: case ZYDIS_MNEMONIC_SCASD: case ZYDIS_MNEMONIC_SCASQ:
    case ZYDIS_MNEMONIC_INSB: case ZYDIS_MNEMONIC_INSW: case ZYDIS_MNEMONIC_INSD:
    case ZYDIS_MNEMONIC_OUTSB: case ZYDIS_MNEMONIC_OUTSW: case ZYDIS_MNEMONIC_OUTSD:
    case ZYDIS_MNEMONIC_XLAT:
      return true;
    default:
      return false;
  }
}

}  // namespace

Cpu::DecodeCache::DecodeCache(hw::Board& board) : shared(board.memory().code_pages()) {
  RegisterAluHandlers(table);
  RegisterShiftHandlers(table);
  RegisterMulDivHandlers(table);
  RegisterMoveHandlers(table);
  RegisterStringHandlers(table);
  RegisterControlHandlers(table);
  RegisterIoHandlers(table);
  RegisterFlagHandlers(table);
  RegisterFpuStateHandlers(table);
  RegisterX87Handlers(table);
  RegisterSseHandlers(table);
  // What the CPUID model does not advertise is #UD, as on a CPU without it.
  const uint32_t leaf1_ecx = board.cpuid().Query(1, 0).ecx;
  sse::RegisterSse4Handlers(table, leaf1_ecx);  // SSE3..SSE4.2, each as advertised
  if (!(leaf1_ecx & (1u << 23))) table[ZYDIS_MNEMONIC_POPCNT] = RaiseUd;  // CPUID.01H:ECX.POPCNT
  if (!(leaf1_ecx & (1u << 13))) table[ZYDIS_MNEMONIC_CMPXCHG16B] = RaiseUd;  // CPUID.01H:ECX.CX16
  core = table;
  // Plain: the families that touch only GPRs, arithmetic flags, DF and
  // memory, without their port I/O forms, and the flag instructions that
  // leave the system bits alone.
  HandlerTable plain_families{};
  RegisterAluHandlers(plain_families);
  RegisterShiftHandlers(plain_families);
  RegisterMulDivHandlers(plain_families);
  RegisterMoveHandlers(plain_families);
  RegisterStringHandlers(plain_families);
  RegisterControlHandlers(plain_families);
  for (size_t m = 0; m < plain.size(); ++m) plain[m] = plain_families[m] != nullptr;
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_INSB, ZYDIS_MNEMONIC_INSW, ZYDIS_MNEMONIC_INSD, ZYDIS_MNEMONIC_OUTSB,
                          ZYDIS_MNEMONIC_OUTSW, ZYDIS_MNEMONIC_OUTSD}) {
    plain[m] = false;
  }
  for (ZydisMnemonic m : {ZYDIS_MNEMONIC_CLC, ZYDIS_MNEMONIC_STC, ZYDIS_MNEMONIC_CMC, ZYDIS_MNEMONIC_CLD,
                          ZYDIS_MNEMONIC_STD, ZYDIS_MNEMONIC_LAHF, ZYDIS_MNEMONIC_SAHF, ZYDIS_MNEMONIC_PUSHF,
                          ZYDIS_MNEMONIC_PUSHFD, ZYDIS_MNEMONIC_PUSHFQ}) {
    plain[m] = true;
  }
  RegisterSystemHandlers(table);
  RegisterFarHandlers(table);

  const ZydisMachineMode modes[] = {ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_MACHINE_MODE_LONG_COMPAT_32,
                                    ZYDIS_MACHINE_MODE_LONG_COMPAT_16, ZYDIS_MACHINE_MODE_LEGACY_32,
                                    ZYDIS_MACHINE_MODE_LEGACY_16, ZYDIS_MACHINE_MODE_REAL_16};
  const bool has_tzcnt = board.cpuid().Query(7, 0).ebx & (1u << 3);           // BMI1
  const bool has_lzcnt = board.cpuid().Query(0x80000001, 0).ecx & (1u << 5);  // ABM
  for (ZydisMachineMode m : modes) {
    ZydisStackWidth sw = m == ZYDIS_MACHINE_MODE_LONG_64 ? ZYDIS_STACK_WIDTH_64
                         : (m == ZYDIS_MACHINE_MODE_LONG_COMPAT_32 || m == ZYDIS_MACHINE_MODE_LEGACY_32)
                             ? ZYDIS_STACK_WIDTH_32
                             : ZYDIS_STACK_WIDTH_16;
    ZydisDecoderInit(&decoders[m], m, sw);
    // Without BMI1/LZCNT in the CPUID model, F3 0F BC/BD are BSF/BSR with an
    // ignored REP prefix, as on the CPUs that lack them.
    ZydisDecoderEnableMode(&decoders[m], ZYDIS_DECODER_MODE_TZCNT, has_tzcnt);
    ZydisDecoderEnableMode(&decoders[m], ZYDIS_DECODER_MODE_LZCNT, has_lzcnt);
  }

  uint64_t end = 1ull << 32;
  for (const hw::MemoryRegion& r : board.memory_map().regions()) end = std::max(end, r.end());
  uint64_t pages = (end + 4095) >> 12;
  directory.resize((pages + (1u << kLeafShift) - 1) >> kLeafShift);
}

Cpu::DecodeCache::Page* Cpu::DecodeCache::FindPage(uint64_t pa) const {
  uint64_t pn = pa >> 12;
  if (pn == last_page_number) return last_page;
  uint64_t d = pn >> kLeafShift;
  if (d >= directory.size() || !directory[d]) return nullptr;
  return (*directory[d])[pn & ((1u << kLeafShift) - 1)].get();
}

Cpu::DecodeCache::Page* Cpu::DecodeCache::GetPage(uint64_t pa) {
  uint64_t pn = pa >> 12;
  if (pn == last_page_number) return last_page;
  uint64_t d = pn >> kLeafShift;
  if (d >= directory.size()) directory.resize(d + 1);
  if (!directory[d]) directory[d] = std::make_unique<Leaf>();
  auto& slot = (*directory[d])[pn & ((1u << kLeafShift) - 1)];
  if (!slot) {
    // The generation is read before any byte of the page is: a write after
    // this point is seen by SyncCodeWrites.
    slot = std::make_unique<Page>();
    slot->shared_generation = shared.generation(pn);
    page_numbers.push_back(pn);
  }
  last_page_number = pn;
  last_page = slot.get();
  return last_page;
}

void Cpu::MarkCodePage(uint64_t pn) {
  DecodeCache& dc = *decode_cache_;
  if (DecodeCache::Page* page = dc.FindPage(pn << 12)) page->validated_at = retired_;
  const uint64_t before = dc.shared.Mark(pn, code_owner_);
  if (before == ~0ull) return;
  if (before == seen_mark_epoch_) ++seen_mark_epoch_;  // only our own mark since the last sync
  ForgetJitWrites(pn << 12);
}

// Called before a guest write to the page holding pa: the page's cached
// decodes (and those of instructions spilling into it) are checked against
// memory before their next use.
void Cpu::InvalidateCodePage(uint64_t pa, bool own_store, unsigned offset, unsigned bytes) {
  DecodeCache& dc = *decode_cache_;
  DecodeCache::Page* page = dc.FindPage(pa);
  // A page whose code was decoded or translated lately is left marked: code
  // and data sharing a page would trade marks on every write. The JIT keeps
  // its blocks there that the write missed (a kernel patching call sites
  // next to the code doing it); on a quiet page all of them go, so that the
  // mark can too, and writes to the page stop taking this path.
  constexpr uint64_t kQuietInstructions = 1 << 20;
  const bool quiet = !page || retired_ - page->validated_at >= kQuietInstructions;
  if (jit_) jit_->InvalidatePage(pa >> 12, own_store, quiet ? 0 : offset, quiet ? 4096 : bytes);
  if (!page) return;
  ++page->generation;
  plain_break_ = true;  // RunPlain compares slots with its copy of the generation
  for (uint64_t source : page->spill_sources) {
    if (DecodeCache::Page* p = dc.FindPage(source << 12)) ++p->generation;
  }
  // Nothing cached from the page is current now (FetchSlow marks it again
  // before it trusts a byte).
  if (quiet && code_pages_.Unmark(pa >> 12, code_owner_)) RestoreJitWrites(pa & ~0xFFFull);
}

// After this vCPU's own write to a code page (InvalidateCodePage ran before
// it): other vCPUs learn of it, and this one need not scan for it.
void Cpu::NoteOwnCodeWrite(uint64_t pa) {
  DecodeCache& dc = *decode_cache_;
  const uint64_t pn = pa >> 12;
  const uint64_t before = dc.shared.NoteWrite(pn);
  if (before == ~0ull) return;
  if (before == seen_write_epoch_) ++seen_write_epoch_;
  // Our InvalidateCodePage already dropped whatever was cached from the page
  // before the bytes changed, so its current generation counts as seen.
  if (DecodeCache::Page* page = dc.FindPage(pa)) page->shared_generation = dc.shared.generation(pn);
}

void Cpu::SyncCodeWritesSlow() {
  DecodeCache& dc = *decode_cache_;
  const uint64_t marks = dc.shared.mark_epoch();
  if (marks != seen_mark_epoch_) {
    // Another vCPU cached code from a page this one may write through the
    // JIT's direct-write slots: those writes must take the noting path.
    seen_mark_epoch_ = marks;
    for (const uint32_t i : sys_.tlb.filled) {
      const TlbEntry& e = sys_.tlb.entries[i];
      if (e.page != TlbEntry::kInvalid && e.host && dc.shared.IsMarked(e.phys >> 12)) ForgetJitWrites(e.phys);
    }
  }
  const uint64_t writes = dc.shared.write_epoch();
  if (writes != seen_write_epoch_) {
    // Read the epoch before the generations: a write noted during the scan
    // moves the epoch again and is found next time.
    seen_write_epoch_ = writes;
    for (uint64_t pn : dc.page_numbers) {
      DecodeCache::Page* page = dc.FindPage(pn << 12);
      const uint32_t g = dc.shared.generation(pn);
      if (page && page->shared_generation != g) {
        page->shared_generation = g;
        InvalidateCodePage(pn << 12, /*own_store=*/false);
      }
    }
  }
}

const DecodedInsn& Cpu::Fetch() {
  const ZydisMachineMode mode = CodeMode(s);
  const x86::Segment& cs = s.seg[x86::kCs];
  const uint64_t rip = s.rip;
  uint64_t linear;
  if (mode == ZYDIS_MACHINE_MODE_LONG_64) {
    linear = rip;
  } else {
    if (rip > cs.limit) [[unlikely]] Raise(x86::kGP, 0);
    linear = (cs.base + rip) & 0xFFFFFFFFull;
  }
  // CPL 3 as segmentation.cc's cpl() defines it (SS.DPL), without the call.
  const bool user = (s.cr0 & x86::kCr0Pe) && ((s.rflags & x86::kFlagVm) || s.seg[x86::kSs].dpl() == 3);
  const uint64_t pa = Translate(linear, Access::kExecute, user);
  DecodeCache& dc = *decode_cache_;
  if ((pa >> 12) == dc.last_page_number) [[likely]] {
    const DecodeCache::Page* page = dc.last_page;
    if (uint16_t idx = page->index[pa & 0xFFF]) [[likely]] {
      const DecodeCache::Slot& slot = page->slot(idx);
      if (slot.mode == mode && slot.generation == page->generation &&
          slot.second_page_pa == DecodeCache::kNoSecondPage) [[likely]] {
        return slot.insn;
      }
    }
  }
  return FetchSlow(mode, linear, pa, user);
}

// Everything but a plain cache hit: cross-page instructions, pages written
// since the decode, and decoding itself.
[[gnu::noinline]] const DecodedInsn& Cpu::FetchSlow(ZydisMachineMode mode, uint64_t linear, uint64_t pa, bool user) {
  DecodeCache& dc = *decode_cache_;
  const x86::Segment& cs = s.seg[x86::kCs];
  const uint64_t rip = s.rip;
  DecodeCache::Page* page = dc.GetPage(pa);
  const unsigned offset = pa & 0xFFF;
  auto next_page_linear = [&] {
    uint64_t l = (linear | 0xFFF) + 1;
    return mode == ZYDIS_MACHINE_MODE_LONG_64 ? l : (l & 0xFFFFFFFFull);
  };

  auto read_bytes = [&](uint64_t from_pa, uint8_t* out, unsigned n) {
    hw::GuestMemory::Span span = board.memory().Lookup(from_pa);
    unsigned direct = span.host ? static_cast<unsigned>(std::min<uint64_t>(n, span.length)) : 0;
    if (direct) std::memcpy(out, span.host, direct);
    for (unsigned i = direct; i < n; ++i) out[i] = static_cast<uint8_t>(ReadPhys(from_pa + i, 1));
  };
  const unsigned first_len = std::min<unsigned>(ZYDIS_MAX_INSTRUCTION_LENGTH, 4096 - offset);
  uint8_t bytes[ZYDIS_MAX_INSTRUCTION_LENGTH];

  if (uint16_t idx = page->index[offset]) [[likely]] {
    DecodeCache::Slot& slot = page->slot(idx);
    if (slot.mode == mode) [[likely]] {
      uint64_t second = DecodeCache::kNoSecondPage;
      if (slot.second_page_pa != DecodeCache::kNoSecondPage) {
        second = Translate(next_page_linear(), Access::kExecute, user);
        if (second != slot.second_page_pa) goto decode;
      }
      if (slot.generation == page->generation) [[likely]] return slot.insn;
      // The page was written since: still the same bytes? Marked first, so
      // that a write after the comparison is noticed.
      MarkCodePage(pa >> 12);
      if (second != DecodeCache::kNoSecondPage) MarkCodePage(second >> 12);
      const unsigned len = slot.insn.length;
      read_bytes(pa, bytes, std::min(len, first_len));
      if (len > first_len) read_bytes(second, bytes + first_len, len - first_len);
      if (std::memcmp(bytes, slot.bytes, len) == 0) {
        slot.generation = page->generation;
        return slot.insn;
      }
    }
  }

decode:
  // Miss: read the bytes (the second page only when the decoder needs it),
  // each page marked before it is read.
  MarkCodePage(pa >> 12);
  read_bytes(pa, bytes, first_len);
  ZydisDecodedInstruction zi;
  ZydisDecodedOperand zops[ZYDIS_MAX_OPERAND_COUNT];
  ZyanStatus status = ZydisDecoderDecodeFull(&dc.decoders[mode], bytes, first_len, &zi, zops);
  uint64_t second_pa = DecodeCache::kNoSecondPage;
  if (status == ZYDIS_STATUS_NO_MORE_DATA && first_len < ZYDIS_MAX_INSTRUCTION_LENGTH) {
    second_pa = Translate(next_page_linear(), Access::kExecute, user);
    MarkCodePage(second_pa >> 12);
    read_bytes(second_pa, bytes + first_len, ZYDIS_MAX_INSTRUCTION_LENGTH - first_len);
    status = ZydisDecoderDecodeFull(&dc.decoders[mode], bytes, ZYDIS_MAX_INSTRUCTION_LENGTH, &zi, zops);
    if (ZYAN_SUCCESS(status) && zi.length <= first_len) second_pa = DecodeCache::kNoSecondPage;
  }
  if (!ZYAN_SUCCESS(status)) {
    uint32_t key = (uint32_t{bytes[0]} << 16) | (uint32_t{bytes[1]} << 8) | uint32_t(mode);
    if (board.log().enabled(hw::kLogGuestErrors) &&
        std::find(dc.logged_bytes.begin(), dc.logged_bytes.end(), key) == dc.logged_bytes.end()) {
      dc.logged_bytes.push_back(key);
      board.log().Log(hw::kLogGuestErrors, "interp: undecodable instruction %02x %02x %02x %02x at %04x:%llx (#UD)",
                      bytes[0], bytes[1], bytes[2], bytes[3], cs.selector, static_cast<unsigned long long>(rip));
    }
    Raise(x86::kUD);
  }
  if (mode != ZYDIS_MACHINE_MODE_LONG_64 && rip + zi.length - 1 > cs.limit) Raise(x86::kGP, 0);

  DecodedInsn insn;
  insn.mnemonic = zi.mnemonic;
  insn.length = zi.length;
  insn.operand_size = zi.operand_width;
  insn.address_size = zi.address_width;
  insn.rep = zi.attributes & (ZYDIS_ATTRIB_HAS_REP | ZYDIS_ATTRIB_HAS_REPE);
  insn.repne = zi.attributes & ZYDIS_ATTRIB_HAS_REPNE;
  insn.lock = zi.attributes & ZYDIS_ATTRIB_HAS_LOCK;
  insn.opcode = zi.opcode;
  insn.modrm_reg = zi.raw.modrm.reg;
  if (zi.attributes & ZYDIS_ATTRIB_HAS_MODRM) {
    insn.modrm = static_cast<uint8_t>((zi.raw.modrm.mod << 6) | (zi.raw.modrm.reg << 3) | zi.raw.modrm.rm);
  }
  int n = 0;
  for (int i = 0; i < zi.operand_count_visible && n < 4; ++i) insn.op[n++] = ConvertOperand(zops[i], zi);
  insn.operand_count = static_cast<uint8_t>(n);
  if (IsStringLike(zi.mnemonic) && zi.operand_count_visible == 0) {
    // No visible operands: keep the implicit memory operands (with the
    // segment override) in Zydis's order, e.g. MOVS: ES:[rDI], seg:[rSI].
    n = 0;
    for (int i = 0; i < zi.operand_count && n < 4; ++i) {
      if (zops[i].type == ZYDIS_OPERAND_TYPE_MEMORY) insn.op[n++] = ConvertOperand(zops[i], zi);
    }
  }

  Handler h = dc.table[zi.mnemonic];
  const bool system_form = IsSystemForm(insn);
  if (!system_form && dc.core[zi.mnemonic]) h = dc.core[zi.mnemonic];
  insn.plain = !system_form && dc.plain[zi.mnemonic];
  if (h && h == dc.core[zi.mnemonic]) {
    if (Handler sized = SpecializedAluHandler(insn)) h = sized;
    if (Handler sized = SpecializedMoveHandler(insn)) h = sized;
    if (Handler sized = SpecializedControlHandler(insn)) h = sized;
  }
  // MOVSD/CMPSD with operands are the SSE2 instructions, not the string ones.
  if (IsStringLike(zi.mnemonic) && zi.operand_count_visible > 0) {
    h = SseStringFormHandler(zi.mnemonic);
    insn.plain = false;
  }
  if (!h) {
    h = RaiseUd;
    if (!dc.logged_mnemonic[zi.mnemonic]) {
      dc.logged_mnemonic[zi.mnemonic] = true;
      board.log().Log(hw::kLogUnimp, "interp: %s is not implemented (#UD)", ZydisMnemonicGetString(zi.mnemonic));
    }
  }
  insn.handler = h;

  // Install. A slot for this offset decoded in another mode is reused.
  page = dc.GetPage(pa);  // Translate above may have moved the fast-path entry
  uint16_t& idx = page->IndexEntry(offset);
  if (!idx) idx = page->AddSlot();
  DecodeCache::Slot& slot = page->slot(idx);
  slot.insn = insn;
  slot.generation = page->generation;
  slot.mode = static_cast<uint8_t>(mode);
  std::memcpy(slot.bytes, bytes, zi.length);
  slot.second_page_pa = second_pa;
  slot.plain_mode = insn.plain && second_pa == DecodeCache::kNoSecondPage ? static_cast<uint8_t>(mode)
                                                                          : DecodeCache::kNotPlain;
  if (second_pa != DecodeCache::kNoSecondPage) {
    DecodeCache::Page* next = dc.GetPage(second_pa);
    auto& sources = next->spill_sources;
    if (std::find(sources.begin(), sources.end(), pa >> 12) == sources.end()) sources.push_back(pa >> 12);
    dc.GetPage(pa);  // the fast path stays on the current page
  }
  return slot.insn;
}

}  // namespace tandem::accel::interp
