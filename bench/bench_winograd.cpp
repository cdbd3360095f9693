// Winograd F(4x4, 3x3) forward against an im2col + sgemm baseline on VGG/ResNet 3x3 layers (stride 1, pad 1).
// Standalone, not part of the library. Build from the worktree root after /work/wt/devbuild.sh:
//   g++ -O2 -std=c++17 -Icpp/include -Icpp/src bench/bench_winograd.cpp -Lpython/fastconv/lib -lfastconv \
//       -Wl,-rpath,$PWD/python/fastconv/lib -o /tmp/bench_winograd
//   /tmp/bench_winograd [batch=8] [repeats=15] [layer-name filter]   (FASTCONV_NUM_THREADS / FASTCONV_ISA as usual)
// Prints median wall time over the repeats (after two warm-up calls) and GFLOP/s counted as a direct
// convolution (2*N*K*C*9*out_h*out_w), so both columns are comparable.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "cpu/conv_winograd.h"
#include "cpu/gemm/gemm.h"
#include "fastconv/cpu_features.h"
#include "fastconv/parallel.h"

using namespace fastconv;

namespace {

struct Shape {
  const char* name;
  int64_t C, K, H, W;
};

// col[(c*9 + i*3 + j)][oh*out_w + ow] = x[c][oh+i-pad][ow+j-pad] (zero outside), one image.
void im2col(const float* x, int64_t C, int64_t H, int64_t W, int64_t pad, int64_t oh, int64_t ow, float* col) {
  parallel_for(C * 9, 8, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const int64_t c = r / 9, i = r % 9 / 3, j = r % 3;
      float* dst = col + r * oh * ow;
      for (int64_t y = 0; y < oh; ++y) {
        const int64_t h = y + i - pad;
        float* d = dst + y * ow;
        if (h < 0 || h >= H) {
          std::fill(d, d + ow, 0.f);
          continue;
        }
        const float* s = x + (c * H + h) * W;
        for (int64_t xx = 0; xx < ow; ++xx) {
          const int64_t w = xx + j - pad;
          d[xx] = w >= 0 && w < W ? s[w] : 0.f;
        }
      }
    }
  });
}

template <class F>
double median_ms(F&& f, int repeats) {
  f();
  f();
  std::vector<double> t;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    t.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(t.begin(), t.end());
  return t[t.size() / 2];
}

void* aligned(size_t bytes) { return std::aligned_alloc(64, (std::max<size_t>(bytes, 64) + 63) & ~size_t(63)); }

}  // namespace

int main(int argc, char** argv) {
  const int64_t N = argc > 1 ? std::atoll(argv[1]) : 8;
  const int repeats = argc > 2 ? std::atoi(argv[2]) : 15;
  const char* filter = argc > 3 ? argv[3] : "";
  const Shape shapes[] = {{"resnet conv2 64x56x56", 64, 64, 56, 56},   {"resnet conv3 128x28x28", 128, 128, 28, 28},
                          {"resnet conv4 256x14x14", 256, 256, 14, 14}, {"resnet conv5 512x7x7", 512, 512, 7, 7},
                          {"vgg conv3 256x56x56", 256, 256, 56, 56},    {"vgg conv4 512x28x28", 512, 512, 28, 28},
                          {"first-ish 32->64 112x112", 32, 64, 112, 112}};
  std::printf("batch %lld, %d threads, isa %s, median of %d\n", (long long)N, get_num_threads(),
              isa_name(active_isa()), repeats);
  std::printf("%-26s %12s %10s %12s %10s %8s %10s %9s\n", "layer", "im2col ms", "GFLOP/s", "winograd ms", "GFLOP/s",
              "speedup", "rel diff", "ws MiB");
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  for (const Shape& s : shapes) {
    if (!std::strstr(s.name, filter)) continue;
    const int64_t pad = 1, oh = s.H, ow = s.W;
    std::vector<float> x(N * s.C * s.H * s.W), w(s.K * s.C * 9), bias(s.K), y1(N * s.K * oh * ow), y2(y1.size());
    for (auto& v : x) v = dist(rng);
    for (auto& v : w) v = dist(rng) * 0.1f;
    for (auto& v : bias) v = dist(rng);
    std::vector<float> col(s.C * 9 * oh * ow);
    auto base = [&] {
      for (int64_t n = 0; n < N; ++n) {
        im2col(x.data() + n * s.C * s.H * s.W, s.C, s.H, s.W, pad, oh, ow, col.data());
        float* y = y1.data() + n * s.K * oh * ow;
        parallel_for(s.K, 16, [&](int64_t b, int64_t e) {
          for (int64_t k = b; k < e; ++k) std::fill(y + k * oh * ow, y + (k + 1) * oh * ow, bias[k]);
        });
        cpu::sgemm(false, false, s.K, oh * ow, s.C * 9, 1.f, w.data(), s.C * 9, col.data(), oh * ow, 1.f, y, oh * ow);
      }
    };
    const cpu::WinogradParams p{N, s.C, s.H, s.W, s.K, pad, pad, oh, ow};
    void* ws = aligned(cpu::winograd_f4x3_workspace_bytes(p));
    auto wino = [&] { cpu::winograd_f4x3_forward(p, x.data(), w.data(), bias.data(), y2.data(), ws); };
    const double tb = median_ms(base, repeats), tw = median_ms(wino, repeats);
    double num = 0, den = 0;
    for (size_t i = 0; i < y1.size(); ++i) num += double(y1[i] - y2[i]) * (y1[i] - y2[i]), den += double(y1[i]) * y1[i];
    const double gflop = 2.0 * N * s.K * s.C * 9 * oh * ow * 1e-9;
    std::printf("%-26s %12.2f %10.1f %12.2f %10.1f %7.2fx %10.2e %9.1f\n", s.name, tb, gflop / tb * 1e3, tw,
                gflop / tw * 1e3, tb / tw, std::sqrt(num / den), cpu::winograd_f4x3_workspace_bytes(p) / 1048576.0);
    std::free(ws);
  }
  return 0;
}
