// Naive reference kernels for the normalization family: they define the semantics (torch's), in double.
#pragma once
#include <cstdint>

namespace fastconv::ref {

// batch_norm over x viewed as [N, C, S]: statistics per channel over N*S values.
struct BatchNormParams {
  int64_t N = 0, C = 0, S = 1;
  bool training = false;
  bool running_var_unbiased = true;  // false: ONNX's running-variance update, with the biased batch variance
  float momentum = 0.1f, eps = 1e-5f;
};
// Training: batch mean / biased variance normalise; running stats (when given) move by `momentum` towards the
// batch mean and the UNBIASED variance (torch; the biased one with running_var_unbiased = false, as ONNX). Eval: running stats normalise. save_mean / save_invstd receive the
// statistics used (mean and 1/sqrt(var + eps)) for the backward. weight/bias/running_* may be null.
void batch_norm(const BatchNormParams& p, const float* x, const float* weight, const float* bias, float* running_mean,
                float* running_var, float* y, float* save_mean, float* save_invstd);
// dx, dweight, dbias (any may be null) from grad y. In training the statistics depend on x (full formula);
// in eval they are constants, so dx = g * w * invstd.
void batch_norm_backward(const BatchNormParams& p, const float* grad, const float* x, const float* weight,
                         const float* save_mean, const float* save_invstd, float* dx, float* dweight, float* dbias);

// group_norm and layer_norm: M rows of D contiguous values, each normalised on its own. The affine parameter of
// element j of row r is index (r % G) * (D / inner) + j / inner: group_norm has G groups and inner = spatial size
// (one weight per channel); layer_norm has G = 1, inner = 1 (one weight per element of normalized_shape).
struct RowNormParams {
  int64_t M = 0, D = 0, G = 1, inner = 1;
  float eps = 1e-5f;
  int64_t affine_size() const { return G * (inner ? D / inner : 0); }
};
void row_norm(const RowNormParams& p, const float* x, const float* weight, const float* bias, float* y, float* mean,
              float* rstd);
// The affine gradients accumulate in 2 * affine_size() doubles at `acc` (the node's workspace); null: allocated here.
void row_norm_backward(const RowNormParams& p, const float* grad, const float* x, const float* weight,
                       const float* mean, const float* rstd, float* dx, float* dweight, float* dbias,
                       double* acc = nullptr);

// local_response_norm across channels of x viewed as [N, C, S] (torch): y = x / scale^beta with
// scale = k + alpha/size * sum of x^2 over channels [c - size/2, c + (size-1)/2] (zero outside).
// Rows [n0, n1) of the batch; `scale` is saved for the backward.
struct LrnParams {
  int64_t N = 0, C = 0, S = 1, size = 1;
  float alpha = 1e-4f, beta = 0.75f, k = 1.f;
};
void local_response_norm(const LrnParams& p, const float* x, float* y, float* scale, int64_t n0, int64_t n1);
void local_response_norm_backward(const LrnParams& p, const float* grad, const float* x, const float* y,
                                  const float* scale, float* dx, int64_t n0, int64_t n1);

}  // namespace fastconv::ref
