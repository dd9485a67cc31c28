// SSE/SSE2 (what the CPUID model advertises) against the host: packed and
// scalar integer and floating-point forms register to register, with random
// XMM inputs rich in float edge values, random MXCSR rounding/FTZ/DAZ
// (exceptions masked), and the MXCSR exception flags and EFLAGS
// (COMISS/UCOMISS) compared. Unaligned loads through MOVDQU/MOVUPS/MOVUPD
// and the scalar memory forms cover memory operands.
#include "tests/diff/form_util.h"

namespace tandem::difftest {
namespace {

namespace x = asmjit::x86;

struct SseOp {
  const char* name;
  asmjit::InstId id;
};

// xmm1, xmm2
const SseOp kRegReg[] = {
    // SSE2 integer
    {"paddb", Inst::kIdPaddb}, {"paddw", Inst::kIdPaddw}, {"paddd", Inst::kIdPaddd}, {"paddq", Inst::kIdPaddq},
    {"psubb", Inst::kIdPsubb}, {"psubw", Inst::kIdPsubw}, {"psubd", Inst::kIdPsubd}, {"psubq", Inst::kIdPsubq},
    {"paddsb", Inst::kIdPaddsb}, {"paddsw", Inst::kIdPaddsw}, {"paddusb", Inst::kIdPaddusb}, {"paddusw", Inst::kIdPaddusw},
    {"psubsb", Inst::kIdPsubsb}, {"psubsw", Inst::kIdPsubsw}, {"psubusb", Inst::kIdPsubusb}, {"psubusw", Inst::kIdPsubusw},
    {"pand", Inst::kIdPand}, {"pandn", Inst::kIdPandn}, {"por", Inst::kIdPor}, {"pxor", Inst::kIdPxor},
    {"pcmpeqb", Inst::kIdPcmpeqb}, {"pcmpeqw", Inst::kIdPcmpeqw}, {"pcmpeqd", Inst::kIdPcmpeqd},
    {"pcmpgtb", Inst::kIdPcmpgtb}, {"pcmpgtw", Inst::kIdPcmpgtw}, {"pcmpgtd", Inst::kIdPcmpgtd},
    {"pmullw", Inst::kIdPmullw}, {"pmulhw", Inst::kIdPmulhw}, {"pmulhuw", Inst::kIdPmulhuw}, {"pmuludq", Inst::kIdPmuludq},
    {"pmaddwd", Inst::kIdPmaddwd}, {"psadbw", Inst::kIdPsadbw}, {"pavgb", Inst::kIdPavgb}, {"pavgw", Inst::kIdPavgw},
    {"pmaxub", Inst::kIdPmaxub}, {"pmaxsw", Inst::kIdPmaxsw}, {"pminub", Inst::kIdPminub}, {"pminsw", Inst::kIdPminsw},
    {"psllw", Inst::kIdPsllw}, {"pslld", Inst::kIdPslld}, {"psllq", Inst::kIdPsllq}, {"psrlw", Inst::kIdPsrlw},
    {"psrld", Inst::kIdPsrld}, {"psrlq", Inst::kIdPsrlq}, {"psraw", Inst::kIdPsraw}, {"psrad", Inst::kIdPsrad},
    {"punpcklbw", Inst::kIdPunpcklbw}, {"punpcklwd", Inst::kIdPunpcklwd}, {"punpckldq", Inst::kIdPunpckldq},
    {"punpcklqdq", Inst::kIdPunpcklqdq}, {"punpckhbw", Inst::kIdPunpckhbw}, {"punpckhwd", Inst::kIdPunpckhwd},
    {"punpckhdq", Inst::kIdPunpckhdq}, {"punpckhqdq", Inst::kIdPunpckhqdq}, {"packsswb", Inst::kIdPacksswb},
    {"packssdw", Inst::kIdPackssdw}, {"packuswb", Inst::kIdPackuswb},
    {"movdqa", Inst::kIdMovdqa}, {"movdqu", Inst::kIdMovdqu}, {"movaps", Inst::kIdMovaps}, {"movups", Inst::kIdMovups},
    {"movapd", Inst::kIdMovapd}, {"movupd", Inst::kIdMovupd}, {"movq", Inst::kIdMovq}, {"movss", Inst::kIdMovss},
    {"movsd", Inst::kIdMovsd}, {"movhlps", Inst::kIdMovhlps}, {"movlhps", Inst::kIdMovlhps},
    {"unpcklps", Inst::kIdUnpcklps}, {"unpckhps", Inst::kIdUnpckhps}, {"unpcklpd", Inst::kIdUnpcklpd},
    {"unpckhpd", Inst::kIdUnpckhpd},
    // floating point
    {"addps", Inst::kIdAddps}, {"addpd", Inst::kIdAddpd}, {"addss", Inst::kIdAddss}, {"addsd", Inst::kIdAddsd},
    {"subps", Inst::kIdSubps}, {"subpd", Inst::kIdSubpd}, {"subss", Inst::kIdSubss}, {"subsd", Inst::kIdSubsd},
    {"mulps", Inst::kIdMulps}, {"mulpd", Inst::kIdMulpd}, {"mulss", Inst::kIdMulss}, {"mulsd", Inst::kIdMulsd},
    {"divps", Inst::kIdDivps}, {"divpd", Inst::kIdDivpd}, {"divss", Inst::kIdDivss}, {"divsd", Inst::kIdDivsd},
    {"sqrtps", Inst::kIdSqrtps}, {"sqrtpd", Inst::kIdSqrtpd}, {"sqrtss", Inst::kIdSqrtss}, {"sqrtsd", Inst::kIdSqrtsd},
    {"minps", Inst::kIdMinps}, {"minpd", Inst::kIdMinpd}, {"minss", Inst::kIdMinss}, {"minsd", Inst::kIdMinsd},
    {"maxps", Inst::kIdMaxps}, {"maxpd", Inst::kIdMaxpd}, {"maxss", Inst::kIdMaxss}, {"maxsd", Inst::kIdMaxsd},
    {"andps", Inst::kIdAndps}, {"andnps", Inst::kIdAndnps}, {"orps", Inst::kIdOrps}, {"xorps", Inst::kIdXorps},
    {"andpd", Inst::kIdAndpd}, {"andnpd", Inst::kIdAndnpd}, {"orpd", Inst::kIdOrpd}, {"xorpd", Inst::kIdXorpd},
    {"cvtps2pd", Inst::kIdCvtps2pd}, {"cvtpd2ps", Inst::kIdCvtpd2ps}, {"cvtdq2ps", Inst::kIdCvtdq2ps},
    {"cvtps2dq", Inst::kIdCvtps2dq}, {"cvttps2dq", Inst::kIdCvttps2dq}, {"cvtdq2pd", Inst::kIdCvtdq2pd},
    {"cvtpd2dq", Inst::kIdCvtpd2dq}, {"cvttpd2dq", Inst::kIdCvttpd2dq}, {"cvtss2sd", Inst::kIdCvtss2sd},
    {"cvtsd2ss", Inst::kIdCvtsd2ss},
};

// xmm1, xmm2, imm8
const SseOp kRegRegImm[] = {
    {"pshufd", Inst::kIdPshufd}, {"pshuflw", Inst::kIdPshuflw}, {"pshufhw", Inst::kIdPshufhw},
    {"shufps", Inst::kIdShufps}, {"shufpd", Inst::kIdShufpd}, {"cmpps", Inst::kIdCmpps},
    {"cmppd", Inst::kIdCmppd},   {"cmpss", Inst::kIdCmpss},   {"cmpsd", Inst::kIdCmpsd},
};

// xmm, imm8 (shift by immediate)
const SseOp kRegImm[] = {
    {"psllw", Inst::kIdPsllw}, {"pslld", Inst::kIdPslld}, {"psllq", Inst::kIdPsllq}, {"psrlw", Inst::kIdPsrlw},
    {"psrld", Inst::kIdPsrld}, {"psrlq", Inst::kIdPsrlq}, {"psraw", Inst::kIdPsraw}, {"psrad", Inst::kIdPsrad},
    {"pslldq", Inst::kIdPslldq}, {"psrldq", Inst::kIdPsrldq},
};

Form SseForm(std::string name, std::function<void(x::Assembler&, const Case&)> emit, uint64_t flags = kArith) {
  Form f;
  f.name = std::move(name);
  f.emit = std::move(emit);
  f.sse = true;
  f.flags = flags;
  return f;
}

std::vector<Form> SseForms() {
  std::vector<Form> forms;
  for (const SseOp& op : kRegReg) {
    asmjit::InstId id = op.id;
    forms.push_back(SseForm(std::string(op.name) + " xmm1, xmm2",
                            [id](x::Assembler& a, const Case&) { a.emit(id, x::xmm1, x::xmm2); }));
  }
  for (const SseOp& op : kRegRegImm) {
    asmjit::InstId id = op.id;
    forms.push_back(SseForm(std::string(op.name) + " xmm3, xmm12, imm8", [id](x::Assembler& a, const Case& c) {
      a.emit(id, x::xmm3, x::xmm12, asmjit::Imm(c.imm & 0xFF));
    }));
  }
  for (const SseOp& op : kRegImm) {
    asmjit::InstId id = op.id;
    forms.push_back(SseForm(std::string(op.name) + " xmm9, imm8", [id](x::Assembler& a, const Case& c) {
      // Counts around the lane widths more often than not.
      uint8_t n = static_cast<uint8_t>(c.imm);
      if (n & 0x80) n &= 0x4F;
      a.emit(id, x::xmm9, asmjit::Imm(n));
    }));
  }
  // EFLAGS from compares: ZF, PF, CF set; OF, SF, AF cleared.
  for (auto [name, id] : {std::pair{"comiss", Inst::kIdComiss}, std::pair{"ucomiss", Inst::kIdUcomiss},
                          std::pair{"comisd", Inst::kIdComisd}, std::pair{"ucomisd", Inst::kIdUcomisd}}) {
    asmjit::InstId i = id;
    forms.push_back(SseForm(std::string(name) + " xmm0, xmm15", [i](x::Assembler& a, const Case&) { a.emit(i, x::xmm0, x::xmm15); }));
  }
  // GPR <-> XMM.
  forms.push_back(SseForm("movd xmm4, ecx", [](x::Assembler& a, const Case&) { a.movd(x::xmm4, x::ecx); }));
  forms.push_back(SseForm("movq xmm4, rcx", [](x::Assembler& a, const Case&) { a.movq(x::xmm4, x::rcx); }));
  forms.push_back(SseForm("movd ecx, xmm4", [](x::Assembler& a, const Case&) { a.movd(x::ecx, x::xmm4); }));
  forms.push_back(SseForm("movq rcx, xmm4", [](x::Assembler& a, const Case&) { a.movq(x::rcx, x::xmm4); }));
  forms.push_back(SseForm("pmovmskb edx, xmm5", [](x::Assembler& a, const Case&) { a.pmovmskb(x::edx, x::xmm5); }));
  forms.push_back(SseForm("movmskps edx, xmm5", [](x::Assembler& a, const Case&) { a.movmskps(x::edx, x::xmm5); }));
  forms.push_back(SseForm("movmskpd edx, xmm5", [](x::Assembler& a, const Case&) { a.movmskpd(x::edx, x::xmm5); }));
  forms.push_back(SseForm("pextrw edx, xmm5, imm8", [](x::Assembler& a, const Case& c) { a.pextrw(x::edx, x::xmm5, c.imm & 0xFF); }));
  forms.push_back(SseForm("pinsrw xmm5, edx, imm8", [](x::Assembler& a, const Case& c) { a.pinsrw(x::xmm5, x::edx, c.imm & 0xFF); }));
  for (auto [name, id] : {std::pair{"cvtsi2ss", Inst::kIdCvtsi2ss}, std::pair{"cvtsi2sd", Inst::kIdCvtsi2sd}}) {
    asmjit::InstId i = id;
    forms.push_back(SseForm(std::string(name) + " xmm6, ecx", [i](x::Assembler& a, const Case&) { a.emit(i, x::xmm6, x::ecx); }));
    forms.push_back(SseForm(std::string(name) + " xmm6, rcx", [i](x::Assembler& a, const Case&) { a.emit(i, x::xmm6, x::rcx); }));
  }
  for (auto [name, id] : {std::pair{"cvtss2si", Inst::kIdCvtss2si}, std::pair{"cvttss2si", Inst::kIdCvttss2si},
                          std::pair{"cvtsd2si", Inst::kIdCvtsd2si}, std::pair{"cvttsd2si", Inst::kIdCvttsd2si}}) {
    asmjit::InstId i = id;
    forms.push_back(SseForm(std::string(name) + " ecx, xmm7", [i](x::Assembler& a, const Case&) { a.emit(i, x::ecx, x::xmm7); }));
    forms.push_back(SseForm(std::string(name) + " rcx, xmm7", [i](x::Assembler& a, const Case&) { a.emit(i, x::rcx, x::xmm7); }));
  }
  // Memory operands: unaligned loads and stores, scalar loads.
  forms.push_back(SseForm("movdqu xmm1, m128", [](x::Assembler& a, const Case&) { a.movdqu(x::xmm1, x::xmmword_ptr(x::rbx, kMemDisp)); }));
  forms.push_back(SseForm("movdqu m128, xmm1", [](x::Assembler& a, const Case&) { a.movdqu(x::xmmword_ptr(x::rbx, kMemDisp), x::xmm1); }));
  forms.push_back(SseForm("movups m128, xmm13", [](x::Assembler& a, const Case&) { a.movups(x::xmmword_ptr(x::rbx, kMemDisp), x::xmm13); }));
  forms.push_back(SseForm("movupd xmm13, m128", [](x::Assembler& a, const Case&) { a.movupd(x::xmm13, x::xmmword_ptr(x::rbx, kMemDisp)); }));
  forms.push_back(SseForm("movss xmm2, m32", [](x::Assembler& a, const Case&) { a.movss(x::xmm2, x::dword_ptr(x::rbx, kMemDisp)); }));
  forms.push_back(SseForm("movsd m64, xmm2", [](x::Assembler& a, const Case&) { a.movsd(x::qword_ptr(x::rbx, kMemDisp), x::xmm2); }));
  forms.push_back(SseForm("movq xmm2, m64", [](x::Assembler& a, const Case&) { a.movq(x::xmm2, x::qword_ptr(x::rbx, kMemDisp)); }));
  forms.push_back(SseForm("movhps xmm2, m64", [](x::Assembler& a, const Case&) { a.movhps(x::xmm2, x::qword_ptr(x::rbx, kMemDisp)); }));
  forms.push_back(SseForm("movlpd m64, xmm2", [](x::Assembler& a, const Case&) { a.movlpd(x::qword_ptr(x::rbx, kMemDisp), x::xmm2); }));
  forms.push_back(SseForm("addsd xmm2, m64", [](x::Assembler& a, const Case&) { a.addsd(x::xmm2, x::qword_ptr(x::rbx, kMemDisp)); }));
  forms.push_back(SseForm("mulss xmm2, m32", [](x::Assembler& a, const Case&) { a.mulss(x::xmm2, x::dword_ptr(x::rbx, kMemDisp)); }));
  forms.push_back(SseForm("ucomisd xmm2, m64", [](x::Assembler& a, const Case&) { a.ucomisd(x::xmm2, x::qword_ptr(x::rbx, kMemDisp)); }));
  forms.push_back(SseForm("cvtsi2sd xmm2, m32", [](x::Assembler& a, const Case&) { a.cvtsi2sd(x::xmm2, x::dword_ptr(x::rbx, kMemDisp)); }));
  // Packed memory operands must be 16-byte aligned: point RBX so they are.
  auto aligned = [](Form f) {
    f.prepare = [](Case& c, Rng& rng, Check&) {
      c.in.gpr[x86::kRbx] = ((MemBase() + 400 + rng.Below(200)) & ~15ull) - kMemDisp;
    };
    return f;
  };
  auto m128 = [] { return x::xmmword_ptr(x::rbx, kMemDisp); };
  forms.push_back(aligned(SseForm("movdqa xmm1, m128", [m128](x::Assembler& a, const Case&) { a.movdqa(x::xmm1, m128()); })));
  forms.push_back(aligned(SseForm("movaps m128, xmm8", [m128](x::Assembler& a, const Case&) { a.movaps(m128(), x::xmm8); })));
  forms.push_back(aligned(SseForm("paddd xmm1, m128", [m128](x::Assembler& a, const Case&) { a.paddd(x::xmm1, m128()); })));
  forms.push_back(aligned(SseForm("pxor xmm1, m128", [m128](x::Assembler& a, const Case&) { a.pxor(x::xmm1, m128()); })));
  forms.push_back(aligned(SseForm("mulpd xmm1, m128", [m128](x::Assembler& a, const Case&) { a.mulpd(x::xmm1, m128()); })));
  forms.push_back(aligned(SseForm("cmpps xmm1, m128, imm8", [m128](x::Assembler& a, const Case& c) { a.cmpps(x::xmm1, m128(), c.imm & 7); })));
  forms.push_back(aligned(SseForm("pshufd xmm1, m128, imm8", [m128](x::Assembler& a, const Case& c) { a.pshufd(x::xmm1, m128(), c.imm & 0xFF); })));
  return forms;
}

TEST(DiffSse, Sse2) { RunForms("sse/sse2", SseForms()); }

// Legacy-SSE packed memory operands that are not 16-byte aligned raise
// #GP(0) (SDM vol. 2 MOVAPS: "#GP(0) if the memory operand is
// not aligned on a 16-byte boundary"); MOVUPS/MOVDQU do not.
TEST(DiffSse, MisalignedPackedOperandIsGp) {
  namespace xx = asmjit::x86;
  Case c;
  c.in.gpr[x86::kRbx] = ((MemBase() + 512) & ~15ull) + 4 - kMemDisp;  // [rbx+0x10] 4 bytes off
  auto m = [] { return xx::xmmword_ptr(xx::rbx, kMemDisp); };
  for (auto emit : std::vector<std::function<void(xx::Assembler&)>>{
           [&](xx::Assembler& a) { a.movaps(xx::xmm1, m()); }, [&](xx::Assembler& a) { a.movdqa(m(), xx::xmm1); },
           [&](xx::Assembler& a) { a.paddd(xx::xmm1, m()); }, [&](xx::Assembler& a) { a.addps(xx::xmm1, m()); }}) {
    std::vector<uint8_t> bytes = Assemble(emit);
    Outcome out = RunGuestOnce(bytes, c);
    EXPECT_EQ(out.vector, x86::kGP) << Disassemble(bytes) << " " << out.error;
    EXPECT_EQ(out.fault_rip, LastGuestRip()) << Disassemble(bytes);
  }
  for (auto emit : std::vector<std::function<void(xx::Assembler&)>>{
           [&](xx::Assembler& a) { a.movups(xx::xmm1, m()); }, [&](xx::Assembler& a) { a.movdqu(m(), xx::xmm1); }}) {
    std::vector<uint8_t> bytes = Assemble(emit);
    Outcome out = RunGuestOnce(bytes, c);
    EXPECT_EQ(out.vector, -1) << Disassemble(bytes) << " " << out.error;
  }
}

}  // namespace
}  // namespace tandem::difftest
