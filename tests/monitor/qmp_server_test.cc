// The QMP server over a real Unix socket with a fake machine: greeting,
// negotiation, every command and its events, every error path, malformed
// and oversized input, two clients, and clients that vanish mid-command.
#include "monitor/qmp_server.h"

#include "tests/monitor/fake_machine.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iterator>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

namespace tandem::monitor {
namespace {

using Json = nlohmann::json;
using testing::FakeMachine;

// A client speaking QMP over a blocking socket. Reads wait at most a long
// failsafe time so that a broken server fails the test instead of hanging it.
class Client {
 public:
  explicit Client(const std::string& path) {
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { Close(); }
  bool connected() const { return connected_; }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  void SendRaw(const std::string& text) {
    size_t done = 0;
    while (done < text.size()) {
      ssize_t n = send(fd_, text.data() + done, text.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }
  // One line of the server's output ("" at end of stream).
  std::string ReadLine() {
    for (;;) {
      if (size_t nl = buffer_.find("\r\n"); nl != std::string::npos) {
        std::string line = buffer_.substr(0, nl);
        buffer_.erase(0, nl + 2);
        return line;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 30'000) <= 0) return "";  // failsafe, not a timing assertion
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "";
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }
  Json Read() {
    std::string line = ReadLine();
    return line.empty() ? Json() : Json::parse(line);
  }
  // Sends a command and returns the reply, skipping (and keeping) events.
  Json Execute(const std::string& command, const Json& args = Json(), const Json& id = Json()) {
    Json request = {{"execute", command}};
    if (!args.is_null()) request["arguments"] = args;
    if (!id.is_null()) request["id"] = id;
    SendRaw(request.dump());
    return ReadReply();
  }
  Json ReadReply() {
    for (;;) {
      Json j = Read();
      if (j.is_null() || !j.contains("event")) return j;
      events.push_back(j);
    }
  }
  // The next event, from those seen or the stream.
  Json NextEvent() {
    if (!events.empty()) {
      Json e = events.front();
      events.erase(events.begin());
      return e;
    }
    return Read();
  }
  bool AtEof() { return ReadLine().empty(); }
  std::vector<Json> events;

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string buffer_;
};

class QmpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/qmp_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/qmp.sock";
    Endpoint e;
    e.path = path_;
    e.wait = false;
    auto server = QmpServer::Start(e, machine_, QmpVersion{1, 2, 3, "tandem 1.2.3"});
    ASSERT_TRUE(server.ok()) << server.message();
    server_ = std::move(*server);
  }
  void TearDown() override {
    server_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  // A connected client past the greeting and negotiation.
  std::unique_ptr<Client> Ready() {
    auto c = std::make_unique<Client>(path_);
    EXPECT_TRUE(c->connected());
    EXPECT_TRUE(c->Read().contains("QMP"));
    EXPECT_EQ(c->Execute("qmp_capabilities"), Json::parse(R"({"return": {}})"));
    return c;
  }
  static std::string ErrorClass(const Json& reply) {
    return reply.contains("error") ? reply["error"]["class"].get<std::string>() : "no error: " + reply.dump();
  }
  static std::string Desc(const Json& reply) {
    return reply.contains("error") ? reply["error"]["desc"].get<std::string>() : "no error: " + reply.dump();
  }
  std::string ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  FakeMachine machine_;
  std::string dir_, path_;
  std::unique_ptr<QmpServer> server_;
};

TEST_F(QmpServerTest, GreetingAndNegotiation) {
  Client c(path_);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.Read(), Json::parse(R"({"QMP": {"version": {"qemu": {"micro": 3, "minor": 2, "major": 1},
                                                           "package": "tandem 1.2.3"}, "capabilities": []}})"));
  Json early = c.Execute("query-status", Json(), "a");
  EXPECT_EQ(ErrorClass(early), "CommandNotFound");
  EXPECT_EQ(Desc(early), "Expecting capabilities negotiation with 'qmp_capabilities'");
  EXPECT_EQ(early["id"], "a");
  EXPECT_EQ(ErrorClass(c.Execute("qmp_capabilities", Json{{"enable", {"oob"}}})), "GenericError");
  EXPECT_EQ(c.Execute("qmp_capabilities", Json{{"enable", Json::array()}}, 7), Json::parse(R"({"return": {}, "id": 7})"));
  Json again = c.Execute("qmp_capabilities");
  EXPECT_EQ(ErrorClass(again), "CommandNotFound");
  EXPECT_EQ(Desc(again), "Capabilities negotiation is already complete, command ignored");
  EXPECT_EQ(c.Execute("query-status")["return"]["status"], "running");
}

TEST_F(QmpServerTest, IdIsEchoedVerbatim) {
  auto c = Ready();
  EXPECT_EQ(c->Execute("query-kvm", Json(), "x1")["id"], "x1");
  EXPECT_EQ(c->Execute("query-kvm", Json(), 99)["id"], 99);
  Json id = {{"nested", {1, 2, "three"}}};
  EXPECT_EQ(c->Execute("query-kvm", Json(), id)["id"], id);
  EXPECT_FALSE(c->Execute("query-kvm").contains("id"));
  EXPECT_EQ(c->Execute("no-such-command", Json(), "e")["id"], "e");  // errors carry it too
}

TEST_F(QmpServerTest, QueryCommands) {
  auto c = Ready();
  EXPECT_EQ(c->Execute("query-version")["return"],
            Json::parse(R"({"qemu": {"micro": 3, "minor": 2, "major": 1}, "package": "tandem 1.2.3"})"));
  EXPECT_EQ(c->Execute("query-status")["return"],
            Json::parse(R"({"status": "running", "singlestep": false, "running": true})"));
  Json cpus = c->Execute("query-cpus-fast")["return"];
  ASSERT_EQ(cpus.size(), 2u);
  EXPECT_EQ(cpus[0]["cpu-index"], 0);
  EXPECT_EQ(cpus[0]["thread-id"], 4242);
  EXPECT_EQ(cpus[1]["cpu-index"], 1);
  EXPECT_EQ(cpus[1]["target"], "x86_64");
  EXPECT_EQ(c->Execute("query-kvm")["return"], Json::parse(R"({"enabled": false, "present": false})"));
  Json engine = c->Execute("x-tandem-query-engine")["return"];
  EXPECT_EQ(engine["engine"], "interp");
  EXPECT_EQ(engine["instructions-retired"], 5'000'000);
  EXPECT_DOUBLE_EQ(engine["mips"].get<double>(), 2.5);
  Json names = c->Execute("query-commands")["return"];
  bool has_memsave = false;
  for (const Json& n : names) has_memsave |= n["name"] == "memsave";
  EXPECT_TRUE(has_memsave);
}

TEST_F(QmpServerTest, StopAndContSendEventsOnlyWhenTheStateChanges) {
  auto c = Ready();
  EXPECT_EQ(c->Execute("stop"), Json::parse(R"({"return": {}})"));
  Json stop = c->NextEvent();
  EXPECT_EQ(stop["event"], "STOP");
  EXPECT_FALSE(stop.contains("data"));
  EXPECT_TRUE(stop["timestamp"]["seconds"].is_number_integer());
  EXPECT_TRUE(stop["timestamp"]["microseconds"].is_number_integer());
  EXPECT_EQ(c->Execute("query-status")["return"],
            Json::parse(R"({"status": "paused", "singlestep": false, "running": false})"));
  EXPECT_EQ(c->Execute("stop"), Json::parse(R"({"return": {}})"));  // already stopped: no event
  EXPECT_EQ(c->Execute("cont"), Json::parse(R"({"return": {}})"));
  EXPECT_EQ(c->NextEvent()["event"], "RESUME") << "the second stop sent no STOP";
  EXPECT_EQ(c->Execute("cont"), Json::parse(R"({"return": {}})"));
  EXPECT_EQ(c->Execute("query-status")["return"]["status"], "running");
  EXPECT_TRUE(c->events.empty());
}

TEST_F(QmpServerTest, ResetPowerdownAndQuit) {
  auto c = Ready();
  EXPECT_EQ(c->Execute("system_reset"), Json::parse(R"({"return": {}})"));
  Json reset = c->NextEvent();
  EXPECT_EQ(reset["event"], "RESET");
  EXPECT_EQ(reset["data"], Json::parse(R"({"guest": false, "reason": "host-qmp-system-reset"})"));
  EXPECT_EQ(machine_.resets, 1);
  EXPECT_EQ(c->Execute("system_powerdown"), Json::parse(R"({"return": {}})"));
  EXPECT_EQ(c->NextEvent()["event"], "POWERDOWN");
  EXPECT_EQ(machine_.powerdowns, 1);
  EXPECT_EQ(c->Execute("quit"), Json::parse(R"({"return": {}})"));
  Json shutdown = c->NextEvent();
  EXPECT_EQ(shutdown["event"], "SHUTDOWN");
  EXPECT_EQ(shutdown["data"], Json::parse(R"({"guest": false, "reason": "host-qmp-quit"})"));
  EXPECT_EQ(machine_.quits, 1);
  EXPECT_EQ(c->Execute("query-status")["return"]["status"], "shutdown");
  EXPECT_EQ(ErrorClass(c->Execute("cont")), "GenericError");
}

TEST_F(QmpServerTest, EventsFromOtherThreadsReachNegotiatedClientsOnly) {
  auto ready = Ready();
  Client fresh(path_);
  ASSERT_TRUE(fresh.Read().contains("QMP"));
  std::thread([this] { server_->EmitGuestReset(); }).join();
  Json e = ready->NextEvent();
  EXPECT_EQ(e["event"], "RESET");
  EXPECT_EQ(e["data"]["guest"], true);
  server_->EmitGuestShutdown();
  EXPECT_EQ(ready->NextEvent()["data"]["reason"], "guest-shutdown");
  // The unnegotiated client got none: its next line is the reply.
  Json reply = fresh.Execute("qmp_capabilities");
  EXPECT_EQ(reply, Json::parse(R"({"return": {}})"));
  EXPECT_TRUE(fresh.events.empty());
}

TEST_F(QmpServerTest, PmemsaveWritesPhysicalMemory) {
  auto c = Ready();
  std::string file = dir_ + "/phys.bin";
  EXPECT_EQ(c->Execute("pmemsave", Json{{"val", 0x1ff0}, {"size", 0x2020}, {"filename", file}}),
            Json::parse(R"({"return": {}})"));
  EXPECT_EQ(ReadFile(file), std::string(machine_.ram.begin() + 0x1ff0, machine_.ram.begin() + 0x1ff0 + 0x2020));
  Json beyond = c->Execute("pmemsave", Json{{"val", 0xff000}, {"size", 0x2000}, {"filename", dir_ + "/x.bin"}});
  EXPECT_EQ(ErrorClass(beyond), "GenericError");
  EXPECT_EQ(Desc(beyond), "Invalid addr 0x00000000000ff000/size 8192 specified");
  EXPECT_NE(access((dir_ + "/x.bin").c_str(), F_OK), 0) << "no partial file left";
  Json unwritable = c->Execute("pmemsave", Json{{"val", 0}, {"size", 16}, {"filename", dir_ + "/no/such/dir"}});
  EXPECT_NE(Desc(unwritable).find("Could not open"), std::string::npos) << unwritable.dump();
  EXPECT_EQ(c->Execute("pmemsave", Json{{"val", 0}, {"size", 0}, {"filename", dir_ + "/empty.bin"}}),
            Json::parse(R"({"return": {}})"));
  EXPECT_EQ(ReadFile(dir_ + "/empty.bin"), "");
}

TEST_F(QmpServerTest, MemsaveWalksTheCpusPageTables) {
  // 32-bit paging: linear 0x00400000-0x00401FFF -> physical 0x7000, 0x3000.
  auto put32 = [&](uint64_t at, uint32_t v) { std::memcpy(machine_.ram.data() + at, &v, 4); };
  machine_.state.cr0 = x86::kCr0Pe | x86::kCr0Pg;
  machine_.state.cr3 = 0x10000;
  put32(0x10000 + 1 * 4, 0x11000 | 1);
  put32(0x11000 + 0 * 4, 0x7000 | 1);
  put32(0x11000 + 1 * 4, 0x3000 | 1);
  auto c = Ready();
  std::string file = dir_ + "/virt.bin";
  EXPECT_EQ(c->Execute("memsave", Json{{"val", 0x400ff0}, {"size", 0x20}, {"filename", file}, {"cpu-index", 1}}),
            Json::parse(R"({"return": {}})"));
  std::string want(machine_.ram.begin() + 0x7ff0, machine_.ram.begin() + 0x8000);
  want.append(machine_.ram.begin() + 0x3000, machine_.ram.begin() + 0x3010);
  EXPECT_EQ(ReadFile(file), want);
  Json unmapped = c->Execute("memsave", Json{{"val", 0x401ff0}, {"size", 0x20}, {"filename", file}});
  EXPECT_EQ(Desc(unmapped), "Invalid addr 0x0000000000401ff0/size 32 specified");
  Json no_cpu = c->Execute("memsave", Json{{"val", 0}, {"size", 1}, {"filename", file}, {"cpu-index", 5}});
  EXPECT_EQ(Desc(no_cpu), "CPU 5 does not exist");
}

TEST_F(QmpServerTest, HumanMonitorCommand) {
  auto c = Ready();
  std::string regs = c->Execute("human-monitor-command", Json{{"command-line", "info registers"}})["return"];
  EXPECT_NE(regs.find("RIP=000000001234abcd"), std::string::npos) << regs;
  EXPECT_NE(regs.find("RAX=00000000feedface"), std::string::npos) << regs;
  EXPECT_NE(regs.find("RCX=0000000000000000"), std::string::npos) << regs;  // CPU 0's
  EXPECT_NE(regs.find("\r\n"), std::string::npos);
  std::string regs1 =
      c->Execute("human-monitor-command", Json{{"command-line", "info registers"}, {"cpu-index", 1}})["return"];
  EXPECT_NE(regs1.find("RCX=0000000000000001"), std::string::npos) << regs1;
  std::string all = c->Execute("human-monitor-command", Json{{"command-line", "info registers -a"}})["return"];
  EXPECT_NE(all.find("CPU#1"), std::string::npos) << all;
  EXPECT_EQ(c->Execute("human-monitor-command", Json{{"command-line", "info cpus"}})["return"],
            "* CPU #0: thread_id=4242\r\n  CPU #1: thread_id=4243\r\n");
  EXPECT_EQ(c->Execute("human-monitor-command", Json{{"command-line", "info status"}})["return"],
            "VM status: running\r\n");
  EXPECT_EQ(c->Execute("human-monitor-command", Json{{"command-line", "frobnicate"}})["return"],
            "unknown command: 'frobnicate'\r\n");
  EXPECT_EQ(Desc(c->Execute("human-monitor-command", Json{{"command-line", "info cpus"}, {"cpu-index", 9}})),
            "CPU 9 does not exist");
}

TEST_F(QmpServerTest, RequestErrors) {
  auto c = Ready();
  struct Case {
    std::string request, error_class, desc;
  } cases[] = {
      {R"({"execute": "nope"})", "CommandNotFound", "The command nope has not been found"},
      {R"([1, 2])", "GenericError", "QMP input must be a JSON object"},
      {R"({"arguments": {}})", "GenericError", "QMP input lacks member 'execute'"},
      {R"({"execute": 5})", "GenericError", "QMP input member 'execute' must be a string"},
      {R"({"execute": "stop", "arguments": []})", "GenericError", "QMP input member 'arguments' must be an object"},
      {R"({"execute": "stop", "colour": 1})", "GenericError", "QMP input member 'colour' is unexpected"},
      {R"({"execute": "stop", "arguments": {"now": true}})", "GenericError", "Parameter 'now' is unexpected"},
      {R"({"execute": "pmemsave", "arguments": {"val": 0, "size": 1}})", "GenericError",
       "Parameter 'filename' is missing"},
      {R"({"execute": "pmemsave", "arguments": {"val": "0", "size": 1, "filename": "f"}})", "GenericError",
       "Invalid parameter type for 'val', expected: integer"},
      {R"({"execute": "pmemsave", "arguments": {"val": -1, "size": 1, "filename": "f"}})", "GenericError",
       "Invalid parameter type for 'val', expected: integer"},
      {R"({"execute": "pmemsave", "arguments": {"val": 1.5, "size": 1, "filename": "f"}})", "GenericError",
       "Invalid parameter type for 'val', expected: integer"},
      {R"({"execute": "human-monitor-command", "arguments": {"command-line": ["info"]}})", "GenericError",
       "Invalid parameter type for 'command-line', expected: string"},
  };
  for (const Case& k : cases) {
    c->SendRaw(k.request);
    Json reply = c->ReadReply();
    EXPECT_EQ(ErrorClass(reply), k.error_class) << k.request;
    EXPECT_EQ(Desc(reply), k.desc) << k.request;
  }
  EXPECT_EQ(c->Execute("query-status")["return"]["status"], "running");  // the connection still works
}

TEST_F(QmpServerTest, MalformedJsonIsAnErrorAndTheConnectionGoesOn) {
  auto c = Ready();
  c->SendRaw("{\"execute\": \"stop\",, }");
  EXPECT_EQ(Desc(c->ReadReply()), "JSON parse error, invalid JSON");
  c->SendRaw("hello world\n");
  EXPECT_EQ(ErrorClass(c->ReadReply()), "GenericError");
  c->SendRaw("}");
  EXPECT_EQ(ErrorClass(c->ReadReply()), "GenericError");
  c->SendRaw("{\"execute\": \"query-kvm\", \"id\": \"brace } in a string \\\" {\"}");
  EXPECT_EQ(c->ReadReply()["id"], "brace } in a string \" {");
  // Two commands in one write, one command split over writes.
  c->SendRaw(R"({"execute": "query-kvm", "id": 1}{"execute": "query-kvm", "id": 2})");
  EXPECT_EQ(c->ReadReply()["id"], 1);
  EXPECT_EQ(c->ReadReply()["id"], 2);
  c->SendRaw(R"({"execute": "query-st)");
  c->SendRaw(R"(atus", "id": 3})");
  Json reply = c->ReadReply();
  EXPECT_EQ(reply["id"], 3);
  EXPECT_EQ(reply["return"]["status"], "running");
}

TEST_F(QmpServerTest, FloodAndDeepNestingCloseThatConnectionOnly) {
  auto other = Ready();
  {
    auto c = Ready();
    std::string flood = "{\"execute\": \"" + std::string(2 << 20, 'a');
    c->SendRaw(flood);
    Json reply = c->ReadReply();
    EXPECT_EQ(ErrorClass(reply), "GenericError");
    EXPECT_TRUE(c->AtEof());
  }
  {
    auto c = Ready();
    c->SendRaw(std::string(5000, '['));
    EXPECT_EQ(ErrorClass(c->ReadReply()), "GenericError");
    EXPECT_TRUE(c->AtEof());
  }
  EXPECT_EQ(other->Execute("query-status")["return"]["status"], "running");
}

TEST_F(QmpServerTest, ClientsVanishingMidCommandLeaveTheServerServing) {
  {
    Client half(path_);  // half a command, then gone
    half.SendRaw(R"({"execute": "qmp_capabilities"}{"execute": "query-sta)");
  }
  {
    auto c = Ready();  // a big reply nobody reads
    c->SendRaw(R"({"execute": "human-monitor-command", "arguments": {"command-line": "info registers -a"}})");
    c->SendRaw(R"({"execute": "pmemsave", "arguments": {"val": 0, "size": 65536, "filename": "/dev/null"}})");
  }
  {
    Client greeted_only(path_);  // connects and closes before reading the greeting
  }
  auto c = Ready();
  EXPECT_EQ(c->Execute("query-status")["return"]["status"], "running");
}

TEST_F(QmpServerTest, TwoClientsAtOnceShareEvents) {
  auto a = Ready();
  auto b = Ready();
  EXPECT_EQ(a->Execute("stop"), Json::parse(R"({"return": {}})"));
  EXPECT_EQ(a->NextEvent()["event"], "STOP");
  EXPECT_EQ(b->NextEvent()["event"], "STOP");  // the event goes to every client
  EXPECT_EQ(b->Execute("query-status")["return"]["status"], "paused");
  EXPECT_EQ(b->Execute("cont", Json(), "b"), Json::parse(R"({"return": {}, "id": "b"})"));
  EXPECT_EQ(a->NextEvent()["event"], "RESUME");
  EXPECT_EQ(a->Execute("query-status")["return"]["status"], "running");
}

TEST(QmpServerWaitTest, WaitOnReturnsOnlyAfterAClientConnected) {
  char tmpl[] = "/tmp/qmp_wait.XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string path = std::string(tmpl) + "/qmp.sock";
  FakeMachine machine;
  std::atomic<bool> started{false};
  std::string greeting;
  std::thread client([&] {
    for (int attempt = 0; attempt < 3000; ++attempt) {  // until the socket exists
      // Nobody has connected yet, so Start() must still be waiting.
      EXPECT_FALSE(started.load()) << "Start() returned before anybody connected";
      Client c(path);
      if (c.connected()) {
        greeting = c.ReadLine();
        return;
      }
      usleep(1000);
    }
  });
  Endpoint e;
  e.path = path;
  e.wait = true;
  auto server = QmpServer::Start(e, machine, QmpVersion{});
  started = true;
  client.join();
  ASSERT_TRUE(server.ok()) << server.message();
  EXPECT_NE(greeting.find("\"QMP\""), std::string::npos) << greeting;
  server->reset();
  rmdir(tmpl);
}

}  // namespace
}  // namespace tandem::monitor
