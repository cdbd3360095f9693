// Attribute parsing of the optimizer update ops, shared by every backend's kernels (ops/optim.cpp, ops/cuda/).
// Inputs of an update: param, grad, lr (float64 [1]), step (int64 [1]), slots..., [clip coefficient (float [1])].
#pragma once
#include <cstddef>

#include "cpu/ref/optim_ref.h"
#include "ops/op.h"

namespace fastconv {

constexpr size_t kFirstSlot = 4;  // param, grad, lr, step, slots...

// The hyperparameters of an update op; lr, the step's scalars and grad_scale (the sign: -1 with maximize) are
// filled in per step.
ref::SgdParams sgd_params(const OpCall& c);
ref::AdamParams adam_params(const OpCall& c);
ref::RmspropParams rmsprop_params(const OpCall& c);
ref::AdadeltaParams adadelta_params(const OpCall& c);
ref::AdagradParams adagrad_params(const OpCall& c);

}  // namespace fastconv
