// The CPU thread pool. Kernels call parallel_for; nothing else creates threads.
// The function-pointer form keeps ISA translation units free of std::function (see docs/kernels.md).
#pragma once
#include <cstdint>

#include "fastconv/export.h"

namespace fastconv {

FASTCONV_API int get_num_threads();
FASTCONV_API void set_num_threads(int n);  // n >= 1; takes effect on the next parallel_for

using RangeFn = void (*)(void* ctx, int64_t begin, int64_t end);

// Splits [0, n) into chunks of at least `grain` items and runs fn on them across the pool.
// Called from inside a parallel region it runs serially.
FASTCONV_API void parallel_for_raw(int64_t n, int64_t grain, RangeFn fn, void* ctx);

template <class F>
void parallel_for(int64_t n, int64_t grain, const F& f) {
  if (n <= 0) return;
  parallel_for_raw(
      n, grain, [](void* c, int64_t b, int64_t e) { (*static_cast<const F*>(c))(b, e); },
      const_cast<F*>(&f));
}

}  // namespace fastconv
