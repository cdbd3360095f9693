"""The C++ examples (examples/cpp/*, each its own CMake project) built against fastconv as a user builds them, and run:
the classifier's probabilities equal Python's predict on the same model file and images; the C program predicts
what Python predicts; the C++-only training loop lowers the loss and saves a file Python loads and predicts with
as the C++ program did."""
import os
import sys

import numpy as np
import pytest

import fastconv as fc
from cpp_build import REPO, build, run

EXAMPLES = REPO / "examples" / "cpp"
sys.path.insert(0, str(EXAMPLES / "train_digits"))
from export_digits import read_digits, write_digits  # noqa: E402


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    return tmp_path_factory.mktemp("examples_cpp")


@pytest.fixture(scope="module")
def trained_file(work):
    """A model written by `fastconv train` (the CLI), as the classifier's users have."""
    from fastconv import cli
    out = str(work / "run")
    assert cli.main(["train", "--epochs", "1", "--quiet", "--out", out, "--seed", "2"]) == 0
    return os.path.join(out, "model.safetensors")


def softmax64(z):
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def python_predict(path, x):
    return fc.compile(fc.load(path), x.shape).predict(x)


def write_pgm(path, img, maxval, binary):
    h, w = img.shape
    if binary:
        data = img.astype(">u2" if maxval > 255 else np.uint8).tobytes()
        path.write_bytes(f"P5\n# a comment\n{w} {h}\n{maxval}\n".encode() + data)
    else:
        rows = "\n".join(" ".join(str(int(v)) for v in r) for r in img)
        path.write_text(f"P2\n{w} {h}\n# another comment\n{maxval}\n{rows}\n")


def test_classify_matches_python(work, trained_file):
    exe = build(EXAMPLES / "classify", work) / "fastconv_classify"
    rng = np.random.default_rng(5)
    images, xs = [], []
    for i, (maxval, binary) in enumerate([(16, False), (255, True), (65535, True), (255, False)]):
        img = rng.integers(0, maxval + 1, (8, 8))
        p = work / f"img{i}.pgm"
        write_pgm(p, img, maxval, binary)
        images.append(p)
        xs.append((img / maxval).astype(np.float32)[None])
    out = run(exe, trained_file, *images).stdout.strip().splitlines()
    assert len(out) == len(images)
    got = np.array([[float(v) for v in line.split(":", 1)[1].split("->")[0].split()] for line in out])
    ref = softmax64(python_predict(trained_file, np.stack(xs)))
    assert got.shape == ref.shape == (4, 10)
    assert np.max(np.abs(got - ref) / np.maximum(ref, 1e-30)) <= 1e-6
    for line, row in zip(out, ref):
        assert line.endswith(f"-> class {int(row.argmax())}")
    # an image of the wrong kind or size, and a broken file, are refused with a message naming the file
    ppm = work / "color.ppm"
    ppm.write_bytes(b"P6 8 8 255\n" + bytes(8 * 8 * 3))
    r = run(exe, trained_file, ppm, check=False)
    assert r.returncode == 1 and "color.ppm: image is 8 x 8 with 3 channel(s)" in r.stderr
    small = work / "small.pgm"
    write_pgm(small, np.zeros((4, 5), int), 255, True)
    r = run(exe, trained_file, small, check=False)
    assert r.returncode == 1 and "small.pgm: image is 4 x 5" in r.stderr
    cut = work / "cut.pgm"
    cut.write_bytes(b"P5 8 8 255\n" + bytes(10))
    r = run(exe, trained_file, cut, check=False)
    assert r.returncode == 1 and "cut.pgm: truncated" in r.stderr


def test_c_example_runs(work, trained_file):
    exe = build(EXAMPLES / "c_api", work) / "fastconv_c_example"
    r = run(exe, trained_file, 3)
    lines = r.stdout.splitlines()
    assert lines[0] == f"fastconv {fc.__version__} (C ABI)"
    assert lines[1] == "output shape [2, 10]"
    got = np.array([[float(v) for v in lines[i].split()] for i in (2, 3)])
    x = ((np.arange(2 * 64) % 17) / 16.0).astype(np.float32).reshape(2, 1, 8, 8)
    ref = python_predict(trained_file, x)
    np.testing.assert_allclose(got, ref, rtol=1e-5, atol=1e-6)
    assert "wrong input shape -> FC_ERROR_VALUE" in r.stdout and "channel" in r.stdout
    assert "train step loss" in r.stdout
    r = run(exe, work / "missing.safetensors", check=False)
    assert r.returncode == 1 and "fc_model_load failed: FC_ERROR_VALUE" in r.stderr


def test_train_digits_lowers_the_loss_and_python_loads_its_file(work):
    exe = build(EXAMPLES / "train_digits", work) / "fastconv_train_digits"
    data = work / "digits.bin"
    n = write_digits(data)
    x, y = read_digits(data)
    assert x.shape == (n, 1, 8, 8) and n == 1797 and set(np.unique(y)) == set(range(10))
    model_file = work / "digits.safetensors"
    out = run(exe, data, model_file, 3).stdout
    losses = [float(l.split()[-1]) for l in out.splitlines() if l.startswith("epoch")]
    assert len(losses) == 3 and losses[-1] < 0.7 * losses[0], out
    acc = float(next(l for l in out.splitlines() if l.startswith("training accuracy")).split()[-1])
    assert acc > 0.9, out
    cpp_logits = np.array([[float(v) for v in l.split(":")[1].split()] for l in out.splitlines()
                           if l.startswith("logits")])
    model = fc.load(str(model_file))  # rebuilt from the architecture C++ wrote
    assert type(model).__name__ == "Sequential" and len(model) == 9
    ref = fc.compile(model, (4, 1, 8, 8)).predict(x[:4])
    np.testing.assert_allclose(cpp_logits, ref, rtol=1e-5, atol=1e-5)
    # the whole set agrees, and the model predicts the labels as well as C++ said
    full = fc.compile(model, x.shape).predict(x)
    assert abs(float((full.argmax(1) == y).mean()) - acc) < 1e-3
