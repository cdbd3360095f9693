// Portable packing into the layouts described in microkernel.h. ISA files may provide faster packers for the
// common cases; these handle every case and every tile size.
#pragma once
#include <cstdint>

#include "cpu/gemm/microkernel.h"

namespace fastconv::cpu::gemm {

// op(A)[0:mc, 0:kc] -> MR-row strips, rows past mc zeroed.
void pack_a_generic(const PackAArgs* args, int mr);

// op(B)[0:kc, 0:nc] (b points at its first element; trans: B is stored N x K) -> NR-column panels, the last one
// padded with zeros up to a multiple of vec.
void pack_b(bool trans, const float* b, int64_t ldb, int64_t kc, int64_t nc, int nr, int vec, float* dst);

}  // namespace fastconv::cpu::gemm
