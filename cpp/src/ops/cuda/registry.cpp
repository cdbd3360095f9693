// The "cuda" backend's kernel entries, one register_* per op family (ops/registry.cpp calls register_cuda_kernels).
#if FASTCONV_WITH_CUDA
#include "ops/cuda/common.h"

namespace fastconv {
namespace cuda_ops {

void add_cuda_kernel(KernelTable& t, const std::string& op, const std::string& family, const std::string& algo,
                     PrepareFn prepare, CallPredicate applies, int priority, std::vector<DType> dtypes) {
  KernelDef k;
  k.op = op;
  k.backend = "cuda";
  k.family = family;
  k.algo = algo;
  k.priority = priority;
  k.prepare = std::move(prepare);
  k.applies = std::move(applies);
  k.dtypes = std::move(dtypes);
  t.add(std::move(k));
}

}  // namespace cuda_ops

void register_cuda_kernels(KernelTable& t) {
  cuda_ops::register_activation_kernels(t);  // relu, the point-wise activations, prelu
  cuda_ops::register_shape_kernels(t);       // reshape, flatten, cat, slice(_backward), permute, pad, shuffles
  cuda_ops::register_conv_kernels(t);        // conv*d_backward_bias (the passes: conv::register_pass_kernels)
  cuda_ops::register_linear_kernels(t);      // linear, linear_grad_input, linear_grad_weight
  cuda_ops::register_eltwise_kernels(t);     // add, sub, mul, div, scale, fill_like, broadcast_to, sum_to, sum, mean
  cuda_ops::register_norm_kernels(t);        // batch/group/layer/local response norm, softmax, log_softmax
  cuda_ops::register_optim_kernels(t);       // optimizer updates, clip_grad_coef, counter_increment
  cuda_ops::register_loss_kernels(t);        // cross_entropy, nll_loss and their backwards, dropout, dropout2d
  cuda_ops::register_pool_kernels(t);        // max/min/avg/adaptive/global pooling, max_unpool2d, interpolate
  cuda_ops::register_fold_kernels(t);        // unfold, fold
  cuda_ops::register_resize_kernels(t);      // resize, resize_backward
}

}  // namespace fastconv
#endif
