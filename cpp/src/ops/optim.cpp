// Optimizer updates as graph nodes that the training-program builder (graph/train.cpp) appends after the backward
// pass (torch.optim's formulas). They write the parameter and their state slots in place (side_effects = true) and
// produce no outputs. Per-step scalars are device tensors the kernels read: the group's learning rate (float64 [1],
// set from the host only when a schedule changes it) and the step index (int64 [1], 0 on the first step, from the
// program's own counter_increment node), from which Adam's bias corrections are computed in the kernel. With gradient clipping
// one more input (last) holds the 1-element coefficient from `clip_grad_coef`. Also here: counter_increment, and
// the optimizers' descriptions (which update op, which state slots). Adagrad's sum starts at
// initial_accumulator_value: its update reads the slot as that value on step index 0 (the slots are made as zeros),
// which is torch's result whenever the state at step 0 is torch's initial one.
#include <cmath>

#include "cpu/optim.h"
#include "cpu/ref/optim_ref.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/optim.h"

namespace fastconv {
namespace {

constexpr int64_t kGrain = 1 << 14;


// Inputs: param, grad, lr, step, slots..., [clip coefficient].
void check_update(const OpCall& c, size_t n_state) {
  const bool clipped = c.attr().get_bool("clipped", false);
  const size_t want = kFirstSlot + n_state + (clipped ? 1 : 0);
  FC_CHECK(c.in.size() == want, Value, c.op, ": expected ", want, " inputs (param, grad, lr, step, ", n_state,
           " state tensors", clipped ? ", clip coefficient" : "", "), got ", c.in.size());
  for (size_t i = 0; i < c.in.size(); ++i)
    if (i != 2 && i != 3) expect_dtype(c, i, DType::f32, i == 0 ? "param" : i == 1 ? "grad" : "state");
  expect_dtype(c, 2, DType::f64, "lr");
  expect_dtype(c, 3, DType::i64, "step");
  FC_CHECK(c.in[1].shape == c.in[0].shape, Value, c.op, ": grad has shape ", shape_str(c.in[1].shape),
           " but param has shape ", shape_str(c.in[0].shape));
  for (size_t i : {size_t(2), size_t(3)})
    FC_CHECK(shape_numel(c.in[i].shape) == 1, Value, c.op, ": '", i == 2 ? "lr" : "step",
             "' must have one element, got shape ", shape_str(c.in[i].shape));
  for (size_t i = kFirstSlot; i < kFirstSlot + n_state; ++i)
    FC_CHECK(c.in[i].shape == c.in[0].shape, Value, c.op, ": state input ", i - kFirstSlot, " has shape ",
             shape_str(c.in[i].shape), " but param has shape ", shape_str(c.in[0].shape));
  if (clipped)
    FC_CHECK(shape_numel(c.in.back().shape) == 1, Value, c.op, ": the clip coefficient must have 1 element, got ",
             shape_str(c.in.back().shape));
}

void check_hyper(const OpCall& c) {
  for (const char* k :
       {"momentum", "dampening", "weight_decay", "alpha", "eps", "lr_decay", "initial_accumulator_value"})
    if (c.attr().has(k))
      FC_CHECK(c.attr().get_float(k) >= 0, Value, c.op, ": argument '", k, "' must be >= 0, got ",
               c.attr().get_float(k));
}

std::vector<TensorDesc> infer_sgd(const OpCall& c) {
  check_hyper(c);
  check_update(c, c.attr().get_float("momentum", 0.0) != 0 ? 1 : 0);
  return {};
}

}  // namespace

ref::SgdParams sgd_params(const OpCall& c) {
  ref::SgdParams p{};
  p.momentum = c.attr().get_float("momentum", 0.0);
  p.dampening = c.attr().get_float("dampening", 0.0);
  p.weight_decay = c.attr().get_float("weight_decay", 0.0);
  p.nesterov = c.attr().get_bool("nesterov", false);
  // maximize: torch steps along -grad; negating the gradient scale is exact and costs the kernels nothing
  p.grad_scale = c.attr().get_bool("maximize", false) ? -1.f : 1.f;
  return p;
}

ref::AdamParams adam_params(const OpCall& c) {
  ref::AdamParams p{};
  p.beta1 = c.attr().get_float("beta1");
  p.beta2 = c.attr().get_float("beta2");
  p.eps = c.attr().get_float("eps", 1e-8);
  p.weight_decay = c.attr().get_float("weight_decay", 0.0);
  p.amsgrad = c.attr().get_bool("amsgrad", false);
  p.decoupled = c.attr().get_bool("decoupled", false);
  p.grad_scale = 1.f;
  return p;
}

ref::RmspropParams rmsprop_params(const OpCall& c) {
  ref::RmspropParams p{};
  p.alpha = c.attr().get_float("alpha", 0.99);
  p.eps = c.attr().get_float("eps", 1e-8);
  p.weight_decay = c.attr().get_float("weight_decay", 0.0);
  p.momentum = c.attr().get_float("momentum", 0.0);
  p.centered = c.attr().get_bool("centered", false);
  p.grad_scale = 1.f;
  return p;
}

ref::AdadeltaParams adadelta_params(const OpCall& c) {
  ref::AdadeltaParams p{};
  p.rho = c.attr().get_float("rho", 0.9);
  p.eps = c.attr().get_float("eps", 1e-6);
  p.weight_decay = c.attr().get_float("weight_decay", 0.0);
  p.grad_scale = c.attr().get_bool("maximize", false) ? -1.f : 1.f;
  return p;
}

ref::AdagradParams adagrad_params(const OpCall& c) {
  ref::AdagradParams p{};
  p.lr_decay = c.attr().get_float("lr_decay", 0.0);
  p.weight_decay = c.attr().get_float("weight_decay", 0.0);
  p.initial_accumulator_value = c.attr().get_float("initial_accumulator_value", 0.0);
  p.eps = c.attr().get_float("eps", 1e-10);
  p.grad_scale = c.attr().get_bool("maximize", false) ? -1.f : 1.f;
  return p;
}

namespace {

Prepared prepare_sgd(const KernelCall& c) {
  const ref::SgdParams p = sgd_params(c);
  const bool clipped = c.attr().get_bool("clipped", false);
  const float sign = p.grad_scale;
  return {[base = p, clipped, sign](const std::vector<Tensor>& in, const std::vector<Tensor>&, const RunContext&) {
            ref::SgdParams p = base;
            p.lr = in[2].data<const double>()[0];
            p.first_step = in[3].data<const int64_t>()[0] == 0;
            p.grad_scale = sign * (clipped ? fptr(in.back())[0] : 1.f);
            float* buf = p.momentum != 0 ? fptr_mut(in[kFirstSlot]) : nullptr;
            float* w = fptr_mut(in[0]);
            const float* g = fptr(in[1]);
            parallel_for(in[0].numel(), kGrain, [&](int64_t b, int64_t e) { cpu::sgd_update(p, w, g, buf, b, e); });
          },
          0, "sgd_vec"};
}

std::vector<TensorDesc> infer_adam(const OpCall& c) {
  check_hyper(c);
  for (const char* k : {"beta1", "beta2"}) {
    double b = c.attr().get_float(k);
    FC_CHECK(b >= 0 && b < 1, Value, c.op, ": argument '", k, "' must be in [0, 1), got ", b);
  }
  check_update(c, c.attr().get_bool("amsgrad", false) ? 3 : 2);
  return {};
}

Prepared prepare_adam(const KernelCall& c) {
  const ref::AdamParams p = adam_params(c);
  const bool clipped = c.attr().get_bool("clipped", false);
  return {[base = p, clipped](const std::vector<Tensor>& in, const std::vector<Tensor>&, const RunContext&) {
            ref::AdamParams p = base;
            p.lr = in[2].data<const double>()[0];
            const double step = double(in[3].data<const int64_t>()[0] + 1);  // torch's t: 1 on the first step
            p.bias_correction1 = 1.0 - std::pow(p.beta1, step);
            p.bias_correction2_sqrt = std::sqrt(1.0 - std::pow(p.beta2, step));
            p.grad_scale = clipped ? fptr(in.back())[0] : 1.f;
            float *w = fptr_mut(in[0]), *m = fptr_mut(in[kFirstSlot]), *v = fptr_mut(in[kFirstSlot + 1]);
            float* vmax = p.amsgrad ? fptr_mut(in[kFirstSlot + 2]) : nullptr;
            const float* g = fptr(in[1]);
            parallel_for(in[0].numel(), kGrain,
                         [&](int64_t b, int64_t e) { cpu::adam_update(p, w, g, m, v, vmax, b, e); });
          },
          0, "adam_vec"};
}

std::vector<TensorDesc> infer_rmsprop(const OpCall& c) {
  check_hyper(c);
  size_t n = 1 + (c.attr().get_float("momentum", 0.0) > 0 ? 1 : 0) + (c.attr().get_bool("centered", false) ? 1 : 0);
  check_update(c, n);
  return {};
}

Prepared prepare_rmsprop(const KernelCall& c) {
  const ref::RmspropParams p = rmsprop_params(c);
  const bool clipped = c.attr().get_bool("clipped", false);
  return {[base = p, clipped](const std::vector<Tensor>& in, const std::vector<Tensor>&, const RunContext&) {
            ref::RmspropParams p = base;
            p.lr = in[2].data<const double>()[0];
            p.grad_scale = clipped ? fptr(in.back())[0] : 1.f;
            size_t k = kFirstSlot;
            float* sq = fptr_mut(in[k++]);
            float* buf = p.momentum > 0 ? fptr_mut(in[k++]) : nullptr;
            float* gavg = p.centered ? fptr_mut(in[k++]) : nullptr;
            float* w = fptr_mut(in[0]);
            const float* g = fptr(in[1]);
            parallel_for(in[0].numel(), kGrain,
                         [&](int64_t b, int64_t e) { cpu::rmsprop_update(p, w, g, sq, buf, gavg, b, e); });
          },
          0, "rmsprop_vec"};
}

std::vector<TensorDesc> infer_adadelta(const OpCall& c) {
  check_hyper(c);
  const double rho = c.attr().get_float("rho", 0.9);
  FC_CHECK(rho >= 0 && rho <= 1, Value, c.op, ": argument 'rho' must be in [0, 1], got ", rho);
  check_update(c, 2);
  return {};
}

Prepared prepare_adadelta(const KernelCall& c) {
  const ref::AdadeltaParams p = adadelta_params(c);
  const bool clipped = c.attr().get_bool("clipped", false);
  const float sign = p.grad_scale;
  return {[base = p, clipped, sign](const std::vector<Tensor>& in, const std::vector<Tensor>&, const RunContext&) {
            ref::AdadeltaParams p = base;
            p.lr = in[2].data<const double>()[0];
            p.grad_scale = sign * (clipped ? fptr(in.back())[0] : 1.f);
            float *w = fptr_mut(in[0]), *sq = fptr_mut(in[kFirstSlot]), *acc = fptr_mut(in[kFirstSlot + 1]);
            const float* g = fptr(in[1]);
            parallel_for(in[0].numel(), kGrain,
                         [&](int64_t b, int64_t e) { cpu::adadelta_update(p, w, g, sq, acc, b, e); });
          },
          0, "adadelta_vec"};
}

std::vector<TensorDesc> infer_adagrad(const OpCall& c) {
  check_hyper(c);
  check_update(c, 1);
  return {};
}

Prepared prepare_adagrad(const KernelCall& c) {
  const ref::AdagradParams p = adagrad_params(c);
  const bool clipped = c.attr().get_bool("clipped", false);
  const float sign = p.grad_scale;
  return {[base = p, clipped, sign](const std::vector<Tensor>& in, const std::vector<Tensor>&, const RunContext&) {
            ref::AdagradParams p = base;
            p.lr = in[2].data<const double>()[0];
            const int64_t step = in[3].data<const int64_t>()[0];  // torch's step - 1
            p.clr = p.lr / (1.0 + double(step) * p.lr_decay);
            p.first_step = step == 0;
            p.grad_scale = sign * (clipped ? fptr(in.back())[0] : 1.f);
            float *w = fptr_mut(in[0]), *sum = fptr_mut(in[kFirstSlot]);
            const float* g = fptr(in[1]);
            parallel_for(in[0].numel(), kGrain, [&](int64_t b, int64_t e) { cpu::adagrad_update(p, w, g, sum, b, e); });
          },
          0, "adagrad_vec"};
}

// torch.nn.utils.clip_grad_norm_: coef = min(1, max_norm / (total_norm + 1e-6)) over all gradients.
std::vector<TensorDesc> infer_clip(const OpCall& c) {
  FC_CHECK(!c.in.empty(), Value, c.op, ": needs at least one gradient");
  for (size_t i = 0; i < c.in.size(); ++i) expect_dtype(c, i, DType::f32, "grads");
  double m = c.attr().get_float("max_norm");
  FC_CHECK(m >= 0, Value, c.op, ": argument 'max_norm' must be >= 0, got ", m);
  double nt = c.attr().get_float("norm_type", 2.0);
  FC_CHECK(nt == 2.0 || std::isinf(nt), Value, c.op, ": argument 'norm_type' must be 2 or inf, got ", nt);
  return {{{1}, DType::f32}};
}

Prepared prepare_clip(const KernelCall& c) {
  const double max_norm = c.attr().get_float("max_norm");
  const bool inf = std::isinf(c.attr().get_float("norm_type", 2.0));
  return {[max_norm, inf](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            double acc = 0;
            for (const Tensor& t : in) {
              double part = inf ? ref::max_abs(fptr(t), 0, t.numel()) : ref::sum_squares(fptr(t), 0, t.numel());
              acc = inf ? std::max(acc, part) : acc + part;
            }
            // torch computes per-tensor norms and the total in float32; double here differs by rounding only.
            float total = float(inf ? acc : std::sqrt(acc));
            float coef = float(max_norm) / (total + 1e-6f);
            fptr_mut(out[0])[0] = coef < 1.f ? coef : 1.f;
          },
          0, "ref"};
}

// counter_increment(counter int64, one element) -> its value before this run ([1]: the index of this step, 0 first),
// and the counter + 1 written in place.
std::vector<TensorDesc> infer_counter(const OpCall& c) {
  expect_inputs(c, 1);
  expect_dtype(c, 0, DType::i64, "counter");
  FC_CHECK(shape_numel(c.in[0].shape) == 1, Value, c.op, ": the counter must have one element, got shape ",
           shape_str(c.in[0].shape));
  return {{{1}, DType::i64}};
}

Prepared prepare_counter(const KernelCall&) {
  return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            int64_t* c = in[0].data<int64_t>();
            out[0].data<int64_t>()[0] = c[0]++;
          },
          0, ""};
}

// Hyperparameters (a group's torch names) -> the update node's attributes.
Attrs sgd_attrs(const AttrReader& h) {
  return {{"momentum", h.get_float("momentum", 0.0)},
          {"dampening", h.get_float("dampening", 0.0)},
          {"weight_decay", h.get_float("weight_decay", 0.0)},
          {"nesterov", h.get_bool("nesterov", false)},
          {"maximize", h.get_bool("maximize", false)}};
}
Attrs adam_attrs(const AttrReader& h, bool decoupled) {
  const std::vector<double> betas = h.has("betas") ? h.get_float_list("betas") : std::vector<double>{0.9, 0.999};
  FC_CHECK(betas.size() == 2, Value, h.op(), ": 'betas' must hold two numbers, got ", betas.size());
  return {{"beta1", betas[0]},
          {"beta2", betas[1]},
          {"eps", h.get_float("eps", 1e-8)},
          {"weight_decay", h.get_float("weight_decay", decoupled ? 1e-2 : 0.0)},
          {"amsgrad", h.get_bool("amsgrad", false)},
          {"decoupled", decoupled}};
}
Attrs rmsprop_attrs(const AttrReader& h) {
  return {{"alpha", h.get_float("alpha", 0.99)},
          {"eps", h.get_float("eps", 1e-8)},
          {"weight_decay", h.get_float("weight_decay", 0.0)},
          {"momentum", h.get_float("momentum", 0.0)},
          {"centered", h.get_bool("centered", false)}};
}

Attrs adadelta_attrs(const AttrReader& h) {
  return {{"rho", h.get_float("rho", 0.9)},
          {"eps", h.get_float("eps", 1e-6)},
          {"weight_decay", h.get_float("weight_decay", 0.0)},
          {"maximize", h.get_bool("maximize", false)}};
}
Attrs adagrad_attrs(const AttrReader& h) {
  return {{"lr_decay", h.get_float("lr_decay", 0.0)},
          {"weight_decay", h.get_float("weight_decay", 0.0)},
          {"initial_accumulator_value", h.get_float("initial_accumulator_value", 0.0)},
          {"eps", h.get_float("eps", 1e-10)},
          {"maximize", h.get_bool("maximize", false)}};
}

}  // namespace

void register_optim_ops(Registry& r, KernelTable& k) {
  r.add({"sgd_update", kFirstSlot, kFirstSlot + 2, infer_sgd, nullptr, true, -1},
        {"clipped", "dampening", "maximize", "momentum", "nesterov", "weight_decay"});
  r.add({"adam_update", kFirstSlot + 2, kFirstSlot + 4, infer_adam, nullptr, true, -1},
        {"amsgrad", "beta1", "beta2", "clipped", "decoupled", "eps", "weight_decay"});
  r.add({"rmsprop_update", kFirstSlot + 1, kFirstSlot + 4, infer_rmsprop, nullptr, true, -1},
        {"alpha", "centered", "clipped", "eps", "momentum", "weight_decay"});
  r.add({"adadelta_update", kFirstSlot + 2, kFirstSlot + 3, infer_adadelta, nullptr, true, -1},
        {"clipped", "eps", "maximize", "rho", "weight_decay"});
  r.add({"adagrad_update", kFirstSlot + 1, kFirstSlot + 2, infer_adagrad, nullptr, true, -1},
        {"clipped", "eps", "initial_accumulator_value", "lr_decay", "maximize", "weight_decay"});
  r.add({"clip_grad_coef", 1, -1, infer_clip, nullptr, false, -1}, {"max_norm", "norm_type"});
  r.add({"counter_increment", 1, 1, infer_counter, nullptr, true, -1}, {});
  add_cpu_kernel(k, "sgd_update", "optim", "vec", 10, prepare_sgd);
  add_cpu_kernel(k, "adam_update", "optim", "vec", 10, prepare_adam);
  add_cpu_kernel(k, "rmsprop_update", "optim", "vec", 10, prepare_rmsprop);
  add_cpu_kernel(k, "adadelta_update", "optim", "vec", 10, prepare_adadelta);
  add_cpu_kernel(k, "adagrad_update", "optim", "vec", 10, prepare_adagrad);
  add_cpu_kernel(k, "clip_grad_coef", "optim", "ref", 0, prepare_clip);
  add_cpu_kernel(k, "counter_increment", "optim", "ref", 0, prepare_counter);
  r.set_role(Role::clip_grad_coef, "clip_grad_coef");
  r.set_role(Role::counter_increment, "counter_increment");

  r.add_optimizer({"sgd", "sgd_update",
                   [](const AttrReader& h) {
                     return h.get_float("momentum", 0.0) != 0 ? std::vector<std::string>{"momentum_buffer"}
                                                              : std::vector<std::string>{};
                   },
                   sgd_attrs});
  for (const bool decoupled : {false, true})
    r.add_optimizer({decoupled ? "adamw" : "adam", "adam_update",
                     [](const AttrReader& h) {
                       std::vector<std::string> s{"exp_avg", "exp_avg_sq"};
                       if (h.get_bool("amsgrad", false)) s.push_back("max_exp_avg_sq");
                       return s;
                     },
                     [decoupled](const AttrReader& h) { return adam_attrs(h, decoupled); }});
  r.add_optimizer({"rmsprop", "rmsprop_update",
                   [](const AttrReader& h) {
                     std::vector<std::string> s{"square_avg"};
                     if (h.get_float("momentum", 0.0) > 0) s.push_back("momentum_buffer");
                     if (h.get_bool("centered", false)) s.push_back("grad_avg");
                     return s;
                   },
                   rmsprop_attrs});
  // torch's state names: Adadelta keeps square_avg and acc_delta, Adagrad the running sum of squares.
  r.add_optimizer({"adadelta", "adadelta_update",
                   [](const AttrReader&) { return std::vector<std::string>{"square_avg", "acc_delta"}; },
                   adadelta_attrs});
  r.add_optimizer({"adagrad", "adagrad_update", [](const AttrReader&) { return std::vector<std::string>{"sum"}; },
                   adagrad_attrs});
}

}  // namespace fastconv
