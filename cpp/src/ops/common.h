// Small helpers shared by op families (shape arithmetic, broadcasting, kernel glue).
#pragma once
#include <cstdint>
#include <vector>

#include "cpu/ref/eltwise_ref.h"
#include "ops/op.h"

namespace fastconv {

// NumPy broadcasting of two shapes; throws ValueError naming both shapes.
Shape broadcast_shapes(const std::string& op, const Shape& a, const Shape& b);
// Element strides of `in` viewed as broadcast to `out` (0 on broadcast axes), right-aligned.
std::vector<int64_t> broadcast_strides(const Shape& in, const Shape& out);
ref::ReduceParams reduce_params(const Shape& in, const Shape& out);  // out broadcastable to in

// Axis normalisation: -1 means last; error names op and rank.
int64_t normalize_axis(const std::string& op, int64_t axis, int64_t rank);

// Unary element-wise kernels split across the thread pool in cache-sized chunks.
void parallel_unary(void (*k)(const float*, float*, int64_t), const float* x, float* y, int64_t n);
void parallel_binary(void (*k)(const float*, const float*, float*, int64_t), const float* a, const float* b, float* y,
                     int64_t n);

// A kernel that runs only on the CPU; errors clearly for other devices.
void require_cpu(const std::string& op, Device d);

inline const float* fptr(const Tensor& t) { return t.data<const float>(); }
inline float* fptr_mut(const Tensor& t) { return t.data<float>(); }

}  // namespace fastconv
