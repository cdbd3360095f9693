#include <cstdlib>
#include <new>

#include "fastconv/error.h"
#include "fastconv/tensor.h"

namespace fastconv {

void* aligned_alloc64(size_t nbytes) {
  // Round up: aligned_alloc requires a multiple of the alignment, and kernels may read a full last vector.
  size_t n = (nbytes + 63) / 64 * 64;
  if (n == 0) n = 64;
  void* p = std::aligned_alloc(64, n);
  FC_CHECK(p != nullptr, Runtime, "out of memory: could not allocate ", nbytes, " bytes");
  return p;
}

void aligned_free64(void* p) { std::free(p); }

}  // namespace fastconv
