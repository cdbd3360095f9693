"""The fastconv command, run as `python -m fastconv` in subprocesses (the console script calls the same main)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastconv as fc

PKG_ROOT = str(Path(fc.__file__).resolve().parent.parent)


def run(*args, cwd=None, env=None, timeout=240):
    e = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=os.pathsep.join([PKG_ROOT, os.environ.get("PYTHONPATH", "")]))
    e.update(env or {})
    return subprocess.run([sys.executable, "-m", "fastconv", *map(str, args)], cwd=cwd, env=e, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("run")
    r = run("train", "--epochs", 3, "--quiet", "--out", out, "--seed", 1, cwd=out)
    assert r.returncode == 0, r.stderr
    return out, r


def test_train_writes_model_history_and_curves(trained):
    out, r = trained
    m = re.search(r"test accuracy: ([0-9.]+) \((\d+)/(\d+)\)", r.stdout)
    assert m, r.stdout
    acc, correct, total = float(m.group(1)), int(m.group(2)), int(m.group(3))
    assert total == 360 and correct == round(acc * total)
    assert acc >= 0.9  # 3 epochs; the default 20 reach about 0.98
    hist = json.loads((out / "history.json").read_text())
    assert len(hist["history"]["loss"]) == 3 and set(hist["history"]) >= {"loss", "accuracy", "val_loss",
                                                                          "val_accuracy"}
    assert hist["test_accuracy"] == pytest.approx(acc, abs=1e-4)
    png = (out / "training_curves.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    # the saved model rebuilds with fastconv.load and reproduces the printed test accuracy
    from fastconv.data import load_digits

    model = fc.load(out / "model.safetensors").eval()
    x, y = load_digits("test", seed=1)  # the split `train --seed 1` held out
    assert (fc.predict(model, x).argmax(1) == y).mean() == pytest.approx(acc, abs=1e-4)


def test_summary_of_a_saved_model(trained):
    out, _ = trained
    r = run("summary", out / "model.safetensors", "--flops")
    assert r.returncode == 0, r.stderr
    # conv 1->32 (320), bn (128), conv 32->32 (9248), bn (128), conv 32->64 (18496), bn (256), linear 256->10 (2570)
    assert "Total params: 31,146" in r.stdout and "Non-trainable params: 256" in r.stdout
    assert "(None, 64, 2, 2)" in r.stdout
    # MACs: 8*8*32*9 + 8*8*32*288 + 4*4*64*288 + 256*10 (+ batch norm 2048+2048+1024)
    assert f"{(18432 + 589824 + 294912 + 2560 + 5120) / 1e3:.2f}K" in r.stdout


def test_predict_png_files(trained, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    out, _ = trained
    from fastconv.data import load_digits

    x, y = load_digits("test")
    paths = []
    for i in range(12):
        p = tmp_path / f"digit{i}.png"
        Image.fromarray(np.round(x[i, 0] * 255).astype(np.uint8)).resize((32, 32), Image.NEAREST).save(p)
        paths.append(p)
    r = run("predict", out / "model.safetensors", *paths, "--top-k", 2)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 12
    hits = 0
    for line, p, label in zip(lines, paths, y):
        m = re.fullmatch(re.escape(str(p)) + r": (\d) \[(\d)\] ([0-9.]+), (\d) \[(\d)\] ([0-9.]+)", line)
        assert m, line
        assert m.group(1) == m.group(2) and float(m.group(3)) >= float(m.group(6))
        assert float(m.group(3)) + float(m.group(6)) <= 1.0 + 1e-4
        hits += int(m.group(1)) == label
    assert hits >= 9


def test_gradcam_writes_png(trained, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    out, _ = trained
    from fastconv.data import load_digits

    x, y = load_digits("test")
    img = tmp_path / "d.png"
    Image.fromarray(np.round(x[1, 0] * 255).astype(np.uint8)).save(img)
    png = tmp_path / "cam.png"
    r = run("gradcam", out / "model.safetensors", img, "--class", int(y[1]), "--layer", "5", "--out", png)
    assert r.returncode == 0, r.stderr
    assert f"class {y[1]} [{y[1]}]" in r.stdout and "layer '5'" in r.stdout
    a = np.asarray(Image.open(png))
    assert a.shape == (256, 256, 3)  # 8x8 input enlarged 32 times
    r = run("gradcam", out / "model.safetensors", img, "--out", tmp_path / "pred.png")
    assert r.returncode == 0 and "predicted" in r.stdout and (tmp_path / "pred.png").exists()
    r = run("gradcam", out / "model.safetensors", img, "--class", 10, "--out", png)
    assert r.returncode != 0 and "target_class 10 is out of range for a model with 10 classes" in r.stderr


@pytest.mark.parametrize("args,message", [
    (("train", "--data", "imagenet"), "unknown data set 'imagenet'"),
    (("train", "--data", "mnist"), "--data mnist needs the folder holding the files"),
    (("train", "--data", "mnist:/nonexistent/dir", "--epochs", "1"), "not found under '/nonexistent/dir'"),
    (("train", "--epochs", "0"), "argument --epochs: expected a positive int, got '0'"),
    (("train", "--optimizer", "lbfgs"), "argument --optimizer: invalid choice: 'lbfgs'"),
    (("train", "--bogus"), "unrecognized arguments: --bogus"),
    (("summary", "no-such-model-name"), "unknown model 'no-such-model-name'"),
    (("summary", "x.safetensors"), "model file 'x.safetensors' does not exist"),
    (("summary", "smallcnn", "--input-shape", "3,32"), "expected three positive sizes C,H,W"),
    (("predict", "missing.safetensors", "a.png"), "model file 'missing.safetensors' does not exist"),
    (("predict",), "the following arguments are required: MODEL_FILE, IMAGE"),
    (("gradcam", "m.safetensors"), "the following arguments are required: IMAGE"),
    (("frobnicate",), "invalid choice: 'frobnicate'"),
    # checked before any data is loaded or any step trained (they used to fail after the whole run, or crash)
    (("train", "--out", "afile"), "--out 'afile' exists and is not a folder"),
    (("train", "--out", "afile/sub"), "--out 'afile/sub': cannot create the folder"),
    (("train", "--model", "resnet19"), "unknown model 'resnet19'"),
    (("train", "--seed", "-1"), "argument --seed: expected an integer in [0, 2**63), got '-1'"),
    (("train", "--lr", "nan"), "argument --lr: expected a positive float, got 'nan'"),
    (("train", "--image-size", "100000"), "argument --image-size: expected a positive int of at most 4096"),
    (("train", "--batch-size", str(2 ** 63)), "argument --batch-size: expected a positive int of at most"),
    (("summary", "smallcnn", "--input-shape", "3,100000,100000"), "H, W <= 8192"),
    (("gradcam", "m.safetensors", "a.png", "--alpha", "2"), "argument --alpha: expected a number in [0, 1]"),
    (("gradcam", "m.safetensors", "a.png", "--out", "."), "--out '.' is a folder"),
])
def test_bad_arguments_exit_nonzero_with_a_message(args, message, tmp_path):
    (tmp_path / "afile").write_text("")
    r = run(*args, cwd=tmp_path)
    assert r.returncode != 0
    assert message in r.stderr, r.stderr
    assert "Traceback" not in r.stderr and "test accuracy" not in r.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"] or args[0] != "train" or "--out" not in args


def test_predict_inverts_dark_ink_on_light_paper_and_says_so(trained, tmp_path):
    Image = pytest.importorskip("PIL.Image")
    out, _ = trained
    from fastconv.data import load_digits

    x, y = load_digits("test")
    paths = []
    for i in range(12):  # the same digits drawn dark on white, as people draw them
        p = tmp_path / f"paper{i}.png"
        Image.fromarray(np.round((1 - x[i, 0]) * 255).astype(np.uint8)).resize((32, 32), Image.NEAREST).save(p)
        paths.append(p)
    auto = run("predict", out / "model.safetensors", *paths, "--top-k", 1)
    assert auto.returncode == 0, auto.stderr
    assert auto.stderr.count("light background; inverted it") == 12
    forced = run("predict", out / "model.safetensors", *paths, "--top-k", 1, "--invert")
    assert forced.stdout == auto.stdout and "inverted it" not in forced.stderr
    hits = sum(line.split(": ")[1].split(" ")[0] == str(label) for line, label in zip(auto.stdout.splitlines(), y))
    assert hits >= 9
    kept = run("predict", out / "model.safetensors", *paths, "--top-k", 1, "--no-invert")
    assert kept.returncode == 0 and "inverted it" not in kept.stderr and kept.stdout != auto.stdout


def test_predict_unreadable_image_and_missing_shape(trained, tmp_path):
    out, _ = trained
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    r = run("predict", out / "model.safetensors", bad)
    assert r.returncode == 2 and f"cannot read image '{bad}'" in r.stderr
    plain = tmp_path / "plain.safetensors"
    fc.save(fc.load(out / "model.safetensors"), plain)  # fastconv.save records no input shape
    r = run("predict", plain, tmp_path / "whatever.png")
    assert r.returncode == 2 and "does not record its input shape" in r.stderr and "--input-shape" in r.stderr


def test_summary_of_the_builtin_model_name():
    r = run("summary", "smallcnn", "--input-shape", "1,8,8", "--num-classes", 10)
    assert r.returncode == 0, r.stderr
    assert "Total params: 31,146" in r.stdout


@pytest.mark.parametrize("cmd", ["train", "summary", "predict", "gradcam", "bench"])
def test_help(cmd):
    r = run(cmd, "--help")
    assert r.returncode == 0 and f"usage: fastconv {cmd}" in r.stdout


def test_version_and_no_command():
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith(f"fastconv {fc.__version__}")
    r = run()
    assert r.returncode == 2 and "COMMAND" in r.stdout


def test_bench_runs_the_source_tree_scripts(tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    (bench / "bench_ops.py").write_text("import sys\nprint('OPS', sys.argv[1:])\n")
    r = run("bench", "--only", "conv", "--repeats", 2, env={"FASTCONV_BENCH_DIR": str(bench)})
    assert r.returncode == 0, r.stderr
    assert "OPS ['--repeats', '2', '--only', 'conv']" in r.stdout
    (bench / "bench_models.py").write_text("import sys\nprint('MODELS', sys.argv[1:])\nsys.exit(3)\n")
    r = run("bench", "--which", "models", env={"FASTCONV_BENCH_DIR": str(bench)})
    assert "MODELS []" in r.stdout and "OPS" not in r.stdout and r.returncode == 3
    r = run("bench", env={"FASTCONV_BENCH_DIR": str(tmp_path / "nowhere")})
    assert r.returncode == 2 and "holds no bench_ops.py" in r.stderr


def test_zoo_models_resolve_through_fastconv_models(monkeypatch, capsys):
    """--model NAME goes to fastconv.models.get(name, num_classes=, in_channels=); unknown names list the zoo."""
    import types

    from fastconv import cli, nn

    calls = []

    def get(name, num_classes, in_channels):
        calls.append((name, num_classes, in_channels))
        if name != "tiny":
            raise KeyError(f"no model named {name!r}")
        return nn.Sequential(nn.Conv2d(in_channels, 2, 3), nn.Flatten(), nn.Linear(2 * 6 * 6, num_classes))

    zoo = types.ModuleType("fastconv.models")
    zoo.get = get
    zoo.list_models = lambda: ["tiny", "lenet5"]
    monkeypatch.setitem(sys.modules, "fastconv.models", zoo)
    monkeypatch.setattr(fc, "models", zoo, raising=False)
    assert cli.main(["summary", "tiny", "--input-shape", "3,8,8", "--num-classes", "4"]) == 0
    assert calls == [("tiny", 4, 3)]
    assert "Total params: 348" in capsys.readouterr().out  # conv 3*2*9+2 = 56, linear 72*4+4 = 292
    assert cli.main(["summary", "vgg99"]) == 2
    err = capsys.readouterr().err
    assert "unknown model 'vgg99'" in err and "available: smallcnn, lenet5, tiny" in err


def test_data_path_expands_home(monkeypatch, tmp_path):
    """`--data cifar10:~/data`: the shell does not expand ~ after the colon, the CLI does."""
    from fastconv import cli
    monkeypatch.setenv("HOME", str(tmp_path))
    assert cli._parse_data("cifar10:~/data") == ("cifar10", str(tmp_path / "data"))
    assert cli._parse_data("mnist:/abs/path") == ("mnist", "/abs/path")
    assert cli._parse_data("digits") == ("digits", None)
