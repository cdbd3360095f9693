// The pool op family (being filled in; see docs/kernels.md).
#include "ops/common.h"

namespace fastconv {

void register_pool_ops(Registry&) {}

}  // namespace fastconv
