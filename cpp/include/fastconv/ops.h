// Eager ops: one op of the registry run now on concrete tensors, without building a graph (what Python's
// fastconv.functional does outside a trace). The op names and attributes are the graph's (docs/ops.md).
#pragma once
#include <string>
#include <vector>

#include "fastconv/attrs.h"
#include "fastconv/export.h"
#include "fastconv/tensor.h"

namespace fastconv {

// Runs `op` on `inputs` (all on one device) with the kernel the kernel table picks for that device's backend
// (FASTCONV_ALGO applies) and returns its outputs, freshly allocated and contiguous. Errors (unknown op, wrong
// number of inputs, shapes or attributes the op rejects) are fastconv::Error naming the op and the argument.
FASTCONV_API std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& inputs,
                                        const Attrs& attrs = {});

}  // namespace fastconv
