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

// sum / mean (ops/reduce.cpp): the input shape with the reduced axes set to 1 (keepdim layout) and the output shape.
void reduced_shapes(const OpCall& c, Shape* keep, Shape* out);

// Axis normalisation: -1 means last; error names op and rank.
int64_t normalize_axis(const std::string& op, int64_t axis, int64_t rank);

// Unary element-wise kernels split across the thread pool in cache-sized chunks.
void parallel_unary(void (*k)(const float*, float*, int64_t), const float* x, float* y, int64_t n);
void parallel_binary(void (*k)(const float*, const float*, float*, int64_t), const float* a, const float* b, float* y,
                     int64_t n);

// Kernel registration on the CPU backend. Priorities: "ref" 0, vectorised "vec" 10, families with several
// algorithms order theirs above (conv_prepare.cpp).
using PrepareFn = std::function<Prepared(const KernelCall&)>;
using CallPredicate = std::function<bool(const KernelCall&)>;
void add_cpu_kernel(KernelTable& t, const std::string& op, const std::string& family, const std::string& algo,
                    int priority, PrepareFn prepare, CallPredicate applies = nullptr);
// The common pair: the active ISA's vectorised kernel ("vec") and the reference kernel ("ref").
void add_cpu_kernels(KernelTable& t, const std::string& op, const std::string& family, PrepareFn vec, PrepareFn ref);

inline const float* fptr(const Tensor& t) { return t.data<const float>(); }
inline float* fptr_mut(const Tensor& t) { return t.data<float>(); }

}  // namespace fastconv
