// GFLOP/s of fastconv::cpu::sgemm for square and convolution-shaped problems, per ISA level and thread count.
//
//   g++ -O2 -std=c++17 -I cpp/include -I cpp/src bench/bench_gemm.cpp <libfastconv or its objects> -pthread
//   ./bench_gemm [--threads 1,2] [--isa avx512,avx2,scalar] [--reps 15] [--trans NN|NT|TN|TT]
//                [--shapes 256x256x2304,512x64x4608]   (MxNxK; replaces the built-in list)
//
// Each point: warm-up, then the median of `reps` timed calls (at least ~0.2 s in total). On a shared machine
// run it a few times and keep the best median.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "cpu/gemm/gemm.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"

namespace {

struct Shape {
  const char* name;
  int64_t M, N, K;
};

std::vector<Shape> kShapes = {
    {"square 256", 256, 256, 256},       {"square 512", 512, 512, 512},
    {"square 1024", 1024, 1024, 1024},   {"square 2048", 2048, 2048, 2048},
    {"conv 64x3136x576", 64, 3136, 576}, {"conv 256x784x2304", 256, 784, 2304},
    {"conv 512x196x4608", 512, 196, 4608},
};

std::vector<std::string> split(const std::string& s) {
  std::vector<std::string> out;
  size_t b = 0;
  while (b <= s.size()) {
    size_t e = s.find(',', b);
    if (e == std::string::npos) e = s.size();
    if (e > b) out.push_back(s.substr(b, e - b));
    b = e + 1;
  }
  return out;
}

double bench(const Shape& s, bool ta, bool tb, int reps) {
  std::mt19937 rng(42);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> A(size_t(s.M * s.K)), B(size_t(s.K * s.N)), C(size_t(s.M * s.N));
  for (auto& x : A) x = dist(rng);
  for (auto& x : B) x = dist(rng);
  const int64_t lda = ta ? s.M : s.K, ldb = tb ? s.K : s.N;
  auto call = [&] {
    fastconv::cpu::sgemm(ta, tb, s.M, s.N, s.K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), s.N);
  };
  const double flop = 2.0 * s.M * s.N * s.K;
  using clk = std::chrono::steady_clock;
  // Warm up (caches, thread pool, clocks) for ~50 ms.
  auto t0 = clk::now();
  do call(); while (std::chrono::duration<double>(clk::now() - t0).count() < 0.05);
  std::vector<double> t;
  auto start = clk::now();
  while (int(t.size()) < reps || std::chrono::duration<double>(clk::now() - start).count() < 0.2) {
    auto a = clk::now();
    call();
    t.push_back(std::chrono::duration<double>(clk::now() - a).count());
  }
  std::sort(t.begin(), t.end());
  return flop / t[t.size() / 2] / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> isas{"avx512", "avx2", "scalar"}, threads{"1", "2"};
  int reps = 15;
  std::string trans = "NN";
  std::vector<std::string> names;  // keeps the c_str() of --shapes entries alive
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--isa")) isas = split(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--threads")) threads = split(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--reps")) reps = std::max(10, std::atoi(argv[i + 1]));
    else if (!std::strcmp(argv[i], "--trans")) trans = argv[i + 1];
    else if (!std::strcmp(argv[i], "--shapes")) {
      names = split(argv[i + 1]);
      kShapes.clear();
      for (const std::string& n : names) {
        long long m = 0, nn = 0, k = 0;
        if (std::sscanf(n.c_str(), "%lldx%lldx%lld", &m, &nn, &k) != 3 || m <= 0 || nn <= 0 || k <= 0) {
          std::fprintf(stderr, "--shapes: expected MxNxK, got '%s'\n", n.c_str());
          return 2;
        }
        kShapes.push_back({n.c_str(), m, nn, k});
      }
    }
    else {
      std::fprintf(stderr, "unknown option %s\n", argv[i]);
      return 2;
    }
  }
  const bool ta = trans.size() > 0 && trans[0] == 'T', tb = trans.size() > 1 && trans[1] == 'T';
  std::printf("cpu: %s   trans: %s   (GFLOP/s, median of >= %d)\n", fastconv::cpu_features().brand.c_str(),
              trans.c_str(), reps);
  std::printf("%-20s", "shape");
  for (auto& isa : isas)
    for (auto& th : threads) std::printf(" %9s/%st", isa.c_str(), th.c_str());
  std::printf("\n");
  for (const Shape& s : kShapes) {
    std::printf("%-20s", s.name);
    for (auto& isa : isas) {
      const fastconv::Isa level = fastconv::parse_isa(isa);
      const bool ok = int(level) <= int(fastconv::cpu_features().best);
      for (auto& th : threads) {
        if (!ok) {
          std::printf(" %11s", "n/a");
          continue;
        }
        fastconv::set_isa(level);
        fastconv::set_num_threads(std::atoi(th.c_str()));
        std::printf(" %11.1f", bench(s, ta, tb, reps));
        std::fflush(stdout);
      }
    }
    std::printf("\n");
  }
  return 0;
}
