// fastconv_classify MODEL IMAGE...: classifies PGM/PPM images with a model file (written by `fastconv train`,
// fastconv.save of a compiled model, or Model::save) and prints each image's class probabilities (softmax of the
// model's output). Pixels are scaled to [0, 1] (sample / maxval), as `fastconv train` scales its data; an image
// must have the model's channel count and size (no resizing here).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <exception>
#include <vector>

#include "fastconv/model.h"
#include "pnm.h"

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: %s MODEL IMAGE.pgm|IMAGE.ppm...\n", argv[0]);
    return 2;
  }
  try {
    fastconv::Model model = fastconv::Model::load(argv[1]);
    const fastconv::Shape in = model.input_shape();  // [N, C, H, W]
    if (in.size() != 4) {
      std::fprintf(stderr, "%s: the model takes inputs of shape %s, not images [N, C, H, W]\n", argv[1],
                   fastconv::shape_str(in).c_str());
      return 1;
    }
    const int n = argc - 2;
    std::vector<float> batch;
    for (int i = 0; i < n; ++i) {
      const Image img = read_pnm(argv[2 + i]);
      if (img.channels != in[1] || img.height != in[2] || img.width != in[3]) {
        std::fprintf(stderr, "%s: image is %d x %d with %d channel(s); the model takes %lld x %lld with %lld\n",
                     argv[2 + i], img.height, img.width, img.channels, (long long)in[2], (long long)in[3],
                     (long long)in[1]);
        return 1;
      }
      batch.insert(batch.end(), img.pixels.begin(), img.pixels.end());
    }
    const fastconv::Tensor logits = model.predict(batch.data(), {n, in[1], in[2], in[3]});
    const int64_t classes = logits.size(1);
    const float* z = logits.data<float>();
    for (int i = 0; i < n; ++i) {
      const float* row = z + i * classes;
      double mx = row[0], sum = 0;
      for (int64_t c = 1; c < classes; ++c) mx = std::max(mx, double(row[c]));
      std::vector<double> p(static_cast<size_t>(classes));
      for (int64_t c = 0; c < classes; ++c) sum += p[size_t(c)] = std::exp(double(row[c]) - mx);
      int64_t best = 0;
      std::printf("%s:", argv[2 + i]);
      for (int64_t c = 0; c < classes; ++c) {
        p[size_t(c)] /= sum;
        if (p[size_t(c)] > p[size_t(best)]) best = c;
        std::printf(" %.9g", p[size_t(c)]);
      }
      std::printf(" -> class %lld\n", (long long)best);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
  return 0;
}
