// The x86-64-v2 additions of the CPUID model against the host: SSE3 (with
// FISTTP), SSSE3 (MMX and XMM forms), SSE4.1, SSE4.2 (PCMPxSTRx per element
// format and aggregation, CRC32), POPCNT and CMPXCHG16B. Register and memory
// forms, the imm8 classes of ROUND/DPPS/BLEND/INSERTPS/PCMPxSTRx, float edge
// values from the harness (NaN, infinities, denormals), integer lane edges
// (saturation limits), fractional values for ROUND and string-like lanes for
// PCMPxSTRx; MXCSR, EFLAGS and the x87 state compared.
#include <Zydis/Zydis.h>

#include <cstring>
#include <memory>
#include <tuple>

#include "target-x86/cpuid.h"
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;
using x86::kRax;
using x86::kRbx;
using x86::kRcx;
using x86::kRdx;

struct Op {
  const char* name;
  asmjit::InstId id;
};

Form SseForm(std::string name, std::function<void(x::Assembler&, const Case&)> emit, uint64_t flags = kArith) {
  Form f;
  f.name = std::move(name);
  f.emit = std::move(emit);
  f.sse = true;
  f.flags = flags;
  return f;
}

// MMX forms also randomise the x87 stack the MMX registers alias.
Form MmxForm(std::string name, std::function<void(x::Assembler&, const Case&)> emit) {
  Form f = SseForm(std::move(name), std::move(emit));
  f.x87 = true;
  return f;
}

x::Mem M128() { return x::xmmword_ptr(x::rbx, kMemDisp); }
x::Mem Mq() { return x::qword_ptr(x::rbx, kMemDisp); }
x::Mem Md() { return x::dword_ptr(x::rbx, kMemDisp); }
x::Mem Mw() { return x::word_ptr(x::rbx, kMemDisp); }
x::Mem Mb() { return x::byte_ptr(x::rbx, kMemDisp); }

// Legacy-SSE 16-byte memory operands must be aligned: RBX so they are.
void AlignRbx(Case& c, Rng& rng, Check&) {
  c.in.gpr[kRbx] = ((MemBase() + 400 + rng.Below(200)) & ~15ull) - kMemDisp;
}
Form Aligned(Form f) {
  auto prev = f.prepare;
  f.prepare = Steps({AlignRbx, prev});
  return f;
}

// ---- register-register tables ----

const Op kSse3[] = {
    {"addsubps", Inst::kIdAddsubps}, {"addsubpd", Inst::kIdAddsubpd}, {"haddps", Inst::kIdHaddps},
    {"haddpd", Inst::kIdHaddpd},     {"hsubps", Inst::kIdHsubps},     {"hsubpd", Inst::kIdHsubpd},
    {"movddup", Inst::kIdMovddup},   {"movshdup", Inst::kIdMovshdup}, {"movsldup", Inst::kIdMovsldup},
};

// SSSE3: each on XMM and on MMX registers.
const Op kSsse3[] = {
    {"pshufb", Inst::kIdPshufb},       {"phaddw", Inst::kIdPhaddw},   {"phaddd", Inst::kIdPhaddd},
    {"phaddsw", Inst::kIdPhaddsw},     {"phsubw", Inst::kIdPhsubw},   {"phsubd", Inst::kIdPhsubd},
    {"phsubsw", Inst::kIdPhsubsw},     {"pmaddubsw", Inst::kIdPmaddubsw}, {"pmulhrsw", Inst::kIdPmulhrsw},
    {"psignb", Inst::kIdPsignb},       {"psignw", Inst::kIdPsignw},   {"psignd", Inst::kIdPsignd},
    {"pabsb", Inst::kIdPabsb},         {"pabsw", Inst::kIdPabsw},     {"pabsd", Inst::kIdPabsd},
};

const Op kSse41[] = {
    {"pmovsxbw", Inst::kIdPmovsxbw}, {"pmovsxbd", Inst::kIdPmovsxbd}, {"pmovsxbq", Inst::kIdPmovsxbq},
    {"pmovsxwd", Inst::kIdPmovsxwd}, {"pmovsxwq", Inst::kIdPmovsxwq}, {"pmovsxdq", Inst::kIdPmovsxdq},
    {"pmovzxbw", Inst::kIdPmovzxbw}, {"pmovzxbd", Inst::kIdPmovzxbd}, {"pmovzxbq", Inst::kIdPmovzxbq},
    {"pmovzxwd", Inst::kIdPmovzxwd}, {"pmovzxwq", Inst::kIdPmovzxwq}, {"pmovzxdq", Inst::kIdPmovzxdq},
    {"pmulld", Inst::kIdPmulld},     {"pmuldq", Inst::kIdPmuldq},     {"pminsb", Inst::kIdPminsb},
    {"pminsd", Inst::kIdPminsd},     {"pminuw", Inst::kIdPminuw},     {"pminud", Inst::kIdPminud},
    {"pmaxsb", Inst::kIdPmaxsb},     {"pmaxsd", Inst::kIdPmaxsd},     {"pmaxuw", Inst::kIdPmaxuw},
    {"pmaxud", Inst::kIdPmaxud},     {"ptest", Inst::kIdPtest},       {"pcmpeqq", Inst::kIdPcmpeqq},
    {"packusdw", Inst::kIdPackusdw}, {"phminposuw", Inst::kIdPhminposuw},
    // SSE4.2
    {"pcmpgtq", Inst::kIdPcmpgtq},
};

// xmm, xmm, imm8 with any imm8 (all 256 values turn up over the cases).
const Op kRegRegImm[] = {
    {"pblendw", Inst::kIdPblendw}, {"blendps", Inst::kIdBlendps}, {"blendpd", Inst::kIdBlendpd},
    {"dpps", Inst::kIdDpps},       {"dppd", Inst::kIdDppd},       {"mpsadbw", Inst::kIdMpsadbw},
    {"insertps", Inst::kIdInsertps}, {"palignr", Inst::kIdPalignr},
};

// ---- value shaping ----

// Lanes with fractions (halves for the ties), around the rounding boundaries.
void FractionalLanes(std::array<uint8_t, 16>& xmm, Rng& rng, bool dbl) {
  for (unsigned i = 0; i < (dbl ? 2u : 4u); ++i) {
    if (rng.Below(3) == 0) continue;  // keep the harness's edge value
    double v = (static_cast<double>(rng.Below(4001)) - 2000.0) / (rng.Below(2) ? 2.0 : 8.0);
    if (rng.Below(8) == 0) v = (static_cast<double>(rng.Next() % 2000001) - 1000000.0) / 1024.0;
    if (dbl) {
      std::memcpy(&xmm[i * 8], &v, 8);
    } else {
      float f = static_cast<float>(v);
      std::memcpy(&xmm[i * 4], &f, 4);
    }
  }
}

// Half the cases: lanes of one random width (8..64 bits) holding integer
// edge values (0, 1, -1, the signed and unsigned limits and their
// neighbours) in the given XMM and MMX registers and the memory operand, so
// saturation and sign cases come up in every lane.
void EdgeLanes(uint8_t* p, unsigned bytes, Rng& rng) {
  const unsigned w = 1u << rng.Below(4);
  const uint64_t m = WidthMask(w * 8), sign = 1ull << (w * 8 - 1);
  for (unsigned off = 0; off < bytes; off += w) {
    const uint64_t e[] = {0, 1, 2, m, m - 1, sign, sign - 1, sign + 1, rng.Next()};
    uint64_t v = e[rng.Below(std::size(e))] & m;
    std::memcpy(p + off, &v, w);
  }
}
std::function<void(Case&, Rng&, Check&)> IntEdges(std::vector<int> xmms, std::vector<int> mms, unsigned mem_bytes) {
  return [xmms, mms, mem_bytes](Case& c, Rng& rng, Check&) {
    if (rng.Below(2)) return;
    for (int i : xmms) EdgeLanes(c.in.fx.xmm[i].data(), 16, rng);
    // MMi is physical x87 register i; FXSAVE's st[] is in stack order.
    const unsigned top = (c.in.fx.fsw >> 11) & 7;
    for (int i : mms) EdgeLanes(c.in.fx.st[(i - top) & 7].data(), 8, rng);
    if (mem_bytes) EdgeLanes(&c.mem[MemOffset(c)], mem_bytes, rng);
  };
}
Form WithPrep(Form f, std::function<void(Case&, Rng&, Check&)> step) {
  f.prepare = Steps({f.prepare, std::move(step)});
  return f;
}

// String-like lanes: a small alphabet, zero terminators, signed boundaries.
void StringLanes(uint8_t* p, Rng& rng, bool words) {
  const unsigned n = words ? 8 : 16;
  const unsigned zero_at = rng.Below(3) == 0 ? n : rng.Below(n + 4);
  for (unsigned i = 0; i < n; ++i) {
    uint16_t v;
    switch (rng.Below(8)) {
      case 0: v = static_cast<uint16_t>(rng.Next()); break;
      case 1: v = static_cast<uint16_t>(0x7E + rng.Below(4)); break;  // around the byte sign
      case 2: v = words ? static_cast<uint16_t>(0x7FFE + rng.Below(4)) : static_cast<uint16_t>(0xF0 + rng.Below(16));
              break;
      default: v = static_cast<uint16_t>('a' + rng.Below(6)); break;
    }
    if (i == zero_at || rng.Below(40) == 0) v = 0;
    if (words) {
      std::memcpy(p + 2 * i, &v, 2);
    } else {
      p[i] = static_cast<uint8_t>(v);
    }
  }
}

// PCMPxSTRx on xmm1 with xmm2 or m128: imm8[3:0] fixed by the form (element
// format and aggregation), polarity and bit 6 random. Both strings are
// string-like and often share a substring; explicit lengths mostly in range.
std::function<void(Case&, Rng&, Check&)> StringPrep(unsigned cls, bool mem, bool explicit_len) {
  return [cls, mem, explicit_len](Case& c, Rng& rng, Check&) {
    c.imm = static_cast<int64_t>((static_cast<uint64_t>(c.imm) & 0xF0) | cls);
    const bool words = cls & 1;
    StringLanes(c.in.fx.xmm[1].data(), rng, words);
    uint8_t* other = mem ? &c.mem[MemOffset(c)] : c.in.fx.xmm[2].data();
    StringLanes(other, rng, words);
    if (rng.Below(2)) {  // plant part of the needle in the haystack
      unsigned len = 1 + rng.Below(6), from = rng.Below(16), to = rng.Below(16);
      if (words) from &= ~1u, to &= ~1u;
      for (unsigned k = 0; k < len * (words ? 2 : 1) && from + k < 16 && to + k < 16; ++k) {
        other[to + k] = c.in.fx.xmm[1][from + k];
      }
    }
    if (explicit_len) {
      for (int r : {kRax, kRdx}) {
        int64_t v = static_cast<int64_t>(rng.Below(41)) - 20;
        c.in.gpr[r] = rng.Below(6) == 0 ? RandomValue(rng) : static_cast<uint64_t>(v) ^ (rng.Below(2) ? 0 : (rng.Next() << 32));
      }
    }
  };
}

std::vector<Form> Sse3Forms() {
  std::vector<Form> forms;
  for (const Op& op : kSse3) {
    asmjit::InstId id = op.id;
    forms.push_back(SseForm(std::string(op.name) + " xmm1, xmm2", [id](x::Assembler& a, const Case&) { a.emit(id, x::xmm1, x::xmm2); }));
  }
  forms.push_back(Aligned(SseForm("addsubps xmm3, m128", [](x::Assembler& a, const Case&) { a.addsubps(x::xmm3, M128()); })));
  forms.push_back(Aligned(SseForm("haddpd xmm3, m128", [](x::Assembler& a, const Case&) { a.haddpd(x::xmm3, M128()); })));
  forms.push_back(Aligned(SseForm("hsubps xmm3, m128", [](x::Assembler& a, const Case&) { a.hsubps(x::xmm3, M128()); })));
  forms.push_back(Aligned(SseForm("movshdup xmm3, m128", [](x::Assembler& a, const Case&) { a.movshdup(x::xmm3, M128()); })));
  forms.push_back(Aligned(SseForm("movsldup xmm3, m128", [](x::Assembler& a, const Case&) { a.movsldup(x::xmm3, M128()); })));
  // m64 and LDDQU's m128 need no alignment: RBX stays anywhere in the buffer.
  forms.push_back(SseForm("movddup xmm3, m64", [](x::Assembler& a, const Case&) { a.movddup(x::xmm3, Mq()); }));
  forms.push_back(SseForm("lddqu xmm3, m128 (unaligned)", [](x::Assembler& a, const Case&) { a.lddqu(x::xmm3, M128()); }));
  // FISTTP (SSE3's x87 store with truncation): random x87 stacks, C0/C2/C3
  // undefined as after other stores.
  for (auto [name, opcode] : {std::pair{"fisttp m16", uint8_t{0xDF}}, std::pair{"fisttp m32", uint8_t{0xDB}},
                              std::pair{"fisttp m64", uint8_t{0xDD}}}) {
    Form f;
    f.name = name;
    f.x87 = true;
    f.fsw_undefined = (1 << 8) | (1 << 10) | (1 << 14);
    const uint8_t op = opcode;
    f.emit = [op](x::Assembler& a, const Case&) {
      const uint8_t b[] = {op, static_cast<uint8_t>(0x40 | (1 << 3) | 3), static_cast<uint8_t>(kMemDisp)};
      a.embed(b, sizeof b);
    };
    forms.push_back(f);
  }
  return forms;
}

std::vector<Form> Ssse3Forms() {
  std::vector<Form> forms;
  for (const Op& op : kSsse3) {
    asmjit::InstId id = op.id;
    forms.push_back(WithPrep(SseForm(std::string(op.name) + " xmm5, xmm14", [id](x::Assembler& a, const Case&) { a.emit(id, x::xmm5, x::xmm14); }),
                             IntEdges({5, 14}, {}, 0)));
    forms.push_back(WithPrep(Aligned(SseForm(std::string(op.name) + " xmm5, m128", [id](x::Assembler& a, const Case&) { a.emit(id, x::xmm5, M128()); })),
                             IntEdges({5}, {}, 16)));
    forms.push_back(WithPrep(MmxForm(std::string(op.name) + " mm1, mm6", [id](x::Assembler& a, const Case&) { a.emit(id, x::mm1, x::mm6); }),
                             IntEdges({}, {1, 6}, 0)));
    forms.push_back(WithPrep(MmxForm(std::string(op.name) + " mm1, m64", [id](x::Assembler& a, const Case&) { a.emit(id, x::mm1, Mq()); }),
                             IntEdges({}, {1}, 8)));
  }
  // PALIGNR: counts 0..40 more often than not, so every shift class shows.
  auto shift = [](const Case& c) {
    uint8_t n = static_cast<uint8_t>(c.imm);
    return asmjit::Imm(n & 0x80 ? n : n % 41);
  };
  forms.push_back(SseForm("palignr xmm5, xmm14, imm8", [shift](x::Assembler& a, const Case& c) { a.palignr(x::xmm5, x::xmm14, shift(c)); }));
  forms.push_back(Aligned(SseForm("palignr xmm5, m128, imm8", [shift](x::Assembler& a, const Case& c) { a.palignr(x::xmm5, M128(), shift(c)); })));
  forms.push_back(MmxForm("palignr mm1, mm6, imm8", [shift](x::Assembler& a, const Case& c) { a.palignr(x::mm1, x::mm6, shift(c)); }));
  forms.push_back(MmxForm("palignr mm7, m64, imm8", [shift](x::Assembler& a, const Case& c) { a.palignr(x::mm7, Mq(), shift(c)); }));
  return forms;
}

std::vector<Form> Sse41Forms() {
  std::vector<Form> forms;
  for (const Op& op : kSse41) {
    asmjit::InstId id = op.id;
    forms.push_back(WithPrep(SseForm(std::string(op.name) + " xmm1, xmm2", [id](x::Assembler& a, const Case&) { a.emit(id, x::xmm1, x::xmm2); }),
                             IntEdges({1, 2}, {}, 0)));
  }
  // PMOVSX/ZX read only the narrow source from memory (no alignment).
  const std::pair<Op, unsigned> pmov_mem[] = {
      {{"pmovsxbw", Inst::kIdPmovsxbw}, 64}, {{"pmovsxbd", Inst::kIdPmovsxbd}, 32}, {{"pmovsxbq", Inst::kIdPmovsxbq}, 16},
      {{"pmovsxwd", Inst::kIdPmovsxwd}, 64}, {{"pmovsxwq", Inst::kIdPmovsxwq}, 32}, {{"pmovsxdq", Inst::kIdPmovsxdq}, 64},
      {{"pmovzxbw", Inst::kIdPmovzxbw}, 64}, {{"pmovzxbd", Inst::kIdPmovzxbd}, 32}, {{"pmovzxbq", Inst::kIdPmovzxbq}, 16},
      {{"pmovzxwd", Inst::kIdPmovzxwd}, 64}, {{"pmovzxwq", Inst::kIdPmovzxwq}, 32}, {{"pmovzxdq", Inst::kIdPmovzxdq}, 64},
  };
  for (auto [op, bits] : pmov_mem) {
    asmjit::InstId id = op.id;
    unsigned b = bits;
    forms.push_back(WithPrep(SseForm(std::string(op.name) + " xmm4, m" + std::to_string(bits), [id, b](x::Assembler& a, const Case&) {
      a.emit(id, x::xmm4, x::ptr(x::rbx, kMemDisp, b / 8));
    }), IntEdges({}, {}, b / 8)));
  }
  for (auto [name, id] : {std::pair{"pmulld", Inst::kIdPmulld}, std::pair{"ptest", Inst::kIdPtest},
                          std::pair{"pminud", Inst::kIdPminud}, std::pair{"packusdw", Inst::kIdPackusdw},
                          std::pair{"phminposuw", Inst::kIdPhminposuw}, std::pair{"pcmpgtq", Inst::kIdPcmpgtq}}) {
    asmjit::InstId i = id;
    forms.push_back(WithPrep(Aligned(SseForm(std::string(name) + " xmm4, m128", [i](x::Assembler& a, const Case&) { a.emit(i, x::xmm4, M128()); })),
                             IntEdges({4}, {}, 16)));
  }
  forms.push_back(Aligned(SseForm("movntdqa xmm4, m128", [](x::Assembler& a, const Case&) { a.movntdqa(x::xmm4, M128()); })));
  // Variable blends on XMM0's sign bits.
  forms.push_back(SseForm("pblendvb xmm1, xmm2, <xmm0>", [](x::Assembler& a, const Case&) { a.pblendvb(x::xmm1, x::xmm2, x::xmm0); }));
  forms.push_back(SseForm("blendvps xmm1, xmm2, <xmm0>", [](x::Assembler& a, const Case&) { a.blendvps(x::xmm1, x::xmm2, x::xmm0); }));
  forms.push_back(SseForm("blendvpd xmm1, xmm2, <xmm0>", [](x::Assembler& a, const Case&) { a.blendvpd(x::xmm1, x::xmm2, x::xmm0); }));
  forms.push_back(Aligned(SseForm("pblendvb xmm1, m128, <xmm0>", [](x::Assembler& a, const Case&) { a.pblendvb(x::xmm1, M128(), x::xmm0); })));
  forms.push_back(Aligned(SseForm("blendvps xmm1, m128, <xmm0>", [](x::Assembler& a, const Case&) { a.blendvps(x::xmm1, M128(), x::xmm0); })));
  forms.push_back(Aligned(SseForm("blendvpd xmm1, m128, <xmm0>", [](x::Assembler& a, const Case&) { a.blendvpd(x::xmm1, M128(), x::xmm0); })));
  // imm8 forms.
  for (const Op& op : kRegRegImm) {
    asmjit::InstId id = op.id;
    forms.push_back(SseForm(std::string(op.name) + " xmm3, xmm12, imm8", [id](x::Assembler& a, const Case& c) {
      a.emit(id, x::xmm3, x::xmm12, asmjit::Imm(c.imm & 0xFF));
    }));
    if (id == Inst::kIdInsertps || id == Inst::kIdPalignr) continue;
    forms.push_back(Aligned(SseForm(std::string(op.name) + " xmm3, m128, imm8", [id](x::Assembler& a, const Case& c) {
      a.emit(id, x::xmm3, M128(), asmjit::Imm(c.imm & 0xFF));
    })));
  }
  forms.push_back(SseForm("insertps xmm3, m32, imm8", [](x::Assembler& a, const Case& c) { a.insertps(x::xmm3, Md(), c.imm & 0xFF); }));
  // ROUND: one form per rounding class of imm8[2:0] (nearest, down, up,
  // truncate, MXCSR.RC), imm8[3] (precision suppression) random.
  const char* const kRoundClass[] = {"rn", "rd", "ru", "rz", "mxcsr"};
  for (auto [name, id, dbl] : {std::tuple{"roundps", Inst::kIdRoundps, false}, std::tuple{"roundpd", Inst::kIdRoundpd, true},
                               std::tuple{"roundss", Inst::kIdRoundss, false}, std::tuple{"roundsd", Inst::kIdRoundsd, true}}) {
    for (unsigned cls = 0; cls < 5; ++cls) {
      asmjit::InstId i = id;
      bool d = dbl;
      auto imm = [cls](const Case& c) {
        uint8_t v = static_cast<uint8_t>(c.imm) & 0xF8;
        v |= cls < 4 ? cls : (4 | (static_cast<uint8_t>(c.imm) & 3));
        return asmjit::Imm(v & 0x0F);
      };
      Form f = SseForm(std::string(name) + " xmm6, xmm7, imm8 " + kRoundClass[cls],
                       [i, imm](x::Assembler& a, const Case& c) { a.emit(i, x::xmm6, x::xmm7, imm(c)); });
      f.prepare = [d](Case& c, Rng& rng, Check&) { FractionalLanes(c.in.fx.xmm[7], rng, d); };
      forms.push_back(f);
    }
  }
  forms.push_back(Aligned(SseForm("roundpd xmm6, m128, imm8", [](x::Assembler& a, const Case& c) { a.roundpd(x::xmm6, M128(), c.imm & 0xF); })));
  forms.push_back(SseForm("roundss xmm6, m32, imm8", [](x::Assembler& a, const Case& c) { a.roundss(x::xmm6, Md(), c.imm & 0xF); }));
  forms.push_back(SseForm("roundsd xmm6, m64, imm8", [](x::Assembler& a, const Case& c) { a.roundsd(x::xmm6, Mq(), c.imm & 0xF); }));
  // Extracts and inserts with general registers and memory.
  forms.push_back(SseForm("pextrb ecx, xmm5, imm8", [](x::Assembler& a, const Case& c) { a.pextrb(x::ecx, x::xmm5, c.imm & 0xFF); }));
  forms.push_back(SseForm("pextrb m8, xmm5, imm8", [](x::Assembler& a, const Case& c) { a.pextrb(Mb(), x::xmm5, c.imm & 0xFF); }));
  forms.push_back(SseForm("pextrw m16, xmm5, imm8", [](x::Assembler& a, const Case& c) { a.pextrw(Mw(), x::xmm5, c.imm & 0xFF); }));
  forms.push_back(SseForm("pextrd ecx, xmm5, imm8", [](x::Assembler& a, const Case& c) { a.pextrd(x::ecx, x::xmm5, c.imm & 0xFF); }));
  forms.push_back(SseForm("pextrd m32, xmm5, imm8", [](x::Assembler& a, const Case& c) { a.pextrd(Md(), x::xmm5, c.imm & 0xFF); }));
  forms.push_back(SseForm("pextrq rcx, xmm5, imm8", [](x::Assembler& a, const Case& c) { a.pextrq(x::rcx, x::xmm5, c.imm & 0xFF); }));
  forms.push_back(SseForm("pextrq m64, xmm5, imm8", [](x::Assembler& a, const Case& c) { a.pextrq(Mq(), x::xmm5, c.imm & 0xFF); }));
  forms.push_back(SseForm("extractps ecx, xmm5, imm8", [](x::Assembler& a, const Case& c) { a.extractps(x::ecx, x::xmm5, c.imm & 0xFF); }));
  forms.push_back(SseForm("extractps m32, xmm5, imm8", [](x::Assembler& a, const Case& c) { a.extractps(Md(), x::xmm5, c.imm & 0xFF); }));
  forms.push_back(SseForm("pinsrb xmm5, ecx, imm8", [](x::Assembler& a, const Case& c) { a.pinsrb(x::xmm5, x::ecx, c.imm & 0xFF); }));
  forms.push_back(SseForm("pinsrb xmm5, m8, imm8", [](x::Assembler& a, const Case& c) { a.pinsrb(x::xmm5, Mb(), c.imm & 0xFF); }));
  forms.push_back(SseForm("pinsrd xmm5, ecx, imm8", [](x::Assembler& a, const Case& c) { a.pinsrd(x::xmm5, x::ecx, c.imm & 0xFF); }));
  forms.push_back(SseForm("pinsrd xmm5, m32, imm8", [](x::Assembler& a, const Case& c) { a.pinsrd(x::xmm5, Md(), c.imm & 0xFF); }));
  forms.push_back(SseForm("pinsrq xmm5, rcx, imm8", [](x::Assembler& a, const Case& c) { a.pinsrq(x::xmm5, x::rcx, c.imm & 0xFF); }));
  forms.push_back(SseForm("pinsrq xmm5, m64, imm8", [](x::Assembler& a, const Case& c) { a.pinsrq(x::xmm5, Mq(), c.imm & 0xFF); }));
  return forms;
}

std::vector<Form> Sse42Forms() {
  std::vector<Form> forms;
  // PCMPxSTRx: a form per instruction, element format (imm8[1:0]) and
  // aggregation (imm8[3:2]); CF ZF SF OF defined, AF PF cleared.
  const char* const kFmt[] = {"ub", "uw", "sb", "sw"};
  const char* const kAgg[] = {"equal-any", "ranges", "equal-each", "equal-ordered"};
  for (auto [name, id, explicit_len] :
       {std::tuple{"pcmpestri", Inst::kIdPcmpestri, true}, std::tuple{"pcmpestrm", Inst::kIdPcmpestrm, true},
        std::tuple{"pcmpistri", Inst::kIdPcmpistri, false}, std::tuple{"pcmpistrm", Inst::kIdPcmpistrm, false}}) {
    for (unsigned agg = 0; agg < 4; ++agg) {
      for (unsigned fmt = 0; fmt < 4; ++fmt) {
        const unsigned cls = fmt | (agg << 2);
        asmjit::InstId i = id;
        Form f = SseForm(std::string(name) + " xmm1, xmm2, imm8 " + kFmt[fmt] + " " + kAgg[agg],
                         [i](x::Assembler& a, const Case& c) {
                           asmjit::Imm imm(c.imm & 0xFF);
                           switch (i) {
                             case Inst::kIdPcmpestri: a.pcmpestri(x::xmm1, x::xmm2, imm, x::ecx, x::eax, x::edx); break;
                             case Inst::kIdPcmpestrm: a.pcmpestrm(x::xmm1, x::xmm2, imm, x::xmm0, x::eax, x::edx); break;
                             case Inst::kIdPcmpistri: a.pcmpistri(x::xmm1, x::xmm2, imm, x::ecx); break;
                             default: a.pcmpistrm(x::xmm1, x::xmm2, imm, x::xmm0); break;
                           }
                         });
        f.prepare = StringPrep(cls, false, explicit_len);
        forms.push_back(f);
      }
    }
  }
  // Memory operands need no alignment; REX.W takes the lengths from RAX/RDX.
  {
    Form f = SseForm("pcmpistri xmm1, m128, imm8 (unaligned)", [](x::Assembler& a, const Case& c) {
      a.pcmpistri(x::xmm1, M128(), c.imm & 0xFF, x::ecx);
    });
    f.prepare = [](Case& c, Rng& rng, Check& check) { StringPrep(static_cast<unsigned>(c.imm) & 0xF, true, false)(c, rng, check); };
    forms.push_back(f);
    Form g = SseForm("pcmpestrm xmm1, m128, imm8 (unaligned)", [](x::Assembler& a, const Case& c) {
      a.pcmpestrm(x::xmm1, M128(), c.imm & 0xFF, x::xmm0, x::eax, x::edx);
    });
    g.prepare = [](Case& c, Rng& rng, Check& check) { StringPrep(static_cast<unsigned>(c.imm) & 0xF, true, true)(c, rng, check); };
    forms.push_back(g);
    Form h = SseForm("pcmpestri xmm1, xmm2, imm8 (rex.w)", [](x::Assembler& a, const Case& c) {
      const uint8_t b[] = {0x66, 0x48, 0x0F, 0x3A, 0x61, 0xCA, static_cast<uint8_t>(c.imm)};
      a.embed(b, sizeof b);
    });
    h.prepare = [](Case& c, Rng& rng, Check& check) {
      StringPrep(static_cast<unsigned>(c.imm) & 0xF, false, true)(c, rng, check);
      // 64-bit lengths: upper halves that change the value (e.g. 2^32 + 3).
      for (int r : {kRax, kRdx}) {
        if (rng.Below(3) == 0) c.in.gpr[r] ^= 1ull << (32 + rng.Below(32));
      }
    };
    forms.push_back(h);
  }
  // CRC32 (no flags change).
  for (auto [name, d, s] : {std::tuple{"crc32", R(kRax, 32), R(kRcx, 8)}, std::tuple{"crc32", R(kRax, 32), R(kRcx, 16)},
                            std::tuple{"crc32", R(kRax, 32), R(kRcx, 32)}, std::tuple{"crc32", R(kRax, 64), R(kRcx, 8)},
                            std::tuple{"crc32", R(kRax, 64), R(kRcx, 64)}, std::tuple{"crc32", R(kRax, 32), M(8)},
                            std::tuple{"crc32", R(kRax, 32), M(16)}, std::tuple{"crc32", R(kRax, 32), M(32)},
                            std::tuple{"crc32", R(kRax, 64), M(64)}, std::tuple{"crc32", R(9, 32), R(9, 32)}}) {
    Form f = Form2(name, Inst::kIdCrc32, d, s, kArith);
    forms.push_back(f);
  }
  // The same encodings in 32-bit compatibility-mode code (no REX).
  for (auto [d, s] : {std::pair{R(kRax, 32), R(kRcx, 8)}, std::pair{R(kRax, 32), R(kRcx, 16)},
                      std::pair{R(kRdx, 32), R(x86::kRsi, 32)}}) {
    Form f = Form2("crc32", Inst::kIdCrc32, d, s, kArith);
    f.name += " (32-bit code)";
    f.compat32 = true;
    forms.push_back(f);
  }
  return forms;
}

// POPCNT (ZF from the source; OF SF AF PF CF cleared) and CMPXCHG16B (ZF).
std::vector<Form> V2IntegerForms() {
  std::vector<Form> forms;
  for (unsigned w : {16u, 32u, 64u}) {
    forms.push_back(Form2("popcnt", Inst::kIdPopcnt, R(kRcx, w), R(10, w), kArith));
    forms.push_back(Form2("popcnt", Inst::kIdPopcnt, R(kRcx, w), M(w), kArith));
    if (w == 64) continue;
    Form f = Form2("popcnt", Inst::kIdPopcnt, R(kRcx, w), R(x86::kRdi, w), kArith);
    f.name += " (32-bit code)";
    f.compat32 = true;
    forms.push_back(f);
  }
  for (bool lock : {false, true}) {
    Form f;
    f.name = std::string(lock ? "lock " : "") + "cmpxchg16b m128";
    f.emit = [lock](x::Assembler& a, const Case&) {
      if (lock) a.lock();
      a.cmpxchg16b(M128(), x::rdx, x::rax, x::rcx, x::rbx);
    };
    f.flags = x86::kFlagZf;
    f.prepare = [](Case& c, Rng& rng, Check& check) {
      AlignRbx(c, rng, check);
      if (rng.Below(2)) {  // equal: the store happens
        std::memcpy(&c.in.gpr[kRax], &c.mem[MemOffset(c)], 8);
        std::memcpy(&c.in.gpr[kRdx], &c.mem[MemOffset(c) + 8], 8);
        if (rng.Below(4) == 0) c.in.gpr[kRdx] ^= 1;  // high half differs
      }
    };
    forms.push_back(f);
  }
  return forms;
}

// Random register-only encodings that Zydis files under SSE3, SSSE3 or
// SSE4 (4.1 and 4.2; SSE4A is AMD's and not in the model): a mandatory-prefix
// slot, optional REX, 0F, 0F 38 or 0F 3A, a random opcode, a register ModRM
// and an imm8. XMM, MMX and general registers (not RSP) only.
Form Sse4FuzzForm() {
  struct Picked {
    std::vector<uint8_t> bytes;
    ZydisDecodedInstruction insn;
    ZydisDecodedOperand ops[ZYDIS_MAX_OPERAND_COUNT];
  };
  Form f;
  f.name = "random encodings: sse3/ssse3/sse4 registers";
  f.weight = 10;
  f.sse = true;
  f.x87 = true;
  auto picked = std::make_shared<Picked>();
  auto decoder = std::make_shared<ZydisDecoder>();
  ZydisDecoderInit(decoder.get(), ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  auto acceptable = [](const ZydisDecodedInstruction& insn, const ZydisDecodedOperand* ops) {
    if (insn.meta.isa_ext != ZYDIS_ISA_EXT_SSE3 && insn.meta.isa_ext != ZYDIS_ISA_EXT_SSSE3 &&
        insn.meta.isa_ext != ZYDIS_ISA_EXT_SSE4) {
      return false;
    }
    for (int i = 0; i < insn.operand_count; ++i) {
      const ZydisDecodedOperand& o = ops[i];
      if (o.type == ZYDIS_OPERAND_TYPE_IMMEDIATE) continue;
      if (o.type != ZYDIS_OPERAND_TYPE_REGISTER) return false;
      ZydisRegisterClass rc = ZydisRegisterGetClass(o.reg.value);
      if (rc == ZYDIS_REGCLASS_FLAGS || rc == ZYDIS_REGCLASS_XMM || rc == ZYDIS_REGCLASS_MMX) continue;
      ZydisRegister big = ZydisRegisterGetLargestEnclosing(ZYDIS_MACHINE_MODE_LONG_64, o.reg.value);
      if (rc < ZYDIS_REGCLASS_GPR8 || rc > ZYDIS_REGCLASS_GPR64 || big == ZYDIS_REGISTER_RSP) return false;
    }
    return true;
  };
  f.prepare = [picked, decoder, acceptable](Case& c, Rng& rng, Check& check) {
    for (;;) {
      std::vector<uint8_t> b;
      const uint8_t mandatory[] = {0, 0x66, 0xF2, 0xF3};
      if (uint8_t p = mandatory[rng.Below(4)]) b.push_back(p);
      if (rng.Below(2)) b.push_back(0x40 | rng.Below(16));
      b.push_back(0x0F);
      switch (rng.Below(3)) {
        case 0: b.push_back(0x38); break;
        case 1: b.push_back(0x3A); break;
        default: break;
      }
      b.push_back(static_cast<uint8_t>(rng.Next()));
      b.push_back(0xC0 | rng.Below(64));
      b.push_back(static_cast<uint8_t>(rng.Next()));
      if (!ZYAN_SUCCESS(ZydisDecoderDecodeFull(decoder.get(), b.data(), b.size(), &picked->insn, picked->ops))) continue;
      if (!acceptable(picked->insn, picked->ops)) continue;
      b.resize(picked->insn.length);
      picked->bytes = b;
      break;
    }
    if (picked->insn.mnemonic == ZYDIS_MNEMONIC_PCMPESTRI || picked->insn.mnemonic == ZYDIS_MNEMONIC_PCMPESTRM) {
      for (int r : {kRax, kRdx}) c.in.gpr[r] = static_cast<uint64_t>(static_cast<int64_t>(rng.Below(41)) - 20);
    }
    check.flags = kArith | kDf;
  };
  f.emit = [picked](x::Assembler& a, const Case&) { a.embed(picked->bytes.data(), picked->bytes.size()); };
  return f;
}

bool Advertised(uint32_t ecx_bit) { return (x86::CpuidModel::Default().Query(1, 0).ecx >> ecx_bit) & 1; }

TEST(DiffSse4, Sse3) {
  if (!Advertised(0)) GTEST_SKIP() << "the CPUID model does not advertise SSE3";
  RunForms("sse3", Sse3Forms());
}
TEST(DiffSse4, Ssse3) {
  if (!Advertised(9)) GTEST_SKIP() << "the CPUID model does not advertise SSSE3";
  RunForms("ssse3", Ssse3Forms());
}
TEST(DiffSse4, Sse41) {
  if (!Advertised(19)) GTEST_SKIP() << "the CPUID model does not advertise SSE4.1";
  RunForms("sse4.1", Sse41Forms());
}
// The forms in 32-bit code are tests of their own: a host that cannot run
// 32-bit code skips them and still runs the 64-bit ones.
std::vector<Form> Only(std::vector<Form> forms, bool compat32) {
  std::erase_if(forms, [compat32](const Form& f) { return f.compat32 != compat32; });
  return forms;
}

TEST(DiffSse4, Sse42) {
  if (!Advertised(20)) GTEST_SKIP() << "the CPUID model does not advertise SSE4.2";
  RunForms("sse4.2", Only(Sse42Forms(), false));
}
TEST(DiffSse4, Sse42In32BitCode) {
  if (!Advertised(20)) GTEST_SKIP() << "the CPUID model does not advertise SSE4.2";
  RunForms("sse4.2 (32-bit code)", Only(Sse42Forms(), true));
}
TEST(DiffSse4, PopcntCmpxchg16b) {
  if (!Advertised(23) || !Advertised(13)) GTEST_SKIP() << "the CPUID model lacks POPCNT or CX16";
  RunForms("popcnt/cmpxchg16b", Only(V2IntegerForms(), false));
}
TEST(DiffSse4, PopcntIn32BitCode) {
  if (!Advertised(23)) GTEST_SKIP() << "the CPUID model lacks POPCNT";
  RunForms("popcnt (32-bit code)", Only(V2IntegerForms(), true));
}

TEST(DiffSse4, RandomEncodings) {
  if (!Advertised(0) || !Advertised(9) || !Advertised(19) || !Advertised(20)) GTEST_SKIP() << "not x86-64-v2";
  RunForms("random sse3/ssse3/sse4 encodings", {Sse4FuzzForm()});
}

// Legacy-SSE 16-byte operands of the new instructions fault when misaligned
// (#GP(0)); LDDQU and the PCMPxSTRx operands do not.
TEST(DiffSse4, AlignmentRules) {
  Case c;
  c.in.gpr[kRbx] = ((MemBase() + 512) & ~15ull) + 4 - kMemDisp;  // [rbx+0x10] 4 bytes off
  c.in.fx.mxcsr = 0x1F80;
  for (auto emit : std::vector<std::function<void(x::Assembler&)>>{
           [](x::Assembler& a) { a.pshufb(x::xmm1, M128()); }, [](x::Assembler& a) { a.ptest(x::xmm1, M128()); },
           [](x::Assembler& a) { a.movntdqa(x::xmm1, M128()); }, [](x::Assembler& a) { a.movshdup(x::xmm1, M128()); },
           [](x::Assembler& a) { a.haddps(x::xmm1, M128()); }, [](x::Assembler& a) { a.roundps(x::xmm1, M128(), 0); },
           [](x::Assembler& a) { a.pblendvb(x::xmm1, M128(), x::xmm0); }, [](x::Assembler& a) { a.pcmpgtq(x::xmm1, M128()); }}) {
    std::vector<uint8_t> bytes = Assemble(emit);
    Outcome out = RunGuestOnce(bytes, c);
    EXPECT_EQ(out.vector, x86::kGP) << Disassemble(bytes) << " " << out.error;
    EXPECT_EQ(out.fault_rip, LastGuestRip()) << Disassemble(bytes);
  }
  for (auto emit : std::vector<std::function<void(x::Assembler&)>>{
           [](x::Assembler& a) { a.lddqu(x::xmm1, M128()); }, [](x::Assembler& a) { a.pcmpistri(x::xmm1, M128(), 0, x::ecx); },
           [](x::Assembler& a) { a.pmovzxbw(x::xmm1, Mq()); }, [](x::Assembler& a) { a.movddup(x::xmm1, Mq()); }}) {
    std::vector<uint8_t> bytes = Assemble(emit);
    Outcome out = RunGuestOnce(bytes, c);
    EXPECT_EQ(out.vector, -1) << Disassemble(bytes) << " " << out.error;
  }
}

// MONITOR/MWAIT are not in the CPUID model (CPUID.01H:ECX.MONITOR = 0): #UD.
TEST(DiffSse4, MonitorMwaitAreUd) {
  ASSERT_FALSE(Advertised(3));
  for (std::vector<uint8_t> bytes : {std::vector<uint8_t>{0x0F, 0x01, 0xC8}, std::vector<uint8_t>{0x0F, 0x01, 0xC9}}) {
    Case c;
    c.in.gpr[kRax] = MemBase();
    Outcome out = RunGuestOnce(bytes, c);
    EXPECT_EQ(out.vector, x86::kUD) << Disassemble(bytes) << " " << out.error;
    EXPECT_EQ(out.fault_rip, LastGuestRip()) << Disassemble(bytes);
  }
}

}  // namespace
}  // namespace tandem::difftest
