// Channel/space permutations: pixel_shuffle and pixel_unshuffle (each the other's backward) and channel_shuffle
// (its backward is channel_shuffle with groups = channels / groups). One "ref" kernel each, split over the
// leading (batch) planes.
#include <algorithm>

#include "cpu/ref/shuffle_ref.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/shuffle.h"

namespace fastconv {
namespace {

bool is_unshuffle(const std::string& op) { return op == "pixel_unshuffle"; }

}  // namespace

// [*, C, H, W] on both sides; r is the factor. Returns the params and sets the output shape.
ref::PixelShuffleParams pixel_params(const OpCall& c, Shape* out) {
  expect_dtype(c, 0, DType::f32, "input");
  const bool inv = is_unshuffle(c.op);
  const char* arg = inv ? "downscale_factor" : "upscale_factor";
  const Shape& x = c.in[0].shape;
  const int64_t r = c.attr().get_int(arg);
  FC_CHECK(x.size() >= 3, Value, c.op, ": expected an input with at least 3 dimensions ([*, C, H, W]), got shape ",
           shape_str(x));
  FC_CHECK(r > 0, Value, c.op, ": argument '", arg, "' must be positive, got ", r);
  const size_t n = x.size();
  const int64_t C = x[n - 3], H = x[n - 2], W = x[n - 1];
  ref::PixelShuffleParams p;
  p.r = r;
  p.outer = 1;
  for (size_t i = 0; i + 3 < n; ++i) p.outer *= x[i];
  *out = x;
  if (!inv) {
    FC_CHECK(C % (r * r) == 0, Value, c.op, ": the channel dimension (", C, ", dim -3 of shape ", shape_str(x),
             ") must be divisible by upscale_factor**2 = ", r * r);
    p.C = C / (r * r), p.H = H, p.W = W;
    (*out)[n - 3] = p.C, (*out)[n - 2] = H * r, (*out)[n - 1] = W * r;
  } else {
    FC_CHECK(H % r == 0 && W % r == 0, Value, c.op, ": height and width (", H, ", ", W, " of shape ", shape_str(x),
             ") must be divisible by downscale_factor = ", r);
    p.C = C, p.H = H / r, p.W = W / r;
    (*out)[n - 3] = C * r * r, (*out)[n - 2] = p.H, (*out)[n - 1] = p.W;
  }
  return p;
}

namespace {

}  // namespace

ref::ChannelShuffleParams channel_params(const OpCall& c) {
  expect_dtype(c, 0, DType::f32, "input");
  const Shape& x = c.in[0].shape;
  const int64_t g = c.attr().get_int("groups");
  FC_CHECK(x.size() > 2, Value, c.op, ": expected an input with more than 2 dimensions ([N, C, *]), got shape ",
           shape_str(x));
  FC_CHECK(g > 0, Value, c.op, ": argument 'groups' must be positive, got ", g);
  FC_CHECK(x[1] % g == 0, Value, c.op, ": the number of channels (", x[1], ", shape ", shape_str(x),
           ") must be divisible by groups = ", g);
  ref::ChannelShuffleParams p;
  p.outer = x[0];
  p.groups = g;
  p.per_group = x[1] / g;
  for (size_t i = 2; i < x.size(); ++i) p.inner *= x[i];
  return p;
}

namespace {

template <class F>
void over_outer(int64_t outer, int64_t per_item, const F& f) {
  parallel_for(outer, std::max<int64_t>(1, (1 << 15) / std::max<int64_t>(1, per_item)), f);
}

Prepared prepare_pixel(const KernelCall& c) {
  Shape out;
  const ref::PixelShuffleParams p = pixel_params(c, &out);
  const bool inv = is_unshuffle(c.op);
  return {[p, inv](const std::vector<Tensor>& in, const std::vector<Tensor>& o, const RunContext&) {
            const float* x = fptr(in[0]);
            float* y = fptr_mut(o[0]);
            over_outer(p.outer, p.C * p.r * p.r * p.H * p.W,
                       [&](int64_t o0, int64_t o1) { ref::pixel_shuffle(p, x, y, inv, o0, o1); });
          },
          0, "ref"};
}

Prepared prepare_channel(const KernelCall& c) {
  const ref::ChannelShuffleParams p = channel_params(c);
  return {[p](const std::vector<Tensor>& in, const std::vector<Tensor>& o, const RunContext&) {
            const float* x = fptr(in[0]);
            float* y = fptr_mut(o[0]);
            over_outer(p.outer, p.groups * p.per_group * p.inner,
                       [&](int64_t o0, int64_t o1) { ref::channel_shuffle(p, x, y, o0, o1); });
          },
          0, "ref"};
}

}  // namespace

void register_shuffle_ops(Registry& r, KernelTable& k) {
  for (const char* name : {"pixel_shuffle", "pixel_unshuffle"}) {
    const bool inv = is_unshuffle(name);
    r.add({name, 1, 1,
           [](const OpCall& c) -> std::vector<TensorDesc> {
             Shape out;
             pixel_params(c, &out);
             return {{out, DType::f32}};
           },
           [inv](BackwardCall& b) -> std::vector<ValueId> {
             if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
             const int64_t f = b.attr().get_int(inv ? "downscale_factor" : "upscale_factor");
             return {inv ? b.g.add1("pixel_shuffle", {b.grad_out[0]}, {{"upscale_factor", f}})
                         : b.g.add1("pixel_unshuffle", {b.grad_out[0]}, {{"downscale_factor", f}})};
           },
           false, -1}, AttrNames{inv ? "downscale_factor" : "upscale_factor"});
    add_cpu_kernel(k, name, "shuffle", "ref", 0, prepare_pixel);
  }
  r.add({"channel_shuffle", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           channel_params(c);
           return {c.in[0]};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           if (b.grad_out[0] == kNoValue || !b.needs_grad[0]) return {kNoValue};
           const int64_t channels = b.desc(b.in(0)).shape[1], g = b.attr().get_int("groups");
           return {b.g.add1("channel_shuffle", {b.grad_out[0]}, {{"groups", channels / g}})};
         },
         false, -1}, {"groups"});
  add_cpu_kernel(k, "channel_shuffle", "shuffle", "ref", 0, prepare_channel);
}

}  // namespace fastconv
