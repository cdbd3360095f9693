// fastconv.Tensor in Python: buffer protocol (NumPy views it without a copy) and DLPack in both directions.
#include <pybind11/stl.h>

#include "convert.h"
#include "fastconv/dlpack.h"
#include "fastconv/error.h"

namespace fastconv {
namespace py = pybind11;
using namespace py_convert;

namespace {

std::string buffer_format(DType t) {
  switch (t) {
    case DType::f32: return "f";
    case DType::f64: return "d";
    case DType::f16: return "e";
    case DType::i64: return "q";
    case DType::i32: return "i";
    case DType::u8: return "B";
    case DType::boolean: return "?";
    default: fail(ErrorKind::Type, "dtype ", dtype_name(t), " has no buffer-protocol format");
  }
}

// The conversions themselves are the library's (fastconv/dlpack.h); here they meet Python's capsule protocol.
py::capsule dlpack_capsule(const Tensor& t) {
  DLManagedTensor* m = to_dlpack(t);
  // If no consumer renamed the capsule to "used_dltensor", the data was never taken: free it here.
  return py::capsule(m, "dltensor", [](PyObject* cap) {
    if (PyCapsule_IsValid(cap, "dltensor")) {
      auto* mt = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
      if (mt && mt->deleter) mt->deleter(mt);
    }
  });
}

Tensor tensor_from_dlpack(const py::object& obj) {
  py::object cap_obj = py::hasattr(obj, "__dlpack__") ? obj.attr("__dlpack__")() : obj;
  PyObject* cap = cap_obj.ptr();
  FC_CHECK(PyCapsule_CheckExact(cap) && PyCapsule_IsValid(cap, "dltensor"), Type,
           "from_dlpack: expected an object with __dlpack__ or an unused 'dltensor' capsule, got ",
           std::string(py::str(py::type::handle_of(obj))));
  auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(cap, "dltensor"));
  Tensor t = from_dlpack(m);  // throws before taking m: the capsule then still frees it
  PyCapsule_SetName(cap, "used_dltensor");
  return t;
}

}  // namespace

void bind_tensor(py::module_& m) {
  py::class_<Tensor>(m, "Tensor", py::buffer_protocol(), R"doc(
A strided view over fastconv-owned or borrowed memory. Converts to NumPy (np.asarray) and to/from DLPack
(torch.from_dlpack, np.from_dlpack, fastconv.from_dlpack) without copying.)doc")
      .def_buffer([](Tensor& t) -> py::buffer_info {
        FC_CHECK(t.device().is_cpu(), Value, "only cpu tensors expose the buffer protocol");
        std::vector<ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
        const ssize_t item = static_cast<ssize_t>(dtype_size(t.dtype()));
        for (int64_t s : t.strides()) strides.push_back(static_cast<ssize_t>(s) * item);
        return py::buffer_info(t.data_ptr(), item, buffer_format(t.dtype()), t.dim(), shape, strides);
      })
      .def_property_readonly("shape", [](const Tensor& t) { return py::tuple(py::cast(t.shape())); })
      .def_property_readonly("strides", [](const Tensor& t) { return py::tuple(py::cast(t.strides())); })
      .def_property_readonly("dtype", [](const Tensor& t) { return std::string(dtype_name(t.dtype())); })
      .def_property_readonly("device", [](const Tensor& t) { return t.device().str(); })
      .def_property_readonly("ndim", &Tensor::dim)
      .def_property_readonly("data_ptr", [](const Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()); })
      .def("numel", &Tensor::numel)
      .def("is_contiguous", &Tensor::is_contiguous)
      .def("contiguous", &Tensor::contiguous)
      .def("clone", &Tensor::clone)
      .def("to", [](const Tensor& t, const std::string& device) {
             py::gil_scoped_release nogil;
             return t.to(Device::parse(device));
           }, py::arg("device"), "This tensor on `device` ('cpu', 'cuda:0'): itself if already there, else a copy.")
      .def("numpy", [](const Tensor& t) { return numpy_from_tensor(t); }, "A NumPy array sharing this memory.")
      .def("__array__", [](const Tensor& t, py::object dtype, py::object copy) {
             py::array a = numpy_from_tensor(t);
             if (!dtype.is_none()) a = a.attr("astype")(dtype);
             return a;
           },
           py::arg("dtype") = py::none(), py::arg("copy") = py::none())
      .def("__dlpack__", [](const Tensor& t, py::object stream, py::object max_version, py::object dl_device,
                            py::object copy) { return dlpack_capsule(t); },
           py::arg("stream") = py::none(), py::arg("max_version") = py::none(), py::arg("dl_device") = py::none(),
           py::arg("copy") = py::none())
      .def("__dlpack_device__", [](const Tensor& t) {
        return py::make_tuple(t.device().is_cpu() ? int(kDLCPU) : int(kDLCUDA), t.device().index);
      })
      .def("__len__", [](const Tensor& t) { return t.dim() ? t.shape()[0] : 0; })
      .def("__repr__", [](const Tensor& t) {
        std::ostringstream os;
        os << t;
        return os.str();
      });

  m.def("from_numpy", [](py::array a) { return tensor_from_numpy(a); }, py::arg("array"),
        "Wraps a NumPy array as a fastconv Tensor without copying (any strides; the array stays alive).");
  m.def("from_dlpack", &tensor_from_dlpack, py::arg("obj"),
        "Takes a tensor from any DLPack producer (torch, NumPy, JAX, ...) without copying.");
  m.def("empty", [](std::vector<int64_t> shape, std::string dtype) {
        return Tensor::empty(shape, dtype_from_name(dtype));
      }, py::arg("shape"), py::arg("dtype") = "float32");
  m.def("zeros", [](std::vector<int64_t> shape, std::string dtype) {
        return Tensor::zeros(shape, dtype_from_name(dtype));
      }, py::arg("shape"), py::arg("dtype") = "float32");
}

}  // namespace fastconv
