#include "cpu/ref/optim_ref.h"

#include <algorithm>
#include <cmath>

namespace fastconv::ref {

// Each statement mirrors one in-place torch op on float32 tensors (scalars rounded to float as torch does), so the
// results match torch.optim to float32 rounding.
void sgd_update(const SgdParams& p, float* param, const float* grad, float* buf, int64_t b, int64_t e) {
  const float lr = float(p.lr), wd = float(p.weight_decay), mom = float(p.momentum),
              damp = float(1.0 - p.dampening);
  for (int64_t i = b; i < e; ++i) {
    float d = grad[i] * p.grad_scale;
    if (p.weight_decay != 0) d = d + wd * param[i];
    if (p.momentum != 0) {
      buf[i] = p.first_step ? d : buf[i] * mom + damp * d;
      d = p.nesterov ? d + mom * buf[i] : buf[i];
    }
    param[i] = param[i] - lr * d;
  }
}

void adam_update(const AdamParams& p, float* param, const float* grad, float* m, float* v, float* vmax, int64_t b,
                 int64_t e) {
  const float b1c = float(1.0 - p.beta1), b2 = float(p.beta2), b2c = float(1.0 - p.beta2), wd = float(p.weight_decay),
              eps = float(p.eps), bc2 = float(p.bias_correction2_sqrt), step = float(-(p.lr / p.bias_correction1)),
              decay = float(1.0 - p.lr * p.weight_decay);
  for (int64_t i = b; i < e; ++i) {
    float g = grad[i] * p.grad_scale;
    if (p.decoupled)
      param[i] = param[i] * decay;
    else if (p.weight_decay != 0)
      g = g + wd * param[i];
    m[i] = m[i] + b1c * (g - m[i]);
    v[i] = v[i] * b2 + b2c * g * g;
    float s = v[i];
    if (p.amsgrad) s = vmax[i] = std::max(vmax[i], v[i]);
    float denom = std::sqrt(s) / bc2 + eps;
    param[i] = param[i] + step * (m[i] / denom);
  }
}

void rmsprop_update(const RmspropParams& p, float* param, const float* grad, float* sq, float* buf, float* gavg,
                    int64_t b, int64_t e) {
  const float a = float(p.alpha), ac = float(1.0 - p.alpha), wd = float(p.weight_decay), eps = float(p.eps),
              lr = float(p.lr), mom = float(p.momentum);
  for (int64_t i = b; i < e; ++i) {
    float g = grad[i] * p.grad_scale;
    if (p.weight_decay != 0) g = g + wd * param[i];
    sq[i] = sq[i] * a + ac * g * g;
    float avg;
    if (p.centered) {
      gavg[i] = gavg[i] + ac * (g - gavg[i]);
      avg = std::sqrt(sq[i] - gavg[i] * gavg[i]);
    } else {
      avg = std::sqrt(sq[i]);
    }
    avg = avg + eps;
    if (p.momentum > 0) {
      buf[i] = buf[i] * mom + g / avg;
      param[i] = param[i] - lr * buf[i];
    } else {
      param[i] = param[i] - lr * (g / avg);
    }
  }
}

void adadelta_update(const AdadeltaParams& p, float* param, const float* grad, float* sq, float* acc, int64_t b,
                     int64_t e) {
  const float rho = float(p.rho), rc = float(1.0 - p.rho), wd = float(p.weight_decay), eps = float(p.eps),
              lr = float(p.lr);
  for (int64_t i = b; i < e; ++i) {
    float g = grad[i] * p.grad_scale;
    if (p.weight_decay != 0) g = g + wd * param[i];
    sq[i] = sq[i] * rho + rc * g * g;
    const float std_ = std::sqrt(sq[i] + eps);
    const float delta = std::sqrt(acc[i] + eps) / std_ * g;
    acc[i] = acc[i] * rho + rc * delta * delta;
    param[i] = param[i] - lr * delta;
  }
}

void adagrad_update(const AdagradParams& p, float* param, const float* grad, float* sum, int64_t b, int64_t e) {
  const float wd = float(p.weight_decay), eps = float(p.eps), init = float(p.initial_accumulator_value),
              step = float(-p.clr);
  for (int64_t i = b; i < e; ++i) {
    float g = grad[i] * p.grad_scale;
    if (p.weight_decay != 0) g = g + wd * param[i];
    sum[i] = (p.first_step ? init : sum[i]) + g * g;
    const float std_ = std::sqrt(sum[i]) + eps;
    param[i] = param[i] + step * g / std_;  // addcdiv_: (value * grad) / std
  }
}

double sum_squares(const float* x, int64_t b, int64_t e) {
  double s = 0;
  for (int64_t i = b; i < e; ++i) s += double(x[i]) * double(x[i]);
  return s;
}

double max_abs(const float* x, int64_t b, int64_t e) {
  double s = 0;
  for (int64_t i = b; i < e; ++i) s = std::max(s, double(std::fabs(x[i])));
  return s;
}

}  // namespace fastconv::ref
