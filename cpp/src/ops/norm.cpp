// The norm op family (being filled in; see docs/kernels.md).
#include "ops/common.h"

namespace fastconv {

void register_norm_ops(Registry&) {}

}  // namespace fastconv
