"""The hostile-input battery's cases. Each is a snippet run in a fresh interpreter after PRELUDE (battery.py) and
what a correct fastconv does with it: raise one of `exc` with every word of `words` in the message (the argument
and, where it matters, the value), or, with exc=None, return normally (inputs that once hung or crashed but are
valid). `lead` marks cases that wait for the engine-core work (label checks in compiled steps, integer images in
compiled steps, planner sizes): they are run and reported, but not counted as passing until that work lands.
"""
from __future__ import annotations

from dataclasses import dataclass, field

V, T, I = ("ValueError",), ("TypeError",), ("IndexError",)
VT = ("ValueError", "TypeError")
CLI = ("CLIFailed",)


@dataclass(frozen=True)
class Case:
    id: str
    code: str
    exc: tuple | None = V
    words: tuple = ()
    timeout: float = 60.0
    lead: str = ""  # why this case waits for the lead's engine-core work


C: list[Case] = []


def case(id, code, exc=V, words=(), **kw):
    C.append(Case(id, code, exc, tuple(words), **kw))


# ---- functional: convolution ----------------------------------------------------------------------------------
case("conv2d.padding_2**31", "F.conv2d(x, w, padding=2**31 - 1)", V, ["conv2d", "padding", "2147483647"])
case("conv2d.padding_2**62", "F.conv2d(x, w, padding=2**62)", V, ["conv2d", "padding"])
case("conv2d.padding_2**63", "F.conv2d(x, w, padding=2**63)", V, ["padding", "9223372036854775808"])
case("conv2d.padding_neg", "F.conv2d(x, w, padding=-1)", V, ["padding", "-1"])
case("conv2d.padding_str", "F.conv2d(x, w, padding='half')", V, ["padding", "half"])
case("conv2d.padding_3tuple", "F.conv2d(x, w, padding=(1, 1, 1))", VT, ["padding"])
case("conv2d.stride_0", "F.conv2d(x, w, stride=0)", V, ["stride", "0"])
case("conv2d.stride_2**63", "F.conv2d(x, w, stride=2**63)", V, ["stride", "9223372036854775808"])
case("conv2d.stride_-2**70", "F.conv2d(x, w, stride=-2**70)", V, ["stride"])
case("conv2d.stride_float", "F.conv2d(x, w, stride=1.5)", T, ["stride", "1.5"])
case("conv2d.stride_nested", "F.conv2d(x, w, stride=[[1, 1]])", T, ["stride"])
case("conv2d.stride_strs", "F.conv2d(x, w, stride=['a', 'b'])", T, ["stride"])
case("conv2d.stride_dict", "F.conv2d(x, w, stride={'a': 1})", T, ["stride"])
case("conv2d.dilation_0", "F.conv2d(x, w, dilation=0)", V, ["dilation", "0"])
case("conv2d.dilation_huge", "F.conv2d(x, w, dilation=2**62, padding=2**62)", V, ["dilation"])
case("conv2d.groups_0", "F.conv2d(x, w, groups=0)", V, ["groups", "0"])
case("conv2d.groups_mismatch", "F.conv2d(np.ones((1, 4, 4, 4), np.float32), np.ones((2, 4, 3, 3), np.float32), "
     "groups=3)", V, ["groups", "3"])
case("conv2d.groups_2**64", "F.conv2d(x, w, groups=2**64)", V, ["groups"])
case("conv2d.channels", "F.conv2d(np.ones((1, 3, 4, 4), np.float32), w)", V, ["channels", "3"])
case("conv2d.kernel_too_big", "F.conv2d(x, np.ones((1, 1, 9, 9), np.float32))", V, ["kernel", "(9, 9)"])
case("conv2d.rank", "F.conv2d(np.ones((4, 4), np.float32), w)", V, ["input", "4-D"])
case("conv2d.weight_rank", "F.conv2d(x, np.ones((3, 3), np.float32))", V, ["weight"])
case("conv2d.int_input", "F.conv2d(np.ones((1, 1, 4, 4), np.int64), w)", T, ["input", "int64"])
case("conv2d.bool_weight", "F.conv2d(x, np.ones((1, 1, 3, 3), bool))", T, ["weight", "bool"])
case("conv2d.object_input", "F.conv2d(np.array([[1, 'a']], dtype=object), w)", T, ["input"])
case("conv2d.bias_shape", "F.conv2d(x, w, np.ones(3, np.float32))", V, ["bias", "[3]"])
case("conv2d.same_strided", "F.conv2d(x, w, padding='same', stride=2)", V, ["padding='same'", "stride"])
case("conv1d.padding_huge", "F.conv1d(x1, np.ones((1, 1, 3), np.float32), padding=2**61)", V, ["conv1d",
                                                                                                 "padding"])
case("conv3d.rank", "F.conv3d(np.ones((4, 4, 4), np.float32), np.ones((1, 1, 3, 3, 3), np.float32))", V,
     ["input", "5-D"])
case("conv_transpose2d.output_padding", "F.conv_transpose2d(x, w, stride=2, output_padding=2)", V,
     ["output_padding", "(2, 2)"])
case("conv_transpose2d.stride_huge", "F.conv_transpose2d(x, w, stride=2**62)", V, ["conv_transpose2d", "stride"])
case("conv_transpose2d.padding_huge", "F.conv_transpose2d(x, w, padding=2**40)", V, ["padding"])
case("correlate2d.mode", "F.correlate2d(x[0, 0], w[0, 0], mode='wide')", V, ["mode", "wide"])
case("conv2d_backward_data.padding", "fc._C.run_op('conv2d_backward_data', [x, w], {'input_size': (4, 4), "
     "'padding': 2**62})", V, ["conv2d_backward_data", "padding"])

# ---- functional: pooling and upsampling ------------------------------------------------------------------------
case("max_pool2d.kernel_2**40", "F.max_pool2d(x, 2**40, padding=2**39)", V, ["max_pool2d", "kernel_size",
                                                                              "1099511627776"])
case("avg_pool2d.kernel_2**40", "F.avg_pool2d(x, 2**40, padding=2**39)", V, ["avg_pool2d", "kernel_size"])
case("max_pool1d.kernel_2**40_ok", "y = F.max_pool1d(x1, 2**40, padding=2**39); assert float(y.max()) == 1.0",
     None)
case("max_pool2d.kernel_0", "F.max_pool2d(x, 0)", V, ["kernel_size", "0"])
case("max_pool2d.stride_0", "F.max_pool2d(x, 2, stride=0)", V, ["stride", "0"])
case("max_pool2d.padding_gt_half", "F.max_pool2d(x, 2, padding=2)", V, ["pad", "padding=(2, 2)"])
case("max_pool2d.dilation_0", "F.max_pool2d(x, 2, dilation=0)", V, ["dilation", "0"])
case("max_pool2d.dilation_huge", "F.max_pool2d(x, 3, dilation=2**62)", V, ["dilation"])
case("max_pool2d.stride_2**63", "F.max_pool2d(x, 2, stride=2**63)", V, ["stride", "9223372036854775808"])
case("max_pool2d.kernel_larger", "F.max_pool2d(x, 5)", V, ["kernel", "larger"])
case("max_pool2d.rank", "F.max_pool2d(np.ones(4, np.float32), 2)", V, ["input", "shape"])
case("max_pool2d.empty_plane", "F.max_pool2d(np.ones((1, 1, 0, 4), np.float32), 2)", V, ["empty"])
case("max_pool2d.int_input", "F.max_pool2d(np.ones((1, 1, 4, 4), np.uint8), 2)", T, ["input", "uint8"])
case("avg_pool2d.divisor_0", "F.avg_pool2d(x, 2, divisor_override=0)", V, ["divisor_override", "0"])
case("avg_pool3d.small_input", "F.avg_pool3d(np.ones((1, 1, 2, 2, 2), np.float32), 3, padding=1)", V,
     ["kernel_size"])
case("adaptive_avg.2**31", "F.adaptive_avg_pool2d(x, (2**31, 2**31))", V, ["adaptive_avg_pool2d", "output_size"])
case("adaptive_avg.2**61", "F.adaptive_avg_pool2d(x, (2**61, 1))", V, ["output_size"])
case("adaptive_avg.0", "F.adaptive_avg_pool2d(x, 0)", V, ["output_size", "0"])
case("adaptive_avg.neg", "F.adaptive_avg_pool2d(x, (-3, 2))", V, ["output_size"])
case("adaptive_max.3tuple", "F.adaptive_max_pool2d(x, (2, 2, 2))", VT, ["output_size"])
case("max_unpool2d.indices_range", "F.max_unpool2d(x, np.full((1, 1, 4, 4), 99, np.int64), 2)", I, ["indices",
                                                                                                     "99"])
case("max_unpool2d.indices_shape", "F.max_unpool2d(x, np.zeros((1, 1, 2, 2), np.int64), 2)", V, ["indices"])
case("max_unpool2d.stride_huge", "F.max_unpool2d(x, np.zeros((1, 1, 4, 4), np.int64), 2, stride=2**62)", V,
     ["stride"])
case("max_unpool2d.output_size", "F.max_unpool2d(x, np.zeros((1, 1, 4, 4), np.int64), 2, output_size=(100, 100))",
     V, ["output_size"])
case("max_pool2d_backward.input_shape", "fc._C.run_op('max_pool2d_backward', [np.zeros((1, 1, 1, 1), np.float32), "
     "np.zeros((1, 1, 1, 1), np.int64)], {'input_shape': (1, 1, 2**40, 2**40)})", V, ["input_shape"])
case("interpolate.scale_1e18", "F.interpolate(x, scale_factor=1e18)", V, ["scale_factor"])
case("interpolate.scale_inf", "F.interpolate(x, scale_factor=float('inf'))", V, ["scale_factor"])
case("interpolate.scale_nan", "F.interpolate(x, scale_factor=float('nan'))", V, ["scale_factor"])
case("interpolate.scale_neg", "F.interpolate(x, scale_factor=-2.0)", V, ["scale_factor"])
case("interpolate.scale_10**400", "F.interpolate(x, scale_factor=(10**400, 1))", V, ["scale_factor"])
case("interpolate.size_huge", "F.interpolate(x, size=(2**31, 2**31))", V, ["size"])
case("interpolate.size_0", "F.interpolate(x, size=0)", V, ["size"])
case("interpolate.both", "F.interpolate(x, size=4, scale_factor=2.0)", V, ["size", "scale_factor"])
case("interpolate.neither", "F.interpolate(x)", V, ["size", "scale_factor"])
case("interpolate.mode", "F.interpolate(x, size=8, mode='cubic')", V, ["mode", "cubic"])
case("interpolate.align_nearest", "F.interpolate(x, size=8, align_corners=True)", V, ["align_corners"])
case("interpolate.bed_of_nails", "F.interpolate(x, scale_factor=1.5, mode='bed_of_nails')", V, ["bed_of_nails"])

# ---- functional: normalisation, linear, activations, losses, shapes --------------------------------------------
case("batch_norm.running_shape", "F.batch_norm(x, np.zeros(3, np.float32), np.ones(3, np.float32))", V,
     ["running_mean"])
case("batch_norm.eps_neg", "F.batch_norm(x, None, None, training=True, eps=-1.0)", V, ["eps"])
case("group_norm.groups", "F.group_norm(np.ones((1, 6, 4, 4), np.float32), 4)", V, ["num_groups", "4"])
case("layer_norm.shape", "F.layer_norm(x, (5,))", V, ["normalized_shape"])
case("local_response_norm.size0", "F.local_response_norm(x, 0)", V, ["size", "0"])
case("linear.shape", "F.linear(np.ones((2, 3), np.float32), np.ones((4, 5), np.float32))", V, ["weight"])
case("linear.weight_1d", "F.linear(np.ones((2, 3), np.float32), np.ones(3, np.float32))", V, ["weight"])
case("linear.bias_shape", "F.linear(np.ones((2, 3), np.float32), np.ones((4, 3), np.float32), "
     "np.ones(5, np.float32))", V, ["bias"])
case("dropout.p_2", "F.dropout(x, 2.0)", V, ["p", "2"])
case("dropout.p_nan", "F.dropout(x, float('nan'))", V, ["p", "nan"])
case("softmax.dim", "F.softmax(x, dim=7)", I, ["dim", "7"])
case("softmax.dim_2**63", "F.softmax(x, dim=2**63)", V, ["dim", "9223372036854775808"])
case("log_softmax.int", "F.log_softmax(np.ones((2, 3), np.int32), 1)", T, ["input", "int32"])
case("relu.strings", "F.relu(np.array(['a', 'b']))", T, ["input"])
case("relu.complex", "F.relu(np.ones(3, np.complex64))", T, ["input", "complex64"])
case("leaky_relu.slope_str", "F.leaky_relu(x, 'a')", T, ["negative_slope"])
case("hardtanh.order", "F.hardtanh(x, 1.0, -1.0)", V, ["min_val", "max_val"])
case("cross_entropy.target_range", "F.cross_entropy(np.ones((2, 3), np.float32), np.array([0, 7]))", I,
     ["target", "7"])
case("cross_entropy.target_neg", "F.cross_entropy(np.ones((2, 3), np.float32), np.array([0, -5]))", I,
     ["target", "-5"])
case("cross_entropy.target_shape", "F.cross_entropy(np.ones((2, 3), np.float32), np.array([0, 1, 2]))", V,
     ["target"])
case("cross_entropy.weight_shape", "F.cross_entropy(np.ones((2, 3), np.float32), np.array([0, 1]), "
     "weight=np.ones(5, np.float32))", V, ["weight"])
case("cross_entropy.smoothing", "F.cross_entropy(np.ones((2, 3), np.float32), np.array([0, 1]), "
     "label_smoothing=2.0)", V, ["label_smoothing"])
case("cross_entropy.reduction", "F.cross_entropy(np.ones((2, 3), np.float32), np.array([0, 1]), reduction='avg')",
     V, ["reduction", "avg"])
case("nll_loss.target_float", "F.nll_loss(np.ones((2, 3), np.float32), np.array([0.5, 1.5]))", T, ["target"])
case("mse_loss.shapes", "F.mse_loss(np.ones(3, np.float32), np.ones(4, np.float32))", V, ["target"])
case("binary_cross_entropy.range", "F.binary_cross_entropy(np.full(3, 2.0, np.float32), np.ones(3, np.float32))",
     V, ["input"])
case("cat.shapes", "F.cat([np.ones((2, 3), np.float32), np.ones((2, 4), np.float32)], 0)", V, ["shape"])
case("cat.empty", "F.cat([], 0)", V, ["tensors"])
case("cat.dim", "F.cat([x, x], 9)", I, ["dim", "9"])
case("flatten.dims", "F.flatten(x, 3, 1)", V, ["start_dim", "end_dim"])
case("reshape.huge", "fc._C.run_op('reshape', [np.zeros(0, np.float32)], {'shape': (2**32, 2**32)})", V,
     ["reshape", "shape"])
case("reshape.wrap", "fc._C.run_op('reshape', [np.zeros(0, np.float32)], {'shape': (2**40, 2**40, 0, -1)})", V,
     ["reshape", "shape"])
case("slice.wrap", "fc._C.run_op('slice', [np.zeros(4, np.float32)], {'dim': 0, 'start': 2**62, "
     "'length': 2**62})", I, ["slice", "start"])
case("broadcast_to.huge", "fc._C.run_op('broadcast_to', [np.zeros(1, np.float32)], {'shape': (2**31, 2**31)})",
     V, ["broadcast_to", "shape"])
case("run_op.unknown", "fc._C.run_op('conv9d', [x], {})", V, ["conv9d"])
