#include "cpu/reduce.h"

#include <algorithm>

#include "fastconv/parallel.h"

namespace fastconv::cpu {

bool collapse_outer_kept_inner(const std::vector<int64_t>& full, const std::vector<int64_t>& small, OKI* out) {
  const size_t n = full.size(), off = n - small.size();
  // kept[d]: axis d of full survives in small with its full size (size-1 axes count as either).
  int first = -1, last = -1;
  for (size_t d = 0; d < n; ++d) {
    int64_t s = d < off ? 1 : small[d - off];
    if (full[d] == 1) continue;
    if (s == full[d]) {
      if (first < 0) first = int(d);
      last = int(d);
    } else if (s != 1) {
      return false;
    }
  }
  OKI r;
  for (size_t d = 0; d < n; ++d) {
    int64_t s = d < off ? 1 : small[d - off];
    if (first >= 0 && int(d) >= first && int(d) <= last) {
      if (full[d] != 1 && s != full[d]) return false;  // a reduced axis inside the kept run
      r.kept *= full[d];
    } else if (first < 0 || int(d) < first) {
      r.outer *= full[d];
    } else {
      r.inner *= full[d];
    }
  }
  *out = r;
  return true;
}

namespace {
// Sum of n floats: 16 independent float accumulators (vectorisable) over blocks of 1024, blocks added in double.
double sum_contiguous(const float* x, int64_t n) {
  double total = 0;
  for (int64_t b = 0; b < n; b += 1024) {
    const int64_t e = std::min(n, b + 1024);
    float acc[16] = {};
    int64_t i = b;
    for (; i + 16 <= e; i += 16)
      for (int j = 0; j < 16; ++j) acc[j] += x[i + j];
    float tail = 0;
    for (; i < e; ++i) tail += x[i];
    double block = tail;
    for (int j = 0; j < 16; ++j) block += acc[j];
    total += block;
  }
  return total;
}

constexpr int64_t kSumChunk = 1 << 16;  // floats per partial of a full reduction

}  // namespace

size_t sum_oki_workspace_bytes(const OKI& s) {
  if (s.kept == 1) return size_t((s.outer * s.inner + kSumChunk - 1) / kSumChunk) * sizeof(double);
  return s.inner == 1 ? size_t(s.kept) * sizeof(double) : 0;
}

void sum_oki(const OKI& s, const float* x, float* out, double* ws) {
  if (s.kept == 1) {  // everything reduces to one value: split the data, then add the partial sums
    const int64_t n = s.outer * s.inner, chunk = kSumChunk, parts = (n + chunk - 1) / chunk;
    double* part = ws;
    parallel_for(parts, 1, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) part[p] = sum_contiguous(x + p * chunk, std::min(chunk, n - p * chunk));
    });
    double t = 0;
    for (int64_t p = 0; p < parts; ++p) t += part[p];
    out[0] = float(t);
    return;
  }
  if (s.inner == 1) {  // column sums of an [outer, kept] matrix: walk rows, keep a slice of columns in double
    parallel_for(s.kept, 256, [&](int64_t b, int64_t e) {
      double* acc = ws;  // indexed by column: tasks own disjoint slices
      std::fill(acc + b, acc + e, 0.0);
      for (int64_t o = 0; o < s.outer; ++o) {
        const float* r = x + o * s.kept;
        for (int64_t k = b; k < e; ++k) acc[k] += r[k];
      }
      for (int64_t k = b; k < e; ++k) out[k] = float(acc[k]);
    });
    return;
  }
  parallel_for(s.kept, std::max<int64_t>(1, 4096 / std::max<int64_t>(1, s.outer * s.inner)), [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      double t = 0;
      for (int64_t o = 0; o < s.outer; ++o) t += sum_contiguous(x + (o * s.kept + k) * s.inner, s.inner);
      out[k] = float(t);
    }
  });
}

void broadcast_oki(const OKI& s, const float* x, float* y) {
  if (s.kept == 1) {  // one value everywhere (the gradient of a full sum): a parallel fill
    const int64_t n = s.outer * s.inner;
    parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) { std::fill(y + b, y + e, x[0]); });
    return;
  }
  if (s.inner == 1) {  // x repeats along the outer axes: whole rows of `kept` values
    parallel_for(s.outer, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, s.kept)), [&](int64_t b, int64_t e) {
      for (int64_t o = b; o < e; ++o) std::copy(x, x + s.kept, y + o * s.kept);
    });
    return;
  }
  const int64_t rows = s.outer * s.kept;
  parallel_for(rows, std::max<int64_t>(1, 8192 / std::max<int64_t>(1, s.inner)), [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) std::fill(y + r * s.inner, y + (r + 1) * s.inner, x[r % s.kept]);
  });
}

}  // namespace fastconv::cpu
