"""DLPack exchange of device tensors (fastconv/dlpack.h, cpp/src/core/dlpack.cpp). Under the CUDA emulator build
(.ci/run's EMU step) a 'cuda:0' tensor is emulated device memory; the capsules are read and written here with
ctypes, from the DLPack specification, so the checks do not depend on fastconv's own reading of them. What this
cannot show without a GPU: exchange with torch.cuda / CuPy tensors (torch here is CPU-only; docs/cuda.md)."""
import ctypes
import gc

import numpy as np
import pytest

import fastconv as fc

needs_device = pytest.mark.skipif(not fc.cuda.is_available(),
                                  reason="no CUDA device and not the CUDA emulator build")

kDLCPU, kDLCUDA, kDLCUDAManaged, kDLROCM = 1, 2, 13, 10


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int32), ("device_id", ctypes.c_int32)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int32), ("dtype", DLDataType),
                ("shape", ctypes.POINTER(ctypes.c_int64)), ("strides", ctypes.POINTER(ctypes.c_int64)),
                ("byte_offset", ctypes.c_uint64)]


class DLManagedTensor(ctypes.Structure):
    pass


DELETER = ctypes.CFUNCTYPE(None, ctypes.POINTER(DLManagedTensor))
DLManagedTensor._fields_ = [("dl_tensor", DLTensor), ("manager_ctx", ctypes.c_void_p), ("deleter", DELETER)]

_get_pointer = ctypes.pythonapi.PyCapsule_GetPointer
_get_pointer.restype, _get_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
_capsule_new = ctypes.pythonapi.PyCapsule_New
_capsule_new.restype, _capsule_new.argtypes = ctypes.py_object, [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p]
_get_name = ctypes.pythonapi.PyCapsule_GetName
_get_name.restype, _get_name.argtypes = ctypes.c_char_p, [ctypes.py_object]


def _read(capsule) -> DLTensor:
    return DLManagedTensor.from_address(_get_pointer(capsule, b"dltensor")).dl_tensor


class _Foreign:
    """A producer of our own: a DLManagedTensor (float32, row-major) over `data`, on (device_type, device_id),
    counting deleter calls."""

    def __init__(self, data, shape, device_type, device_id):
        self.deleted = 0
        self.shape = (ctypes.c_int64 * len(shape))(*shape)
        self.deleter = DELETER(self._delete)
        self.m = DLManagedTensor()
        self.m.dl_tensor = DLTensor(data, DLDevice(device_type, device_id), len(shape), DLDataType(2, 32, 1),
                                    self.shape, None, 0)
        self.m.deleter = self.deleter

    def _delete(self, _):
        self.deleted += 1

    def capsule(self):
        return _capsule_new(ctypes.addressof(self.m), b"dltensor", None)


def _on_device(shape, seed=0):
    a = np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
    return a, fc._C.from_numpy(a).to("cuda:0")


@needs_device
def test_a_device_tensor_exports_as_kdlcuda_with_its_device_id_and_pointer():
    a, d = _on_device((3, 5, 2))
    assert d.device == "cuda:0" and d.__dlpack_device__() == (kDLCUDA, 0)
    cap = d.__dlpack__()
    t = _read(cap)
    assert (t.device.device_type, t.device.device_id) == (kDLCUDA, 0)
    assert t.data == d.data_ptr and t.byte_offset == 0
    assert (t.dtype.code, t.dtype.bits, t.dtype.lanes) == (2, 32, 1)
    assert t.ndim == 3 and list(t.shape[:3]) == [3, 5, 2] and list(t.strides[:3]) == [10, 2, 1]
    assert d.data_ptr != a.ctypes.data  # it is a device copy, not the host array


@needs_device
def test_a_device_tensor_round_trips_through_from_dlpack_without_a_copy():
    a, d = _on_device((4, 7), 1)
    ptr = d.data_ptr
    e = fc.from_dlpack(d)
    assert e.device == "cuda:0" and e.data_ptr == ptr and e.shape == (4, 7) and e.dtype == "float32"
    del d
    gc.collect()  # the import keeps the exported storage alive
    np.testing.assert_array_equal(e.to("cpu").numpy(), a)
    # a capsule is consumed once: the producer's tensor is not freed twice
    f = fc.from_dlpack(e.__dlpack__())
    assert f.data_ptr == ptr
    cap = e.__dlpack__()
    fc.from_dlpack(cap)
    assert _get_name(cap) == b"used_dltensor"
    with pytest.raises(TypeError, match="unused 'dltensor' capsule"):
        fc.from_dlpack(cap)


@needs_device
def test_a_foreign_cuda_capsule_is_imported_zero_copy_and_released_once():
    a, d = _on_device((2, 3), 2)
    src = _Foreign(d.data_ptr, (2, 3), kDLCUDA, 0)
    e = fc.from_dlpack(src.capsule())
    assert e.device == "cuda:0" and e.data_ptr == d.data_ptr
    np.testing.assert_array_equal(e.to("cpu").numpy(), a)
    assert src.deleted == 0
    del e
    gc.collect()
    assert src.deleted == 1


@pytest.mark.parametrize("device_id", [1, 7, -1])
def test_a_capsule_on_a_cuda_device_we_cannot_address_is_refused(device_id):
    if 0 <= device_id < fc.cuda.device_count():
        pytest.skip(f"this machine has CUDA device {device_id}")
    host = np.zeros(6, np.float32)
    src = _Foreign(host.ctypes.data, (2, 3), kDLCUDA, device_id)
    cap = src.capsule()
    with pytest.raises(ValueError, match=rf"from_dlpack: .*CUDA device {device_id}\b.*{fc.cuda.device_count()}"):
        fc.from_dlpack(cap)
    assert src.deleted == 0 and _get_name(cap) == b"dltensor"  # refused: the producer still owns it


@pytest.mark.skipif(fc.cuda.is_available(), reason="checks the message of a build or machine without CUDA")
def test_a_cuda_capsule_without_cuda_says_why():
    host = np.zeros(6, np.float32)
    src = _Foreign(host.ctypes.data, (6,), kDLCUDA, 0)
    with pytest.raises(ValueError, match="from_dlpack: .*CUDA device 0.*0 CUDA devices"):
        fc.from_dlpack(src.capsule())
    assert src.deleted == 0


@pytest.mark.parametrize("device_type", [kDLROCM, kDLCUDAManaged, 0, 99])
def test_a_capsule_on_another_kind_of_device_is_refused(device_type):
    host = np.zeros(6, np.float32)
    src = _Foreign(host.ctypes.data, (6,), device_type, 0)
    with pytest.raises(ValueError, match=f"from_dlpack: unsupported device type {device_type}"):
        fc.from_dlpack(src.capsule())
    assert src.deleted == 0


@needs_device
def test_numpy_and_cpu_torch_refuse_a_device_tensor():
    # Under the emulator device memory is host memory: a consumer that ignored the device would read it silently.
    _, d = _on_device((2, 2), 3)
    with pytest.raises((BufferError, RuntimeError, ValueError, TypeError)):
        np.from_dlpack(d)
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        with pytest.raises((BufferError, RuntimeError, ValueError, TypeError, AssertionError)):
            torch.from_dlpack(d)


@pytest.mark.skipif(fc.cuda.is_emulated() or not fc.cuda.is_available(), reason="needs a GPU and torch with CUDA")
def test_torch_cuda_tensors_cross_without_a_copy():
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch without CUDA")
    t = torch.arange(12, dtype=torch.float32, device="cuda:0").reshape(3, 4)
    e = fc.from_dlpack(t)
    assert e.device == "cuda:0" and e.data_ptr == t.data_ptr()
    np.testing.assert_array_equal(e.to("cpu").numpy(), t.cpu().numpy())
    _, d = _on_device((2, 5), 4)
    u = torch.from_dlpack(d)
    assert u.is_cuda and u.data_ptr() == d.data_ptr
    np.testing.assert_array_equal(u.cpu().numpy(), d.to("cpu").numpy())
