// unfold (im2col) and fold (col2im), torch.nn.functional's: "convolution as matrix multiplication" made explicit.
// Each is the other's backward (fold sums the gradient of overlapping blocks, unfold gathers it). Batched inputs
// only ([N, C, H, W] and [N, C*kh*kw, L]); the Python wrappers add and drop the batch axis of unbatched ones.
// Kernels: "im2col" (the convolution's own im2col/col2im, cpu/conv_im2col.cpp) and "ref".
#include <algorithm>
#include <sstream>

#include "cpu/conv_gemm.h"
#include "cpu/ref/fold_ref.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/fold.h"

namespace fastconv {
namespace {

std::string pair_str(const std::vector<int64_t>& v) {
  std::ostringstream os;
  os << "(" << v[0] << ", " << v[1] << ")";
  return os.str();
}

// The geometry shared by both ops; `H`, `W` are the image size (unfold's input, fold's output_size).
ref::FoldParams fold_geometry(const OpCall& c, int64_t N, int64_t C, int64_t H, int64_t W) {
  AttrReader a = c.attr();
  const auto k = a.get_ints("kernel_size", 2), d = a.get_ints("dilation", 2, 1), p = a.get_ints("padding", 2, 0),
             s = a.get_ints("stride", 2, 1);
  for (int i = 0; i < 2; ++i) {
    FC_CHECK(k[size_t(i)] > 0, Value, c.op, ": argument 'kernel_size' must be positive, got ", pair_str(k));
    FC_CHECK(d[size_t(i)] > 0, Value, c.op, ": argument 'dilation' must be positive, got ", pair_str(d));
    FC_CHECK(p[size_t(i)] >= 0, Value, c.op, ": argument 'padding' must be non-negative, got ", pair_str(p));
    FC_CHECK(s[size_t(i)] > 0, Value, c.op, ": argument 'stride' must be positive, got ", pair_str(s));
  }
  ref::FoldParams f;
  f.N = N, f.C = C, f.H = H, f.W = W;
  f.kh = k[0], f.kw = k[1], f.dh = d[0], f.dw = d[1], f.ph = p[0], f.pw = p[1], f.sh = s[0], f.sw = s[1];
  const int64_t nh = H + 2 * f.ph - f.dh * (f.kh - 1) - 1, nw = W + 2 * f.pw - f.dw * (f.kw - 1) - 1;
  f.oh = nh < 0 ? 0 : nh / f.sh + 1;
  f.ow = nw < 0 ? 0 : nw / f.sw + 1;
  FC_CHECK(f.oh > 0 && f.ow > 0, Value, c.op, ": an image of spatial size (", H, ", ", W, ") with kernel_size=",
           pair_str(k), ", dilation=", pair_str(d), ", padding=", pair_str(p), ", stride=", pair_str(s),
           " has (", f.oh, ", ", f.ow, ") sliding blocks; both must be at least one");
  return f;
}

cpu::ConvParams conv_view(const ref::FoldParams& f) {
  cpu::ConvParams p;
  p.N = f.N, p.C = f.C, p.K = f.C;
  p.in[1] = f.H, p.in[2] = f.W, p.out[1] = f.oh, p.out[2] = f.ow, p.k[1] = f.kh, p.k[2] = f.kw;
  p.stride[1] = f.sh, p.stride[2] = f.sw, p.dil[1] = f.dh, p.dil[2] = f.dw, p.pad[1] = f.ph, p.pad[2] = f.pw;
  return p;
}

}  // namespace

ref::FoldParams unfold_params(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "input");
  const Shape& x = c.in[0].shape;
  FC_CHECK(x.size() == 4, Value, c.op, ": argument 'input' must be 4-D [N, C, H, W] (or 3-D unbatched), got shape ",
           shape_str(x));
  FC_CHECK(x[1] > 0 && x[2] > 0 && x[3] > 0, Value, c.op, ": input of shape ", shape_str(x),
           " has an empty non-batch dimension");
  return fold_geometry(c, x[0], x[1], x[2], x[3]);
}

ref::FoldParams fold_params(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "input");
  const Shape& x = c.in[0].shape;
  FC_CHECK(x.size() == 3, Value, c.op, ": argument 'input' must be 3-D [N, C*kh*kw, L] (or 2-D unbatched), got shape ",
           shape_str(x));
  AttrReader a = c.attr();
  const auto os = a.get_ints("output_size", 2), k = a.get_ints("kernel_size", 2);
  FC_CHECK(os[0] > 0 && os[1] > 0, Value, c.op, ": argument 'output_size' must be positive, got ", pair_str(os));
  const int64_t kk = k[0] * k[1];
  FC_CHECK(kk > 0 && x[1] % kk == 0, Value, c.op, ": dimension 1 of the input (", x[1],
           ") must be divisible by the product of kernel_size ", pair_str(k), " (", kk, "); input shape ",
           shape_str(x));
  ref::FoldParams f = fold_geometry(c, x[0], x[1] / kk, os[0], os[1]);
  FC_CHECK(x[2] == f.oh * f.ow, Value, c.op, ": output_size=", pair_str(os), " with kernel_size=", pair_str(k),
           " has ", f.oh, " * ", f.ow, " = ", f.oh * f.ow, " sliding blocks, but dimension 2 of the input is ", x[2],
           " (input shape ", shape_str(x), ")");
  FC_CHECK(f.C > 0, Value, c.op, ": input of shape ", shape_str(x), " has no channels");
  return f;
}

namespace {

// Unfold: gather (Fold = false) or fold: scatter-add (Fold = true). The im2col path runs image after image with
// the threads inside each image; the reference splits images across threads.
template <bool Fold, bool Im2col>
Prepared prepare(const KernelCall& c) {
  const ref::FoldParams f = Fold ? fold_params(c) : unfold_params(c);
  const cpu::ConvParams cp = conv_view(f);
  return {[f, cp](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
            const float* src = fptr(in[0]);
            float* dst = fptr_mut(out[0]);
            const int64_t img = f.C * f.H * f.W, cols = f.C * f.kh * f.kw * f.oh * f.ow;
            if (!Im2col) {
              parallel_for(f.N, 1, [&](int64_t n0, int64_t n1) {
                if (Fold) ref::fold(f, src, dst, n0, n1);
                else ref::unfold(f, src, dst, n0, n1);
              });
              return;
            }
            for (int64_t n = 0; n < f.N; ++n) {
              if (Fold) {
                std::fill(dst + n * img, dst + (n + 1) * img, 0.f);
                cpu::conv_col2im(cp, src + n * cols, dst + n * img);
              } else {
                cpu::conv_im2col(cp, src + n * img, dst + n * cols);
              }
            }
          },
          0, Im2col ? (Fold ? "col2im" : "im2col") : "ref"};
}

std::vector<ValueId> backward_unfold(BackwardCall& b) {
  if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
  const Shape x = b.desc(b.in(0)).shape;
  Attrs a = b.node.attrs;
  a.set("output_size", std::vector<int64_t>{x[2], x[3]});
  return {b.g.add1("fold", {b.grad_out[0]}, a)};
}

std::vector<ValueId> backward_fold(BackwardCall& b) {
  if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
  Attrs a;
  for (const char* key : {"kernel_size", "dilation", "padding", "stride"})
    if (const AttrValue* v = b.node.attrs.find(key)) a.set(key, *v);
  return {b.g.add1("unfold", {b.grad_out[0]}, a)};
}

}  // namespace

void register_fold_ops(Registry& r, KernelTable& k) {
  r.add({"unfold", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           const ref::FoldParams f = unfold_params(c);
           return {{{f.N, f.C * f.kh * f.kw, f.oh * f.ow}, DType::f32}};
         },
         backward_unfold, false, -1}, {"dilation", "kernel_size", "padding", "stride"});
  r.add({"fold", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           const ref::FoldParams f = fold_params(c);
           return {{{f.N, f.C, f.H, f.W}, DType::f32}};
         },
         backward_fold, false, -1}, {"dilation", "kernel_size", "output_size", "padding", "stride"});
  add_cpu_kernel(k, "unfold", "fold", "im2col", 10, prepare<false, true>);
  add_cpu_kernel(k, "unfold", "fold", "ref", 0, prepare<false, false>);
  add_cpu_kernel(k, "fold", "fold", "im2col", 10, prepare<true, true>);
  add_cpu_kernel(k, "fold", "fold", "ref", 0, prepare<true, false>);
}

}  // namespace fastconv
