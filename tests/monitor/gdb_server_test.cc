// The gdbstub: gdb's amd64 register layout, and the remote protocol over a
// real Unix socket with a fake machine (acks and checksums, stop replies,
// registers, memory, breakpoints, continue/step with stops reported by the
// machine, Ctrl-C, no-ack mode, detach and disconnect).
#include "monitor/gdb_server.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

#include "tests/monitor/fake_machine.h"

namespace tandem::monitor {
namespace {

using testing::FakeMachine;

TEST(GdbRegistersTest, Amd64Layout) {
  x86::CpuState s;
  for (int i = 0; i < 16; ++i) s.gpr[i] = 0x1111111111111111ull * (i + 1) + i;
  s.rip = 0xFFFFFFFF81000000ull;
  s.rflags = 0x246;
  s.seg[x86::kCs].selector = 0x10;
  s.seg[x86::kSs].selector = 0x18;
  s.fx.st[0][0] = 0xAB;
  s.fx.st[0][9] = 0xCD;
  s.fx.xmm[15][15] = 0xEF;
  s.fx.ftw = 0x01;  // st0 valid
  size_t total = 0;
  for (int n = 0; n < kGdbRegisterCount; ++n) total += GdbReadRegister(s, n).size();
  EXPECT_EQ(total, 536u);
  auto u64 = [](const std::vector<uint8_t>& b) {
    uint64_t v = 0;
    std::memcpy(&v, b.data(), std::min<size_t>(8, b.size()));
    return v;
  };
  EXPECT_EQ(u64(GdbReadRegister(s, 0)), s.gpr[x86::kRax]);
  EXPECT_EQ(u64(GdbReadRegister(s, 1)), s.gpr[x86::kRbx]);
  EXPECT_EQ(u64(GdbReadRegister(s, 2)), s.gpr[x86::kRcx]);
  EXPECT_EQ(u64(GdbReadRegister(s, 6)), s.gpr[x86::kRbp]);
  EXPECT_EQ(u64(GdbReadRegister(s, 7)), s.gpr[x86::kRsp]);
  EXPECT_EQ(u64(GdbReadRegister(s, 8)), s.gpr[x86::kR8]);
  EXPECT_EQ(u64(GdbReadRegister(s, 16)), s.rip);
  EXPECT_EQ(GdbReadRegister(s, 17), (std::vector<uint8_t>{0x46, 0x02, 0, 0}));
  EXPECT_EQ(GdbReadRegister(s, 18), (std::vector<uint8_t>{0x10, 0, 0, 0}));  // cs
  EXPECT_EQ(GdbReadRegister(s, 19), (std::vector<uint8_t>{0x18, 0, 0, 0}));  // ss
  std::vector<uint8_t> st0 = GdbReadRegister(s, 24);
  ASSERT_EQ(st0.size(), 10u);
  EXPECT_EQ(st0[0], 0xAB);
  EXPECT_EQ(st0[9], 0xCD);
  EXPECT_EQ(GdbReadRegister(s, 32), (std::vector<uint8_t>{0x7F, 0x03, 0, 0}));  // fctrl
  EXPECT_EQ(GdbReadRegister(s, 34), (std::vector<uint8_t>{0xFC, 0xFF, 0, 0}));  // ftag: st0 valid, others empty
  EXPECT_EQ(GdbReadRegister(s, 55).at(15), 0xEF);                               // xmm15
  EXPECT_EQ(GdbReadRegister(s, 56), (std::vector<uint8_t>{0x80, 0x1F, 0, 0}));  // mxcsr
  EXPECT_TRUE(GdbReadRegister(s, 57).empty());

  EXPECT_TRUE(GdbWriteRegister(s, 17, {0x02, 0x03, 0, 0}));
  EXPECT_EQ(s.rflags, 0x302u);
  EXPECT_TRUE(GdbWriteRegister(s, 3, {1, 2, 3, 4, 5, 6, 7, 8}));
  EXPECT_EQ(s.gpr[x86::kRdx], 0x0807060504030201u);
  EXPECT_TRUE(GdbWriteRegister(s, 20, {0x2B, 0, 0, 0}));
  EXPECT_EQ(s.seg[x86::kDs].selector, 0x2B);
  EXPECT_FALSE(GdbWriteRegister(s, 0, {1, 2, 3}));  // wrong size
  EXPECT_FALSE(GdbWriteRegister(s, 99, {1}));
}

class GdbServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/gdb_test.XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    Endpoint e;
    e.path = dir_ + "/gdb.sock";
    e.wait = false;
    machine_.state.cr0 = 0;  // paging off: virtual = physical
    auto server = GdbServer::Start(e, machine_);
    ASSERT_TRUE(server.ok()) << server.message();
    server_ = std::move(*server);
    fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, e.path.c_str(), sizeof addr.sun_path - 1);
    ASSERT_EQ(connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  void TearDown() override {
    if (fd_ >= 0) close(fd_);
    server_.reset();
    std::system(("rm -rf " + dir_).c_str());
  }
  void SendRaw(const std::string& bytes) { ASSERT_EQ(send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size())); }
  static std::string Frame(const std::string& data) {
    unsigned sum = 0;
    for (char c : data) sum += static_cast<uint8_t>(c);
    char tail[4];
    std::snprintf(tail, sizeof tail, "#%02x", sum & 0xFF);
    return "$" + data + tail;
  }
  // The next byte (an ack) or packet ("$...#xx" returned as its data).
  std::string Next() {
    for (;;) {
      if (!buffer_.empty() && (buffer_[0] == '+' || buffer_[0] == '-')) {
        std::string ack = buffer_.substr(0, 1);
        buffer_.erase(0, 1);
        return ack;
      }
      size_t hash = buffer_.find('#');
      if (!buffer_.empty() && buffer_[0] == '$' && hash != std::string::npos && buffer_.size() >= hash + 3) {
        std::string data = buffer_.substr(1, hash - 1);
        EXPECT_EQ(Frame(data), buffer_.substr(0, hash + 3)) << "checksum";
        buffer_.erase(0, hash + 3);
        return data;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, 30'000) <= 0) return "<nothing>";  // failsafe, not a timing assertion
      char buf[8192];
      ssize_t n = recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) return "<eof>";
      buffer_.append(buf, static_cast<size_t>(n));
    }
  }
  // Sends a packet; expects the ack (unless no-ack mode) and returns the reply.
  std::string Command(const std::string& data) {
    SendRaw(Frame(data));
    if (acks_) {
      EXPECT_EQ(Next(), "+") << data;
    }
    return Next();
  }

  FakeMachine machine_;
  std::string dir_;
  std::unique_ptr<GdbServer> server_;
  int fd_ = -1;
  std::string buffer_;
  bool acks_ = true;
};

TEST_F(GdbServerTest, AttachingStopsTheMachineAndRegistersAndMemoryWork) {
  EXPECT_EQ(Command("?"), "T05thread:01;");
  EXPECT_EQ(machine_.State(), RunState::kPaused);
  EXPECT_NE(Command("qSupported:swbreak+").find("PacketSize="), std::string::npos);
  std::string xml = Command("qXfer:features:read:target.xml:0,1000");
  EXPECT_EQ(xml[0], 'l');
  EXPECT_NE(xml.find("<architecture>i386:x86-64</architecture>"), std::string::npos);
  std::string g = Command("g");
  ASSERT_EQ(g.size(), 2 * 536u);
  EXPECT_EQ(g.substr(0, 16), "cefaedfe00000000");   // rax
  EXPECT_EQ(g.substr(256, 16), "cdab341200000000");  // rip
  EXPECT_EQ(Command("p10"), "cdab341200000000");
  EXPECT_EQ(Command("P10=0010000000000000"), "OK");
  EXPECT_EQ(machine_.state.rip, 0x1000u);
  EXPECT_EQ(Command("p99"), "E22");
  EXPECT_EQ(Command("m100,4"), "00070e15");  // the fake's RAM pattern: i * 7
  EXPECT_EQ(Command("M100,2:beef"), "OK");
  EXPECT_EQ(Command("m100,3"), "beef0e");
  EXPECT_EQ(Command("mffff0,20"), "E14");   // runs past the fake's 1 MiB
  EXPECT_EQ(Command("mzz,4"), "E22");
  EXPECT_EQ(Command("qC"), "QC01");
  EXPECT_EQ(Command("qfThreadInfo"), "m01,02");
  EXPECT_EQ(Command("qsThreadInfo"), "l");
  EXPECT_EQ(Command("Hg2"), "OK");
  EXPECT_EQ(Command("p2"), "0100000000000000");  // the fake's RCX names the vCPU asked
  EXPECT_EQ(Command("Hg9"), "E22");
  EXPECT_EQ(Command("vMustReplyEmpty"), "");
}

TEST_F(GdbServerTest, BadChecksumIsNackedAndNoAckModeDropsAcks) {
  SendRaw("$?#00");
  EXPECT_EQ(Next(), "-");
  EXPECT_EQ(Command("QStartNoAckMode"), "OK");
  acks_ = false;
  EXPECT_EQ(Command("?"), "T05thread:01;");  // Command() would see a '+' here otherwise
}

TEST_F(GdbServerTest, ContinueStepBreakpointsAndCtrlC) {
  EXPECT_EQ(Command("?"), "T05thread:01;");
  EXPECT_EQ(Command("Z0,fffffff2,1"), "OK");
  EXPECT_EQ(machine_.breakpoints, (std::vector<uint64_t>{0xfffffff2}));
  SendRaw(Frame("c"));
  EXPECT_EQ(Next(), "+");
  // The reply comes when the machine reports the stop; meanwhile it runs.
  EXPECT_EQ(Command("qC"), "QC01");  // not quite what gdb does, but the stub answers
  EXPECT_EQ(machine_.State(), RunState::kRunning);
  EXPECT_FALSE(machine_.single_step);
  machine_.Stop();
  server_->DebugStopped(1);
  EXPECT_EQ(Next(), "T05thread:02;");
  SendRaw(Frame("s"));
  EXPECT_EQ(Next(), "+");
  EXPECT_TRUE(machine_.single_step);
  machine_.Stop();
  server_->DebugStopped(0);
  EXPECT_EQ(Next(), "T05thread:01;");
  EXPECT_EQ(Command("z0,fffffff2,1"), "OK");
  EXPECT_TRUE(machine_.breakpoints.empty());
  SendRaw(Frame("c"));
  EXPECT_EQ(Next(), "+");
  SendRaw("\x03");
  EXPECT_EQ(Next(), "T02thread:01;");
  EXPECT_EQ(machine_.State(), RunState::kPaused);
}

TEST_F(GdbServerTest, DetachAndDisconnectLeaveTheMachineRunning) {
  EXPECT_EQ(Command("Z0,1000,1"), "OK");
  EXPECT_EQ(Command("D"), "OK");
  EXPECT_EQ(Next(), "<eof>");
  EXPECT_EQ(machine_.State(), RunState::kRunning);
  EXPECT_TRUE(machine_.breakpoints.empty());
}

TEST_F(GdbServerTest, KillQuits) {
  SendRaw(Frame("k"));
  EXPECT_EQ(Next(), "+");
  EXPECT_EQ(Next(), "<eof>");
  EXPECT_EQ(machine_.quits, 1);
}

}  // namespace
}  // namespace tandem::monitor
