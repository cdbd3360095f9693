// The convolution kernels of every pass, one kernel-table entry per algorithm. Rules (priorities), in order:
//   gemm_1x1          1x1 kernel, stride 1, no padding: a GEMM straight on NCHW, no column matrix
//   depthwise_direct  groups == C_in > 1 and C_out a multiple of it: direct vectorised plane kernels
//   winograd_f4x3     3x3, stride 1, dilation 1, groups 1, 2-D; every pass; preferred only where the transforms
//                     pay (not when a few tiles meet many channels: transformed weights dominate)
//   im2col_gemm       everything else (grouped convs loop over groups)
//   ref               the naive reference (never chosen by the rules)
// FASTCONV_ALGO=conv=<algorithm> (or CompileOptions::algo) forces one where it applies (tests); where it does not
// (a 3x3 conv with gemm_1x1 forced), the rules decide. conv.winograd_fused_tiles=<n> (a tuning value of the same
// mechanism) forces Winograd's tiles per block, for measuring its blocking rules.
#include <algorithm>
#include <cstring>

#include "cpu/conv_depthwise.h"
#include "cpu/conv_winograd.h"
#include "cpu/ref/conv_ref.h"
#include "fastconv/parallel.h"
#include "ops/common.h"
#include "ops/conv_common.h"
#include "ops/conv_weight_cache.h"

namespace fastconv::conv {
namespace {

using cpu::ConvParams;
using cpu::ConvPass;
using cpu::group_in;
using cpu::in_vol;
using cpu::k_vol;

bool is_1x1(const ConvParams& p) {
  for (int i = 0; i < 3; ++i)
    if (p.k[i] != 1 || p.stride[i] != 1 || p.pad[i] != 0 || p.in[i] != p.out[i]) return false;
  return true;
}

bool is_depthwise(const ConvParams& p) { return p.groups > 1 && p.groups == p.C && p.K % p.C == 0; }

bool is_winograd_shape(const ConvParams& p) {
  return p.in[0] == 1 && p.k[0] == 1 && p.k[1] == 3 && p.k[2] == 3 && p.stride[1] == 1 && p.stride[2] == 1 &&
         p.dil[1] == 1 && p.dil[2] == 1 && p.groups == 1;
}

cpu::WinogradParams winograd_params(const ConvParams& p) {
  return {p.N, p.C, p.in[1], p.in[2], p.K, p.pad[1], p.pad[2], p.out[1], p.out[2]};
}

// The transforms pay off only with enough channels to amortise them: a handful of channels (single-channel image
// filtering) stays on im2col_gemm, which is also exact on small-integer data. The products shrink by
// (outputs * 9) / (tiles * 36): 4x for maps that fill whole 4x4 tiles, 1x for 2x2 maps, so those stay on im2col.
// The 36 transformed C x K weight matrices are a fixed cost per call, worth paying from about C*K/128^2 tiles on
// (measured with 256 and 512 channels on 2x2..14x14 maps: 512^2 level at 16 tiles, 1.4-2.3x ahead from 32; 256^2
// level at 8 tiles, 1.3x ahead at 16).
bool winograd_pays(const ConvParams& p) {
  if (p.C < 4 || p.K < 4) return false;
  const int64_t tiles = p.N * ((p.out[1] + 3) / 4) * ((p.out[2] + 3) / 4);
  const int64_t outputs = p.N * p.out[1] * p.out[2];
  return outputs * 9 >= tiles * 36 * 2 && tiles >= std::max<int64_t>(8, p.C * p.K / (128 * 128));
}

}  // namespace

KernelConfig kernel_config(const KernelCall& c) {
  return {active_isa(), get_num_threads(), c.options.get_int("conv.winograd_fused_tiles", 0),
          c.options.get_int("conv.packed_weights", 1) != 0};
}

const char* algo_name(Algo a) {
  switch (a) {
    case Algo::ref: return "ref";
    case Algo::im2col_gemm: return "im2col_gemm";
    case Algo::gemm_1x1: return "gemm_1x1";
    case Algo::depthwise_direct: return "depthwise_direct";
    case Algo::winograd_f4x3: return "winograd_f4x3";
  }
  return "?";
}

bool algo_applies(Algo a, const ConvParams& p) {
  switch (a) {
    case Algo::ref:
    case Algo::im2col_gemm: return true;
    case Algo::gemm_1x1: return is_1x1(p);
    case Algo::depthwise_direct: return is_depthwise(p);
    case Algo::winograd_f4x3: return is_winograd_shape(p);
  }
  return false;
}

Prepared prepare_pass(ConvPass pass, const ConvParams& p, bool has_bias, Algo algo, bool flip_kernel,
                      const KernelConfig& cfg) {
  std::string name = algo_name(algo);
  // Scratch layout: [flipped kernel, padded to 64 bytes][algorithm scratch].
  const int64_t wfloats = p.K * group_in(p) * k_vol(p);
  const bool flip_input = flip_kernel && pass != ConvPass::backward_weight;
  const size_t flip_bytes = flip_input ? (size_t(wfloats) * sizeof(float) + 63) / 64 * 64 : 0;
  size_t algo_bytes = 0;
  cpu::GemmPlan slots;
  cpu::DepthwiseKernels dk{};
  cpu::WinogradPlan wino;
  switch (algo) {
    case Algo::im2col_gemm:
      slots = cpu::conv_im2col_gemm_plan(p, pass, cfg.isa, cfg.threads);
      algo_bytes = cpu::conv_im2col_gemm_workspace(p, pass, slots);
      break;
    case Algo::gemm_1x1:
      slots = cpu::conv_gemm_1x1_plan(p, pass, cfg.isa, cfg.threads);
      algo_bytes = cpu::conv_gemm_1x1_workspace(p, pass, slots);
      break;
    case Algo::depthwise_direct:
      dk = cpu::depthwise_kernels(cfg.isa);
      name += std::string("__") + isa_name(cfg.isa);
      break;
    case Algo::winograd_f4x3: {
      const cpu::WinogradPass wp = pass == ConvPass::forward         ? cpu::WinogradPass::forward
                                   : pass == ConvPass::backward_data ? cpu::WinogradPass::backward_data
                                                                     : cpu::WinogradPass::backward_weight;
      wino = cpu::winograd_f4x3_plan(winograd_params(p), wp,
                                     {cfg.isa, cfg.threads, cfg.winograd_fused_tiles, cpu_features().l2_bytes});
      algo_bytes = cpu::winograd_f4x3_workspace_bytes(wino);
      break;
    }
    case Algo::ref: algo_bytes = ref::conv_ref_workspace_bytes(p); break;
  }
  // Packed forward weights kept across calls (not for a flipped kernel: its flipped copy is made per call).
  const bool gemm_fwd = cfg.packed_weights && pass == ConvPass::forward && !flip_input && (algo == Algo::im2col_gemm || algo == Algo::gemm_1x1);
  const ForwardWeights pw = gemm_fwd ? forward_weights(p, slots) : ForwardWeights{p, slots, nullptr};
  auto run = [p, pass, algo, has_bias, flip_kernel, flip_input, flip_bytes, slots, dk, wino, wfloats, pw](
                 const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext& ctx) {
    const float* a = fptr(in[0]);
    const float* w = fptr(in[1]);
    const float* bias = has_bias ? fptr(in[2]) : nullptr;
    float* y = fptr_mut(out[0]);
    char* wsb = static_cast<char*>(ctx.workspace);
    const int64_t kv = k_vol(p);
    if (flip_input) {  // reverse every kernel's taps: true convolution as correlation
      float* wf = reinterpret_cast<float*>(wsb);
      for (int64_t i = 0; i < wfloats; ++i) wf[i] = w[(i / kv) * kv + (kv - 1 - i % kv)];
      w = wf;
    }
    float* ws = reinterpret_cast<float*>(wsb + flip_bytes);
    switch (pass) {
      case ConvPass::forward:
        switch (algo) {
          case Algo::im2col_gemm:
            cpu::conv_im2col_gemm_forward(p, a, w, bias, y, ws, slots, {}, pw.get(in[1], ctx).get());
            return;
          case Algo::gemm_1x1:
            cpu::conv_gemm_1x1_forward(p, a, w, bias, y, ws, slots, {}, pw.get(in[1], ctx).get());
            return;
          case Algo::depthwise_direct: cpu::conv_depthwise_forward(dk, p, a, w, bias, y); return;
          case Algo::winograd_f4x3: cpu::winograd_f4x3_forward(wino, a, w, bias, y, ws); return;
          default: ref::conv_forward(p, a, w, bias, y, reinterpret_cast<double*>(ws)); return;
        }
      case ConvPass::backward_data:
        switch (algo) {
          case Algo::im2col_gemm: cpu::conv_im2col_gemm_backward_data(p, a, w, y, ws, slots); break;
          case Algo::gemm_1x1: cpu::conv_gemm_1x1_backward_data(p, a, w, y, ws, slots); break;
          case Algo::depthwise_direct: cpu::conv_depthwise_backward_data(dk, p, a, w, y); break;
          case Algo::winograd_f4x3: cpu::winograd_f4x3_backward_data(wino, a, w, y, ws); break;
          default: ref::conv_backward_data(p, a, w, y); break;
        }
        if (bias) cpu::conv_add_bias(p.N, p.C, in_vol(p), bias, y);
        return;
      case ConvPass::backward_weight:
        switch (algo) {
          case Algo::im2col_gemm: cpu::conv_im2col_gemm_backward_weight(p, a, w, y, ws, slots); break;
          case Algo::gemm_1x1: cpu::conv_gemm_1x1_backward_weight(p, a, w, y, ws, slots); break;
          case Algo::depthwise_direct: cpu::conv_depthwise_backward_weight(dk, p, a, w, y); break;
          case Algo::winograd_f4x3: cpu::winograd_f4x3_backward_weight(wino, w, a, y, ws); break;
          default: ref::conv_backward_weight(p, a, w, y, reinterpret_cast<double*>(ws)); break;
        }
        if (flip_kernel)  // the gradient of the reversed kernel, reversed back
          for (int64_t k0 = 0; k0 < wfloats; k0 += kv) std::reverse(y + k0, y + k0 + kv);
        return;
    }
  };
  return {run, flip_bytes + algo_bytes, name};
}

void register_pass_kernels(KernelTable& k, const std::string& op, ConvPass pass, PassGeometry geometry) {
  struct Entry {
    Algo algo;
    int priority;
  };
  for (const Entry e : {Entry{Algo::gemm_1x1, 40}, Entry{Algo::depthwise_direct, 30}, Entry{Algo::winograd_f4x3, 20},
                        Entry{Algo::im2col_gemm, 10}, Entry{Algo::ref, 0}}) {
    KernelDef d;
    d.op = op;
    d.family = "conv";
    d.algo = algo_name(e.algo);
    d.priority = e.priority;
    const Algo algo = e.algo;
    d.applies = [geometry, algo](const KernelCall& c) { return algo_applies(algo, geometry(c).p); };
    if (algo == Algo::winograd_f4x3)
      d.preferred = [geometry](const KernelCall& c) { return winograd_pays(geometry(c).p); };
    d.prepare = [geometry, pass, algo](const KernelCall& c) {
      const PassCall g = geometry(c);
      return prepare_pass(pass, g.p, g.has_bias, algo, g.flip, kernel_config(c));
    };
    k.add(std::move(d));
  }
#if FASTCONV_WITH_CUDA
  register_pass_cuda_kernels(k, op, pass, geometry);
  register_pass_cuda_implicit_kernels(k, op, pass, geometry);
#endif
}

Algo algo_from_name(const std::string& name) {
  for (Algo a : {Algo::ref, Algo::im2col_gemm, Algo::gemm_1x1, Algo::depthwise_direct, Algo::winograd_f4x3})
    if (name == algo_name(a)) return a;
  fail(ErrorKind::Runtime, "not a convolution algorithm: '", name, "'");
}

}  // namespace fastconv::conv
