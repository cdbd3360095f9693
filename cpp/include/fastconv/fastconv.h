// The public C++ API in one include (the C ABI is fastconv/c_api.h, for C and other languages' FFIs).
#pragma once
#include "fastconv/attrs.h"
#include "fastconv/cpu_features.h"
#include "fastconv/cuda.h"
#include "fastconv/dlpack.h"
#include "fastconv/dtype.h"
#include "fastconv/error.h"
#include "fastconv/export.h"
#include "fastconv/graph.h"
#include "fastconv/model.h"
#include "fastconv/nn.h"
#include "fastconv/ops.h"
#include "fastconv/parallel.h"
#include "fastconv/tensor.h"
#include "fastconv/train.h"

namespace fastconv {
FASTCONV_API const char* version();
}  // namespace fastconv
