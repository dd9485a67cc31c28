// --qmp's QEMU socket syntax: what parses, what is a one-line error.
#include "monitor/listen_socket.h"

#include <gtest/gtest.h>

namespace tandem::monitor {
namespace {

TEST(ParseEndpointTest, UnixAndTcpInQemuSpelling) {
  auto u = ParseEndpoint("unix:/tmp/q.sock,server=on,wait=off", "--qmp");
  ASSERT_TRUE(u.ok()) << u.message();
  EXPECT_EQ(u->kind, Endpoint::Kind::kUnix);
  EXPECT_EQ(u->path, "/tmp/q.sock");
  EXPECT_FALSE(u->wait);
  auto t = ParseEndpoint("tcp:localhost:4444,server=on", "--qmp");
  ASSERT_TRUE(t.ok()) << t.message();
  EXPECT_EQ(t->kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(t->host, "localhost");
  EXPECT_EQ(t->port, 4444);
  EXPECT_TRUE(t->wait);  // QEMU's default
  auto any = ParseEndpoint("tcp::1234,server,nowait", "--qmp");  // QEMU's older flags
  ASSERT_TRUE(any.ok()) << any.message();
  EXPECT_EQ(any->host, "");
  EXPECT_FALSE(any->wait);
  auto v6 = ParseEndpoint("tcp:[::1]:5555,server=on,wait=on", "--qmp");
  ASSERT_TRUE(v6.ok()) << v6.message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 5555);
}

TEST(ParseEndpointTest, MalformedValuesSayWhat) {
  struct Case {
    const char* spec;
    const char* says;
  } cases[] = {
      {"unix:/tmp/q.sock", "server=on"},
      {"unix:/tmp/q.sock,server=off", "server=on"},
      {"unix:,server=on", "path is empty"},
      {"tcp:4444,server=on", "no port"},
      {"tcp:host:99999,server=on", "bad TCP port '99999'"},
      {"tcp:host:12a,server=on", "bad TCP port"},
      {"tcp:host:,server=on", "bad TCP port"},
      {"unix:/x,server=on,wait=maybe", "wait must be on or off"},
      {"unix:/x,server=on,color=blue", "unknown option 'color'"},
      {"stdio", "--qmp wants unix:PATH"},
      {"", "--qmp wants"},
  };
  for (const Case& c : cases) {
    auto e = ParseEndpoint(c.spec, "--qmp");
    ASSERT_FALSE(e.ok()) << c.spec;
    EXPECT_NE(e.message().find(c.says), std::string::npos) << c.spec << ": " << e.message();
    EXPECT_EQ(e.message().find('\n'), std::string::npos) << "one line: " << e.message();
  }
}

TEST(ListenSocketTest, TcpPortZeroTakesAFreePort) {
  auto e = ParseEndpoint("tcp:127.0.0.1:0,server=on,wait=off", "--qmp");
  ASSERT_TRUE(e.ok());
  auto s = ListenSocket::Open(*e);
  ASSERT_TRUE(s.ok()) << s.message();
  EXPECT_NE(s->port(), 0);
  EXPECT_EQ(s->Accept(), -1);  // nobody connected: non-blocking
}

TEST(ListenSocketTest, UnlistenableUnixPathIsAnError) {
  auto e = ParseEndpoint("unix:/nonexistent-dir/q.sock,server=on,wait=off", "--qmp");
  ASSERT_TRUE(e.ok());
  auto s = ListenSocket::Open(*e);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("cannot listen on unix:/nonexistent-dir/q.sock"), std::string::npos) << s.message();
}

}  // namespace
}  // namespace tandem::monitor
