// The Internet checksum (RFC 1071) and the TCP/UDP checks behind virtio-net's
// checksum offload, against a byte-at-a-time reference sum.
#include "hw/net/inet_checksum.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <vector>

namespace tandem::hw::net {
namespace {

// RFC 1071's definition, one big-endian word at a time.
uint16_t Reference(const std::vector<uint8_t>& bytes, size_t from, size_t to, uint32_t sum = 0) {
  for (size_t i = from; i < to; i += 2) sum += static_cast<uint32_t>(bytes[i] << 8 | (i + 1 < to ? bytes[i + 1] : 0));
  while (sum >> 16) sum = (sum & 0xFFFF) + (sum >> 16);
  return static_cast<uint16_t>(~sum);
}

void Put16(std::vector<uint8_t>& f, size_t at, uint16_t v) {
  f[at] = static_cast<uint8_t>(v >> 8);
  f[at + 1] = static_cast<uint8_t>(v);
}

// Ethernet + IPv4 + TCP (or UDP) with `payload` bytes and correct checksums.
std::vector<uint8_t> Ipv4Frame(uint8_t proto, size_t payload) {
  const size_t l4 = proto == 6 ? 20 : 8;
  std::vector<uint8_t> f(14 + 20 + l4 + payload, 0);
  Put16(f, 12, 0x0800);
  f[14] = 0x45;
  Put16(f, 16, static_cast<uint16_t>(20 + l4 + payload));
  Put16(f, 20, 0x4000);  // DF
  f[22] = 64;
  f[23] = proto;
  const uint8_t addrs[8] = {10, 0, 2, 2, 10, 0, 2, 15};
  for (int i = 0; i < 8; ++i) f[26 + i] = addrs[i];
  Put16(f, 24, Reference(f, 14, 34));
  for (size_t i = 0; i < payload; ++i) f[14 + 20 + l4 + i] = static_cast<uint8_t>(i * 7 + 3);
  Put16(f, 34, 80);
  Put16(f, 36, 40000);
  if (proto == 6) {
    f[46] = 0x50;  // data offset 5
  } else {
    Put16(f, 38, static_cast<uint16_t>(l4 + payload));
  }
  uint32_t pseudo = 0x0A00 + 0x0202 + 0x0A00 + 0x020F + proto + static_cast<uint32_t>(l4 + payload);
  const size_t csum_at = proto == 6 ? 14 + 20 + 16 : 14 + 20 + 6;
  Put16(f, csum_at, Reference(f, 34, f.size(), pseudo));
  return f;
}

TEST(InetChecksumTest, MatchesRfc1071Example) {
  // RFC 1071 3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
  const uint8_t bytes[] = {0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7};
  EXPECT_EQ(ChecksumFinish(ChecksumAdd(bytes, sizeof bytes)), static_cast<uint16_t>(~0xddf2));
}

TEST(InetChecksumTest, AgreesWithReferenceOnEveryLengthAndAlignment) {
  std::vector<uint8_t> bytes(300);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 131 + 17);
  for (size_t from = 0; from < 9; ++from) {
    for (size_t to = from; to <= bytes.size(); to += 13) {
      EXPECT_EQ(ChecksumFinish(ChecksumAdd(bytes.data() + from, to - from)), Reference(bytes, from, to))
          << from << ".." << to;
    }
  }
}

TEST(InetChecksumTest, ValidTcpAndUdpOverIpv4) {
  EXPECT_TRUE(TransportChecksumValid(Ipv4Frame(6, 1460).data(), 14 + 40 + 1460));
  EXPECT_TRUE(TransportChecksumValid(Ipv4Frame(6, 0).data(), 14 + 40));
  EXPECT_TRUE(TransportChecksumValid(Ipv4Frame(17, 33).data(), 14 + 28 + 33));  // odd length
}

TEST(InetChecksumTest, EthernetPaddingBeyondTheIpLengthIsIgnored) {
  auto f = Ipv4Frame(6, 2);
  f.resize(60, 0xEE);  // a short frame padded to the Ethernet minimum
  EXPECT_TRUE(TransportChecksumValid(f.data(), f.size()));
}

TEST(InetChecksumTest, CorruptionIsNotValid) {
  auto payload = Ipv4Frame(6, 100);
  payload[80] ^= 0x40;
  EXPECT_FALSE(TransportChecksumValid(payload.data(), payload.size()));
  auto header = Ipv4Frame(6, 100);
  header[22] = 63;  // TTL: the IPv4 header checksum no longer holds
  EXPECT_FALSE(TransportChecksumValid(header.data(), header.size()));
}

TEST(InetChecksumTest, WhatCannotBeCheckedIsNotValid) {
  auto fragment = Ipv4Frame(6, 100);
  Put16(fragment, 20, 0x2000);  // MF
  Put16(fragment, 24, 0);
  Put16(fragment, 24, Reference(fragment, 14, 34));
  EXPECT_FALSE(TransportChecksumValid(fragment.data(), fragment.size()));
  auto no_udp_sum = Ipv4Frame(17, 10);
  Put16(no_udp_sum, 40, 0);
  EXPECT_FALSE(TransportChecksumValid(no_udp_sum.data(), no_udp_sum.size()));
  auto icmp = Ipv4Frame(6, 10);
  icmp[23] = 1;
  Put16(icmp, 24, 0);
  Put16(icmp, 24, Reference(icmp, 14, 34));
  EXPECT_FALSE(TransportChecksumValid(icmp.data(), icmp.size()));
  auto truncated = Ipv4Frame(6, 100);
  EXPECT_FALSE(TransportChecksumValid(truncated.data(), truncated.size() - 1));
  auto arp = Ipv4Frame(6, 10);
  Put16(arp, 12, 0x0806);
  EXPECT_FALSE(TransportChecksumValid(arp.data(), arp.size()));
  EXPECT_FALSE(TransportChecksumValid(arp.data(), 10));
}

TEST(InetChecksumTest, ValidTcpOverIpv6) {
  std::vector<uint8_t> f(14 + 40 + 20 + 50, 0);
  Put16(f, 12, 0x86DD);
  f[14] = 0x60;
  Put16(f, 18, 70);
  f[20] = 6;
  f[21] = 64;
  for (int i = 0; i < 32; ++i) f[22 + i] = static_cast<uint8_t>(0xFE + i);
  f[54 + 12] = 0x50;
  for (size_t i = 74; i < f.size(); ++i) f[i] = static_cast<uint8_t>(i);
  uint32_t pseudo = 6 + 70;
  for (int i = 0; i < 32; i += 2) pseudo += static_cast<uint32_t>(f[22 + i] << 8 | f[23 + i]);
  Put16(f, 54 + 16, Reference(f, 54, f.size(), pseudo));
  EXPECT_TRUE(TransportChecksumValid(f.data(), f.size()));
  f[100] ^= 1;
  EXPECT_FALSE(TransportChecksumValid(f.data(), f.size()));
}

TEST(InetChecksumTest, CompleteChecksumFinishesWhatTheDriverStarted) {
  // A driver with NEEDS_CSUM leaves the pseudo-header sum (not complemented)
  // in the field; completing it gives the same frame as computing it whole.
  auto want = Ipv4Frame(6, 333);
  auto f = want;
  uint32_t pseudo = 0x0A00 + 0x0202 + 0x0A00 + 0x020F + 6 + 20 + 333;
  while (pseudo >> 16) pseudo = (pseudo & 0xFFFF) + (pseudo >> 16);
  Put16(f, 50, static_cast<uint16_t>(pseudo));
  ASSERT_TRUE(CompleteChecksum(f.data(), f.size(), 34, 16));
  EXPECT_EQ(f, want);
  EXPECT_TRUE(TransportChecksumValid(f.data(), f.size()));
}

TEST(InetChecksumTest, CompleteChecksumRefusesAFieldOutsideTheFrame) {
  auto f = Ipv4Frame(6, 10);
  const auto before = f;
  EXPECT_FALSE(CompleteChecksum(f.data(), f.size(), f.size() - 1, 0));
  EXPECT_FALSE(CompleteChecksum(f.data(), f.size(), 34, 0xFFFF));
  EXPECT_FALSE(CompleteChecksum(f.data(), f.size(), 0xFFFF, 0));
  EXPECT_EQ(f, before);
}

}  // namespace
}  // namespace tandem::hw::net
