// Every op family, listed explicitly: one line each. Adding a family = a file in ops/ plus one line here. Each
// family registers its ops here and its kernels in the kernel table (backend/kernel.h).
#include <algorithm>
#include <mutex>

#include "backend/backend.h"
#include "ops/op.h"

namespace fastconv {

void register_eltwise_ops(Registry& r, KernelTable& k);
void register_activation_ops(Registry& r, KernelTable& k);
void register_reduce_ops(Registry& r, KernelTable& k);
void register_shape_ops(Registry& r, KernelTable& k);
void register_permute_ops(Registry& r, KernelTable& k);
void register_conv_ops(Registry& r, KernelTable& k);
void register_pool_ops(Registry& r, KernelTable& k);
void register_upsample_ops(Registry& r, KernelTable& k);
void register_resize_ops(Registry& r, KernelTable& k);
void register_norm_ops(Registry& r, KernelTable& k);
void register_dropout_ops(Registry& r, KernelTable& k);
void register_linear_ops(Registry& r, KernelTable& k);
void register_loss_ops(Registry& r, KernelTable& k);
void register_optim_ops(Registry& r, KernelTable& k);
void register_dist_ops(Registry& r, KernelTable& k);
void register_sync_norm_ops(Registry& r, KernelTable& k);
void register_fused_ops(Registry& r, KernelTable& k);
void register_pad_ops(Registry& r, KernelTable& k);
void register_fold_ops(Registry& r, KernelTable& k);
void register_shuffle_ops(Registry& r, KernelTable& k);

#if FASTCONV_WITH_CUDA
void register_cuda_kernels(KernelTable& k);  // ops/cuda/registry.cpp: the "cuda" backend's kernels
#endif

namespace {
void register_all(Registry& r, KernelTable& k) {
  register_eltwise_ops(r, k);     // add, sub, mul, div, neg, scale, sum_to, fill_like
  register_activation_ops(r, k);  // relu, leaky_relu, elu, sigmoid, tanh, threshold, hardtanh, relu6, gelu, softplus, softmax, log_softmax, identity
  register_reduce_ops(r, k);      // sum, mean
  register_shape_ops(r, k);       // reshape, flatten, cat
  register_permute_ops(r, k);     // permute (ONNX Transpose)
  register_conv_ops(r, k);        // conv1d/2d/3d, conv_transpose1d/2d/3d, correlate2d/convolve2d
  register_pool_ops(r, k);        // max/avg/min/adaptive pooling, max_unpool
  register_upsample_ops(r, k);    // interpolate: nearest, bilinear, bed_of_nails
  register_resize_ops(r, k);      // resize: ONNX Resize (any rank; nearest/linear/cubic, antialias, every coordinate mode)
  register_norm_ops(r, k);        // batch_norm, group_norm, layer_norm, local_response_norm
  register_dropout_ops(r, k);     // dropout, dropout2d
  register_linear_ops(r, k);      // linear
  register_loss_ops(r, k);        // cross_entropy, nll, mse, bce, triplet margin, cosine similarity
  register_optim_ops(r, k);       // sgd/adam/rmsprop/adadelta/adagrad updates, gradient clipping
  register_pad_ops(r, k);         // pad (constant, reflect, replicate, circular)
  register_fold_ops(r, k);        // unfold (im2col), fold (col2im)
  register_shuffle_ops(r, k);     // pixel_shuffle, pixel_unshuffle, channel_shuffle
  register_dist_ops(r, k);        // allreduce_start/wait: data-parallel gradient averaging
  register_sync_norm_ops(r, k);   // sync_batch_norm: batch norm over the ranks' batches together
  register_fused_ops(r, k);       // conv*d_fused, conv_bn_fold, batch_norm_relu(_backward): made by graph/fuse.cpp
#if FASTCONV_WITH_CUDA
  register_cuda_kernels(k);
#endif
}

// The op registry and the kernel table are filled together, once, on first use of either.
struct Tables {
  Registry ops;
  KernelTable kernels;
};
Tables& tables() {
  static Tables* t = [] {
    auto* made = new Tables();  // never destroyed: compiled programs may outlive static teardown
    register_all(made->ops, made->kernels);
    return made;
  }();
  return *t;
}
}  // namespace

Registry& Registry::global() { return tables().ops; }
KernelTable& KernelTable::global() { return tables().kernels; }

void Registry::add(OpDef def, AttrNames attrs) {
  FC_CHECK(!has(def.name), Runtime, "op '", def.name, "' is registered twice");
  std::sort(attrs.begin(), attrs.end());
  FC_CHECK(std::adjacent_find(attrs.begin(), attrs.end()) == attrs.end(), Runtime, "op '", def.name,
           "' declares an attribute twice");
  def.attrs = std::move(attrs);
  ops_.push_back(std::move(def));
}

bool Registry::has(const std::string& name) const {
  return std::any_of(ops_.begin(), ops_.end(), [&](const OpDef& d) { return d.name == name; });
}

const OpDef& Registry::get(const std::string& name) const {
  for (const OpDef& d : ops_)
    if (d.name == name) return d;
  std::string close;
  for (const OpDef& d : ops_)
    if (d.name.find(name) != std::string::npos || name.find(d.name) != std::string::npos)
      close += (close.empty() ? "" : ", ") + d.name;
  fail(ErrorKind::Value, "unknown op '", name, "'", close.empty() ? "" : "; did you mean one of: ", close);
}

void Registry::set_role(Role role, const std::string& op) {
  FC_CHECK(has(op), Runtime, "role given to an unregistered op '", op, "'");
  roles_[role] = op;
}

const std::string& Registry::role(Role role) const {
  auto it = roles_.find(role);
  FC_CHECK(it != roles_.end(), Runtime, "no op registered for graph role ", int(role));
  return it->second;
}

void Registry::add_optimizer(OptimizerDef def) {
  FC_CHECK(has(def.update_op), Runtime, "optimizer '", def.name, "' names an unregistered update op '", def.update_op,
           "'");
  optimizers_.push_back(std::move(def));
}

const OptimizerDef& Registry::optimizer(const std::string& name) const {
  std::string known;
  for (const OptimizerDef& d : optimizers_) {
    if (d.name == name) return d;
    known += (known.empty() ? "" : ", ") + d.name;
  }
  fail(ErrorKind::Value, "unknown optimizer '", name, "' (known: ", known, ")");
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> n;
  for (const OpDef& d : ops_) n.push_back(d.name);
  std::sort(n.begin(), n.end());
  return n;
}

void expect_inputs(const OpCall& c, size_t n) {
  FC_CHECK(c.in.size() == n, Value, c.op, ": expected ", n, " inputs, got ", c.in.size());
}

void expect_dtype(const OpCall& c, size_t i, DType t, const char* arg) {
  FC_CHECK(c.in.at(i).dtype == t, Type, c.op, ": argument '", arg, "' must have dtype ", dtype_name(t), ", got ",
           dtype_name(c.in[i].dtype));
}

void expect_rank(const OpCall& c, size_t i, int64_t rank, const char* arg, const char* layout) {
  FC_CHECK(int64_t(c.in.at(i).shape.size()) == rank, Value, c.op, ": argument '", arg, "' must be ", rank, "-D (",
           layout, "), got shape ", shape_str(c.in[i].shape));
}

std::vector<Tensor> run_op(const std::string& op, const std::vector<Tensor>& inputs, const Attrs& attrs) {
  const OpDef& def = Registry::global().get(op);
  std::vector<TensorDesc> in;
  Device dev = inputs.empty() ? Device{} : inputs[0].device();
  for (size_t i = 0; i < inputs.size(); ++i) {
    const Tensor& t = inputs[i];
    FC_CHECK(t.defined(), Value, op, ": input ", i, " is undefined");
    FC_CHECK(t.device() == dev, Value, op, ": all inputs must be on one device; input 0 is on ", dev.str(),
             " but input ", i, " is on ", t.device().str());
    in.push_back({t.shape(), t.dtype()});
  }
  OpCall call{op, attrs, in};
  check_attrs(def, attrs);
  FC_CHECK(int(in.size()) >= def.min_inputs && (def.max_inputs < 0 || int(in.size()) <= def.max_inputs), Value, op,
           ": got ", in.size(), " inputs, expected ",
           def.min_inputs == def.max_inputs ? std::to_string(def.min_inputs)
                                            : std::to_string(def.min_inputs) + " to " + std::to_string(def.max_inputs));
  std::vector<TensorDesc> out = def.infer(call);
  const KernelOptions options = KernelOptions::from_env();
  if (!options.empty()) KernelTable::global().validate(options);
  const KernelCall kc{call, out, dev, Backend::default_for(dev), options};
  Prepared p = KernelTable::global().prepare(kc);
  std::vector<Tensor> cin, cout;
  for (const Tensor& t : inputs) cin.push_back(t.contiguous());
  for (const TensorDesc& d : out) cout.push_back(Tensor::empty(d.shape, d.dtype, dev));
  Tensor ws;
  RunContext ctx;
  if (p.workspace_bytes) {
    ws = Tensor::empty({int64_t(p.workspace_bytes)}, DType::u8, dev);
    ctx.workspace = ws.data_ptr();
    ctx.workspace_bytes = p.workspace_bytes;
  }
  p.run(cin, cout, ctx);
  // An eager op with side effects (batch_norm in training mode) wrote into its inputs: their weight versions move,
  // so that folded constants computed from them are recomputed (docs/inference.md).
  if (def.side_effects)
    for (const Tensor& t : cin) t.storage()->bump_version();
  return cout;
}

}  // namespace fastconv
