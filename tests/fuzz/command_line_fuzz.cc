// libFuzzer harness for the command line of `tandem run` and what it loads:
// the options (cli/run_options, --drive and --nic specs, sizes, --smp), the
// BIOS ROM checks and its mapping at the reset vector, and the boot image
// loaders behind PrepareBoot. Whatever the arguments and the file bytes,
// tandem returns an error or a board; it never crashes.
//
// An input is a command line, then a NUL byte, then the bytes of the one
// file every path option names: "-m 16M --bios F\0<ROM bytes>". Paths are
// replaced by that file after parsing, so no input reaches other host files.
// File bytes that start with 'P' are padded in front with 0xFF to a 64 KiB
// ROM, so the fuzzer also reaches the boards a valid ROM size gives.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "cli/run_options.h"
#include "hw/board.h"
#include "hw/memory_map.h"

namespace {

using namespace tandem;

// A bound the harness puts on what the command line may ask of the host, so
// the fuzzer spends its time in the parsers rather than in mmap.
constexpr uint64_t kMaxFuzzRam = 64ull << 20;
constexpr int kMaxFuzzCpus = 4;

std::vector<std::string> SplitWords(const std::string& line) {
  std::vector<std::string> words;
  std::string word;
  for (char c : line) {
    if (c == ' ' || c == '\n' || c == '\t') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += c;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

constexpr size_t kRomGranule = 64 << 10;

// The file behind every path option: written once per input to a path of
// this process's own.
const std::string& WriteImage(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/tandem-command-line-fuzz." + std::to_string(getpid());
  std::vector<uint8_t> bytes(data, data + size);
  if (size != 0 && data[0] == 'P' && size <= kRomGranule) bytes.insert(bytes.begin(), kRomGranule - size, 0xFF);
  FILE* file = std::fopen(path.c_str(), "wb");
  if (file == nullptr) __builtin_trap();
  if (!bytes.empty() && std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) __builtin_trap();
  std::fclose(file);
  return path;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  size_t split = 0;
  while (split < size && data[split] != 0) ++split;
  const std::string line(reinterpret_cast<const char*>(data), split);
  const size_t file_offset = split < size ? split + 1 : size;

  auto parsed = cli::ParseRunOptions(SplitWords(line));
  if (!parsed.ok()) return 0;
  cli::RunOptions opt = std::move(*parsed);

  const std::string& image = WriteImage(data + file_offset, size - file_offset);
  if (!opt.bios.empty()) opt.bios = image;
  if (!opt.kernel.empty()) opt.kernel = image;
  if (!opt.initrd.empty()) opt.initrd = image;
  if (opt.bios.empty() && opt.kernel.empty()) opt.bios = image;  // not the host's SeaBIOS
  if (auto ram = hw::ParseSize(opt.memory); ram.ok() && *ram > kMaxFuzzRam) opt.memory = "64M";
  if (auto cpus = cli::ParseSmp(opt.smp); cpus.ok() && *cpus > kMaxFuzzCpus) opt.smp = "2";

  hw::BoardConfig config;
  cli::BootImages images;
  if (!cli::LoadImages(opt, config, images).ok()) return 0;
  // The drive and NIC specs were parsed above; their backends open host
  // files and sockets, which are not the command line's to fuzz.
  config.drives.clear();
  config.nic = {};
  auto board = hw::Board::Create(std::move(config));
  if (!board.ok()) return 0;
  (void)cli::PrepareBoot(opt, **board, images);
  return 0;
}
