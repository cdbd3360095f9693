// The C++ API column of bench_infer.py: loads the model file fc.save wrote, runs fastconv::Model::predict on a raw
// float32 input file, writes the output next to it (for the equality check) and prints the median time.
//   fastconv_bench_infer MODEL INPUT.f32 N C H W REPEATS THREADS OUTPUT.f32
// prints: {"median_ms": ..., "calls": ...}
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <vector>

#include "fastconv/fastconv.h"

int main(int argc, char** argv) {
  if (argc != 10) {
    std::fprintf(stderr, "usage: %s MODEL INPUT.f32 N C H W REPEATS THREADS OUTPUT.f32\n", argv[0]);
    return 2;
  }
  try {
    const fastconv::Shape shape{std::atoll(argv[3]), std::atoll(argv[4]), std::atoll(argv[5]), std::atoll(argv[6])};
    const int repeats = std::max(1, std::atoi(argv[7]));
    fastconv::ModelOptions opts;
    opts.threads = std::atoi(argv[8]);
    fastconv::Model m = fastconv::Model::load(argv[1], opts);
    std::vector<float> x(size_t(fastconv::shape_numel(shape)));
    std::ifstream in(argv[2], std::ios::binary);
    in.read(reinterpret_cast<char*>(x.data()), std::streamsize(x.size() * sizeof(float)));
    if (!in) throw fastconv::Error(fastconv::ErrorKind::Value, std::string("cannot read ") + argv[2]);
    fastconv::Tensor y = m.predict(x.data(), shape);  // warm-up (compiles this shape), and the checked output
    m.predict(x.data(), shape);
    std::ofstream(argv[9], std::ios::binary)
        .write(static_cast<const char*>(y.data_ptr()), std::streamsize(y.nbytes()));
    std::vector<double> ms;
    for (int i = 0; i < repeats; ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      m.predict(x.data(), shape);
      ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
    }
    std::sort(ms.begin(), ms.end());
    std::printf("{\"median_ms\": %.4f, \"calls\": %d}\n", ms[ms.size() / 2], repeats);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "fastconv_bench_infer: %s\n", e.what());
    return 1;
  }
  return 0;
}
