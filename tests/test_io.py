"""save/load: our safetensors writer/reader (checked against the safetensors package as an independent reader),
architecture round trips, bit-identical predictions, torch round trips, and clear errors for damaged files."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import fastconv as fc
import fastconv.functional as F
import fastconv.nn as nn
from fastconv.io import load_safetensors, save_safetensors

from conftest import torch


def needs(*ops):
    have = set(fc._C.op_names())
    missing = [o for o in ops if o not in have]
    assert not missing, f"ops missing from this build: {missing}"


@fc.register_module
class Scaled(nn.Module):
    """A user module, registered so that load can rebuild it from its constructor arguments."""

    def __init__(self, d: int, hidden=(2, 3), act: str = "relu"):
        super().__init__()
        self.gain = nn.Parameter(np.linspace(0.5, 1.5, d).reshape(1, d))
        self.shift = nn.Parameter(np.zeros(d))
        self.body = nn.Sequential(nn.ReLU(), nn.Identity())
        self.hidden, self.act = hidden, act

    def forward(self, x):
        return self.body(x * self.gain + self.shift) + x


def test_safetensors_writer_is_readable_by_the_safetensors_package(tmp_path):
    st_np = pytest.importorskip("safetensors.numpy")
    r = np.random.default_rng(0)
    tensors = {"a": r.standard_normal((3, 4)).astype(np.float32), "b.c": np.arange(5, dtype=np.int64),
               "scalar": np.array(7, np.int64), "empty": np.zeros((0, 3), np.float32),
               "h": r.standard_normal(6).astype(np.float64), "m": np.array([True, False])}
    path = tmp_path / "t.safetensors"
    save_safetensors(tensors, path, {"k": "v"})
    theirs = st_np.load_file(str(path))
    assert set(theirs) == set(tensors)
    for k, v in tensors.items():
        assert theirs[k].dtype == v.dtype and np.array_equal(theirs[k], v), k
    # and our reader reads what the package writes
    path2 = tmp_path / "u.safetensors"
    st_np.save_file(tensors, str(path2), metadata={"x": "y"})
    ours, meta = load_safetensors(path2)
    assert meta == {"x": "y"}
    for k, v in tensors.items():
        assert ours[k].dtype == v.dtype and ours[k].shape == v.shape and np.array_equal(ours[k], v), k


def test_save_load_user_module_bit_identical(tmp_path):
    m = Scaled(4, hidden=(5, 6), act="tanh")
    m.gain[...] = np.random.default_rng(1).standard_normal((1, 4))
    m.eval()
    path = tmp_path / "m.safetensors"
    fc.save(m, path)
    m2 = fc.load(path)
    assert type(m2) is Scaled and m2.hidden == (5, 6) and m2.act == "tanh" and not m2.training
    x = np.random.default_rng(2).standard_normal((3, 4)).astype(np.float32)
    assert np.array_equal(fc.predict(m2, x), fc.predict(m, x))
    for k, v in m.state_dict().items():
        assert np.array_equal(v, m2.state_dict()[k])


def test_save_load_cnn_bit_identical_and_torch_round_trip(tmp_path):
    needs("conv2d", "batch_norm", "linear", "max_pool2d")
    fc.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                      nn.Linear(4 * 4 * 4, 3))
    m[1].running_mean[...] = np.arange(4)
    m[0].weight.requires_grad = False
    m.eval()
    path = tmp_path / "cnn.safetensors"
    fc.save(m, path)
    m2 = fc.load(path)
    assert repr(m2) == repr(m) and not m2[0].weight.requires_grad and m2[0].bias.requires_grad
    x = np.random.default_rng(3).standard_normal((5, 1, 8, 8)).astype(np.float32)
    assert np.array_equal(fc.predict(m2, x), fc.predict(m, x))
    # weights -> torch (through the file, read by the safetensors package) -> back
    st_torch = pytest.importorskip("safetensors.torch")
    tm = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                             torch.nn.MaxPool2d(2), torch.nn.Flatten(), torch.nn.Linear(64, 3)).eval()
    tm.load_state_dict(st_torch.load_file(str(path)))
    assert np.allclose(tm(torch.tensor(x)).detach().numpy(), fc.predict(m, x), rtol=1e-4, atol=1e-5)
    m3 = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                       nn.Linear(64, 3)).eval()
    m3.load_state_dict(tm.state_dict())
    assert np.array_equal(fc.predict(m3, x), fc.predict(m, x))


def test_load_into_existing_model_and_mismatches(tmp_path):
    path = tmp_path / "m.safetensors"
    fc.save(Scaled(4), path)
    target = Scaled(4)
    assert fc.load(path, model=target) is target
    with pytest.raises(ValueError, match=r"(?s)m\.safetensors: the weights do not match.*size mismatch for gain"):
        fc.load(path, model=Scaled(5))
    save_safetensors({"gain": np.zeros((1, 4), np.float32)}, path)
    with pytest.raises(ValueError, match="no fastconv architecture"):
        fc.load(path)
    with pytest.raises(ValueError, match='Missing key.*"shift"'):
        fc.load(path, model=Scaled(4))


def test_unrebuildable_class_is_a_clear_error(tmp_path):
    class Local(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.ones(2))

    path = tmp_path / "l.safetensors"
    fc.save(Local(), path)
    with pytest.raises(ValueError, match="defined inside a function.*model=model"):
        fc.load(path)
    assert fc.load(path, model=Local()).w.shape == (2,)


def _valid_file(tmp_path) -> bytes:
    path = tmp_path / "ok.safetensors"
    fc.save(Scaled(4), path)
    return path.read_bytes()


def test_corrupt_files_raise_value_errors_naming_the_file(tmp_path):
    raw = _valid_file(tmp_path)
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8:8 + n])
    cases = {
        "empty": (b"", "too short"),
        "short": (raw[:5], "too short"),
        "huge_len": (struct.pack("<Q", 1 << 40) + raw[8:], "does not fit"),
        "not_json": (struct.pack("<Q", 4) + b"{{{{" + raw[12:], "not valid UTF-8 JSON"),
        "truncated_data": (raw[:-3], "outside the"),
        "trailing": (raw + b"\0" * 8, "trailing bytes"),
    }
    bad_dtype = dict(header, gain=dict(header["gain"], dtype="Q9"))
    bad_shape = dict(header, gain=dict(header["gain"], shape=[2, 4]))
    for name, h, msg in (("dtype", bad_dtype, "unknown dtype"), ("shape", bad_shape, "needs 32")):
        hj = json.dumps(h).encode()
        cases[name] = (struct.pack("<Q", len(hj)) + hj + raw[8 + n:], msg)
    for name, (data, msg) in cases.items():
        p = tmp_path / f"{name}.safetensors"
        p.write_bytes(data)
        with pytest.raises(ValueError, match=msg) as e:
            fc.load(p)
        assert str(p) in str(e.value), name


@settings(deadline=None, max_examples=60)
@given(st.data())
def test_damaged_files_never_crash(tmp_path_factory, data):
    tmp = tmp_path_factory.mktemp("fuzz")
    raw = bytearray(_valid_file(tmp))
    if data.draw(st.booleans()):
        raw = raw[:data.draw(st.integers(0, len(raw)))]
    else:
        for _ in range(data.draw(st.integers(1, 4))):
            if raw:
                raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    p = tmp / "f.safetensors"
    p.write_bytes(bytes(raw))
    try:
        m = fc.load(p)
    except ValueError as e:
        assert str(p) in str(e)
    else:
        assert isinstance(m, Scaled)


def test_save_extra_metadata_round_trips_and_reserved_keys_are_protected(tmp_path):
    from fastconv.io import read_metadata

    m = fc.nn.Sequential(fc.nn.Linear(3, 2))
    p = tmp_path / "m.safetensors"
    fc.save(m, p, metadata={"note": "hello"})
    meta = read_metadata(p)
    assert meta["note"] == "hello" and meta["format"] == "fastconv"
    with pytest.raises(ValueError, match="reserved"):
        fc.save(m, p, metadata={"architecture": "x"})
