// pad (torch.nn.functional.pad): constant / reflect / replicate / circular padding of the last len(pad)/2 dims, any
// rank, negative pads crop. Its backward: for constant mode another pad with the pads negated (the map is one to
// one), else pad_backward, which sums the gradient of every copy of an input element into it.
// Kernels: "rows" (a block copy per output row) and "ref" (per-element index mapping, the definition).
#include <algorithm>
#include <sstream>

#include "cpu/pad.h"
#include "cpu/ref/pad_ref.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/pad.h"

namespace fastconv {
namespace {

using ref::PadMode;

std::string tuple_str(const std::vector<int64_t>& v) {
  std::ostringstream os;
  os << "(";
  for (size_t i = 0; i < v.size(); ++i) os << (i ? ", " : "") << v[i];
  os << (v.size() == 1 ? ",)" : ")");
  return os.str();
}

}  // namespace

PadCfg pad_cfg(const std::string& op, const Attrs& attrs, const Shape& in) {
  AttrReader a(op, attrs);
  const std::vector<int64_t> pads = a.get_int_list("pad");
  const std::string mode = a.get_str("mode", "constant");
  PadCfg c;
  if (mode == "constant") c.p.mode = PadMode::constant;
  else if (mode == "reflect") c.p.mode = PadMode::reflect;
  else if (mode == "replicate") c.p.mode = PadMode::replicate;
  else if (mode == "circular") c.p.mode = PadMode::circular;
  else fail(ErrorKind::Value, op, ": argument 'mode' must be 'constant', 'reflect', 'replicate' or 'circular', got '",
            mode, "'");
  FC_CHECK(c.p.mode == PadMode::constant || !a.has("value"), Value, op, ": padding mode '", mode,
           "' doesn't take a 'value' argument (only mode='constant' does)");
  c.p.value = float(a.get_float("value", 0.0));
  const int64_t rank = int64_t(in.size());
  FC_CHECK(pads.size() % 2 == 0, Value, op, ": argument 'pad' must have an even length (a (before, after) pair per "
           "dimension, last dimension first), got pad=", tuple_str(pads));
  const int64_t m = int64_t(pads.size() / 2);
  FC_CHECK(m <= rank, Value, op, ": argument 'pad' pads ", m, " dimensions (pad=", tuple_str(pads),
           ") but the input has only ", rank, " (shape ", shape_str(in), ")");
  FC_CHECK(m <= ref::kMaxDims, Value, op, ": at most ", ref::kMaxDims, " dimensions can be padded, got ", m);
  c.p.nd = int(m);
  c.out = in;
  for (int64_t i = 0; i < m; ++i) {
    const int64_t dim = rank - 1 - i, n = in[size_t(dim)];
    const int64_t before = pads[size_t(2 * i)], after = pads[size_t(2 * i + 1)];
    const int64_t o = n + before + after;
    FC_CHECK(o >= 0, Value, op, ": padding (", before, ", ", after, ") of dimension ", dim, " (size ", n,
             ") would give a negative size ", o, " (input shape ", shape_str(in), ")");
    if (c.p.mode != PadMode::constant) {
      FC_CHECK(n > 0, Value, op, ": mode '", mode, "' needs a non-empty dimension to pad, but dimension ", dim,
               " of input shape ", shape_str(in), " is empty");
      FC_CHECK(o > 0, Value, op, ": padding (", before, ", ", after, ") of dimension ", dim, " (size ", n,
               ") would leave it empty, which mode '", mode, "' does not allow (as torch)");
      FC_CHECK(c.p.mode != PadMode::reflect || (before < n && after < n), Value, op,
               ": padding (", before, ", ", after, ") of dimension ", dim, " must be less than its size ", n,
               " for mode 'reflect' (input shape ", shape_str(in), ")");
      // circular crops first, then wraps around the kept part (torch's order)
      const int64_t kept = n - std::max<int64_t>(-before, 0) - std::max<int64_t>(-after, 0);
      FC_CHECK(c.p.mode != PadMode::circular || (kept > 0 && before <= kept && after <= kept), Value, op,
               ": padding (", before, ", ", after, ") of dimension ", dim, " must be at most its size ", kept,
               kept == n ? "" : " after cropping", " for mode 'circular' (it would wrap around more than once; input "
               "shape ", shape_str(in), ")");
    }
    const int j = int(m - 1 - i);
    c.p.in[j] = n;
    c.p.out[j] = o;
    c.p.before[j] = before;
    c.p.after[j] = after;
    c.out[size_t(dim)] = o;
  }
  for (int64_t d = 0; d < rank - m; ++d) c.planes *= in[size_t(d)];
  return c;
}

namespace {

Shape input_shape_attr(const OpCall& c) { return c.attr().get_int_list("input_shape"); }

std::vector<TensorDesc> infer_pad(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "input");
  return {{pad_cfg(c.op, c.attrs, c.in[0].shape).out, DType::f32}};
}

std::vector<TensorDesc> infer_pad_backward(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "grad_output");
  const Shape in = input_shape_attr(c);
  const PadCfg cfg = pad_cfg(c.op, c.attrs, in);
  FC_CHECK(c.in[0].shape == cfg.out, Value, c.op, ": grad_output has shape ", shape_str(c.in[0].shape),
           " but the forward output has shape ", shape_str(cfg.out));
  return {{in, DType::f32}};
}

std::vector<ValueId> backward_pad(BackwardCall& b) {
  if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
  AttrReader a = b.attr();
  if (a.get_str("mode", "constant") == "constant") {
    std::vector<int64_t> neg = a.get_int_list("pad");
    for (int64_t& v : neg) v = -v;
    return {b.g.add1("pad", {b.grad_out[0]}, {{"pad", neg}, {"mode", std::string("constant")}})};
  }
  Attrs at = b.node.attrs;
  at.set("input_shape", b.desc(b.in(0)).shape);
  return {b.g.add1("pad_backward", {b.grad_out[0]}, at)};
}

// Work per task: planes of at least ~32K elements.
int64_t grain_for(int64_t per_item) { return std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, per_item)); }

template <bool Rows>
Prepared prepare_pad(const KernelCall& c) {
  const PadCfg cfg = pad_cfg(c.op, c.attrs, c.in[0].shape);
  const ref::PadParams p = cfg.p;
  const int64_t planes = cfg.planes;
  const bool rows = Rows && p.nd > 0;
  return {[p, planes, rows](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float* x = fptr(in[0]);
            float* y = fptr_mut(out[0]);
            if (rows) {
              const int64_t n = cpu::pad_rows_count(p, planes), per_row = p.out[p.nd - 1];
              parallel_for(n, grain_for(per_row), [&](int64_t r0, int64_t r1) { cpu::pad__rows(p, x, y, r0, r1); });
            } else {
              parallel_for(planes, grain_for(p.out_plane()), [&](int64_t p0, int64_t p1) { ref::pad(p, x, y, p0, p1); });
            }
          },
          0, rows ? "pad__rows" : "ref"};
}

template <bool Rows>
Prepared prepare_pad_backward(const KernelCall& c) {
  const PadCfg cfg = pad_cfg(c.op, c.attrs, input_shape_attr(c));
  const ref::PadParams p = cfg.p;
  const int64_t planes = cfg.planes;
  const bool rows = Rows && p.nd > 0;
  return {[p, planes, rows](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float* g = fptr(in[0]);
            float* gx = fptr_mut(out[0]);
            parallel_for(planes, grain_for(p.out_plane() + p.in_plane()), [&](int64_t p0, int64_t p1) {
              if (rows) cpu::pad_backward__rows(p, g, gx, p0, p1);
              else ref::pad_backward(p, g, gx, p0, p1);
            });
          },
          0, rows ? "pad_backward__rows" : "ref"};
}

}  // namespace

void register_pad_ops(Registry& r, KernelTable& k) {
  r.add({"pad", 1, 1, infer_pad, backward_pad, false, -1}, {"mode", "pad", "value"});
  r.add({"pad_backward", 1, 1, infer_pad_backward, nullptr, false, -1}, {"input_shape", "mode", "pad", "value"});
  add_cpu_kernel(k, "pad", "pad", "rows", 10, prepare_pad<true>);
  add_cpu_kernel(k, "pad", "pad", "ref", 0, prepare_pad<false>);
  add_cpu_kernel(k, "pad_backward", "pad", "rows", 10, prepare_pad_backward<true>);
  add_cpu_kernel(k, "pad_backward", "pad", "ref", 0, prepare_pad_backward<false>);
}

}  // namespace fastconv
