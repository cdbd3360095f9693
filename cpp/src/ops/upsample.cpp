// The upsample op family (being filled in; see docs/kernels.md).
#include "ops/common.h"

namespace fastconv {

void register_upsample_ops(Registry&) {}

}  // namespace fastconv
