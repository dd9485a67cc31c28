// The Internet checksum (RFC 1071) and the TCP/UDP checksum of a frame.
#include "hw/net/inet_checksum.h"

#include <cstring>

namespace tandem::hw::net {

namespace {
constexpr size_t kEthHeader = 14;
constexpr uint16_t kEtherIpv4 = 0x0800, kEtherIpv6 = 0x86DD;
constexpr uint8_t kProtoTcp = 6, kProtoUdp = 17;

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }
}  // namespace

uint64_t ChecksumAdd(const uint8_t* data, size_t len, uint64_t sum) {
  // Eight bytes at a time: the one's-complement sum is byte-order
  // independent up to a final swap (RFC 1071 2(B)), so sum native 32-bit
  // halves and swap once at the end.
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t w;
    std::memcpy(&w, data + i, 8);
    acc += (w & 0xFFFFFFFF) + (w >> 32);
  }
  for (; i + 2 <= len; i += 2) {
    uint16_t w;
    std::memcpy(&w, data + i, 2);
    acc += w;
  }
  if (i < len) {
    uint8_t last[2] = {data[i], 0};
    uint16_t w;
    std::memcpy(&w, last, 2);
    acc += w;
  }
  // Fold to 16 bits in host order, then make it big-endian words' sum.
  while (acc >> 16) acc = (acc & 0xFFFF) + (acc >> 16);
  uint16_t host = static_cast<uint16_t>(acc);
  uint8_t bytes[2];
  std::memcpy(bytes, &host, 2);
  return sum + Be16(bytes);
}

uint16_t ChecksumFinish(uint64_t sum) {
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

bool TransportChecksumValid(const uint8_t* frame, size_t len) {
  if (len < kEthHeader) return false;
  const uint16_t type = Be16(frame + 12);
  const uint8_t* ip = frame + kEthHeader;
  const size_t ip_room = len - kEthHeader;
  uint64_t sum = 0;  // the pseudo header's
  const uint8_t* l4;
  size_t l4_len;
  uint8_t proto;
  if (type == kEtherIpv4) {
    if (ip_room < 20 || (ip[0] >> 4) != 4) return false;
    const size_t ihl = (ip[0] & 0xF) * 4u;
    const size_t total = Be16(ip + 2);
    if (ihl < 20 || total < ihl || total > ip_room) return false;
    if (Be16(ip + 6) & 0x3FFF) return false;  // a fragment (MF or an offset): no whole datagram to check
    if (ChecksumFinish(ChecksumAdd(ip, ihl)) != 0) return false;
    proto = ip[9];
    l4 = ip + ihl;
    l4_len = total - ihl;
    sum = ChecksumAdd(ip + 12, 8);  // source and destination
  } else if (type == kEtherIpv6) {
    if (ip_room < 40 || (ip[0] >> 4) != 6) return false;
    const size_t payload = Be16(ip + 4);
    if (payload > ip_room - 40) return false;
    proto = ip[6];  // an extension header is left to the guest
    l4 = ip + 40;
    l4_len = payload;
    sum = ChecksumAdd(ip + 8, 32);
  } else {
    return false;
  }
  if (proto == kProtoTcp) {
    if (l4_len < 20) return false;
  } else if (proto == kProtoUdp) {
    if (l4_len < 8 || Be16(l4 + 4) != l4_len) return false;
    if (type == kEtherIpv4 && Be16(l4 + 6) == 0) return false;  // no checksum sent: nothing verified
  } else {
    return false;
  }
  sum += proto + static_cast<uint64_t>(l4_len);
  return ChecksumFinish(ChecksumAdd(l4, l4_len, sum)) == 0;
}

bool CompleteChecksum(uint8_t* frame, size_t len, size_t start, size_t offset) {
  if (start > len || offset > len - start || len - start - offset < 2) return false;
  uint16_t csum = ChecksumFinish(ChecksumAdd(frame + start, len - start));
  if (csum == 0) csum = 0xFFFF;  // the same in one's complement, and UDP's "no checksum" is 0 (Linux's CSUM_MANGLED_0)
  frame[start + offset] = static_cast<uint8_t>(csum >> 8);
  frame[start + offset + 1] = static_cast<uint8_t>(csum);
  return true;
}

}  // namespace tandem::hw::net
