// Listening sockets for the monitors: parsing QEMU's socket chardev syntax.
#include "monitor/listen_socket.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>
#include <vector>

namespace tandem::monitor {

namespace {

Result<bool> OnOff(const std::string& option, const std::string& key, const std::string& value) {
  if (value == "on" || value == "yes" || value == "true") return true;
  if (value == "off" || value == "no" || value == "false") return false;
  return Status::Error(option + ": " + key + " must be on or off, not '" + value + "'");
}

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

}  // namespace

Result<Endpoint> ParseEndpoint(const std::string& spec, const std::string& option, bool gdb_style) {
  const std::string usage = option + " wants unix:PATH,server=on[,wait=off] or tcp:[HOST]:PORT,server=on[,wait=off]";
  std::vector<std::string> parts;
  size_t start = 0;
  for (;;) {
    size_t comma = spec.find(',', start);
    parts.push_back(spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  Endpoint e;
  e.wait = !gdb_style;
  const std::string& address = parts[0];
  if (address.rfind("unix:", 0) == 0) {
    e.kind = Endpoint::Kind::kUnix;
    e.path = address.substr(5);
    if (e.path.empty()) return Status::Error(usage + ": the path is empty");
    if (e.path.size() >= sizeof(sockaddr_un{}.sun_path)) return Status::Error(option + ": socket path too long: " + e.path);
  } else if (address.rfind("tcp:", 0) == 0) {
    e.kind = Endpoint::Kind::kTcp;
    std::string rest = address.substr(4);
    size_t colon = rest.rfind(':');
    if (colon == std::string::npos) return Status::Error(usage + ": no port in '" + address + "'");
    e.host = rest.substr(0, colon);
    if (e.host.size() >= 2 && e.host.front() == '[' && e.host.back() == ']') e.host = e.host.substr(1, e.host.size() - 2);
    std::string port = rest.substr(colon + 1);
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) > 65535) {
      return Status::Error(option + ": bad TCP port '" + port + "'");
    }
    e.port = static_cast<uint16_t>(std::stoul(port));
  } else {
    return Status::Error(usage + ", not '" + spec + "'");
  }
  bool server = gdb_style;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    size_t eq = p.find('=');
    std::string key = p.substr(0, eq);
    std::string value = eq == std::string::npos ? "on" : p.substr(eq + 1);
    if (key == "nowait" && eq == std::string::npos) key = "wait", value = "off";  // QEMU's old spelling
    if (key == "server" || key == "wait") {
      auto on = OnOff(option, key, value);
      if (!on.ok()) return on.status();
      (key == "server" ? server : e.wait) = *on;
    } else {
      return Status::Error(option + ": unknown option '" + key + "' in '" + spec + "'");
    }
  }
  if (!server) return Status::Error(option + ": tandem only listens: add server=on");
  return e;
}

Result<ListenSocket> ListenSocket::Open(const Endpoint& e) {
  ListenSocket s;
  if (e.kind == Endpoint::Kind::kUnix) {
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, e.path.c_str(), e.path.size() + 1);
    // A socket file left by an earlier run would make bind() fail; QEMU removes it too.
    struct stat st;
    if (lstat(e.path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) unlink(e.path.c_str());
    s.fd_ = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s.fd_ < 0) return Status::Error(Errno("socket"));
    if (bind(s.fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      return Status::Error(Errno("cannot listen on unix:" + e.path));
    }
    s.unlink_path_ = e.path;
  } else {
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    addrinfo* found = nullptr;
    std::string port = std::to_string(e.port);
    if (int rc = getaddrinfo(e.host.empty() ? nullptr : e.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
      return Status::Error("cannot resolve '" + e.host + "': " + gai_strerror(rc));
    }
    std::string why = "no address";
    for (addrinfo* a = found; a; a = a->ai_next) {
      int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK, a->ai_protocol);
      if (fd < 0) continue;
      int one = 1;
      setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      if (bind(fd, a->ai_addr, a->ai_addrlen) == 0) {
        s.fd_ = fd;
        break;
      }
      why = std::strerror(errno);
      close(fd);
    }
    freeaddrinfo(found);
    if (s.fd_ < 0) return Status::Error("cannot listen on tcp:" + e.host + ":" + port + ": " + why);
    sockaddr_storage bound{};
    socklen_t len = sizeof bound;
    getsockname(s.fd_, reinterpret_cast<sockaddr*>(&bound), &len);
    s.port_ = ntohs(bound.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port
                                                : reinterpret_cast<sockaddr_in*>(&bound)->sin_port);
  }
  if (listen(s.fd_, 8) != 0) return Status::Error(Errno("listen"));
  return s;
}

ListenSocket::ListenSocket(ListenSocket&& other) noexcept { *this = std::move(other); }

ListenSocket& ListenSocket::operator=(ListenSocket&& other) noexcept {
  std::swap(fd_, other.fd_);
  std::swap(port_, other.port_);
  std::swap(unlink_path_, other.unlink_path_);
  return *this;
}

ListenSocket::~ListenSocket() {
  if (fd_ >= 0) close(fd_);
  if (!unlink_path_.empty()) unlink(unlink_path_.c_str());
}

int ListenSocket::Accept() const {
  return accept4(fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

}  // namespace tandem::monitor
