// json.h: round trips, every kind of malformed input (with its byte offset), the depth limit, numbers at and past
// the int64/double limits, and UTF-8 validation. Expected values are hand-computed from RFC 8259 / RFC 3629.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>

#include "../../cpp/src/io/json.h"
#include "fastconv/error.h"

using fastconv::Error;
using fastconv::ErrorKind;
namespace json = fastconv::json;

namespace {

// The message of the ValueError parse throws, or "" when it parses.
std::string parse_error(const std::string& text, int depth = 64) {
  try {
    json::parse(text, "hdr", depth);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Value) << text;
    return e.what();
  }
  return "";
}

void expect_error(const std::string& text, const std::string& problem, size_t at) {
  std::string msg = parse_error(text);
  EXPECT_NE(msg.find("hdr: "), std::string::npos) << msg;
  EXPECT_NE(msg.find(problem), std::string::npos) << "input " << text << " gave: " << msg;
  std::string where = " at byte " + std::to_string(at);
  EXPECT_TRUE(msg.size() >= where.size() && msg.compare(msg.size() - where.size(), where.size(), where) == 0)
      << "input " << text << " gave: " << msg << " (expected " << where << ")";
}

}  // namespace

TEST(Json, ScalarsAndTypes) {
  EXPECT_TRUE(json::parse("null").is_null());
  EXPECT_TRUE(json::parse(" true ").as_bool());
  EXPECT_FALSE(json::parse("false").as_bool());
  EXPECT_EQ(json::parse("-42").as_int(), -42);
  EXPECT_EQ(json::parse("-42").type(), json::Type::Int);
  EXPECT_EQ(json::parse("1.0").type(), json::Type::Float);
  EXPECT_EQ(json::parse("1e2").type(), json::Type::Float);
  EXPECT_DOUBLE_EQ(json::parse("1e2").as_float(), 100.0);
  EXPECT_DOUBLE_EQ(json::parse("-0.5E-1").as_float(), -0.05);
  EXPECT_DOUBLE_EQ(json::parse("7").as_float(), 7.0);  // as_float accepts an integer literal
  EXPECT_EQ(json::parse("\"a\\\"b\"").as_string(), "a\"b");
  try {
    json::parse("1.5").as_int("graph.nodes[3].op");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "graph.nodes[3].op: expected integer, got number");
  }
  try {
    json::parse("{\"a\":1}").at("b", "spec");
    FAIL();
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "spec: missing field 'b'");
  }
  EXPECT_EQ(json::parse("{\"a\":1}").find("b"), nullptr);
  EXPECT_EQ(json::parse("{\"a\":1}").find("a")->as_int(), 1);
  EXPECT_THROW(json::parse("[]").as_string(), Error);
}

TEST(Json, IntegerLimits) {
  EXPECT_EQ(json::parse("9223372036854775807").as_int(), std::numeric_limits<int64_t>::max());
  EXPECT_EQ(json::parse("-9223372036854775808").as_int(), std::numeric_limits<int64_t>::min());
  // One past int64: a float (2^63 exactly), not a wrapped integer.
  json::Value big = json::parse("9223372036854775808");
  EXPECT_EQ(big.type(), json::Type::Float);
  EXPECT_EQ(big.as_float(), 9223372036854775808.0);
  EXPECT_EQ(json::parse("-9223372036854775809").type(), json::Type::Float);
  // 400 digits: beyond double's range, refused.
  expect_error(std::string(400, '9'), "too large for a double", 0);
  expect_error("[1e400]", "too large for a double", 1);
  expect_error("-1e99999999999999999999999", "too large for a double", 0);
  // Tiny literals round to zero rather than failing.
  EXPECT_EQ(json::parse("1e-400").as_float(), 0.0);
  EXPECT_TRUE(std::signbit(json::parse("-1e-99999999999999999999").as_float()));
  EXPECT_EQ(json::parse("0.000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                        "000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
                        "000000000000000000000000000000000000000000000000000000000000000000000000000000000001")
                .as_float(),
            0.0);
  EXPECT_DOUBLE_EQ(json::parse("1.7976931348623157e308").as_float(), std::numeric_limits<double>::max());
  EXPECT_EQ(json::parse("5e-324").as_float(), std::numeric_limits<double>::denorm_min());
}

TEST(Json, RoundTrip) {
  json::Value v = json::Value::object();
  v.set("i", int64_t(-9007199254740993));
  v.set("f", 0.1);
  v.set("whole", 3.0);
  v.set("tiny", 5e-324);
  v.set("max", std::numeric_limits<double>::max());
  v.set("s", std::string("tab\there \"q\" \\ \x01 \xc3\xa9 \xf0\x9f\x98\x80"));
  v.set("n", json::Value());
  json::Value arr = json::Value::array();
  arr.push(true);
  arr.push(false);
  arr.push(json::Value::object());
  arr.push(json::Value::array());
  v.set("a", arr);
  v.set("i", int64_t(12));  // replaces, keeps the position
  std::string text = json::dump(v);
  EXPECT_EQ(text.substr(0, 7), "{\"i\":12");
  EXPECT_NE(text.find("\"whole\":3.0"), std::string::npos) << text;
  EXPECT_NE(text.find("\\u0001"), std::string::npos) << text;
  json::Value back = json::parse(text);
  EXPECT_EQ(json::dump(back), text);
  ASSERT_EQ(back.members().size(), 8u);
  EXPECT_EQ(back.at("i").as_int(), 12);
  EXPECT_EQ(back.at("f").as_float(), 0.1);
  EXPECT_EQ(back.at("whole").type(), json::Type::Float);
  EXPECT_EQ(back.at("tiny").as_float(), 5e-324);
  EXPECT_EQ(back.at("max").as_float(), std::numeric_limits<double>::max());
  EXPECT_EQ(back.at("s").as_string(), v.at("s").as_string());
  EXPECT_EQ(back.at("a").items().size(), 4u);
  EXPECT_EQ(json::dump(json::parse(" { \"a\" : [ 1 , 2.5 , \"x\" ] , \"b\" : { } } ")),
            "{\"a\":[1,2.5,\"x\"],\"b\":{}}");  // compact
  EXPECT_EQ(json::dump(json::Value(1e20)), "1e+20");
  EXPECT_EQ(json::dump(json::Value(-0.0)), "-0.0");
}

TEST(Json, FloatsRoundTripRandom) {
  std::mt19937_64 rng(12);
  for (int i = 0; i < 20000; ++i) {
    uint64_t bits = rng();
    double d;
    std::memcpy(&d, &bits, sizeof d);
    if (!std::isfinite(d)) continue;
    std::string t = json::dump(json::Value(d));
    json::Value back = json::parse(t);
    ASSERT_EQ(back.type(), json::Type::Float) << t;
    double r = back.as_float();
    ASSERT_EQ(std::memcmp(&d, &r, sizeof d), 0) << t;
  }
}

TEST(Json, NonFiniteRefused) {
  EXPECT_THROW(json::dump(json::Value(std::numeric_limits<double>::infinity())), Error);
  EXPECT_THROW(json::dump(json::Value(std::nan(""))), Error);
  expect_error("NaN", "expected a value", 0);
  expect_error("[Infinity]", "expected a value", 1);
  expect_error("-Infinity", "expected a digit", 1);
}

TEST(Json, Escapes) {
  EXPECT_EQ(json::parse(R"("\/\b\f\n\r\t\\")").as_string(), "/\b\f\n\r\t\\");
  EXPECT_EQ(json::parse(R"("\u00e9\u20AC")").as_string(), "\xc3\xa9\xe2\x82\xac");
  EXPECT_EQ(json::parse(R"("\ud83d\ude00")").as_string(), "\xf0\x9f\x98\x80");  // U+1F600 from a pair
  EXPECT_EQ(json::parse(R"("\u0000")").as_string(), std::string(1, '\0'));
  expect_error(R"("\x")", "invalid escape", 1);
  expect_error(R"("\u12G4")", "invalid hex digit", 5);
  expect_error(R"("\u12)", "unexpected end of input in a \\u escape", 5);
  expect_error(R"("ab\ud83d")", "not followed by a low surrogate", 3);
  expect_error(R"("\ud83d\u0041")", "not followed by a low surrogate", 1);
  expect_error(R"("\ude00")", "lone low surrogate", 1);
  expect_error("\"a\nb\"", "unescaped control character 0x0a", 2);
  expect_error("\"abc", "unterminated string", 0);
  expect_error("\"abc\\", "unterminated string", 0);
}

TEST(Json, BadUtf8) {
  expect_error("\"\xff\"", "invalid UTF-8 byte 0xff", 1);
  expect_error("\"a\x80\"", "invalid UTF-8 byte 0x80", 2);           // lone continuation byte
  expect_error("\"\xc0\xaf\"", "invalid UTF-8 byte 0xc0", 1);        // overlong '/'
  expect_error("\"\xe0\x80\xaf\"", "overlong", 1);                    // overlong 3-byte
  expect_error("\"\xed\xa0\x80\"", "surrogate", 1);                   // U+D800 encoded
  expect_error("\"\xf4\x90\x80\x80\"", "above U+10FFFF", 1);          // U+110000
  expect_error("\"\xf5\x80\x80\x80\"", "invalid UTF-8 byte 0xf5", 1);
  expect_error("\"\xe2\x82\"", "invalid UTF-8 sequence", 1);          // truncated by the quote
  expect_error("\"\xe2\x82", "truncated UTF-8", 1);                   // truncated by the end
  expect_error("\xef\xbb\xbf{}", "byte 0xef", 0);                     // a BOM is not JSON
  EXPECT_EQ(json::parse("\"\xf4\x8f\xbf\xbf\"").as_string(), "\xf4\x8f\xbf\xbf");  // U+10FFFF is fine
}

TEST(Json, Syntax) {
  expect_error("", "unexpected end of input", 0);
  expect_error("   ", "unexpected end of input", 3);
  expect_error("{} x", "after the JSON value", 3);
  expect_error("[1,]", "expected a value", 3);
  expect_error("[1 2]", "expected ',' or ']'", 3);
  expect_error("[1", "expected ',' or ']'", 2);
  expect_error("{\"a\" 1}", "expected ':'", 5);
  expect_error("{\"a\":1,}", "expected a string key", 7);
  expect_error("{a:1}", "expected a string key", 1);
  expect_error("{\"a\":1 \"b\":2}", "expected ',' or '}'", 7);
  expect_error("tru", "in literal 'true'", 3);
  expect_error("nul!", "in literal 'null'", 3);
  expect_error("01", "leading zero", 0);
  expect_error("-", "expected a digit", 1);
  expect_error("1.", "after '.'", 2);
  expect_error(".5", "expected a value", 0);
  expect_error("1e", "in the exponent", 2);
  expect_error("1e+", "in the exponent", 3);
  expect_error("+1", "expected a value", 0);
  expect_error("'a'", "character '''", 0);
  expect_error(std::string("[\0]", 3), "byte 0x00", 1);
}

TEST(Json, DuplicateKeys) {
  expect_error(R"({"a":1,"b":2,"a":3})", "duplicate object key 'a'", 13);
  expect_error(R"({"x":{"k":1,"k":1}})", "duplicate object key 'k'", 12);
  // The same key in different objects is fine; an escaped spelling of the same key is a duplicate.
  EXPECT_NO_THROW(json::parse(R"([{"a":1},{"a":2}])"));
  expect_error(R"({"a":1,"\u0061":2})", "duplicate object key 'a'", 7);
  // Many keys: found without quadratic work, the first repeat named.
  std::string big = "{";
  for (int i = 0; i < 50000; ++i) big += "\"k" + std::to_string(i) + "\":0,";
  big += "\"k49999\":1}";
  std::string msg = parse_error(big);
  EXPECT_NE(msg.find("duplicate object key 'k49999'"), std::string::npos) << msg.substr(0, 200);
}

TEST(Json, DepthLimit) {
  std::string ok = std::string(64, '[') + std::string(64, ']');
  EXPECT_NO_THROW(json::parse(ok));
  std::string deep = std::string(65, '[') + std::string(65, ']');
  expect_error(deep, "nest deeper than 64 levels", 64);
  std::string objs;
  for (int i = 0; i < 4; ++i) objs += "{\"a\":";
  objs += "1}}}}";
  EXPECT_NO_THROW(json::parse(objs, "hdr", 4));
  EXPECT_NE(parse_error(objs, 3).find("nest deeper than 3 levels at byte 15"), std::string::npos);
  // A million brackets: refused at the limit, no stack overflow.
  std::string huge(1 << 20, '[');
  expect_error(huge, "nest deeper than 64", 64);
}

TEST(Json, RandomGarbageNeverCrashes) {
  // Mutations of a valid document: every outcome is a value or a ValueError (ASan/UBSan builds check the rest).
  std::string base = R"({"a":[1,2.5,-3e4,"s\u00e9\ud83d\ude00",true,false,null],"b":{"c":"d"}})";
  std::mt19937 rng(7);
  for (int i = 0; i < 20000; ++i) {
    std::string s = base;
    int edits = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < edits; ++k) {
      size_t at = rng() % s.size();
      switch (rng() % 3) {
        case 0: s[at] = static_cast<char>(rng()); break;
        case 1: s.erase(at, 1); break;
        default: s.insert(at, 1, static_cast<char>(rng())); break;
      }
      if (s.empty()) s = "x";
    }
    try {
      json::Value v = json::parse(s);
      json::parse(json::dump(v));  // what parses also dumps and parses back
    } catch (const Error& e) {
      ASSERT_EQ(e.kind(), ErrorKind::Value);
      ASSERT_NE(std::string(e.what()).find(" at byte "), std::string::npos) << e.what();
    }
  }
}
