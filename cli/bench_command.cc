// `tandem bench` (see bench_command.h). Each run is a child process, so a
// guest that crashes an engine is a result in the table; the serial output
// comes back through a pipe so that --mark can time lines as they appear.
// QEMU's options are the equivalents of tandem's (QEMU's docs/system/invocation).
#include "cli/bench_command.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include "accel/accelerator.h"
#include "cli/run_options.h"

namespace tandem::cli {

namespace {

constexpr int kUsageError = 2;
constexpr char kQemuColumn[] = "qemu-tcg";

int Fail(const std::string& message) {
  std::fprintf(stderr, "tandem: %s\n", message.c_str());
  return kUsageError;
}

double NowSeconds() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// One run of one column.
struct RunResult {
  double wall_s = 0;
  int status = 0;         // exit status; 128 + signal when killed
  long peak_rss_kib = 0;  // wait4's ru_maxrss
  uint64_t instructions = 0;
  double mips = 0;        // as --stats reports it (the engine's own run time)
  std::string transcript;  // timestamps masked
  std::string failure;     // the last stderr line when the run did not end as the guest asked
  std::vector<std::pair<std::string, double>> marks;  // the matched text, seconds from the start
};

struct Column {
  std::string name;
  std::vector<std::string> argv;  // the command, without the serial argument
  bool qemu = false;
  std::vector<RunResult> runs;
};

std::vector<std::string> SplitList(const std::string& list) {
  std::vector<std::string> out;
  std::string item;
  for (char c : list + ",") {
    if (c == ',' || c == ':') {
      if (!item.empty()) out.push_back(item);
      item.clear();
    } else {
      item += c;
    }
  }
  return out;
}

// Linux's printk times ("[    0.123456]") differ between any two runs.
std::string MaskTimestamps(const std::string& text) {
  static const std::regex stamp(R"(\[ *[0-9]+\.[0-9]+\])");
  return std::regex_replace(text, stamp, "[T]");
}

std::string LastLine(const std::string& path) {
  std::ifstream in(path);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

// "tandem: jit: 1.234 s, 5678 instructions, 4.6 MIPS" from `tandem run --stats`.
void ParseStats(const std::string& path, RunResult& r) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    unsigned long long n = 0;
    double seconds = 0, mips = 0;
    char name[32];
    if (std::sscanf(line.c_str(), "tandem: %31[^:]: %lf s, %llu instructions, %lf MIPS", name, &seconds, &n,
                    &mips) == 4) {
      r.instructions = n;
      r.mips = mips;
    }
  }
}

// Whether an exit status is one a guest asks for: a debug-exit code, a
// power-off or reset (0). Anything else is worth a note under the table.
bool GuestEnded(int status) { return status == 0 || (status & 1); }

struct Progress {
  bool tty = isatty(STDERR_FILENO);
  void Show(const std::string& text) {
    if (tty) std::fprintf(stderr, "\r\033[K%s", text.c_str());
  }
  void Done(const std::string& text) {
    if (tty) {
      std::fprintf(stderr, "\r\033[K");
    } else {
      std::fprintf(stderr, "%s\n", text.c_str());
    }
  }
};

// Runs `argv` with COM1 on a pipe at fd 3, stderr to `stderr_path`; times the
// run and the lines matching `mark`, and writes the transcript to `serial_path`.
RunResult RunOnce(const std::vector<std::string>& argv, const std::string& serial_path,
                  const std::string& stderr_path, const std::optional<std::regex>& mark, double kill_after_s,
                  Progress& progress, const std::string& label) {
  RunResult r;
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0) {
    r.status = 127;
    r.failure = std::string("pipe: ") + std::strerror(errno);
    return r;
  }
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const double start = NowSeconds();
  pid_t pid = fork();
  if (pid == 0) {
    int in = open("/dev/null", O_RDONLY);
    int out = open("/dev/null", O_WRONLY);
    int err = open(stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (in < 0 || out < 0 || err < 0) _exit(127);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    dup2(pipe_fds[1], 3);  // dup2 clears close-on-exec on the copy (Ctrl-C reaches the child too)
    execv(args[0], args.data());
    std::fprintf(stderr, "tandem bench: cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  close(pipe_fds[1]);
  if (pid < 0) {
    close(pipe_fds[0]);
    r.status = 127;
    r.failure = std::string("fork: ") + std::strerror(errno);
    return r;
  }
  std::string raw, line;
  std::map<std::string, bool> seen;
  bool killed = false;
  double last_progress = 0;
  for (;;) {
    pollfd fd{pipe_fds[0], POLLIN, 0};
    int ready = poll(&fd, 1, 200);
    const double now = NowSeconds() - start;
    if (ready > 0) {
      char buf[4096];
      ssize_t n = read(pipe_fds[0], buf, sizeof buf);
      if (n <= 0) break;
      raw.append(buf, static_cast<size_t>(n));
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] != '\n') {
          line += buf[i];
          continue;
        }
        if (!line.empty() && line.back() == '\r') line.pop_back();
        std::smatch match;
        if (mark && std::regex_search(line, match, *mark)) {
          // Keyed by what matched: the rest of the line may differ by engine ("uptime=3.66").
          std::string key = MaskTimestamps(match.str(0));
          if (!seen[key]) {
            seen[key] = true;
            r.marks.emplace_back(key, now);
          }
        }
        line.clear();
      }
    }
    if (kill_after_s > 0 && now > kill_after_s && !killed) {
      kill(pid, SIGKILL);
      killed = true;
    }
    if (now - last_progress > 0.5) {
      progress.Show(label + " " + std::to_string(static_cast<int>(now)) + " s");
      last_progress = now;
    }
  }
  close(pipe_fds[0]);
  int wstatus = 0;
  rusage usage{};
  while (wait4(pid, &wstatus, 0, &usage) < 0 && errno == EINTR) {
  }
  r.wall_s = NowSeconds() - start;
  r.peak_rss_kib = usage.ru_maxrss;
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  if (killed) r.status = 124;  // as `tandem run --timeout`
  std::ofstream(serial_path, std::ios::binary) << raw;
  r.transcript = MaskTimestamps(raw);
  ParseStats(stderr_path, r);
  if (!GuestEnded(r.status)) {
    r.failure = killed ? "killed after the --timeout" : LastLine(stderr_path);
  }
  return r;
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// The first line where two transcripts differ (1-based), 0 when equal.
size_t FirstDifferentLine(const std::string& a, const std::string& b) {
  if (a == b) return 0;
  size_t line = 1;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    if (a[i] != b[i]) return line;
    if (a[i] == '\n') ++line;
  }
  return line;
}

std::string JsonString(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

std::string Fixed(double v, int digits) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// The figures of one column, summarised over its runs.
struct Summary {
  double median_s = 0, min_s = 0, max_s = 0;
  uint64_t instructions = 0;  // of the first run; 0 when not counted
  bool instructions_vary = false;
  double mips = 0;            // median of the runs
  long peak_rss_kib = 0;      // the largest
  std::vector<int> statuses;
  size_t differs_from_first = 0;  // line number, 0 when the transcript matches the first column's
  bool runs_agree = true;         // all of this column's transcripts are the same
  double ratio = 0;               // median_s / the first column's median_s
};

Summary Summarise(const Column& c, const Column& first) {
  Summary s;
  std::vector<double> walls, mips;
  for (const RunResult& r : c.runs) {
    walls.push_back(r.wall_s);
    if (r.mips > 0) mips.push_back(r.mips);
    s.peak_rss_kib = std::max(s.peak_rss_kib, r.peak_rss_kib);
    s.statuses.push_back(r.status);
    if (r.transcript != c.runs.front().transcript) s.runs_agree = false;
    if (r.instructions != c.runs.front().instructions) s.instructions_vary = true;
  }
  s.median_s = Median(walls);
  s.min_s = *std::min_element(walls.begin(), walls.end());
  s.max_s = *std::max_element(walls.begin(), walls.end());
  s.mips = Median(mips);
  s.instructions = c.runs.front().instructions;
  s.differs_from_first = FirstDifferentLine(first.runs.front().transcript, c.runs.front().transcript);
  double first_median = Median([&] {
    std::vector<double> w;
    for (const RunResult& r : first.runs) w.push_back(r.wall_s);
    return w;
  }());
  s.ratio = first_median > 0 ? s.median_s / first_median : 0;
  return s;
}

std::string StatusText(const std::vector<int>& statuses) {
  std::string out;
  bool all_same = std::all_of(statuses.begin(), statuses.end(), [&](int v) { return v == statuses.front(); });
  for (size_t i = 0; i < (all_same ? 1 : statuses.size()); ++i) {
    out += (i ? "/" : "") + std::to_string(statuses[i]);
  }
  return out;
}

// Each mark line, in the order the first column saw them, then any others.
std::vector<std::string> MarkLines(const std::vector<Column>& columns) {
  std::vector<std::string> lines;
  for (const Column& c : columns) {
    for (const RunResult& r : c.runs) {
      for (const auto& [line, t] : r.marks) {
        if (std::find(lines.begin(), lines.end(), line) == lines.end()) lines.push_back(line);
      }
    }
  }
  return lines;
}

std::vector<double> MarkTimes(const Column& c, const std::string& line) {
  std::vector<double> out;
  for (const RunResult& r : c.runs) {
    for (const auto& [l, t] : r.marks) {
      if (l == line) out.push_back(t);
    }
  }
  return out;
}

void PrintJson(const BenchOptions& opt, const std::vector<Column>& columns, const std::vector<Summary>& sums,
               const std::vector<std::pair<std::string, std::string>>& unavailable, bool agree) {
  std::string o = "{\n  \"runs\": " + std::to_string(opt.runs) + ",\n  \"run_options\": [";
  for (size_t i = 0; i < opt.run_args.size(); ++i) o += (i ? ", " : "") + JsonString(opt.run_args[i]);
  o += "],\n  \"transcripts_agree\": " + std::string(agree ? "true" : "false") + ",\n  \"unavailable\": [";
  for (size_t i = 0; i < unavailable.size(); ++i) {
    o += std::string(i ? ", " : "") + "{\"engine\": " + JsonString(unavailable[i].first) +
         ", \"reason\": " + JsonString(unavailable[i].second) + "}";
  }
  o += "],\n  \"engines\": [";
  for (size_t i = 0; i < columns.size(); ++i) {
    const Column& c = columns[i];
    const Summary& s = sums[i];
    o += std::string(i ? "," : "") + "\n    {\"engine\": " + JsonString(c.name) + ", \"wall_s\": [";
    for (size_t k = 0; k < c.runs.size(); ++k) o += (k ? ", " : "") + Fixed(c.runs[k].wall_s, 4);
    o += "], \"median_s\": " + Fixed(s.median_s, 4) + ", \"min_s\": " + Fixed(s.min_s, 4) +
         ", \"max_s\": " + Fixed(s.max_s, 4) + ", \"ratio\": " + Fixed(s.ratio, 3);
    o += ", \"instructions\": " + (s.instructions ? std::to_string(s.instructions) : std::string("null"));
    o += ", \"mips\": " + (s.mips > 0 ? Fixed(s.mips, 1) : std::string("null"));
    o += ", \"peak_rss_kib\": " + std::to_string(s.peak_rss_kib) + ", \"exit_statuses\": [";
    for (size_t k = 0; k < s.statuses.size(); ++k) o += (k ? ", " : "") + std::to_string(s.statuses[k]);
    o += "], \"transcript_agrees\": " + std::string(s.differs_from_first == 0 ? "true" : "false") +
         ", \"runs_agree\": " + (s.runs_agree ? "true" : "false");
    if (s.differs_from_first) o += ", \"first_different_line\": " + std::to_string(s.differs_from_first);
    o += ", \"failures\": [";
    bool any = false;
    for (const RunResult& r : c.runs) {
      if (r.failure.empty()) continue;
      o += std::string(any ? ", " : "") + JsonString(r.failure);
      any = true;
    }
    o += "], \"marks\": [";
    bool first_mark = true;
    for (const std::string& line : MarkLines({c})) {
      o += std::string(first_mark ? "" : ", ") + "{\"line\": " + JsonString(line) + ", \"s\": [";
      first_mark = false;
      auto times = MarkTimes(c, line);
      for (size_t k = 0; k < times.size(); ++k) o += (k ? ", " : "") + Fixed(times[k], 4);
      o += "]}";
    }
    o += "]}";
  }
  o += "\n  ]\n}\n";
  std::fputs(o.c_str(), stdout);
}

void PrintTable(const std::vector<Column>& columns, const std::vector<Summary>& sums,
                const std::vector<std::pair<std::string, std::string>>& unavailable) {
  auto row = [&](const std::string& label, auto cell) {
    std::printf("%-20s", label.c_str());
    for (size_t i = 0; i < columns.size(); ++i) std::printf(" %12s", cell(i).c_str());
    std::printf("\n");
  };
  row("", [&](size_t i) { return columns[i].name; });
  row("wall median s", [&](size_t i) { return Fixed(sums[i].median_s, 3); });
  row("wall min s", [&](size_t i) { return Fixed(sums[i].min_s, 3); });
  row("wall max s", [&](size_t i) { return Fixed(sums[i].max_s, 3); });
  row("instructions", [&](size_t i) {
    return sums[i].instructions ? std::to_string(sums[i].instructions) + (sums[i].instructions_vary ? "~" : "")
                                : std::string("-");
  });
  row("MIPS", [&](size_t i) { return sums[i].mips > 0 ? Fixed(sums[i].mips, 1) : std::string("-"); });
  row("peak RSS MiB", [&](size_t i) { return Fixed(static_cast<double>(sums[i].peak_rss_kib) / 1024, 1); });
  row("exit status", [&](size_t i) { return StatusText(sums[i].statuses); });
  row("transcript", [&](size_t i) {
    if (i == 0) return std::string(sums[i].runs_agree ? "reference" : "ref, varies");
    if (sums[i].differs_from_first) return "line " + std::to_string(sums[i].differs_from_first) + " differs";
    return std::string(sums[i].runs_agree ? "same" : "same, varies");
  });
  row("ratio to " + columns[0].name, [&](size_t i) { return Fixed(sums[i].ratio, 2); });
  for (const std::string& line : MarkLines(columns)) {
    std::string label = "mark " + line;
    if (label.size() > 20) label = label.substr(0, 17) + "...";
    row(label, [&](size_t i) {
      auto times = MarkTimes(columns[i], line);
      return times.empty() ? std::string("-") : Fixed(Median(times), 3);
    });
  }
  for (const auto& [name, why] : unavailable) std::printf("%s: unavailable: %s\n", name.c_str(), why.c_str());
  for (const Column& c : columns) {
    for (size_t k = 0; k < c.runs.size(); ++k) {
      if (!c.runs[k].failure.empty()) {
        std::printf("%s run %zu: exit status %d: %s\n", c.name.c_str(), k + 1, c.runs[k].status,
                    c.runs[k].failure.c_str());
      }
    }
  }
}

// QEMU's equivalents of the run options (QEMU's docs/system/invocation).
Result<std::vector<std::string>> QemuCommand(const std::string& qemu, const RunOptions& run) {
  if (!run.dump_state.empty()) return Status::Error("--vs-qemu cannot take --dump-state");
  std::vector<std::string> argv = {qemu, "-accel", "tcg", "-M", "pc", "-nodefaults", "-display", "none",
                                   "-m", run.memory, "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"};
  if (!run.bios.empty()) argv.insert(argv.end(), {"-bios", run.bios});
  if (!run.kernel.empty()) argv.insert(argv.end(), {"-kernel", run.kernel});
  if (!run.initrd.empty()) argv.insert(argv.end(), {"-initrd", run.initrd});
  if (!run.append.empty()) argv.insert(argv.end(), {"-append", run.append});
  if (run.no_reboot) argv.push_back("-no-reboot");
  argv.insert(argv.end(), {"-serial", "file:/dev/fd/3"});
  return argv;
}

std::string FindInPath(const std::string& name) {
  const char* path = getenv("PATH");
  std::stringstream ss(path ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    std::string candidate = dir + "/" + name;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
  }
  return "";
}

}  // namespace

void AddBenchOptions(CLI::App& bench, BenchOptions& opt) {
  bench.add_option("--accel", opt.accel, "engines to compare, e.g. interp,jit (default: every available one)");
  bench.add_option("--runs", opt.runs, "runs per engine, interleaved")->capture_default_str();
  bench.add_flag("--json", opt.json, "write the figures as JSON on stdout");
  bench.add_flag("--vs-qemu", opt.vs_qemu, "add QEMU's TCG (qemu-system-x86_64) as a reference column");
  bench.add_option("--mark", opt.mark, "time the first serial line matching this regular expression");
  bench.add_option("--out", opt.out, "keep each run's serial transcript and stderr in this folder");
  bench.add_option("run_options", opt.run_args, "options of `tandem run`, after --");
}

int Bench(const BenchOptions& opt) {
  if (opt.runs < 1) return Fail("--runs must be at least 1");
  if (opt.run_args.empty()) return Fail("bench: give the guest's run options after --, e.g. -- --bios guest.rom");
  for (const std::string& a : opt.run_args) {
    for (const char* own : {"--accel", "--serial", "--stats"}) {
      if (a == own || a.rfind(std::string(own) + "=", 0) == 0) {
        return Fail(std::string("bench sets ") + own + " of each run itself" +
                    (std::string(own) == "--accel" ? ": give the engines with bench's own --accel, before --" : ""));
      }
    }
  }
  auto run = ParseRunOptions(opt.run_args);
  if (!run.ok()) return Fail(run.message());
  {
    hw::BoardConfig config;
    BootImages images;
    if (Status s = LoadImages(*run, config, images); !s.ok()) return Fail(s.message());
  }
  std::optional<std::regex> mark;
  if (!opt.mark.empty()) {
    try {
      mark.emplace(opt.mark, std::regex::extended);
    } catch (const std::regex_error& e) {
      return Fail("--mark '" + opt.mark + "': " + e.what());
    }
  }

  // The columns: engines as `tandem accels` probes them.
  const auto accelerators = accel::AcceleratorList();
  std::vector<Column> columns;
  std::vector<std::pair<std::string, std::string>> unavailable;
  std::vector<std::string> wanted = SplitList(opt.accel);
  if (wanted.empty()) {
    for (const auto& a : accelerators) wanted.push_back(a.name);
  }
  for (const std::string& name : wanted) {
    auto found = accel::FindAccelerator(accelerators, name);
    if (!found.ok()) return Fail(found.message());
    accel::Availability a = (*found)->probe();
    if (!a.available) {
      if (!opt.accel.empty()) return Fail(name + ": " + a.reason);
      unavailable.emplace_back(name, a.reason);
      continue;
    }
    if (std::any_of(columns.begin(), columns.end(), [&](const Column& c) { return c.name == name; })) continue;
    Column c;
    c.name = name;
    c.argv = {"/proc/self/exe", "run"};
    c.argv.insert(c.argv.end(), opt.run_args.begin(), opt.run_args.end());
    c.argv.insert(c.argv.end(), {"--accel", name, "--stats", "--serial", "file:/dev/fd/3"});
    columns.push_back(std::move(c));
  }
  if (opt.vs_qemu) {
    std::string qemu = FindInPath("qemu-system-x86_64");
    if (qemu.empty()) {
      unavailable.emplace_back(kQemuColumn, "qemu-system-x86_64 is not installed");
    } else {
      auto argv = QemuCommand(qemu, *run);
      if (!argv.ok()) return Fail(argv.message());
      columns.push_back(Column{kQemuColumn, *argv, true, {}});
    }
  }
  if (columns.empty()) return Fail("no engine available to bench");

  std::string dir = opt.out;
  bool temporary = dir.empty();
  if (temporary) {
    char tmpl[] = "/tmp/tandem-bench.XXXXXX";
    if (!mkdtemp(tmpl)) return Fail(std::string("cannot make a temporary folder: ") + std::strerror(errno));
    dir = tmpl;
  } else {
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return Fail("--out '" + dir + "': " + ec.message());
  }

  Progress progress;
  const double kill_after = run->timeout_s > 0 ? run->timeout_s + 5 : 0;  // only QEMU lacks its own
  for (int k = 0; k < opt.runs; ++k) {
    for (Column& c : columns) {
      std::string base = dir + "/" + c.name + "." + std::to_string(k + 1);
      std::string label = "tandem bench: " + c.name + " run " + std::to_string(k + 1) + "/" + std::to_string(opt.runs);
      RunResult r = RunOnce(c.argv, base + ".serial", base + ".stderr", mark, c.qemu ? kill_after : 0, progress,
                            label);
      progress.Done(label + ": " + Fixed(r.wall_s, 3) + " s, exit status " + std::to_string(r.status));
      c.runs.push_back(std::move(r));
    }
  }
  if (temporary) std::filesystem::remove_all(dir);

  std::vector<Summary> sums;
  bool agree = true;
  for (const Column& c : columns) {
    sums.push_back(Summarise(c, columns.front()));
    if (sums.back().differs_from_first || !sums.back().runs_agree) agree = false;
  }
  if (opt.json) {
    PrintJson(opt, columns, sums, unavailable, agree);
  } else {
    PrintTable(columns, sums, unavailable);
  }
  return 0;
}

}  // namespace tandem::cli
