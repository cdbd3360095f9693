"""Grad-CAM (the course notes' definition): which parts of an image drive the score of one class.

For the class score y^c (the pre-softmax logit) and the activation A (K feature maps of H x W) of a layer:

    alpha_k^c = 1/Z sum_i sum_j dy^c / dA^k_ij        (Z = H * W: the spatial mean of the gradient)
    L^c       = ReLU( sum_k alpha_k^c A^k )

The model runs in eval mode. dy^c/dA comes from fastconv's own compiled backward pass: the model is traced once,
the layer's output is a value of that graph, and `append_backward(score, [A])` differentiates with respect to it
(score = sum over the batch of logit[n, class_n], so each sample gets its own gradient). The map is upsampled
bilinearly to the input size (align_corners=False, as torch's interpolate) and divided by its maximum, so it lies
in [0, 1] (an all-zero map stays zero).
"""
from __future__ import annotations

import numpy as np

from ..nn.module import Module
from ._graph import Program, as_batch, leaf_calls, model_cache, resolve_layer, trace_calls

__all__ = ["grad_cam", "default_cam_layer"]


def _spatial_calls(calls):
    return [c for c in leaf_calls(calls)
            if not isinstance(c.output, (tuple, list)) and len(c.output.shape) == 4
            and c.output.shape[2] * c.output.shape[3] > 1]


def default_cam_layer(model: Module, input_shape) -> str:
    """The name of the last layer whose output is still a spatial map (N, C, H, W) with H*W > 1: the 'final
    convolutional feature maps' Grad-CAM looks at."""
    _, _, _, calls = trace_calls(model, (1,) + tuple(input_shape))
    sp = _spatial_calls(calls)
    if not sp:
        raise ValueError("grad_cam: the model has no layer with a spatial output (N, C, H, W); pass layer=...")
    return sp[-1].path


def _program(model: Module, shape, layer, fn: str):
    cache = model_cache(model)
    key = ("gradcam", shape, layer if isinstance(layer, (str, type(None))) else id(layer))
    hit = cache.get(key)
    if hit is not None:
        return hit
    ctx, xs, out, calls = trace_calls(model, shape)
    if layer is None:
        sp = _spatial_calls(calls)
        if not sp:
            raise ValueError(f"{fn}: the model has no layer with a spatial output (N, C, H, W); pass layer=...")
        call = sp[-1]
    else:
        call = resolve_layer(calls, layer, fn)
    a = call.output
    if isinstance(a, (tuple, list)) or len(a.shape) != 4:
        raise ValueError(f"{fn}: layer '{call.path}' outputs shape {getattr(a, 'shape', type(a).__name__)}; "
                         f"Grad-CAM needs feature maps (N, C, H, W)")
    logits = out[0] if isinstance(out, (tuple, list)) else out
    if len(logits.shape) != 2:
        raise ValueError(f"{fn}: the model's output must be class scores (N, num_classes), got shape "
                         f"{logits.shape}")
    g = ctx.graph
    onehot = ctx.input("onehot", logits.shape, "float32")
    score = (logits * onehot).sum()
    (grad,) = g.append_backward(score.id, [a.id])
    prog = Program(ctx, xs, [logits.id, a.id, grad], {"onehot": onehot})
    hit = cache[key] = (prog, call.path, tuple(logits.shape))
    return hit


def grad_cam(model: Module, x, target_class, layer=None, upsample: bool = True, normalize: bool = True,
             return_details: bool = False):
    """Grad-CAM heat maps (N, H, W) in [0, 1] for input x (N, C, H, W) or one image (C, H, W).

    target_class: one class index for all samples, or one per sample. layer: a dotted module name (or the Module);
    default: the last layer with a spatial output (default_cam_layer). upsample=False keeps the layer's resolution;
    normalize=False returns the raw ReLU(sum_k alpha_k A^k). return_details: also return a dict with 'logits',
    'activation', 'gradient', 'alpha' and 'layer'."""
    fn = "grad_cam"
    if not isinstance(model, Module):
        raise TypeError(f"{fn}: model must be a fastconv.nn.Module, got {type(model).__name__}")
    x = as_batch(x, fn)
    n = len(x)
    prog, path, lshape = _program(model, x.shape, layer, fn)
    classes = np.asarray(target_class)
    if classes.dtype.kind not in "iu" or classes.ndim > 1 or (classes.ndim == 1 and len(classes) != n):
        raise ValueError(f"{fn}: target_class must be an int or {n} ints (one per sample), got {target_class!r}")
    classes = np.broadcast_to(classes, (n,)).astype(np.int64)
    k = lshape[1]
    if n and (classes.min() < 0 or classes.max() >= k):
        raise IndexError(f"{fn}: target_class {target_class!r} is out of range for a model with {k} classes")
    onehot = np.zeros((n, k), np.float32)
    onehot[np.arange(n), classes] = 1.0
    logits, a, grad = prog.run(x, onehot=onehot)
    a64, g64 = a.astype(np.float64), grad.astype(np.float64)
    alpha = g64.mean(axis=(2, 3))                                   # 1/Z sum_ij dy^c/dA^k_ij
    cam = np.maximum((alpha[:, :, None, None] * a64).sum(axis=1), 0.0)
    if upsample and cam.shape[1:] != x.shape[2:]:
        from ..data.transforms import resize

        cam = np.maximum(resize(cam[:, None], tuple(x.shape[2:]))[:, 0], 0.0)
    if normalize:
        m = cam.reshape(n, -1).max(axis=1) if cam.size else np.zeros(n)
        cam = cam / np.where(m > 0, m, 1.0)[:, None, None]
    cam = cam.astype(np.float32)
    if return_details:
        return cam, dict(logits=logits, activation=a, gradient=grad, alpha=alpha.astype(np.float32), layer=path)
    return cam
