// Optimizer update kernels: PyTorch's single-tensor update formulas (torch.optim, foreach=False), element range
// [b, e). Scalars that PyTorch computes in Python double (bias corrections, step sizes) come in as double.
#pragma once
#include <cstdint>

namespace fastconv::ref {

struct SgdParams {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, first_step;
  float grad_scale;  // gradient clipping coefficient (1 when not clipping)
};
// buf may be null when momentum == 0.
void sgd_update(const SgdParams& p, float* param, const float* grad, float* buf, int64_t b, int64_t e);

struct AdamParams {
  double lr, beta1, beta2, eps, weight_decay;
  double bias_correction1, bias_correction2_sqrt;
  bool amsgrad, decoupled;  // decoupled: AdamW
  float grad_scale;
};
void adam_update(const AdamParams& p, float* param, const float* grad, float* exp_avg, float* exp_avg_sq,
                 float* max_exp_avg_sq, int64_t b, int64_t e);

struct RmspropParams {
  double lr, alpha, eps, weight_decay, momentum;
  bool centered;
  float grad_scale;
};
// buf may be null when momentum == 0, grad_avg when not centered.
void rmsprop_update(const RmspropParams& p, float* param, const float* grad, float* square_avg, float* buf,
                    float* grad_avg, int64_t b, int64_t e);

struct AdadeltaParams {
  double lr, rho, eps, weight_decay;
  float grad_scale;  // clipping coefficient, negated with maximize
};
void adadelta_update(const AdadeltaParams& p, float* param, const float* grad, float* square_avg, float* acc_delta,
                     int64_t b, int64_t e);

struct AdagradParams {
  double lr, lr_decay, weight_decay, eps, initial_accumulator_value;
  double clr;       // this step's lr / (1 + step_index * lr_decay), in double as torch computes it
  bool first_step;  // the sum starts from initial_accumulator_value (torch fills it when it makes the state)
  float grad_scale;
};
void adagrad_update(const AdagradParams& p, float* param, const float* grad, float* sum, int64_t b, int64_t e);

// Sum of squares (in double) or max of |x| of x[b, e).
double sum_squares(const float* x, int64_t b, int64_t e);
double max_abs(const float* x, int64_t b, int64_t e);

}  // namespace fastconv::ref
