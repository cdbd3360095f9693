// Naive reference kernels for the activation family (relu's lives in eltwise_ref): they define the semantics,
// torch.nn.functional's, including what NaN does. The params structs are POD so ISA kernels share them.
#pragma once
#include <cstdint>

namespace fastconv::ref {

enum class ActKind : int32_t { leaky_relu, elu, sigmoid, tanh, threshold, hardtanh, gelu, gelu_tanh, softplus };

// a, b: the op's scalars. leaky_relu: a=negative_slope. elu: a=alpha. threshold: a=threshold, b=value.
// hardtanh: a=min_val, b=max_val. softplus: a=beta, b=threshold.
struct ActParams {
  ActKind kind = ActKind::sigmoid;
  float a = 0.f, b = 0.f;
};

// The backward reads the saved output y for sigmoid/tanh and the input x for every other kind.
constexpr bool act_backward_uses_output(ActKind k) { return k == ActKind::sigmoid || k == ActKind::tanh; }

void activation(const ActParams& p, const float* x, float* y, int64_t n);
// dx = grad * f'(.) where `saved` is y or x as act_backward_uses_output says.
void activation_backward(const ActParams& p, const float* grad, const float* saved, float* dx, int64_t n);

// softmax / log_softmax over the middle axis of a contiguous [outer, dim, inner] view.
struct SoftmaxParams {
  int64_t outer = 1, dim = 1, inner = 1;
  bool log = false;
};
// Rows [o0, o1) of the outer axis, so callers can split the work over threads.
void softmax(const SoftmaxParams& p, const float* x, float* y, int64_t o0, int64_t o1);
// softmax: dx = y * (g - sum(g*y)); log_softmax: dx = g - exp(y) * sum(g).
void softmax_backward(const SoftmaxParams& p, const float* grad, const float* y, float* dx, int64_t o0, int64_t o1);

}  // namespace fastconv::ref
