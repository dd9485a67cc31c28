// `tandem bench`: runs one guest on several engines (and QEMU's TCG as a
// reference) as child `tandem run --stats` processes, interleaved, and prints
// wall time, instruction counts, peak memory, exit status and whether the
// serial transcripts agree, as a table or as JSON.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace tandem::cli {

struct BenchOptions {
  std::string accel;  // comma- or colon-separated engines; empty: every available one
  int runs = 3;
  bool json = false;
  bool vs_qemu = false;
  std::string mark;  // POSIX extended regular expression: time the first line where each distinct match appears
  std::string out;   // keep transcripts and stderr of each run here; empty: a temporary folder
  std::vector<std::string> run_args;  // RUN-OPTIONS after `--`
};

void AddBenchOptions(CLI::App& command, BenchOptions& opt);

// The whole command; the exit status (0 when every run happened, whatever
// the guests did; 2 for bad input).
int Bench(const BenchOptions& opt);

}  // namespace tandem::cli
