// QMP (docs/interop/qmp-spec.rst, qapi/*.json for the commands): framing,
// negotiation, dispatch and events over a poll() loop on one thread.
#include "monitor/qmp_server.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <list>
#include <map>
#include <mutex>
#include <optional>
#include <nlohmann/json.hpp>
#include <thread>
#include <vector>

#include "monitor/hmp.h"
#include "target-x86/page_walk.h"

namespace tandem::monitor {

using Json = nlohmann::ordered_json;

const char* RunStateName(RunState state) {
  switch (state) {
    case RunState::kPrelaunch: return "prelaunch";
    case RunState::kRunning: return "running";
    case RunState::kPaused: return "paused";
    case RunState::kShutdown: return "shutdown";
  }
  return "running";
}

namespace {

constexpr size_t kMaxMessage = 1 << 20;   // an unfinished message longer than this closes the connection
constexpr size_t kMaxOutput = 16 << 20;   // a client that reads nothing for this long is dropped
constexpr int kMaxNesting = 1024;         // QEMU's JSON parser limit (MAX_NESTING)
constexpr size_t kMaxClients = 32;

struct QmpError {
  std::string error_class;
  std::string desc;
};
QmpError Generic(std::string desc) { return {"GenericError", std::move(desc)}; }

// Splits a byte stream into top-level JSON texts, as QEMU's JSON streamer
// does: an object or array ends where its outermost bracket closes;
// anything else at the top level (a bare scalar, a stray bracket) runs to
// the end of its line and is then handed on to fail to parse.
class JsonSplitter {
 public:
  // Appends complete texts to `texts`; false when the input exceeds the
  // limits (message size, nesting), after which the connection should close.
  bool Feed(const char* data, size_t n, std::vector<std::string>& texts) {
    for (size_t i = 0; i < n; ++i) {
      char c = data[i];
      if (depth_ == 0) {
        if (c == '{' || c == '[') {
          if (!junk_.empty()) texts.push_back(std::exchange(junk_, {}));
          text_.assign(1, c);
          depth_ = 1;
        } else if (c == '\n') {
          if (!junk_.empty()) texts.push_back(std::exchange(junk_, {}));
        } else if (c == '}' || c == ']') {
          junk_ += c;
          texts.push_back(std::exchange(junk_, {}));
        } else if (!junk_.empty() || (c != ' ' && c != '\t' && c != '\r')) {
          junk_ += c;
          if (junk_.size() > kMaxMessage) return false;
        }
        continue;
      }
      text_ += c;
      if (text_.size() > kMaxMessage) return false;
      if (in_string_) {
        if (escape_) {
          escape_ = false;
        } else if (c == '\\') {
          escape_ = true;
        } else if (c == '"') {
          in_string_ = false;
        }
      } else if (c == '"') {
        in_string_ = true;
      } else if (c == '{' || c == '[') {
        if (++depth_ > kMaxNesting) return false;
      } else if (c == '}' || c == ']') {
        if (--depth_ == 0) texts.push_back(std::exchange(text_, {}));
      }
    }
    return true;
  }

 private:
  std::string text_, junk_;
  int depth_ = 0;
  bool in_string_ = false, escape_ = false;
};

std::string ErrorReply(const QmpError& e, const Json* id) {
  Json reply = {{"error", {{"class", e.error_class}, {"desc", e.desc}}}};
  if (id) reply["id"] = *id;
  return reply.dump() + "\r\n";
}

// One command's parameters (QAPI types reduced to what tandem's commands use).
struct Param {
  enum class Type { kInt, kUint, kString, kBool };
  std::string name;
  Type type;
  bool optional = false;
};

const char* TypeName(Param::Type t) {
  switch (t) {
    case Param::Type::kInt:
    case Param::Type::kUint: return "integer";
    case Param::Type::kString: return "string";
    case Param::Type::kBool: return "boolean";
  }
  return "?";
}

bool HasType(const Json& v, Param::Type t) {
  switch (t) {
    case Param::Type::kInt: return v.is_number_integer();
    case Param::Type::kUint: return v.is_number_unsigned();
    case Param::Type::kString: return v.is_string();
    case Param::Type::kBool: return v.is_boolean();
  }
  return false;
}

}  // namespace

struct QmpServer::Impl {
  struct Client {
    int fd = -1;
    bool negotiated = false;
    bool closing = false;  // drop once the output is sent (or at once if it cannot be)
    JsonSplitter splitter;
    std::string out;
  };
  struct Command {
    std::vector<Param> params;
    std::function<Json(const Json& args)> run;
  };

  Impl(ListenSocket listen, MachineControl& control, QmpVersion version)
      : listen_(std::move(listen)), control_(control), version_(std::move(version)) {
    RegisterCommands();
  }

  ~Impl() {
    for (Client& c : clients_) close(c.fd);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  // --- the protocol ---------------------------------------------------------

  std::string Greeting() const {
    Json greeting = {{"QMP",
                      {{"version",
                        {{"qemu", {{"micro", version_.micro}, {"minor", version_.minor}, {"major", version_.major}}},
                         {"package", version_.package}}},
                       {"capabilities", Json::array()}}}};
    return greeting.dump() + "\r\n";
  }

  // Handles one JSON text from `client`; returns the reply's text.
  std::string Handle(Client& client, const std::string& text) {
    Json request = Json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (request.is_discarded()) return ErrorReply(Generic("JSON parse error, invalid JSON"), nullptr);
    if (!request.is_object()) return ErrorReply(Generic("QMP input must be a JSON object"), nullptr);
    const Json* id = request.contains("id") ? &request["id"] : nullptr;
    for (const auto& [key, value] : request.items()) {
      if (key != "execute" && key != "arguments" && key != "id") {
        return ErrorReply(Generic("QMP input member '" + key + "' is unexpected"), id);
      }
    }
    if (!request.contains("execute")) return ErrorReply(Generic("QMP input lacks member 'execute'"), id);
    if (!request["execute"].is_string()) {
      return ErrorReply(Generic("QMP input member 'execute' must be a string"), id);
    }
    Json args = Json::object();
    if (request.contains("arguments")) {
      if (!request["arguments"].is_object()) {
        return ErrorReply(Generic("QMP input member 'arguments' must be an object"), id);
      }
      args = request["arguments"];
    }
    const std::string name = request["execute"];
    if (name == "qmp_capabilities") {
      if (client.negotiated) {
        return ErrorReply({"CommandNotFound", "Capabilities negotiation is already complete, command ignored"}, id);
      }
      for (const auto& [key, value] : args.items()) {
        if (key != "enable") return ErrorReply(Generic("Parameter '" + key + "' is unexpected"), id);
        if (!value.is_array()) return ErrorReply(Generic("Invalid parameter type for 'enable', expected: array"), id);
        for (const Json& cap : value) {
          std::string what = cap.is_string() ? cap.get<std::string>() : cap.dump();
          return ErrorReply(Generic("Capability '" + what + "' not available"), id);
        }
      }
      client.negotiated = true;
      return Reply(Json::object(), id);
    }
    if (!client.negotiated) {
      return ErrorReply({"CommandNotFound", "Expecting capabilities negotiation with 'qmp_capabilities'"}, id);
    }
    auto it = commands_.find(name);
    if (it == commands_.end()) return ErrorReply({"CommandNotFound", "The command " + name + " has not been found"}, id);
    try {
      CheckArguments(it->second.params, args);
      return Reply(it->second.run(args), id);
    } catch (const QmpError& e) {
      return ErrorReply(e, id);
    }
  }

  static std::string Reply(const Json& value, const Json* id) {
    Json reply = {{"return", value}};
    if (id) reply["id"] = *id;
    return reply.dump() + "\r\n";
  }

  static void CheckArguments(const std::vector<Param>& params, const Json& args) {
    for (const auto& [key, value] : args.items()) {
      bool known = false;
      for (const Param& p : params) known |= p.name == key;
      if (!known) throw Generic("Parameter '" + key + "' is unexpected");
    }
    for (const Param& p : params) {
      if (!args.contains(p.name)) {
        if (!p.optional) throw Generic("Parameter '" + p.name + "' is missing");
        continue;
      }
      if (!HasType(args[p.name], p.type)) {
        throw Generic("Invalid parameter type for '" + p.name + "', expected: " + TypeName(p.type));
      }
    }
  }

  // --- the commands ---------------------------------------------------------

  void RegisterCommands() {
    using T = Param::Type;
    commands_["query-version"] = {{}, [this](const Json&) {
      return Json{{"qemu", {{"micro", version_.micro}, {"minor", version_.minor}, {"major", version_.major}}},
                  {"package", version_.package}};
    }};
    commands_["query-status"] = {{}, [this](const Json&) {
      RunState s = control_.State();
      return Json{{"status", RunStateName(s)}, {"singlestep", false}, {"running", s == RunState::kRunning}};
    }};
    commands_["query-cpus-fast"] = {{}, [this](const Json&) {
      Json cpus = Json::array();
      for (const CpuInfo& cpu : control_.Cpus()) {
        cpus.push_back({{"cpu-index", cpu.index},
                        {"qom-path", "/machine/unattached/device[" + std::to_string(cpu.index) + "]"},
                        {"thread-id", cpu.thread_id},
                        {"props", {{"core-id", 0}, {"thread-id", 0}, {"socket-id", cpu.index}}},
                        {"target", "x86_64"}});
      }
      return cpus;
    }};
    commands_["query-kvm"] = {{}, [this](const Json&) {
      EngineInfo e = control_.Engine();
      return Json{{"enabled", e.name == "kvm"}, {"present", e.kvm_present}};
    }};
    commands_["query-commands"] = {{}, [this](const Json&) {
      Json names = Json::array({{{"name", "qmp_capabilities"}}});
      for (const auto& [name, command] : commands_) names.push_back({{"name", name}});
      return names;
    }};
    commands_["stop"] = {{}, [this](const Json&) {
      if (control_.Stop()) QueueEvent("STOP", Json());
      return Json::object();
    }};
    commands_["cont"] = {{}, [this](const Json&) {
      // RESUME is queued before the machine runs: whatever it does at once
      // (a SHUTDOWN as the guest exits) comes after it, as in QEMU.
      RunState before = control_.State();
      if (before == RunState::kPaused || before == RunState::kPrelaunch) QueueEvent("RESUME", Json());
      auto resumed = control_.Cont();
      if (!resumed.ok()) throw Generic(resumed.message());
      return Json::object();
    }};
    commands_["system_reset"] = {{}, [this](const Json&) {
      control_.Reset();
      QueueEvent("RESET", Json{{"guest", false}, {"reason", "host-qmp-system-reset"}});
      return Json::object();
    }};
    commands_["system_powerdown"] = {{}, [this](const Json&) {
      control_.Powerdown();
      QueueEvent("POWERDOWN", Json());
      return Json::object();
    }};
    commands_["quit"] = {{}, [this](const Json&) {
      QueueEvent("SHUTDOWN", Json{{"guest", false}, {"reason", "host-qmp-quit"}});
      control_.Quit();
      return Json::object();
    }};
    commands_["memsave"] = {{{"val", T::kUint}, {"size", T::kUint}, {"filename", T::kString}, {"cpu-index", T::kInt, true}},
                            [this](const Json& args) { return SaveMemory(args, /*virtual_addresses=*/true); }};
    commands_["pmemsave"] = {{{"val", T::kUint}, {"size", T::kUint}, {"filename", T::kString}},
                             [this](const Json& args) { return SaveMemory(args, /*virtual_addresses=*/false); }};
    commands_["human-monitor-command"] = {{{"command-line", T::kString}, {"cpu-index", T::kInt, true}},
                                          [this](const Json& args) {
      int cpu = args.value("cpu-index", 0);
      CheckCpu(cpu);
      return Json(RunHmp(control_, args["command-line"].get<std::string>(), cpu));
    }};
    // QEMU's migration to a file, taken as a snapshot: the guest is stopped
    // (STOP when it ran) and stays so, as QEMU leaves a migrated source.
    commands_["migrate"] = {{{"uri", T::kString}, {"blk", T::kBool, true}, {"inc", T::kBool, true},
                             {"detach", T::kBool, true}, {"resume", T::kBool, true}},
                            [this](const Json& args) {
      std::string uri = args["uri"].get<std::string>();
      if (uri.rfind("file:", 0) != 0 || uri.size() == 5) {
        throw Generic("tandem migrates only to a file: \"uri\": \"file:PATH\"");
      }
      if (control_.Stop()) QueueEvent("STOP", Json());
      Snapshot(uri.substr(5));
      return Json::object();
    }};
    commands_["query-migrate"] = {{}, [this](const Json&) {
      return migrated_ ? Json{{"status", "completed"}} : Json::object();
    }};
    // A snapshot of a running guest that keeps running afterwards.
    commands_["x-tandem-snapshot-save"] = {{{"filename", T::kString}}, [this](const Json& args) {
      Snapshot(args["filename"].get<std::string>());
      return Json::object();
    }};
    commands_["x-tandem-query-engine"] = {{}, [this](const Json&) {
      EngineInfo e = control_.Engine();
      double mips = e.seconds > 0 ? static_cast<double>(e.instructions) / e.seconds / 1e6 : 0.0;
      return Json{{"engine", e.name}, {"instructions-retired", e.instructions}, {"seconds", e.seconds},
                  {"mips", mips}};
    }};
  }

  void Snapshot(const std::string& path) {
    if (Status s = control_.SaveSnapshot(path); !s.ok()) throw Generic(s.message());
    migrated_ = true;
  }

  void CheckCpu(int cpu) {
    for (const CpuInfo& c : control_.Cpus()) {
      if (c.index == cpu) return;
    }
    throw Generic("CPU " + std::to_string(cpu) + " does not exist");
  }

  // memsave (guest-virtual addresses of a vCPU) and pmemsave (physical).
  Json SaveMemory(const Json& args, bool virtual_addresses) {
    const uint64_t start = args["val"], size = args["size"];
    const std::string filename = args["filename"];
    int cpu = args.value("cpu-index", 0);
    x86::CpuState state;
    if (virtual_addresses) {
      CheckCpu(cpu);
      auto s = control_.GetState(cpu);
      if (!s.ok()) throw Generic(s.message());
      state = *s;
    }
    std::FILE* file = std::fopen(filename.c_str(), "wb");
    if (!file) throw Generic("Could not open '" + filename + "': " + std::strerror(errno));
    auto reader = [this](uint64_t address, void* out, size_t n) { return control_.ReadPhysical(address, out, n); };
    std::vector<uint8_t> chunk;
    uint64_t done = 0;
    std::string error;
    while (done < size && error.empty()) {
      uint64_t at = start + done;
      size_t n = static_cast<size_t>(std::min<uint64_t>(size - done, 0x1000 - (at & 0xFFF)));
      std::optional<uint64_t> physical = at;
      if (virtual_addresses) physical = x86::LinearToPhysical(state, at, reader);
      chunk.resize(n);
      char what[96];
      std::snprintf(what, sizeof what, "Invalid addr 0x%016" PRIx64 "/size %" PRIu64 " specified", start, size);
      if (!physical || !control_.ReadPhysical(*physical, chunk.data(), n)) {
        error = what;
      } else if (std::fwrite(chunk.data(), 1, n, file) != n) {
        error = "writing memory to '" + filename + "' failed";
      }
      done += n;
    }
    if (std::fclose(file) != 0 && error.empty()) error = "writing memory to '" + filename + "' failed";
    if (!error.empty()) {
      std::remove(filename.c_str());
      throw Generic(error);
    }
    return Json::object();
  }

  // --- events ---------------------------------------------------------------

  // From the server thread (commands): queued behind the reply being built.
  void QueueEvent(const std::string& name, const Json& data) {
    std::lock_guard<std::mutex> lock(mutex_);
    events_.push_back(EventText(name, data));
  }

  static std::string EventText(const std::string& name, const Json& data) {
    timeval now{};
    gettimeofday(&now, nullptr);
    Json event = {{"event", name}};
    if (!data.is_null()) event["data"] = data;
    event["timestamp"] = {{"seconds", static_cast<int64_t>(now.tv_sec)}, {"microseconds", static_cast<int64_t>(now.tv_usec)}};
    return event.dump() + "\r\n";
  }

  void Wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = write(wake_fd_, &one, sizeof one);
  }

  void DeliverEvents() {
    std::deque<std::string> events;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      events.swap(events_);
    }
    for (const std::string& e : events) {
      for (Client& c : clients_) {
        if (c.negotiated && !c.closing) c.out += e;
      }
    }
  }

  // --- sockets --------------------------------------------------------------

  void AddClient(int fd) {
    if (clients_.size() >= kMaxClients) {
      close(fd);
      return;
    }
    Client& c = clients_.emplace_back();
    c.fd = fd;
    c.out = Greeting();
  }

  // Sends what the socket takes now; false when the peer is gone.
  static bool Flush(Client& c) {
    while (!c.out.empty()) {
      ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
      if (n > 0) {
        c.out.erase(0, static_cast<size_t>(n));
      } else if (n < 0 && errno == EINTR) {
        continue;
      } else {
        return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
      }
    }
    return true;
  }

  // Reads and handles what `c` sent; false when it hung up or broke the limits.
  bool Receive(Client& c) {
    char buf[65536];
    ssize_t n = recv(c.fd, buf, sizeof buf, MSG_DONTWAIT);
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    if (n == 0) return false;
    std::vector<std::string> texts;
    bool within_limits = c.splitter.Feed(buf, static_cast<size_t>(n), texts);
    for (const std::string& text : texts) c.out += Handle(c, text);
    if (!within_limits) {
      c.out += ErrorReply(Generic("JSON message too long or too deeply nested; closing"), nullptr);
      c.closing = true;
    }
    return true;
  }

  void Loop() {
    std::vector<pollfd> fds;
    while (!stopping_.load()) {
      fds.clear();
      fds.push_back({wake_fd_, POLLIN, 0});
      fds.push_back({listen_.fd(), static_cast<short>(clients_.size() < kMaxClients ? POLLIN : 0), 0});
      for (Client& c : clients_) fds.push_back({c.fd, static_cast<short>(POLLIN | (c.out.empty() ? 0 : POLLOUT)), 0});
      if (poll(fds.data(), fds.size(), -1) < 0 && errno != EINTR) break;
      if (fds[0].revents & POLLIN) {
        uint64_t count;
        [[maybe_unused]] ssize_t n = read(wake_fd_, &count, sizeof count);
      }
      size_t i = 2;
      for (auto it = clients_.begin(); it != clients_.end(); ++i) {
        Client& c = *it;
        bool alive = true;
        if (!c.closing && (fds[i].revents & (POLLIN | POLLHUP | POLLERR))) alive = Receive(c);
        DeliverEvents();  // what the command raised goes out right after its reply
        if (alive) alive = Flush(c) && c.out.size() <= kMaxOutput && !(c.closing && c.out.empty());
        if (!alive) {
          close(c.fd);
          it = clients_.erase(it);
        } else {
          ++it;
        }
      }
      DeliverEvents();
      for (Client& c : clients_) Flush(c);  // events from other threads; errors show at the next poll
      if (fds[1].revents & POLLIN) {
        for (int fd; (fd = listen_.Accept()) >= 0;) AddClient(fd);
      }
    }
  }

  // At the end: what is queued goes out, each client getting a short while.
  void FinalFlush() {
    DeliverEvents();
    for (Client& c : clients_) {
      for (int tries = 0; tries < 10 && !c.out.empty() && Flush(c); ++tries) {
        pollfd p{c.fd, POLLOUT, 0};
        poll(&p, 1, 100);
      }
    }
  }

  ListenSocket listen_;
  MachineControl& control_;
  QmpVersion version_;
  std::map<std::string, Command> commands_;
  bool migrated_ = false;  // a migrate or snapshot completed (query-migrate)
  std::list<Client> clients_;  // the server thread's alone
  int wake_fd_ = -1;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
  std::mutex mutex_;                // guards events_ only
  std::deque<std::string> events_;  // texts waiting for DeliverEvents()
};

Result<std::unique_ptr<QmpServer>> QmpServer::Start(const Endpoint& endpoint, MachineControl& control,
                                                    QmpVersion version) {
  auto listen = ListenSocket::Open(endpoint);
  if (!listen.ok()) return listen.status();
  auto impl = std::make_unique<Impl>(std::move(*listen), control, std::move(version));
  impl->wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (impl->wake_fd_ < 0) return Status::Error(std::string("eventfd: ") + std::strerror(errno));
  if (endpoint.wait) {
    for (;;) {
      pollfd p{impl->listen_.fd(), POLLIN, 0};
      if (poll(&p, 1, -1) < 0 && errno != EINTR) return Status::Error(std::string("poll: ") + std::strerror(errno));
      if (int fd = impl->listen_.Accept(); fd >= 0) {
        impl->AddClient(fd);
        break;
      }
    }
  }
  Impl* raw = impl.get();
  raw->thread_ = std::thread([raw] { raw->Loop(); });
  return std::unique_ptr<QmpServer>(new QmpServer(std::move(impl)));
}

QmpServer::QmpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

QmpServer::~QmpServer() {
  impl_->stopping_.store(true);
  impl_->Wake();
  if (impl_->thread_.joinable()) impl_->thread_.join();
  impl_->FinalFlush();
}

void QmpServer::Emit(const std::string& name, const std::string& data_json) {
  Json data;
  if (!data_json.empty()) data = Json::parse(data_json, nullptr, false);
  if (data.is_discarded()) data = Json();
  impl_->QueueEvent(name, data);
  impl_->Wake();
}

uint16_t QmpServer::port() const { return impl_->listen_.port(); }

}  // namespace tandem::monitor
