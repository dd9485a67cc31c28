// Zydis decode throughput on a representative mix of 32- and 64-bit code:
// the cost the decoded-instruction cache saves on every re-execution.
#include <Zydis/Zydis.h>
#include <benchmark/benchmark.h>

#include <vector>

namespace {

const std::vector<uint8_t>& Code64() {
  // mov rax,[rbx+rcx*8+0x10]; add rax,rdx; lea rsi,[rip+0x100]; cmp eax,5;
  // jne +2; xor ecx,ecx; push rbx; pop rbx; mov dword [rsp+8],0x1234; ret
  static const std::vector<uint8_t> code = {
      0x48, 0x8B, 0x44, 0xCB, 0x10, 0x48, 0x01, 0xD0, 0x48, 0x8D, 0x35, 0x00, 0x01, 0x00, 0x00,
      0x83, 0xF8, 0x05, 0x75, 0x02, 0x31, 0xC9, 0x53, 0x5B, 0xC7, 0x44, 0x24, 0x08, 0x34, 0x12,
      0x00, 0x00, 0xC3};
  return code;
}

void BM_ZydisDecodeFull(benchmark::State& state) {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecodedInstruction insn;
  ZydisDecodedOperand operands[ZYDIS_MAX_OPERAND_COUNT];
  const auto& code = Code64();
  uint64_t decoded = 0;
  for (auto _ : state) {
    for (size_t off = 0; off < code.size(); off += insn.length) {
      ZydisDecoderDecodeFull(&decoder, code.data() + off, code.size() - off, &insn, operands);
      benchmark::DoNotOptimize(operands[0].type);
      ++decoded;
    }
  }
  state.SetItemsProcessed(decoded);
}
BENCHMARK(BM_ZydisDecodeFull);

void BM_ZydisDecodeInstructionOnly(benchmark::State& state) {
  ZydisDecoder decoder;
  ZydisDecoderInit(&decoder, ZYDIS_MACHINE_MODE_LONG_64, ZYDIS_STACK_WIDTH_64);
  ZydisDecoderContext ctx;
  ZydisDecodedInstruction insn;
  const auto& code = Code64();
  uint64_t decoded = 0;
  for (auto _ : state) {
    for (size_t off = 0; off < code.size(); off += insn.length) {
      ZydisDecoderDecodeInstruction(&decoder, &ctx, code.data() + off, code.size() - off, &insn);
      benchmark::DoNotOptimize(insn.mnemonic);
      ++decoded;
    }
  }
  state.SetItemsProcessed(decoded);
}
BENCHMARK(BM_ZydisDecodeInstructionOnly);

}  // namespace
