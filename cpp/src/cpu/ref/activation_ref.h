// Naive reference kernels for the activation family (relu's lives in eltwise_ref): they define the semantics,
// torch.nn.functional's, including what NaN does. The params structs are POD so ISA kernels share them.
#pragma once
#include <cstdint>

namespace fastconv::ref {

enum class ActKind : int32_t {
  leaky_relu, elu, sigmoid, tanh, threshold, hardtanh, gelu, gelu_tanh, softplus,
  hardsigmoid, hardswish, silu, mish, selu, pow
};

// a, b: the op's scalars. leaky_relu: a=negative_slope. elu: a=alpha. threshold: a=threshold, b=value.
// hardtanh: a=min_val, b=max_val. softplus: a=beta, b=threshold. selu: a=alpha, b=scale (torch's constants).
// pow: a=exponent (torch.pow(x, exponent): NaN for a negative x and a non-integer exponent).
struct ActParams {
  ActKind kind = ActKind::sigmoid;
  float a = 0.f, b = 0.f;
};

// The backward reads the saved output y for sigmoid/tanh and the input x for every other kind.
constexpr bool act_backward_uses_output(ActKind k) { return k == ActKind::sigmoid || k == ActKind::tanh; }

void activation(const ActParams& p, const float* x, float* y, int64_t n);
// dx = grad * f'(.) where `saved` is y or x as act_backward_uses_output says.
void activation_backward(const ActParams& p, const float* grad, const float* saved, float* dx, int64_t n);

// prelu over a contiguous [outer, C, inner] view: y = x > 0 ? x : w[c] * x, with one weight shared by every
// channel when `shared`. Channels [c0, c1) so callers can split over threads.
struct PreluParams {
  int64_t outer = 1, C = 1, inner = 1;
  bool shared = false;
};
void prelu(const PreluParams& p, const float* x, const float* w, float* y, int64_t c0, int64_t c1);
// dx = g * (x > 0 ? 1 : w[c]); dw_part[c] = sum over outer and inner of g * x where x <= 0 (the caller sums the
// parts of a shared weight).
void prelu_backward(const PreluParams& p, const float* g, const float* x, const float* w, float* dx, double* dw_part,
                    int64_t c0, int64_t c1);

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
