// The conv op family (being filled in; see docs/kernels.md).
#include "ops/common.h"

namespace fastconv {

void register_conv_ops(Registry&) {}

}  // namespace fastconv
