"""The `fastconv` command (also `python -m fastconv`):

    fastconv train [--model NAME] [--data digits|shapes|mnist:PATH|fashion:PATH|cifar10:PATH|folder:PATH] ...
    fastconv summary MODEL [--input-shape C,H,W] [--num-classes K] [--flops]
    fastconv predict MODEL_FILE IMAGE... [--top-k K]
    fastconv gradcam MODEL_FILE IMAGE [--class K] [--layer NAME] [--out PNG]
    fastconv bench [--only ...]
    fastconv --cmake-dir   (the C++ package: cmake -Dfastconv_DIR=$(python -m fastconv --cmake-dir))

`fastconv train` with no arguments trains a small CNN on scikit-learn's bundled digits (no download) and reaches
about 98% test accuracy in a few seconds. Model files are fastconv.save's safetensors files; those written by
`train` also record the input shape and class names in their metadata ("fastconv_cli"), which `predict` and
`gradcam` use.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

__all__ = ["main", "small_cnn", "build_model", "load_data", "save_model", "load_model"]

DEFAULT_MODEL = "smallcnn"


class CLIError(Exception):
    """A user error: printed as 'fastconv <command>: error: ...' with exit status 2."""


# ---- models -----------------------------------------------------------------------------------------------------
def small_cnn(in_channels: int = 1, num_classes: int = 10, image_size: int = 8):
    """The CLI's default model: conv-bn-relu x2, max-pool, conv-bn-relu, max-pool, linear (a plain Sequential, so
    saved files rebuild without this module)."""
    from . import nn

    if image_size < 4:
        raise CLIError(f"the small CNN needs images of at least 4x4 pixels, got {image_size}")
    side = image_size // 4
    return nn.Sequential(
        nn.Conv2d(in_channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
        nn.Conv2d(32, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * side * side, num_classes))


def _zoo():
    try:
        from . import models
    except ImportError:
        return None
    return models


def _zoo_names(models) -> list[str]:
    for attr in ("list_models", "available_models", "names"):
        f = getattr(models, attr, None)
        if callable(f):
            try:
                return sorted(f())
            except Exception:  # noqa: BLE001 - only used to improve an error message
                pass
    reg = getattr(models, "MODELS", None) or getattr(models, "REGISTRY", None)
    return sorted(reg) if isinstance(reg, dict) else []


def build_model(name: str, in_channels: int, num_classes: int, image_size: int):
    """DEFAULT_MODEL, or a model zoo name resolved through fastconv.models.get(name, num_classes=, in_channels=)."""
    if name == DEFAULT_MODEL:
        return small_cnn(in_channels, num_classes, image_size)
    models = _zoo()
    if models is None:
        raise CLIError(f"unknown model {name!r}: this installation has no model zoo (fastconv.models); available: "
                       f"{DEFAULT_MODEL!r}")
    try:
        return models.get(name, num_classes=num_classes, in_channels=in_channels)
    except (KeyError, ValueError) as e:
        names = [DEFAULT_MODEL] + _zoo_names(models)
        raise CLIError(f"unknown model {name!r} ({e}); available: {', '.join(names)}") from None


# ---- model files ------------------------------------------------------------------------------------------------
def save_model(model, path, **info) -> None:
    """fastconv.save plus a 'fastconv_cli' metadata entry (JSON: input_shape, class_names, ...). `model` may be the
    compiled model: its file then holds the traced programs the C++ Model loads; a module is traced at graph_shape
    (N, C, H, W) when given."""
    from .io import save

    shape = info.pop("graph_shape", None)
    save(model, path, metadata={"fastconv_cli": json.dumps(info, separators=(",", ":"))},
         input_shape=None if shape is None else tuple(shape))


def load_model(path):
    """(model, info): the model rebuilt by fastconv.load and the 'fastconv_cli' metadata ({} if absent)."""
    from .io import load, read_metadata

    if not os.path.isfile(path):
        raise CLIError(f"model file '{path}' does not exist")
    model = load(path)
    meta = read_metadata(path)
    try:
        info = json.loads(meta.get("fastconv_cli", "{}"))
    except (ValueError, RecursionError):  # the CLI's own notes are optional: a damaged entry is ignored
        info = {}
    if not isinstance(info, dict):
        info = {}
    names = info.get("class_names")
    if names is not None and not (isinstance(names, list) and all(isinstance(n, str) for n in names)):
        info.pop("class_names")
    return model.eval(), info


_MAX_CHANNELS, _MAX_SIDE = 4096, 8192  # far beyond any image this CLI reads; keeps resizes allocatable


def _input_shape(info: dict, given, where: str) -> tuple:
    if given is not None:
        return given
    shape = info.get("input_shape")
    if not shape:
        raise CLIError(f"{where} does not record its input shape (not written by `fastconv train`); pass "
                       f"--input-shape C,H,W")
    if not (isinstance(shape, list) and len(shape) == 3 and
            all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in shape) and
            shape[0] <= _MAX_CHANNELS and max(shape[1:]) <= _MAX_SIDE):
        raise CLIError(f"{where}: the recorded input shape {str(shape)[:60]} is not three positive sizes C,H,W "
                       f"(C <= {_MAX_CHANNELS}, H, W <= {_MAX_SIDE}); pass --input-shape C,H,W")
    return tuple(shape)


# ---- data -------------------------------------------------------------------------------------------------------
DATA_KINDS = ("digits", "shapes", "mnist", "fashion", "cifar10", "folder")


def _parse_data(spec: str) -> tuple[str, str | None]:
    kind, _, path = spec.partition(":")
    if kind not in DATA_KINDS:
        raise CLIError(f"--data {spec!r}: unknown data set {kind!r}; expected digits, shapes, mnist:PATH, "
                       f"fashion:PATH, cifar10:PATH or folder:PATH")
    if kind in ("digits", "shapes") and path:
        raise CLIError(f"--data {spec!r}: the {kind} data set is built in and takes no path")
    if kind not in ("digits", "shapes") and not path:
        raise CLIError(f"--data {kind} needs the folder holding the files: --data {kind}:/path/to/{kind}")
    # the shell leaves ~ unexpanded after "cifar10:", so expand it here
    return kind, os.path.expanduser(path) if path else None


def load_data(spec: str, image_size: int | None = None, seed: int = 0):
    """(x_train, y_train, x_test, y_test, class_names) as NCHW float32 in [0, 1] and int64 labels."""
    from . import data
    from .data.transforms import resize

    kind, path = _parse_data(spec)
    if kind == "digits":
        xtr, ytr = data.load_digits("train", image_size=image_size or 8, seed=seed)
        xte, yte = data.load_digits("test", image_size=image_size or 8, seed=seed)
        names = [str(i) for i in range(10)]
    elif kind == "shapes":
        s = image_size or 32
        tr, te = data.make_shapes(3000, s, seed=seed), data.make_shapes(600, s, seed=seed + 1)
        xtr, ytr, xte, yte, names = tr.images, tr.labels, te.images, te.labels, list(data.SHAPE_KINDS)
    elif kind in ("mnist", "fashion"):
        load = data.load_mnist if kind == "mnist" else data.load_fashion_mnist
        xtr, ytr = load(path, "train")
        xte, yte = load(path, "test")
        names = list(data.MNIST_CLASSES if kind == "mnist" else data.FASHION_MNIST_CLASSES)
    elif kind == "cifar10":
        xtr, ytr = data.load_cifar10(path, "train")
        xte, yte = data.load_cifar10(path, "test")
        names = list(data.CIFAR10_CLASSES)
    else:
        folder = data.ImageFolder(path, image_size=image_size or 32, channels=3)
        x, y = folder.arrays()
        tr, te = data.stratified_split(y, 0.2, seed)
        xtr, ytr, xte, yte, names = x[tr], y[tr], x[te], y[te], list(folder.classes)
    if image_size and kind in ("mnist", "fashion", "cifar10") and xtr.shape[2:] != (image_size, image_size):
        xtr = np.clip(resize(xtr, image_size), 0, 1).astype(np.float32)
        xte = np.clip(resize(xte, image_size), 0, 1).astype(np.float32)
    return xtr, ytr, xte, yte, names


def _read_image(path: str, shape: tuple, invert=None) -> np.ndarray:
    """An image file as (C, H, W) float32 in [0, 1], converted to the model's channels and resized: area averaging
    when it shrinks, bilinear (as the training data readers resize) otherwise. invert=None: a greyscale image on a
    light background (dark ink on paper) is inverted to the light-on-dark polarity of the digit data sets, with a
    note on stderr."""
    try:
        from PIL import Image
    except ImportError as e:
        raise CLIError("reading images needs Pillow: pip install pillow") from e
    c, h, w = shape
    if c not in (1, 3):
        raise CLIError(f"the model takes {c}-channel input; only 1 (greyscale) and 3 (RGB) channel images can be read")
    try:
        with Image.open(path) as im:
            a = np.asarray(im.convert("L" if c == 1 else "RGB"), dtype=np.float32) / 255.0
    except FileNotFoundError:
        raise CLIError(f"image '{path}' does not exist") from None
    except OSError as e:
        raise CLIError(f"cannot read image '{path}': {e}") from None
    a = (a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
    if a.shape[1] >= h and a.shape[2] >= w and a.shape[1:] != (h, w):
        # Shrinking (a photo or scan of a digit down to 8x8): average whole areas; bilinear would point-sample.
        from .functional import adaptive_avg_pool2d

        a = adaptive_avg_pool2d(np.ascontiguousarray(a[None]), (h, w))[0]
    elif a.shape[1:] != (h, w):
        from .data.transforms import resize

        a = np.clip(resize(a[None], (h, w))[0], 0.0, 1.0)
    if invert is None:
        border = np.concatenate([a[:, 0].ravel(), a[:, -1].ravel(), a[:, :, 0].ravel(), a[:, :, -1].ravel()])
        invert = c == 1 and float(border.mean()) > 0.5
        if invert:
            print(f"note: {path} is dark on a light background; inverted it to light on dark, as the digit data "
                  f"sets are (--no-invert keeps it as it is)", file=sys.stderr)
    return np.ascontiguousarray(1.0 - a if invert else a, dtype=np.float32)


# ---- commands ---------------------------------------------------------------------------------------------------
def _shape_arg(s: str) -> tuple:
    try:
        t = tuple(int(v) for v in s.replace("x", ",").split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected C,H,W (e.g. 3,32,32), got {s!r}") from None
    if len(t) != 3 or min(t) < 1 or t[0] > _MAX_CHANNELS or max(t[1:]) > _MAX_SIDE:
        raise argparse.ArgumentTypeError(f"expected three positive sizes C,H,W (e.g. 3,32,32; C <= {_MAX_CHANNELS}, "
                                         f"H, W <= {_MAX_SIDE}), got {s!r}")
    return t


def _positive(kind, hi=None):
    def parse(s: str):
        try:
            v = kind(s)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {s!r}") from None
        if not v > 0 or (kind is float and not math.isfinite(v)):
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__}, got {s!r}")
        if hi is not None and v > hi:
            raise argparse.ArgumentTypeError(f"expected a positive {kind.__name__} of at most {hi}, got {s!r}")
        return v
    return parse


def _seed(s: str) -> int:
    try:
        v = int(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {s!r}") from None
    if not 0 <= v < 2 ** 63:
        raise argparse.ArgumentTypeError(f"expected an integer in [0, 2**63), got {s!r}")
    return v


def _unit(s: str) -> float:
    try:
        v = float(s)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {s!r}") from None
    if not 0.0 <= v <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a number in [0, 1], got {s!r}")
    return v


def _writable_dir(path: str, what: str) -> None:
    """Creates the output folder now, so that a bad --out fails before a long training run, not after it."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise CLIError(f"{what} {path!r} exists and is not a folder")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as e:
        raise CLIError(f"{what} {path!r}: cannot create the folder ({e.strerror or e})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise CLIError(f"{what} {path!r}: the folder is not writable")


def _writable_file(path: str, what: str) -> None:
    if os.path.isdir(path):
        raise CLIError(f"{what} {path!r} is a folder; give a file name such as cam.png")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise CLIError(f"{what} {path!r}: the folder {parent!r} does not exist")
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise CLIError(f"{what} {path!r} is not writable")


def _launch(a) -> int:
    """`fastconv train --nproc N`: the same command again as N processes of this machine, through mpirun."""
    from . import distributed as dist
    import shutil

    mpirun = shutil.which("mpirun") or shutil.which("mpiexec")
    if mpirun is None:
        raise CLIError(f"--nproc {a.nproc}: mpirun is not on PATH (install OpenMPI or MPICH: apt-get install "
                       f"openmpi-bin libopenmpi-dev, then rebuild fastconv)")
    if not dist.is_available():
        raise CLIError(f"--nproc {a.nproc}: this fastconv was built without its MPI backend "
                       f"(fastconv.distributed.is_available() is False; CMake found no MPI)")
    env = dict(os.environ)
    cmd = [mpirun, "-np", str(a.nproc)]
    ver = subprocess.run([mpirun, "--version"], capture_output=True, text=True).stdout
    if "Open MPI" in ver or "OpenRTE" in ver:
        # one machine: more processes than cores is the user's call; the thread counts below share the cores
        cmd += ["--oversubscribe", "--bind-to", "none"]
        if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers: OpenMPI refuses root without both
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
            env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    if "FASTCONV_NUM_THREADS" not in env and "OMP_NUM_THREADS" not in env:
        env["FASTCONV_NUM_THREADS"] = str(max(1, (os.cpu_count() or 1) // a.nproc))
    cmd += [sys.executable, "-m", "fastconv"] + a._argv  # --nproc included: each rank checks it got N
    print(f"fastconv train: starting {a.nproc} processes: {' '.join(cmd)}", flush=True)
    return subprocess.run(cmd, env=env).returncode


def cmd_train(a) -> int:
    import fastconv as fc
    from . import distributed as dist
    from .viz.plots import plot_history

    if a.device == "cuda" and not fc.cuda.is_available():
        raise CLIError("--device cuda: no CUDA device is available (fastconv.cuda.is_available() is False)")
    if not dist.launched_by_mpi() and a.nproc is not None and a.nproc > 1:
        if a.device == "cuda":
            raise CLIError("--nproc with --device cuda: data-parallel training runs on CPUs only (no NCCL backend)")
        return _launch(a)
    world, rank = 1, 0
    if dist.launched_by_mpi():  # under mpirun (--nproc or by hand): one rank of a data-parallel run
        if a.device == "cuda":
            raise CLIError("--device cuda under mpirun: data-parallel training runs on CPUs only (no NCCL backend)")
        dist.init("mpi")
        world, rank = dist.world_size(), dist.rank()
        if a.nproc is not None and a.nproc != world:
            raise CLIError(f"--nproc {a.nproc} under mpirun with {world} processes: mpirun already started them; "
                           f"give one or the other")
        if a.batch_size % world:
            raise CLIError(f"--batch-size {a.batch_size} is the global batch: it must be a multiple of the {world} "
                           f"processes")
    say = print if rank == 0 else (lambda *args, **kwargs: None)
    # Everything that can be checked without the data is checked before it is loaded and the model trained.
    _parse_data(a.data)
    models = _zoo()
    if a.model != DEFAULT_MODEL and models is not None and a.model.lower() not in _zoo_names(models):
        raise CLIError(f"unknown model {a.model!r}; available: {', '.join([DEFAULT_MODEL] + _zoo_names(models))}")
    _writable_dir(a.out, "--out")
    fc.manual_seed(a.seed)
    t0 = time.perf_counter()
    xtr, ytr, xte, yte, names = load_data(a.data, a.image_size, a.seed)
    c, h, w = xtr.shape[1:]
    model = inner = build_model(a.model, c, len(names), min(h, w))
    batch = a.batch_size // world  # per process: fit's batch_size is per rank, the global batch a.batch_size
    if world > 1:
        if a.sync_bn:
            model = inner = fc.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        model = dist.DistributedDataParallel(model)  # rank 0's initial weights everywhere
    lr = a.lr if a.lr is not None else (0.002 if a.optimizer == "adam" else 0.05)
    opt = fc.optim.Adam(model.parameters(), lr=lr) if a.optimizer == "adam" else \
        fc.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    procs = f" ({batch} per process x {world} processes{', SyncBatchNorm' if a.sync_bn else ''})" if world > 1 else ""
    say(f"fastconv train: {a.model} on {a.data} ({len(xtr)} train / {len(xte)} test images of {c}x{h}x{w}, "
        f"{len(names)} classes), {a.optimizer} lr={lr:g}, batch {a.batch_size}{procs}, {a.epochs} epochs, "
        f"{fc.get_isa()} kernels, {fc.get_num_threads()} threads", flush=True)
    try:
        net = fc.compile(model, (min(batch, len(xtr) // world), c, h, w), loss="cross_entropy", optimizer=opt,
                         device=a.device)
    except NotImplementedError as e:
        raise CLIError(str(e)) from None
    # The test split is shown as 'val_' in the curves: it is never used for training or model selection.
    hist = fc.fit(net, xtr, ytr, batch_size=batch, epochs=a.epochs, validation_data=(xte, yte),
                  seed=a.seed, verbose=0 if a.quiet else 1)
    res = fc.evaluate(net, xte, yte, batch_size=256, return_dict=True)
    correct = int(round(res["accuracy"] * len(yte)))
    say(f"test accuracy: {res['accuracy']:.4f} ({correct}/{len(yte)}), test loss: {res['loss']:.4f}, "
        f"{time.perf_counter() - t0:.1f}s")
    if rank != 0:  # every rank holds the same weights: rank 0 writes the files
        dist.barrier()
        return 0
    os.makedirs(a.out, exist_ok=True)
    model_path = os.path.join(a.out, "model.safetensors")
    # several processes: the unwrapped model with its inference graph (the training program talks to the ranks)
    save_model(net if world == 1 else inner, model_path, input_shape=[c, h, w], class_names=names, data=a.data,
               model_name=a.model, **({} if world == 1 else {"graph_shape": [batch, c, h, w]}))
    hist_path = os.path.join(a.out, "history.json")
    with open(hist_path, "w") as f:
        json.dump({"history": hist.history, "test_accuracy": res["accuracy"], "test_loss": res["loss"],
                   "args": {k: v for k, v in vars(a).items() if k not in ("func", "_argv")}}, f, indent=1)
    curves = os.path.join(a.out, "training_curves.png")
    try:
        plot_history(hist, curves, title=f"{a.model} on {a.data} (val = held-out test split)")
    except ImportError as e:
        curves = f"(not written: {e})"
    print(f"saved {model_path}, {hist_path}, {curves}")
    if world > 1:
        dist.barrier()
    return 0


def cmd_summary(a) -> int:
    import fastconv as fc
    from .viz.counts import format_layer_table, layer_table

    if os.path.isfile(a.model) or a.model.endswith(".safetensors"):
        model, info = load_model(a.model)
        shape = _input_shape(info, a.input_shape, a.model)
    else:
        shape = a.input_shape
        cin = shape[0] if shape else 3
        model = build_model(a.model, cin, a.num_classes, shape[1] if shape else 32)
        if shape is None:
            shape = tuple(getattr(model, "input_shape", None) or getattr(model, "default_input_shape", None) or
                          (cin, 32, 32))
            print(f"(input shape {','.join(map(str, shape))}; set it with --input-shape C,H,W)")
    try:
        fc.summary(model, shape)
        if a.flops:
            print()
            print(format_layer_table(layer_table(model, shape), human=True))
    except (ValueError, IndexError) as e:
        raise CLIError(f"the model does not accept inputs of shape {shape}: {e}") from None
    return 0


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z.astype(np.float64) - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


def cmd_predict(a) -> int:
    import fastconv as fc

    model, info = load_model(a.model_file)
    shape = _input_shape(info, a.input_shape, a.model_file)
    names = info.get("class_names")
    x = np.stack([_read_image(p, shape, a.invert) for p in a.images])
    out = fc.predict(model, x, batch_size=len(x))
    out = out[0] if isinstance(out, (tuple, list)) else out
    if out.ndim != 2:
        raise CLIError(f"the model's output has shape {out.shape}; predict needs class scores (N, num_classes)")
    p = _softmax(out)
    k = min(a.top_k, p.shape[1])
    for path, row in zip(a.images, p):
        top = np.argsort(-row, kind="stable")[:k]
        label = (lambda i: f"{names[i]} [{i}]" if names and i < len(names) else str(i))
        print(f"{path}: " + ", ".join(f"{label(int(i))} {row[i]:.4f}" for i in top))
    return 0


def cmd_gradcam(a) -> int:
    from .viz.gradcam import grad_cam
    from .viz.plots import save_heatmap_overlay

    _writable_file(a.out, "--out")
    model, info = load_model(a.model_file)
    shape = _input_shape(info, a.input_shape, a.model_file)
    names = info.get("class_names") or []
    x = _read_image(a.image, shape, a.invert)[None]
    if a.target is None:  # the predicted class (the logits come with a first Grad-CAM pass)
        _, d = grad_cam(model, x, 0, layer=a.layer, return_details=True)
        target = int(np.argmax(d["logits"][0]))
    elif a.target in names:
        target = names.index(a.target)
    else:
        try:
            target = int(a.target)
        except ValueError:
            raise CLIError(f"--class {a.target!r} is neither a class index nor one of the class names "
                           f"{names}") from None
    try:
        cam, d = grad_cam(model, x, target, layer=a.layer, return_details=True)
    except IndexError as e:
        raise CLIError(str(e)) from None
    scale = a.scale or max(1, 256 // max(shape[1:]))
    save_heatmap_overlay(x[0], cam[0], a.out, alpha=a.alpha, scale=scale)
    p = _softmax(d["logits"])[0]
    label = names[target] if target < len(names) else str(target)
    print(f"Grad-CAM for class {label} [{target}] (p={p[target]:.4f}; predicted "
          f"{names[int(p.argmax())] if names else int(p.argmax())}) at layer '{d['layer']}' -> {a.out}")
    return 0


def find_bench_dir() -> str:
    """bench/ of a source tree: $FASTCONV_BENCH_DIR, else next to the package (python/fastconv/../../bench), else
    ./bench."""
    env = os.environ.get("FASTCONV_BENCH_DIR")
    if env:
        if not os.path.isfile(os.path.join(env, "bench_ops.py")):
            raise CLIError(f"FASTCONV_BENCH_DIR={env!r} holds no bench_ops.py")
        return env
    here = os.path.dirname(os.path.abspath(__file__))
    for d in (os.path.join(here, "..", "..", "bench"), os.path.join(os.getcwd(), "bench")):
        if os.path.isfile(os.path.join(d, "bench_ops.py")):
            return os.path.normpath(d)
    raise CLIError("the benchmarks live in the source tree (bench/bench_ops.py), which this installation does not "
                   "have; run from a fastconv checkout or set FASTCONV_BENCH_DIR=/path/to/fastconv/bench")


def cmd_bench(a, extra: list[str]) -> int:
    d = find_bench_dir()
    scripts = []
    if a.which in ("ops", "all"):
        scripts.append(os.path.join(d, "bench_ops.py"))
    models = os.path.join(d, "bench_models.py")
    if a.which in ("models", "all") and os.path.isfile(models):
        scripts.append(models)
    elif a.which == "models":
        raise CLIError(f"{models} does not exist in this source tree")
    status = 0
    for s in scripts:
        argv = [sys.executable, s] + list(extra)
        if a.only and (s.endswith("bench_ops.py") or '"--only"' in open(s).read()):
            argv += ["--only", a.only]
        print(f"$ {' '.join(argv[1:])}", flush=True)
        status = subprocess.call(argv) or status
    return status


# ---- parser -----------------------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="fastconv", description="fastconv: train, inspect and explain CNNs.",
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="Run 'fastconv COMMAND --help' for a command's options.")
    p.add_argument("--version", action="store_true", help="print the version and the CPU kernel level")
    p.add_argument("--cmake-dir", action="store_true",
                   help="print the folder holding fastconvConfig.cmake (for -Dfastconv_DIR=... in C++ projects)")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train a model and save it with its history and training curves",
                       description="Train a CNN (default: a small CNN on the built-in digits), evaluate it on the "
                                   "held-out test split and save model.safetensors, history.json and "
                                   "training_curves.png into --out.")
    t.add_argument("--model", default=DEFAULT_MODEL,
                   help=f"'{DEFAULT_MODEL}' (default) or a fastconv.models name (lenet5, vgg11, resnet18, ...)")
    t.add_argument("--data", default="digits", help="digits (default), shapes, mnist:PATH, fashion:PATH, "
                                                    "cifar10:PATH or folder:PATH (root/<class>/<image>)")
    t.add_argument("--epochs", type=_positive(int, 10 ** 6), default=20)
    t.add_argument("--batch-size", type=_positive(int, 2 ** 20), default=32)
    t.add_argument("--lr", type=_positive(float), default=None, help="default 0.002 (adam) or 0.05 (sgd)")
    t.add_argument("--optimizer", choices=("sgd", "adam"), default="adam")
    t.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    t.add_argument("--image-size", type=_positive(int, 4096), default=None,
                   help="resize images to this side (default: the data set's own size; 32 for folders)")
    t.add_argument("--seed", type=_seed, default=0)
    t.add_argument("--out", default="fastconv-run", help="output folder (default ./fastconv-run)")
    t.add_argument("--quiet", action="store_true", help="no progress bar")
    t.add_argument("--nproc", type=_positive(int, 4096), default=None,
                   help="train data-parallel on N processes of this machine, started through mpirun (--batch-size "
                        "stays the global batch; also works under mpirun without --nproc)")
    t.add_argument("--sync-bn", action="store_true",
                   help="with several processes: batch norm statistics of the global batch (SyncBatchNorm) instead "
                        "of each process's own")
    t.set_defaults(func=cmd_train)

    s = sub.add_parser("summary", help="print a model's layer table",
                       description="Keras-style summary of a saved model file or a model zoo name.")
    s.add_argument("model", metavar="MODEL", help="a model file (.safetensors) or a zoo name")
    s.add_argument("--input-shape", type=_shape_arg, default=None, help="C,H,W (default: from the file, or 3,32,32)")
    s.add_argument("--num-classes", type=_positive(int, 10 ** 6), default=10)
    s.add_argument("--flops", action="store_true", help="also print parameters, MACs and FLOPs per layer")
    s.set_defaults(func=cmd_summary)

    r = sub.add_parser("predict", help="classify image files with a saved model",
                       description="Top-k classes of each image (PNG/JPEG, resized to the model's input size).")
    r.add_argument("model_file", metavar="MODEL_FILE")
    r.add_argument("images", metavar="IMAGE", nargs="+")
    r.add_argument("--top-k", type=_positive(int, 10 ** 6), default=3)
    r.add_argument("--input-shape", type=_shape_arg, default=None, help="C,H,W if the file does not record it")
    r.add_argument("--invert", action=argparse.BooleanOptionalAction, default=None,
                   help="use 1 - pixel (default: greyscale images on a light background are inverted, with a note)")
    r.set_defaults(func=cmd_predict)

    g = sub.add_parser("gradcam", help="write a Grad-CAM heat-map overlay PNG",
                       description="Grad-CAM of one image for one class, overlaid on the image.")
    g.add_argument("model_file", metavar="MODEL_FILE")
    g.add_argument("image", metavar="IMAGE")
    g.add_argument("--class", dest="target", default=None,
                   help="class index or name (default: the predicted class)")
    g.add_argument("--layer", default=None, help="module name (default: the last layer with spatial output)")
    g.add_argument("--out", default="gradcam.png", help="output PNG (default gradcam.png)")
    g.add_argument("--alpha", type=_unit, default=0.5, help="heat-map opacity in [0, 1]")
    g.add_argument("--scale", type=_positive(int, 64), default=None, help="enlarge the PNG (default: to ~256 px)")
    g.add_argument("--input-shape", type=_shape_arg, default=None, help="C,H,W if the file does not record it")
    g.add_argument("--invert", action=argparse.BooleanOptionalAction, default=None,
                   help="use 1 - pixel (default: greyscale images on a light background are inverted, with a note)")
    g.set_defaults(func=cmd_gradcam)

    b = sub.add_parser("bench", help="run the benchmarks of a source tree (bench/)",
                       description="Runs bench/bench_ops.py (and bench/bench_models.py when present) from the "
                                   "source tree; other options are passed to the scripts (e.g. --repeats 3).")
    b.add_argument("--only", default=None, help="comma-separated parts, e.g. sgemm,conv")
    b.add_argument("--which", choices=("ops", "models", "all"), default="all")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv=None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, extra = parser.parse_known_args(argv)
    args._argv = argv
    if args.command != "bench" and extra:
        parser.parse_args(argv)  # reports the unknown arguments and exits 2
    if args.version:
        import fastconv as fc
        print(f"fastconv {fc.__version__} ({fc.get_isa()} kernels, CUDA available: {fc.cuda.is_available()})")
        return 0
    if args.cmake_dir:
        import fastconv as fc
        print(fc.get_cmake_dir())
        return 0
    if args.command is None:
        parser.print_help()
        return 2
    try:
        if args.command == "bench":
            return cmd_bench(args, extra)
        return args.func(args)
    except CLIError as e:
        print(f"fastconv {args.command}: error: {e}", file=sys.stderr)
        return 2
    except (ValueError, OSError, ImportError, IndexError, TypeError, RuntimeError, MemoryError,
            FloatingPointError) as e:
        # fastconv's errors name what was wrong; a traceback would only bury that line.
        print(f"fastconv {args.command}: error: {type(e).__name__ + ': ' if isinstance(e, MemoryError) else ''}{e}",
              file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"fastconv {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
