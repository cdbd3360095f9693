// The loss op family (being filled in; see docs/kernels.md).
#include "ops/common.h"

namespace fastconv {

void register_loss_ops(Registry&) {}

}  // namespace fastconv
