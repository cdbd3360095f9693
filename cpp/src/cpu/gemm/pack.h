// Portable packing into the layouts described in microkernel.h. ISA files may provide faster packers for the
// common cases; these handle every case and every tile size.
#pragma once
#include <cstdint>

#include "cpu/gemm/microkernel.h"

namespace fastconv::cpu::gemm {

// op(A)[0:mc, 0:kc] -> MR-row strips, rows past mc zeroed.
void pack_a_generic(const PackAArgs* args, int mr);

// op(B)[0:kc, 0:nc] -> nr-column panels, the last one padded with zeros up to a multiple of vec.
void pack_b_generic(const PackBArgs* args, int nr, int vec);

}  // namespace fastconv::cpu::gemm
