"""The native safetensors reader/writer (cpp/src/io/safetensors.cpp through fastconv._C): the data checksum, old
files without one, every dtype against NumPy, and interchange with the `safetensors` package (an independent
implementation of the format)."""
from __future__ import annotations

import json
import struct

import numpy as np
import pytest

import fastconv as fc
import fastconv.nn as nn
from fastconv.io import load_safetensors, read_metadata, save_safetensors

DTYPES = [np.float32, np.float64, np.float16, np.int64, np.int32, np.int16, np.int8, np.uint8, np.bool_]
CODES = ["F32", "F64", "F16", "I64", "I32", "I16", "I8", "U8", "BOOL"]


def crc32c_reference(data: bytes) -> int:
    """Bitwise CRC-32C straight from its definition (reflected polynomial 0x82F63B78): slow, independent."""
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def split(raw: bytes):
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


def arrays(rng):
    out = {}
    for dt, code in zip(DTYPES, CODES):
        if dt is np.bool_:
            a = rng.integers(0, 2, (3, 5)).astype(np.bool_)
        elif np.issubdtype(dt, np.integer):
            info = np.iinfo(dt)
            a = rng.integers(info.min, info.max, (3, 5), dtype=dt, endpoint=True)
        else:
            a = (rng.standard_normal((3, 5)) * 100).astype(dt)
        out[code] = a
        out[code + ".scalar"] = a.reshape(-1)[:1].reshape(())
        out[code + ".empty"] = np.zeros((0, 4), dt)
    out["F32.strided"] = rng.standard_normal((4, 6)).astype(np.float32)[:, ::2]  # not contiguous
    out["F64.nonfinite"] = np.array([np.inf, -np.inf, np.nan, -0.0, 5e-324])
    return out


def test_last_1000_bytes_overwritten_is_refused_as_corrupt(tmp_path):
    fc.manual_seed(0)
    m = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    p = tmp_path / "m.safetensors"
    fc.save(m, p)
    raw = bytearray(p.read_bytes())
    raw[-1000:] = b"\xff" * 1000  # NaNs: without the checksum this loaded and predicted NaN
    p.write_bytes(bytes(raw))
    with pytest.raises(ValueError) as e:
        fc.load(p)
    msg = str(e.value)
    assert str(p) in msg and "checksum" in msg and "corrupt" in msg, msg
    with pytest.raises(ValueError, match="checksum"):
        load_safetensors(p)
    with pytest.raises(ValueError, match="checksum"):
        fc.io.load_checkpoint(p)


def test_written_checksum_is_crc32c_of_the_data_section(tmp_path):
    p = tmp_path / "t.safetensors"
    save_safetensors(arrays(np.random.default_rng(0)), p, {"note": "x"})
    header, data = split(p.read_bytes())
    assert header["__metadata__"] == {"note": "x", "fastconv.checksum": f"crc32c:{crc32c_reference(data):08x}"}
    assert read_metadata(p)["fastconv.checksum"] == header["__metadata__"]["fastconv.checksum"]
    # Known vector of the definition the reference implements.
    assert crc32c_reference(b"123456789") == 0xE3069283


def test_malformed_checksum_field_is_refused(tmp_path):
    p = tmp_path / "t.safetensors"
    save_safetensors({"a": np.arange(4, dtype=np.float32)}, p)
    raw = p.read_bytes()
    i = raw.index(b"crc32c:")
    p.write_bytes(raw[:i] + b"CRC32C:" + raw[i + 7:])
    with pytest.raises(ValueError, match=r"fastconv\.checksum.*expected 'crc32c:<8 lowercase hex digits>'") as e:
        load_safetensors(p)
    assert str(p) in str(e.value) and "corrupt" in str(e.value)


def test_old_file_without_checksum_still_loads(tmp_path):
    # The layout as fastconv 0.1 wrote it (struct + json, no checksum key), written here by hand.
    fc.manual_seed(1)
    m = nn.Linear(3, 2)
    sd = m.state_dict()
    arch = fc.io.read_metadata(_saved(tmp_path, m))["architecture"]
    header, blobs, off = {"__metadata__": {"format": "fastconv", "fastconv_version": "0.1.0",
                                           "architecture": arch}}, [], 0
    for k, v in sd.items():
        b = np.ascontiguousarray(v, np.float32).tobytes()
        header[k] = {"dtype": "F32", "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    hj = json.dumps(header, separators=(",", ":")).encode()
    hj += b" " * (-len(hj) % 8)
    p = tmp_path / "old.safetensors"
    p.write_bytes(struct.pack("<Q", len(hj)) + hj + b"".join(blobs))
    m2 = fc.load(p)
    for k in sd:
        assert np.array_equal(m2.state_dict()[k], sd[k]), k
    assert "fastconv.checksum" not in read_metadata(p)


def _saved(tmp_path, m):
    p = tmp_path / "ref.safetensors"
    fc.save(m, p)
    return p


def test_every_dtype_round_trips_against_numpy(tmp_path):
    src = arrays(np.random.default_rng(2))
    p = tmp_path / "all.safetensors"
    save_safetensors(src, p)
    got, meta = load_safetensors(p)
    assert list(got) == list(src)
    for k, a in src.items():
        b = got[k]
        assert b.dtype == a.dtype and b.shape == a.shape, k
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), k
        if b.size:
            assert b.flags.writeable and not b.flags.owndata  # a view of the file's buffer, no second copy
    # The bytes on disk, decoded here without our reader.
    header, data = split(p.read_bytes())
    for k, a in src.items():
        e = header[k]
        lo, hi = e["data_offsets"]
        ref = np.frombuffer(data[lo:hi], np.dtype(a.dtype).newbyteorder("<")).reshape(e["shape"])
        assert np.array_equal(ref, a, equal_nan=a.dtype.kind == "f"), k
    # Writing into one loaded array leaves its neighbours alone.
    got["I8"][...] = 0
    assert np.array_equal(got["I16"], src["I16"]) and np.array_equal(got["I32"], src["I32"])


def test_files_of_the_safetensors_package_load_and_ours_load_there(tmp_path):
    stn = pytest.importorskip("safetensors.numpy")
    src = {k: v for k, v in arrays(np.random.default_rng(3)).items() if v.flags.c_contiguous}
    theirs = tmp_path / "theirs.safetensors"
    stn.save_file(src, str(theirs), metadata={"who": "safetensors"})
    got, meta = load_safetensors(theirs)
    assert meta == {"who": "safetensors"}  # no checksum: loads as an old file does
    assert set(got) == set(src)
    for k, a in src.items():
        assert got[k].dtype == a.dtype and np.array_equal(got[k], a, equal_nan=a.dtype.kind == "f"), k
    ours = tmp_path / "ours.safetensors"
    save_safetensors(src, ours, {"who": "fastconv"})
    back = stn.load_file(str(ours))
    assert set(back) == set(src)
    for k, a in src.items():
        assert back[k].dtype == a.dtype and back[k].shape == a.shape, k
        assert np.array_equal(back[k], a, equal_nan=a.dtype.kind == "f"), k


def test_reserved_tensor_names(tmp_path):
    fc.manual_seed(2)
    m = nn.Linear(2, 3)
    p = tmp_path / "m.safetensors"
    fc.save(m, p)
    tensors, meta = load_safetensors(p)
    tensors["fastconv.const.0"] = np.ones(7, np.float32)  # what a graph writer adds
    save_safetensors(tensors, p, meta)  # meta's old checksum is recomputed, not copied
    m2 = fc.load(p)  # strict load_state_dict: would fail on the extra key if it were passed
    assert np.array_equal(m2.weight, m.weight)
    fc.load(p, model=nn.Linear(2, 3))
    opt = fc.optim.SGD(m.parameters(), lr=0.1)
    fc.io.save_checkpoint(p, m, opt, info={"epoch": 3})
    tensors, meta = load_safetensors(p)
    tensors["fastconv.optim.0.weight.exp_avg"] = np.ones(6, np.float32)
    save_safetensors(tensors, p, meta)
    m3, info = fc.io.load_checkpoint(p, model=nn.Linear(2, 3), optimizer=fc.optim.SGD(m.parameters(), lr=0.1))
    assert info == {"epoch": 3} and np.array_equal(m3.bias, m.bias)

    class Bad(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.zeros(1, np.float32))

        def state_dict(self, *a, **k):
            return {"fastconv.x": np.zeros(1, np.float32), **super().state_dict(*a, **k)}

    with pytest.raises(ValueError, match=r"save: state_dict keys \['fastconv.x'\] start with 'fastconv.'"):
        fc.save(Bad(), tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match="reserved"):
        fc.io.save_checkpoint(tmp_path / "bad.safetensors", Bad())
    assert not (tmp_path / "bad.safetensors").exists()


def test_missing_file_and_write_errors(tmp_path):
    with pytest.raises(FileNotFoundError):
        load_safetensors(tmp_path / "nope.safetensors")
    with pytest.raises(FileNotFoundError):
        read_metadata(tmp_path / "nope.safetensors")
    with pytest.raises(IsADirectoryError):
        load_safetensors(tmp_path)
    with pytest.raises(RuntimeError, match="cannot write"):
        save_safetensors({"a": np.zeros(1)}, tmp_path / "no" / "dir" / "x.safetensors")
    with pytest.raises(TypeError, match="unsupported dtype complex128"):
        save_safetensors({"a": np.zeros(1, np.complex128)}, tmp_path / "x.safetensors")
