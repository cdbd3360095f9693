// The public C++ API in one include.
#pragma once
#include "fastconv/attrs.h"
#include "fastconv/cpu_features.h"
#include "fastconv/cuda.h"
#include "fastconv/dtype.h"
#include "fastconv/error.h"
#include "fastconv/graph.h"
#include "fastconv/parallel.h"
#include "fastconv/tensor.h"

namespace fastconv {
const char* version();
}  // namespace fastconv
