"""The C ABI (fastconv/c_api.h) through ctypes, as an FFI user would call it: lib/libfastconv.so loaded directly, a
model Python trained and saved predicts what Python predicts, trains as Python does, saves a file Python loads, and
every bad argument is an error status with a message naming it (never a crash)."""
import ctypes as C
from pathlib import Path

import numpy as np
import pytest

import fastconv as fc
from fastconv import nn

FC_OK, FC_ERROR_VALUE, FC_ERROR_INDEX, FC_ERROR_BUFFER_TOO_SMALL = 0, 1, 3, 6
FC_FLOAT32, FC_INT64 = 0, 1
I64P, F32P = C.POINTER(C.c_int64), C.POINTER(C.c_float)


@pytest.fixture(scope="module")
def lib():
    so = Path(fc.__file__).resolve().parent / "lib" / "libfastconv.so"
    L = C.CDLL(str(so))
    L.fc_version.restype = C.c_char_p
    L.fc_last_error.restype = C.c_char_p
    L.fc_status_name.restype = C.c_char_p
    L.fc_status_name.argtypes = [C.c_int]
    L.fc_model_load.argtypes = [C.c_char_p, C.c_char_p, C.POINTER(C.c_void_p)]
    L.fc_model_save.argtypes = [C.c_void_p, C.c_char_p]
    L.fc_model_free.argtypes = [C.c_void_p]
    L.fc_model_free.restype = None
    L.fc_model_input_shape.argtypes = [C.c_void_p, I64P, C.POINTER(C.c_int)]
    L.fc_model_predict.argtypes = [C.c_void_p, F32P, I64P, C.c_int, F32P, C.c_size_t, I64P, C.POINTER(C.c_int)]
    L.fc_model_train_step.argtypes = [C.c_void_p, F32P, I64P, C.c_int, C.c_void_p, C.c_int, I64P, C.c_int, F32P]
    L.fc_model_steps.argtypes = [C.c_void_p, I64P]
    return L


def _shape(a):
    return (C.c_int64 * a.ndim)(*a.shape)


def _ptr(a, t=F32P):
    return a.ctypes.data_as(t)


def err(lib):
    return lib.fc_last_error().decode()


def load(lib, path):
    h = C.c_void_p()
    st = lib.fc_model_load(str(path).encode(), None, C.byref(h))
    assert st == FC_OK, err(lib)
    return h


def predict(lib, h, x, capacity=None):
    x = np.ascontiguousarray(x, np.float32)
    out_shape, ndim = (C.c_int64 * 32)(), C.c_int()
    out = np.empty(capacity if capacity is not None else 4096, np.float32)
    st = lib.fc_model_predict(h, _ptr(x), _shape(x), x.ndim, _ptr(out), out.size, out_shape, C.byref(ndim))
    shape = tuple(out_shape[i] for i in range(ndim.value))
    return st, out[:int(np.prod(shape))].reshape(shape) if st == FC_OK else shape


@pytest.fixture
def saved(tmp_path):
    fc.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
    net = fc.compile(model, (4, 1, 8, 8), loss="cross_entropy",
                     optimizer=fc.optim.SGD(model.parameters(), lr=0.05, momentum=0.9))
    rng = np.random.default_rng(0)
    for _ in range(3):
        net.train_step(rng.standard_normal((4, 1, 8, 8)).astype(np.float32), rng.integers(0, 3, 4))
    path = tmp_path / "m.safetensors"
    fc.save(net, str(path))
    return path, net, rng


def test_version_and_status_names(lib):
    assert lib.fc_version().decode() == fc.__version__
    assert lib.fc_status_name(FC_ERROR_BUFFER_TOO_SMALL) == b"FC_ERROR_BUFFER_TOO_SMALL"


def test_predict_equals_python(lib, saved):
    path, net, rng = saved
    h = load(lib, path)
    try:
        shape, nd = (C.c_int64 * 32)(), C.c_int()
        assert lib.fc_model_input_shape(h, shape, C.byref(nd)) == FC_OK
        assert [shape[i] for i in range(nd.value)] == [4, 1, 8, 8]
        for n in (4, 1, 7):
            x = rng.standard_normal((n, 1, 8, 8)).astype(np.float32)
            st, y = predict(lib, h, x)
            assert st == FC_OK, err(lib)
            ref = net.predict(x)
            assert y.shape == ref.shape == (n, 3)
            assert np.max(np.abs(y - ref) / np.maximum(np.abs(ref), 1e-6)) <= 1e-6
        # too small a buffer: the needed shape comes back with the status
        st, need = predict(lib, h, x, capacity=2)
        assert st == FC_ERROR_BUFFER_TOO_SMALL and need == (7, 3)
        assert "21 floats" in err(lib) and "out_capacity is 2" in err(lib)
    finally:
        lib.fc_model_free(h)


def test_train_step_and_save_continue_as_python(lib, saved, tmp_path):
    path, net, rng = saved
    h = load(lib, path)
    try:
        x = rng.standard_normal((4, 1, 8, 8)).astype(np.float32)
        y = rng.integers(0, 3, 4).astype(np.int64)
        loss = C.c_float()
        st = lib.fc_model_train_step(h, _ptr(x), _shape(x), 4, y.ctypes.data, FC_INT64, _shape(y), 1,
                                     C.byref(loss))
        assert st == FC_OK, err(lib)
        ref = net.train_step(x, y)
        assert abs(loss.value - ref) <= 1e-5 * abs(ref)
        steps = C.c_int64()
        assert lib.fc_model_steps(h, C.byref(steps)) == FC_OK and steps.value == 4
        out = tmp_path / "after.safetensors"
        assert lib.fc_model_save(h, str(out).encode()) == FC_OK, err(lib)
        x2 = rng.standard_normal((2, 1, 8, 8)).astype(np.float32)
        py = fc.load(str(out))
        np.testing.assert_allclose(fc.compile(py, (2, 1, 8, 8)).predict(x2), net.predict(x2), rtol=1e-5,
                                   atol=1e-6)
        # a label out of range: an index error, nothing updated
        bad = np.array([0, 1, 7, 2], np.int64)
        st = lib.fc_model_train_step(h, _ptr(x), _shape(x), 4, bad.ctypes.data, FC_INT64, _shape(bad), 1, None)
        assert st == FC_ERROR_INDEX and "7" in err(lib), err(lib)
    finally:
        lib.fc_model_free(h)


def test_bad_path_and_shapes_are_clear_errors(lib, saved, tmp_path):
    h = C.c_void_p(123)
    missing = tmp_path / "nope.safetensors"
    assert lib.fc_model_load(str(missing).encode(), None, C.byref(h)) == FC_ERROR_VALUE
    assert not h.value and "fc_model_load" in err(lib) and "nope.safetensors" in err(lib)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all")
    assert lib.fc_model_load(str(junk).encode(), None, C.byref(h)) == FC_ERROR_VALUE and "junk" in err(lib)
    assert lib.fc_model_load(None, None, C.byref(h)) == FC_ERROR_VALUE and "'path' is NULL" in err(lib)
    path, net, _ = saved
    assert lib.fc_model_load(str(path).encode(), b"tpu", C.byref(h)) != FC_OK and "tpu" in err(lib)
    h = load(lib, path)
    try:
        st, _ = predict(lib, h, np.zeros((2, 3, 8, 8), np.float32))  # 3 channels, the model takes 1
        assert st == FC_ERROR_VALUE and "channel" in err(lib), err(lib)
        x = np.zeros((2, 1, 8, 8), np.float32)
        out_shape, nd = (C.c_int64 * 32)(), C.c_int()
        out = np.zeros(64, np.float32)
        st = lib.fc_model_predict(h, _ptr(x), _shape(x), 0, _ptr(out), 64, out_shape, C.byref(nd))
        assert st == FC_ERROR_VALUE and "ndim 0" in err(lib)
        neg = (C.c_int64 * 4)(2, -1, 8, 8)
        st = lib.fc_model_predict(h, _ptr(x), neg, 4, _ptr(out), 64, out_shape, C.byref(nd))
        assert st == FC_ERROR_VALUE and "negative size -1" in err(lib)
        st = lib.fc_model_predict(h, None, _shape(x), 4, _ptr(out), 64, out_shape, C.byref(nd))
        assert st == FC_ERROR_VALUE and "'x' is NULL" in err(lib)
        # a successful call clears the message
        assert predict(lib, h, x)[0] == FC_OK and err(lib) == ""
    finally:
        lib.fc_model_free(h)
    lib.fc_model_free(None)
