// Checked size arithmetic in the core (shape_numel, Tensor::empty) and the shape rules' helpers: sizes that would
// wrap int64 or exceed what any tensor can hold throw a ValueError before anything is allocated.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>

#include "fastconv/error.h"
#include "fastconv/tensor.h"
#include "ops/op.h"
#include "ops/shape_check.h"

using namespace fastconv;

namespace {
ErrorKind kind_of(const std::function<void()>& f, std::string* msg) {
  try {
    f();
  } catch (const Error& e) {
    *msg = e.what();
    return e.kind();
  }
  *msg = "";
  return ErrorKind::Runtime;
}
}  // namespace

TEST(SizeChecks, ShapeNumelRefusesWrappingAndNegativeSizes) {
  EXPECT_EQ(shape_numel({}), 1);
  EXPECT_EQ(shape_numel({int64_t(1) << 62, 0}), 0);  // empty whatever the other sizes
  EXPECT_EQ(shape_numel({int64_t(1) << 30, int64_t(1) << 30}), int64_t(1) << 60);
  std::string msg;
  // 2**32 * 2**32 wraps to 0 in int64: it used to be taken as an empty tensor.
  EXPECT_EQ(kind_of([] { shape_numel({int64_t(1) << 32, int64_t(1) << 32}); }, &msg), ErrorKind::Value);
  EXPECT_NE(msg.find("more than 2**60 elements"), std::string::npos) << msg;
  EXPECT_EQ(kind_of([] { shape_numel({3, -2}); }, &msg), ErrorKind::Value);
  EXPECT_NE(msg.find("negative"), std::string::npos) << msg;
  EXPECT_EQ(kind_of([] { Tensor::empty({int64_t(1) << 31, int64_t(1) << 31}); }, &msg), ErrorKind::Value);
}

TEST(SizeChecks, HelpersNameOpAndArguments) {
  std::string msg;
  EXPECT_EQ(checked_extent("conv2d", wide(5), "x", "y"), 5);
  EXPECT_EQ(kind_of([] { checked_extent("conv2d", wide(1) << 70, "the padding", "argument 'padding'=(7,)"); }, &msg),
            ErrorKind::Value);
  EXPECT_NE(msg.find("conv2d: the padding would be 1180591620717411303424"), std::string::npos) << msg;
  EXPECT_NE(msg.find("argument 'padding'=(7,)"), std::string::npos) << msg;
  EXPECT_EQ(kind_of([] { checked_numel("pool", {int64_t(1) << 40, int64_t(1) << 40}, "the output shape", "k"); }, &msg),
            ErrorKind::Value);
  EXPECT_NE(msg.find("pool: the output shape [1099511627776, 1099511627776]"), std::string::npos) << msg;
  EXPECT_EQ(wide_str(-(wide(1) << 100)), "-1267650600228229401496703205376");
}

TEST(SizeChecks, EagerOpsRefuseHugeOutputsBeforeRunning) {
  std::string msg;
  Tensor x = Tensor::full({1, 1, 4, 4}, 1.f), w = Tensor::full({1, 1, 3, 3}, 1.f);
  EXPECT_EQ(kind_of([&] { run_op("conv2d", {x, w}, Attrs{{"padding", int64_t(2147483647)}}); }, &msg),
            ErrorKind::Value);
  EXPECT_NE(msg.find("padding"), std::string::npos) << msg;
  EXPECT_EQ(kind_of([&] { run_op("adaptive_avg_pool2d", {x}, Attrs{{"output_size", Shape{1LL << 31, 1LL << 31}}}); },
                    &msg),
            ErrorKind::Value);
  EXPECT_NE(msg.find("output_size"), std::string::npos) << msg;
  EXPECT_EQ(kind_of([&] {
              run_op("max_pool2d", {x}, Attrs{{"kernel_size", int64_t(1) << 40}, {"padding", int64_t(1) << 39}});
            }, &msg),
            ErrorKind::Value);
  EXPECT_NE(msg.find("kernel_size"), std::string::npos) << msg;
}
