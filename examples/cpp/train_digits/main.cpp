// fastconv_train_digits DIGITS.bin MODEL.safetensors [EPOCHS]: a C++-only training loop. Reads the digits file
// (export_digits.py documents the format), builds a small CNN with fastconv/nn.h, trains it with Adam on
// cross-entropy in mini-batches of 32, prints the mean loss of each epoch and the training accuracy, saves the model
// (Python's fastconv.load rebuilds it) and prints its logits for the first 4 images, so they can be checked
// against Python's predict on the saved file.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <fstream>
#include <iterator>
#include <numeric>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastconv/nn.h"

using namespace fastconv;

namespace {

struct Digits {
  int64_t n = 0, h = 0, w = 0, classes = 0;
  std::vector<float> x;      // n x h x w
  std::vector<int64_t> y;    // n
};

uint32_t le32(const std::string& d, size_t at) {
  uint32_t v = 0;
  for (int i = 3; i >= 0; --i) v = v << 8 | uint8_t(d[at + size_t(i)]);
  return v;
}

Digits read_digits(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw std::runtime_error(path + ": cannot open the file");
  const std::string d(std::istreambuf_iterator<char>(f), {});
  if (d.size() < 24 || d.compare(0, 8, "FCDIGIT1") != 0) throw std::runtime_error(path + ": not a digits file");
  Digits g;
  g.n = le32(d, 8), g.h = le32(d, 12), g.w = le32(d, 16), g.classes = le32(d, 20);
  const size_t pixels = size_t(g.n * g.h * g.w);
  if (g.n < 1 || g.classes < 2 || d.size() != 24 + size_t(g.n) + 4 * pixels)
    throw std::runtime_error(path + ": header and size disagree (truncated file?)");
  for (int64_t i = 0; i < g.n; ++i) {
    g.y.push_back(uint8_t(d[24 + size_t(i)]));
    if (g.y.back() >= g.classes) throw std::runtime_error(path + ": a label is >= the class count");
  }
  g.x.resize(pixels);
  std::memcpy(g.x.data(), d.data() + 24 + g.n, 4 * pixels);  // little-endian float32, as this machine's
  return g;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s DIGITS.bin MODEL.safetensors [EPOCHS]\n", argv[0]);
    return 2;
  }
  try {
    const Digits data = read_digits(argv[1]);
    const int epochs = argc > 3 ? std::stoi(argv[3]) : 3;
    const int64_t batch = 32, hw = data.h * data.w;

    nn::manual_seed(0);
    nn::Sequential net{nn::Conv2d(1, 16, 3, 1, 1), nn::BatchNorm2d(16), nn::ReLU(), nn::MaxPool2d(2),
                       nn::Conv2d(16, 32, 3, 1, 1), nn::ReLU(), nn::Flatten(), nn::Dropout(0.1),
                       nn::Linear(32 * (data.h / 2) * (data.w / 2), data.classes)};
    Model model = nn::compile(net, {batch, 1, data.h, data.w}, "cross_entropy", nn::Adam(0.01));

    std::vector<int64_t> order(size_t(data.n));
    std::iota(order.begin(), order.end(), 0);
    std::mt19937 rng(0);
    double first = 0, last = 0;
    for (int e = 0; e < epochs; ++e) {
      std::shuffle(order.begin(), order.end(), rng);
      double sum = 0;
      int steps = 0;
      for (int64_t s = 0; s + batch <= data.n; s += batch) {  // full batches only: one compiled shape
        Tensor x = Tensor::empty({batch, 1, data.h, data.w}), y = Tensor::empty({batch}, DType::i64);
        for (int64_t i = 0; i < batch; ++i) {
          const int64_t k = order[size_t(s + i)];
          std::copy_n(data.x.data() + k * hw, hw, x.data<float>() + i * hw);
          y.data<int64_t>()[i] = data.y[size_t(k)];
        }
        sum += model.train_step(x, y);
        ++steps;
      }
      last = sum / steps;
      if (e == 0) first = last;
      std::printf("epoch %d: mean loss %.6f\n", e + 1, last);
    }

    const Tensor logits = model.predict(data.x.data(), {data.n, 1, data.h, data.w});
    int64_t correct = 0;
    for (int64_t i = 0; i < data.n; ++i) {
      const float* row = logits.data<float>() + i * data.classes;
      correct += std::max_element(row, row + data.classes) - row == data.y[size_t(i)];
    }
    std::printf("training accuracy %.4f\n", double(correct) / double(data.n));
    model.save(argv[2]);
    std::printf("saved %s\n", argv[2]);
    for (int64_t i = 0; i < 4 && i < data.n; ++i) {
      std::printf("logits %lld:", (long long)i);
      for (int64_t c = 0; c < data.classes; ++c) std::printf(" %.9g", logits.data<float>()[i * data.classes + c]);
      std::printf("\n");
    }
    if (epochs > 1 && !(last < first)) {
      std::fprintf(stderr, "the loss did not go down (%.6f -> %.6f)\n", first, last);
      return 1;
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
