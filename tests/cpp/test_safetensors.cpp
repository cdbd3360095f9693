// CRC-32C against published vectors (RFC 3720 B.4, the "123456789" check value) and hardware against the table on
// random buffers; safetensors write/read round trips, the checksum refusing a changed byte, old files without it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "../../cpp/src/io/safetensors.h"
#include "fastconv/error.h"

using namespace fastconv;
using namespace fastconv::io;

TEST(Crc32c, KnownVectors) {
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c_software("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
  std::vector<unsigned char> zeros(32, 0), ones(32, 0xFF), inc(32), dec(32);
  for (int i = 0; i < 32; ++i) inc[i] = static_cast<unsigned char>(i), dec[i] = static_cast<unsigned char>(31 - i);
  EXPECT_EQ(crc32c(zeros.data(), 32), 0x8A9136AAu);  // RFC 3720 B.4
  EXPECT_EQ(crc32c(ones.data(), 32), 0x62A8AB43u);
  EXPECT_EQ(crc32c(inc.data(), 32), 0x46DD794Eu);
  EXPECT_EQ(crc32c(dec.data(), 32), 0x113FDB5Cu);
}

TEST(Crc32c, HardwareEqualsSoftwareAndChains) {
  std::mt19937 rng(3);
  std::vector<unsigned char> buf(70000);
  for (auto& b : buf) b = static_cast<unsigned char>(rng());
  if (!crc32c_hardware_available()) GTEST_SKIP() << "no SSE4.2 on this CPU";
  for (int i = 0; i < 300; ++i) {
    size_t off = rng() % 64, n = rng() % (buf.size() - 64);  // unaligned starts, odd lengths
    uint32_t seed = i % 2 ? rng() : 0;
    ASSERT_EQ(crc32c_hardware(buf.data() + off, n, seed), crc32c_software(buf.data() + off, n, seed)) << off << " " << n;
  }
  uint32_t whole = crc32c(buf.data(), buf.size());
  EXPECT_EQ(crc32c(buf.data() + 1000, buf.size() - 1000, crc32c(buf.data(), 1000)), whole);
}

namespace {
std::string tmp_path(const char* name) { return "/tmp/fc_st_" + std::to_string(::getpid()) + "_" + name; }
std::string slurp(const std::string& p) {
  std::ifstream f(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(f), {});
}
void spit(const std::string& p, const std::string& s) { std::ofstream(p, std::ios::binary) << s; }
std::string load_error(const std::string& p) {
  try {
    read_safetensors(p);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Value);
    return e.what();
  }
  return "";
}
}  // namespace

TEST(Safetensors, RoundTripAndChecksum) {
  std::string p = tmp_path("rt.safetensors");
  Tensor a = Tensor::empty({2, 3});
  for (int i = 0; i < 6; ++i) a.data<float>()[i] = 0.5f * i - 1;
  Tensor b = Tensor::empty({4}, DType::i64);
  for (int i = 0; i < 4; ++i) b.data<int64_t>()[i] = (int64_t(1) << 40) + i;
  Tensor e = Tensor::empty({0, 5});
  write_safetensors(p, {{"a", a}, {"b", b}, {"empty", e}}, {{"note", "hi"}});
  SafetensorsFile f = read_safetensors(p);
  ASSERT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors[0].first, "a");
  EXPECT_EQ(f.tensors[0].second.shape(), (Shape{2, 3}));
  for (int i = 0; i < 6; ++i) EXPECT_EQ(f.tensors[0].second.data<float>()[i], 0.5f * i - 1);
  EXPECT_EQ(f.tensors[1].second.dtype(), DType::i64);
  EXPECT_EQ(f.tensors[1].second.data<int64_t>()[3], (int64_t(1) << 40) + 3);
  EXPECT_EQ(f.tensors[2].second.numel(), 0);
  EXPECT_EQ(f.metadata.at("note"), "hi");
  // The data section is 24 + 32 bytes; its CRC computed here independently of the writer's bookkeeping.
  std::string raw = slurp(p);
  uint64_t n;
  std::memcpy(&n, raw.data(), 8);
  EXPECT_EQ(n % 8, 0u);
  char want[32];
  std::snprintf(want, sizeof want, "crc32c:%08x", crc32c(raw.data() + 8 + n, raw.size() - 8 - n));
  EXPECT_EQ(f.metadata.at("fastconv.checksum"), want);
  EXPECT_EQ(read_safetensors_metadata(p).at("fastconv.checksum"), want);
  // One flipped bit in the data: refused as corrupt.
  raw[raw.size() - 1] ^= 1;
  spit(p, raw);
  std::string msg = load_error(p);
  EXPECT_NE(msg.find("checksum mismatch"), std::string::npos) << msg;
  EXPECT_NE(msg.find("corrupt"), std::string::npos) << msg;
  EXPECT_NE(msg.find(p), std::string::npos) << msg;
  std::remove(p.c_str());
  EXPECT_THROW(write_safetensors(p, {{"a", a}}, {{"fastconv.checksum", "crc32c:00000000"}}), Error);
  EXPECT_THROW(write_safetensors(p, {{"a", a}, {"a", b}}, {}), Error);
}

TEST(Safetensors, OldFileWithoutChecksumAndHandWrittenLayout) {
  // Written byte by byte as the format defines it: an unaligned F16 first, so the F32 after it starts at an odd
  // offset and the reader must copy it to an aligned tensor; I8 has no DType (raw only).
  std::string hj = R"({"h":{"dtype":"F16","shape":[1],"data_offsets":[0,2]},)"
                   R"("f":{"dtype":"F32","shape":[2],"data_offsets":[2,10]},)"
                   R"("q":{"dtype":"I8","shape":[3],"data_offsets":[10,13]},"__metadata__":{"format":"x"}})";
  std::string raw(8, '\0');
  uint64_t n = hj.size();
  std::memcpy(&raw[0], &n, 8);
  raw += hj;
  raw += std::string("\x00\x3c", 2);  // 1.0 in half
  float vals[2] = {3.5f, -2.0f};
  raw.append(reinterpret_cast<const char*>(vals), 8);
  raw += std::string("\x01\xff\x7f", 3);
  SafetensorsFile f = parse_safetensors(raw.data(), raw.size(), "mem");
  ASSERT_EQ(f.raw.size(), 3u);
  ASSERT_EQ(f.tensors.size(), 2u);  // h and f; q (I8) is raw only
  EXPECT_EQ(f.tensors[1].first, "f");
  EXPECT_EQ(f.tensors[1].second.data<float>()[0], 3.5f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(f.tensors[1].second.data_ptr()) % 4, 0u);
  EXPECT_EQ(f.raw[2].dtype, "I8");
  EXPECT_EQ(static_cast<signed char>(static_cast<const char*>(f.buffer->data())[f.raw[2].offset + 1]), -1);
  EXPECT_EQ(f.metadata.size(), 1u);
  // Structural checks before anything else, with the Python loader's words.
  try {
    parse_safetensors(raw.data(), raw.size() - 1, "mem");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("fastconv.load: mem: tensor 'q' data_offsets [10, 13] are outside the "
                                         "12-byte data section"), std::string::npos) << e.what();
  }
  try {
    parse_safetensors(raw.data(), 5, "mem");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "fastconv.load: mem: file is 5 bytes, too short for a safetensors header (truncated or "
                           "not a model file)");
  }
}

TEST(Safetensors, MissingFileIsAnError) {
  EXPECT_THROW(read_safetensors("/nonexistent/dir/x.safetensors"), Error);
  EXPECT_EQ(read_file("/nonexistent/dir/x.safetensors"), nullptr);
  EXPECT_EQ(errno, ENOENT);
}
