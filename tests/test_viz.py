"""fastconv.viz against independent references: torch autograd for Grad-CAM, torch sub-networks for feature maps,
NumPy for occlusion on a linear model, hand computation / brute-force gradients for receptive fields, hand-counted
parameters and multiply-adds for the layer table."""
from __future__ import annotations

import numpy as np
import pytest
from conftest import randn, t64, torch

import fastconv as fc
import fastconv.nn as nn
from fastconv import viz

tnn = torch.nn
TF = torch.nn.functional


# ---- an equivalent torch model with the same weights ----------------------------------------------------------
def _torch_layer(m):
    t = type(m).__name__
    if t == "Conv2d":
        return tnn.Conv2d(m.in_channels, m.out_channels, m.kernel_size, m.stride, m.padding, m.dilation,
                          m.groups, bias=m.bias is not None)
    if t == "Linear":
        return tnn.Linear(m.in_features, m.out_features, bias=m.bias is not None)
    if t == "BatchNorm2d":
        return tnn.BatchNorm2d(m.num_features, eps=m.eps)
    if t == "MaxPool2d":
        return tnn.MaxPool2d(m.kernel_size, m.stride, m.padding)
    if t == "AvgPool2d":
        return tnn.AvgPool2d(m.kernel_size, m.stride, m.padding)
    if t == "AdaptiveAvgPool2d":
        return tnn.AdaptiveAvgPool2d(m.output_size)
    return getattr(tnn, t)()


def torch_twin(model: nn.Sequential):
    tm = tnn.Sequential(*[_torch_layer(m) for m in model]).double()
    tm.load_state_dict({k: torch.tensor(np.asarray(v, dtype=np.float64) if v.dtype.kind == "f" else v)
                        for k, v in model.state_dict().items()})
    return tm.eval()


def small_cnn(bn: bool = False, seed: int = 0, classes: int = 5, cin: int = 3):
    fc.manual_seed(seed)
    layers = [nn.Conv2d(cin, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 8, 3, padding=1)]
    if bn:
        layers.append(nn.BatchNorm2d(8))
    layers += [nn.ReLU(), nn.Conv2d(8, 10, 3), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
               nn.Linear(10, classes)]
    m = nn.Sequential(*layers)
    if bn:  # non-trivial running statistics, so eval mode matters
        rng = np.random.default_rng(seed)
        m[4].running_mean[...] = rng.standard_normal(8).astype(np.float32) * 0.1
        m[4].running_var[...] = rng.uniform(0.5, 2.0, 8).astype(np.float32)
        m[4].weight[...] = rng.uniform(0.5, 1.5, 8).astype(np.float32)
    return m


def torch_grad_cam(tm, x, classes, layer_index: int):
    """The course's definition from torch autograd in float64: alpha = spatial mean of d logit_c / dA."""
    xt = t64(x)
    head, tail = tm[:layer_index + 1], tm[layer_index + 1:]
    a = head(xt).detach().requires_grad_(True)
    logits = tail(a)
    score = logits[torch.arange(len(x)), torch.as_tensor(classes)].sum()
    (g,) = torch.autograd.grad(score, a)
    alpha = g.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((alpha * a).sum(dim=1, keepdim=True))
    cam = TF.interpolate(cam, size=x.shape[2:], mode="bilinear", align_corners=False)[:, 0]
    m = cam.flatten(1).max(dim=1).values.clamp_min(1e-300)
    return (cam / m[:, None, None]).detach().numpy(), g.detach().numpy(), a.detach().numpy()


# ---- Grad-CAM -----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("bn,layer,n,hw,classes", [
    (False, "3", 2, (12, 12), [0, 3]),
    (False, "5", 1, (11, 13), 2),
    (True, "5", 3, (16, 16), [4, 1, 1]),
    (True, "4", 2, (10, 9), 1),
    (False, "1", 2, (8, 8), [2, 2]),
])
def test_grad_cam_matches_definition_from_torch_gradients(bn, layer, n, hw, classes):
    model = small_cnn(bn=bn, seed=len(hw) + n)
    x = randn(n, 3, *hw, seed=7 + n)
    idx = int(layer)
    cam, info = viz.grad_cam(model, x, classes, layer=layer, return_details=True)
    ref, g_ref, a_ref = torch_grad_cam(torch_twin(model), x, np.array(np.broadcast_to(classes, (n,))), idx)
    assert cam.shape == (n,) + hw and cam.dtype == np.float32
    assert np.abs(info["gradient"] - g_ref).max() <= 1e-4 * max(1.0, np.abs(g_ref).max())
    assert np.abs(info["activation"] - a_ref).max() <= 1e-4 * max(1.0, np.abs(a_ref).max())
    assert np.abs(cam - ref).max() <= 1e-4
    assert cam.min() >= 0.0 and cam.max() <= 1.0
    assert info["layer"] == layer


def test_grad_cam_default_layer_and_raw_map():
    model = small_cnn(seed=3)
    x = randn(2, 3, 12, 12, seed=1)
    # the last spatial layer (H*W > 1) is the ReLU after the third conv ('6'); the adaptive pool gives 1x1
    assert viz.default_cam_layer(model, (3, 12, 12)) == "6"
    cam = viz.grad_cam(model, x, 1)
    ref, _, _ = torch_grad_cam(torch_twin(model), x, [1, 1], 6)
    assert np.abs(cam - ref).max() <= 1e-4
    raw = viz.grad_cam(model, x, 1, upsample=False, normalize=False)
    tm = torch_twin(model)
    a = tm[:7](t64(x)).detach().requires_grad_(True)
    (g,) = torch.autograd.grad(tm[7:](a)[:, 1].sum(), a)
    want = torch.relu((g.mean(dim=(2, 3), keepdim=True) * a).sum(1)).detach().numpy()
    assert raw.shape == (2, 4, 4)
    assert np.abs(raw - want).max() <= 1e-4 * max(1.0, np.abs(want).max())


def test_grad_cam_errors():
    model = small_cnn()
    x = randn(2, 3, 8, 8)
    with pytest.raises(ValueError, match=r"grad_cam: no layer 'features\.9' ran.*'0', '1'"):
        viz.grad_cam(model, x, 0, layer="features.9")
    with pytest.raises(IndexError, match="grad_cam: target_class 5 is out of range for a model with 5 classes"):
        viz.grad_cam(model, x, 5)
    with pytest.raises(ValueError, match="grad_cam: target_class must be an int or 2 ints"):
        viz.grad_cam(model, x, [1, 2, 3])
    with pytest.raises(ValueError, match="grad_cam: layer '9' outputs shape .*needs feature maps"):
        viz.grad_cam(model, x, 0, layer="9")
    with pytest.raises(ValueError, match=r"grad_cam: input must be a batch \(N, C, H, W\)"):
        viz.grad_cam(model, np.zeros((8, 8), np.float32), 0)
    with pytest.raises(TypeError, match="grad_cam: model must be a fastconv.nn.Module"):
        viz.grad_cam(torch_twin(model), x, 0)


# ---- feature maps -------------------------------------------------------------------------------------------------
def test_feature_maps_equal_the_sub_networks_output():
    model = small_cnn(bn=True, seed=5)
    tm = torch_twin(model)
    x = randn(3, 3, 14, 14, seed=2)
    names = ["0", "2", "4", "9"]
    maps = viz.feature_maps(model, x, names)
    assert list(maps) == names
    for name in names:
        want = tm[:int(name) + 1](t64(x)).detach().numpy()
        assert maps[name].shape == want.shape
        assert np.abs(maps[name] - want).max() <= 1e-4 * max(1.0, np.abs(want).max())
    # one image, all layers, Module objects as names; a second call reuses the compiled graph
    one = viz.feature_maps(model, x[0], [model[6]])
    assert np.abs(one["6"][0] - tm[:7](t64(x[:1])).detach().numpy()[0]).max() <= 1e-4
    everything = viz.feature_maps(model, x)
    assert list(everything) == [str(i) for i in range(11)]
    assert model.training  # modes restored


def test_feature_maps_nested_names_and_errors():
    fc.manual_seed(0)
    model = nn.Sequential()
    model.add_module("features", nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU()))
    model.add_module("head", nn.Sequential(nn.Flatten(), nn.Linear(2 * 4 * 4, 3)))
    x = randn(1, 1, 6, 6)
    maps = viz.feature_maps(model, x, "features.1")
    w, b = model.features[0].weight, model.features[0].bias
    want = TF.relu(TF.conv2d(t64(x), t64(w), t64(b))).numpy()
    assert np.abs(maps["features.1"] - want).max() <= 1e-5
    assert viz.layer_names(model, (1, 6, 6)) == ["features.0", "features.1", "head.0", "head.1"]
    with pytest.raises(ValueError, match="feature_maps: no layer 'features.7' ran.*'features.0'"):
        viz.feature_maps(model, x, ["features.7"])


def test_feature_map_grid_layout():
    maps = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    g = viz.feature_map_grid(maps, ncols=2, pad=1)
    assert g.shape == (2 * 2 + 3, 2 * 2 + 3)
    # per-map min-max: each 2x2 map becomes [[0, 1/3], [2/3, 1]]
    np.testing.assert_allclose(g[1:3, 1:3], [[0, 1 / 3], [2 / 3, 1]], atol=1e-6)
    np.testing.assert_allclose(g[4:6, 1:3], [[0, 1 / 3], [2 / 3, 1]], atol=1e-6)
    assert np.all(g[4:6, 4:6] == 1.0)  # the unused cell stays padding
    whole = viz.feature_map_grid(maps[0], ncols=3, per_map=False, pad=0)
    np.testing.assert_allclose(whole[:, :2], [[0, 1 / 11], [2 / 11, 3 / 11]], atol=1e-6)


# ---- kernels ------------------------------------------------------------------------------------------------------
def test_kernel_images_normalisation_and_shape():
    w = randn(6, 3, 5, 4, seed=3)
    w[2] = 0.25  # a constant kernel
    img = viz.kernel_images(w)
    assert img.shape == (6, 5, 4, 3) and img.dtype == np.float32
    assert img.min() >= 0.0 and img.max() <= 1.0
    for k in (0, 1, 3, 4, 5):
        want = (w[k] - w[k].min()) / (w[k].max() - w[k].min())
        np.testing.assert_allclose(img[k], want.transpose(1, 2, 0), atol=1e-6)
        assert img[k].min() == 0.0 and img[k].max() == pytest.approx(1.0)
    assert np.all(img[2] == 0.5)
    grey = viz.kernel_images(randn(4, 1, 3, 3))
    assert grey.shape == (4, 3, 3, 3) and np.all(grey[..., 0] == grey[..., 2])
    conv = nn.Conv2d(3, 8, 3)
    assert viz.kernel_images(conv).shape == (8, 3, 3, 3)
    assert viz.kernel_grid(conv, ncols=4, pad=1, scale=2).shape == (2 * 6 + 3, 4 * 6 + 5, 3)
    with pytest.raises(ValueError, match="kernel_images: kernels with 5 input channels cannot be shown as RGB"):
        viz.kernel_images(randn(2, 5, 3, 3))
    with pytest.raises(ValueError, match=r"kernel_images: expected a conv weight \(C_out, C_in, kh, kw\)"):
        viz.kernel_images(randn(3, 3))


# ---- occlusion ----------------------------------------------------------------------------------------------------
def _softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@pytest.mark.parametrize("patch,stride,fill,hw", [(4, 2, 0.0, (8, 8)), ((3, 2), (2, 3), 0.5, (7, 9)),
                                                  (2, 2, "mean", (6, 6))])
def test_occlusion_on_a_linear_model(patch, stride, fill, hw):
    fc.manual_seed(1)
    c, k = 2, 4
    model = nn.Sequential(nn.Flatten(), nn.Linear(c * hw[0] * hw[1], k))
    W = np.asarray(model[1].weight, np.float64).reshape(k, c, *hw)
    b = np.asarray(model[1].bias, np.float64)
    x = randn(3, c, *hw, seed=4)
    cls = np.array([0, 3, 2])
    occ = viz.occlusion_map(model, x, cls, patch=patch, stride=stride, fill=fill, batch_size=5)
    ph, pw = (patch, patch) if isinstance(patch, int) else patch
    sh, sw = (stride, stride) if isinstance(stride, int) else stride
    rows, cols = range(0, hw[0] - ph + 1, sh), range(0, hw[1] - pw + 1, sw)
    assert occ.shape == (3, len(rows), len(cols))
    x64 = x.astype(np.float64)
    for n in range(3):
        logit = np.einsum("kchw,chw->k", W, x64[n]) + b
        base = _softmax(logit)[cls[n]]
        fillv = x64[n].mean(axis=(1, 2)) if fill == "mean" else np.full(c, fill)
        for i, r in enumerate(rows):
            for j, q in enumerate(cols):
                # the change of the logits is linear in the occluded pixels: W[:, patch] . (fill - x[patch])
                d = np.einsum("kchw,chw->k", W[:, :, r:r + ph, q:q + pw],
                              fillv[:, None, None] - x64[n, :, r:r + ph, q:q + pw])
                assert occ[n, i, j] == pytest.approx(base - _softmax(logit + d)[cls[n]], abs=2e-6)
    raw = viz.occlusion_map(model, x[0], 1, patch=patch, stride=stride, fill=fill, apply_softmax=False)
    assert raw.shape == (1, len(rows), len(cols))


def test_occlusion_errors():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 3))
    x = randn(1, 1, 4, 4)
    with pytest.raises(ValueError, match=r"occlusion_map: patch \(5, 5\) is larger than the image \(4, 4\)"):
        viz.occlusion_map(model, x, 0, patch=5)
    with pytest.raises(ValueError, match="occlusion_map: argument 'stride' must be a positive int"):
        viz.occlusion_map(model, x, 0, patch=2, stride=0)
    with pytest.raises(ValueError, match="occlusion_map: fill must be a number or 'mean'"):
        viz.occlusion_map(model, x, 0, patch=2, fill="grey")
    with pytest.raises(IndexError, match="occlusion_map: target_class 3 is out of range for a model with 3 classes"):
        viz.occlusion_map(model, x, 3, patch=2)


# ---- receptive fields ---------------------------------------------------------------------------------------------
def test_receptive_field_course_example():
    # notes 003: 3x3 conv -> 3, 4x4 conv -> 6, 2x2 max-pool stride 2 -> 7
    rows = viz.receptive_field([(3, 1), (4, 1), (2, 2)])
    assert [r.rf for r in rows] == [3, 6, 7]
    assert [r.jump for r in rows] == [1, 1, 2]
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Conv2d(4, 8, 4), nn.ReLU(), nn.MaxPool2d(2))
    rows = viz.receptive_field(model, 64)
    assert [(r.name, r.rf, r.jump, r.size) for r in rows] == [
        ("0", 3, 1, 62), ("1", 3, 1, 62), ("2", 6, 1, 59), ("3", 6, 1, 59), ("4", 7, 2, 29)]
    assert "rf" in viz.format_receptive_field(rows)


def test_receptive_field_vgg16_by_hand():
    # VGG16's conv stacks (3x3 pad 1, 2x2 pool stride 2): rf grows by 2*jump per conv and jump per pool
    cfg = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
    layers, cin = [], 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(cin, v, 3, padding=1), nn.ReLU(True)]
            cin = v
    rows = [r for r in viz.receptive_field(nn.Sequential(*layers), 224) if r.type != "ReLU"]
    hand_rf = [3, 5, 6, 10, 14, 16, 24, 32, 40, 44, 60, 76, 92, 100, 132, 164, 196, 212]
    hand_jump = [1, 1, 2, 2, 2, 4, 4, 4, 4, 8, 8, 8, 8, 16, 16, 16, 16, 32]
    hand_size = [224, 224, 112, 112, 112, 56, 56, 56, 56, 28, 28, 28, 28, 14, 14, 14, 14, 7]
    assert [r.rf for r in rows] == hand_rf
    assert [r.jump for r in rows] == hand_jump
    assert [r.size for r in rows] == hand_size
    # padding 1 keeps the first centre at pixel 0's centre (0.5); each pool moves it by half a jump
    assert [r.start for r in rows][:6] == [0.5, 0.5, 1.0, 1.0, 1.0, 2.0]


@pytest.mark.parametrize("layers", [
    [(3, 1, 1), (3, 2, 0), (5, 1, 2, 2), (2, 2)],
    [(7, 2, 3), (3, 2, 1), (3, 1, 1, 1), (3, 1, 2, 3)],
    [(1, 1), (4, 3, 1), (2, 1, 0, 2)],
])
def test_receptive_field_matches_brute_force_gradient(layers):
    """The support of d out[i] / d input (all-positive kernels, no zero-padding clipping in the middle of a big
    input) spans exactly rf pixels centred on start + i * jump."""
    size = 96
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    h = x
    for k, s, *rest in layers:
        p = rest[0] if rest else 0
        d = rest[1] if len(rest) > 1 else 1
        h = TF.conv2d(h, torch.ones(1, 1, k, k, dtype=torch.float64), stride=s, padding=p, dilation=d)
    i = h.shape[2] // 2
    (g,) = torch.autograd.grad(h[0, 0, i, i], x)
    nz = np.nonzero(g[0, 0].numpy().sum(axis=0))[0]
    last = viz.receptive_field(layers, size)[-1]
    assert last.size == h.shape[2]
    assert nz[-1] - nz[0] + 1 == last.rf
    assert (nz[0] + nz[-1]) / 2 + 0.5 == pytest.approx(last.start + i * last.jump)


def test_receptive_field_errors():
    with pytest.raises(ValueError, match=r"receptive_field: layer '0.bad' \(ConvTranspose2d\) upsamples"):
        viz.receptive_field(nn.Sequential(nn.ModuleDict({"bad": nn.ConvTranspose2d(1, 1, 2, 2)})))
    with pytest.raises(ValueError, match=r"receptive_field: layer 1 must be \(kernel, stride, padding, dilation\)"):
        viz.receptive_field([(3, 1), (3, 1, 0, 1, 9)])
    with pytest.raises(ValueError, match="receptive_field: layer '0' .*the \\(dilated\\) kernel 5 does not fit"):
        viz.receptive_field([(5, 1)], 4)
    assert viz.receptive_field([{"kernel": (3, 5), "stride": (1, 2)}])[0].rf == (3, 5)


# ---- counts -------------------------------------------------------------------------------------------------------
def test_layer_table_course_network_by_hand():
    # notes 003: conv 3->4 (3x3, 112 params), pool, conv 4->8 (296), pool, flatten 2048, linear -> 10 (20490)
    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(4, 8, 3, padding=1),
                          nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2048, 10))
    rows = viz.layer_table(model, (3, 64, 64))
    assert [r.params for r in rows] == [112, 0, 0, 296, 0, 0, 0, 20490]
    assert sum(r.params for r in rows) == 20898
    assert [r.output_shape for r in rows] == [(1, 4, 64, 64), (1, 4, 64, 64), (1, 4, 32, 32), (1, 8, 32, 32),
                                              (1, 8, 32, 32), (1, 8, 16, 16), (1, 2048), (1, 10)]
    conv1 = 64 * 64 * 4 * (3 * 3 * 3)       # outputs x (C_in * kh * kw)
    conv2 = 32 * 32 * 8 * (4 * 3 * 3)
    assert [r.macs for r in rows] == [conv1, 0, 0, conv2, 0, 0, 0, 2048 * 10]
    assert rows[0].macs == fc.conv_flops((1, 3, 64, 64), (4, 3, 3, 3), padding=1)
    assert rows[3].macs == fc.conv_flops((1, 4, 32, 32), (8, 4, 3, 3), padding=1)
    assert rows[0].flops == 2 * conv1
    assert rows[1].flops == 4 * 64 * 64                 # one max per element
    assert rows[2].flops == 4 * 32 * 32 * 3             # 3 comparisons per 2x2 window
    batch = viz.layer_table(model, (3, 64, 64), batch_size=4)
    assert [r.macs for r in batch] == [4 * r.macs for r in rows]
    text = viz.format_layer_table(rows)
    assert "20,898" in text and f"{conv1 + conv2 + 20480:,}" in text


def test_layer_table_params_agree_with_summary_and_groups():
    model = nn.Sequential(nn.Conv2d(4, 8, 3, groups=2, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                          nn.AvgPool2d(2), nn.Flatten(), nn.Linear(8 * 3 * 3, 5))
    rows = viz.layer_table(model, (4, 8, 8))
    text = model.summary((4, 8, 8), print_fn=lambda s: None)
    total = int(next(line for line in text.splitlines() if line.startswith("Total params")).split(":")[1]
                .replace(",", ""))
    assert sum(r.params for r in rows) == total == 8 * 2 * 9 + 4 * 8 + 72 * 5 + 5
    assert rows[0].macs == 6 * 6 * 8 * 2 * 9 == fc.conv_flops((1, 4, 8, 8), (8, 2, 3, 3), groups=2)
    assert rows[1].macs == rows[1].mults == 8 * 36 and rows[1].trainable == 16
    assert (rows[3].mults, rows[3].flops) == (8 * 9, 8 * 9 * 4)


# ---- plots --------------------------------------------------------------------------------------------------------
def test_save_image_and_overlay_roundtrip(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    img = np.linspace(0, 1, 3 * 5 * 6, dtype=np.float32).reshape(3, 5, 6)
    a = viz.save_image(img, tmp_path / "x.png")
    back = np.asarray(Image.open(tmp_path / "x.png"))
    assert back.shape == (5, 6, 3) and np.array_equal(back, a)
    assert np.array_equal(a, np.round(img.transpose(1, 2, 0) * 255).astype(np.uint8))
    grey = viz.save_image(img[0], tmp_path / "g.png", scale=2)
    assert np.asarray(Image.open(tmp_path / "g.png")).shape == (10, 12) and grey.shape == (10, 12)
    cam = np.zeros((5, 6), np.float32)
    cam[2, 3] = 1.0
    over = viz.save_heatmap_overlay(img[:1], cam, tmp_path / "o.png", alpha=0.5)
    assert over.shape == (5, 6, 3) and (tmp_path / "o.png").exists()
    np.testing.assert_allclose(over[2, 3], 0.5 * img[0, 2, 3] + 0.5 * np.array([0.5, 0, 0]), atol=1e-6)
    np.testing.assert_allclose(viz.jet([0.0, 0.5, 1.0]), [[0, 0, 0.5], [0.5, 1, 0.5], [0.5, 0, 0]], atol=1e-6)
    with pytest.raises(ValueError, match=r"heatmap_overlay: cam has shape \(4, 4\) but the image is \(5, 6\)"):
        viz.heatmap_overlay(img, np.zeros((4, 4)))


def test_plot_history(tmp_path):
    pytest.importorskip("matplotlib")
    h = fc.History()
    for e, (l, a) in enumerate([(1.0, 0.5), (0.5, 0.8)]):
        h.on_epoch_end(e, {"loss": l, "accuracy": a, "val_loss": l + 0.1, "val_accuracy": a - 0.1})
    got = viz.plot_history(h, tmp_path / "curves.png")
    assert got["val_accuracy"] == [0.4, pytest.approx(0.7)]
    assert (tmp_path / "curves.png").stat().st_size > 1000
    with pytest.raises(ValueError, match="plot_history: the history holds no metrics"):
        viz.plot_history({}, tmp_path / "none.png")


def test_captured_activations_survive_in_place_relu():
    # the memory planner runs ReLU(inplace=True) over its input; a requested activation must still be the
    # pre-ReLU value (it is an output of the compiled graph, so the planner keeps it)
    fc.manual_seed(2)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), nn.ReLU(inplace=True), nn.Conv2d(3, 4, 3), nn.ReLU(True),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    x = randn(2, 1, 8, 8, seed=9)
    tm = torch_twin(model)
    maps = viz.feature_maps(model, x, ["0", "2"])
    for name in ("0", "2"):
        want = tm[:int(name) + 1](t64(x)).detach().numpy()
        assert want.min() < 0 and np.abs(maps[name] - want).max() <= 1e-5
    cam = viz.grad_cam(model, x, [0, 2], layer="2")
    ref, _, _ = torch_grad_cam(tm, x, [0, 2], 2)
    assert np.abs(cam - ref).max() <= 1e-4
