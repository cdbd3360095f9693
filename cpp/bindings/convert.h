// Conversions between Python objects and fastconv types. Zero-copy wherever the memory allows it.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "fastconv/attrs.h"
#include "fastconv/tensor.h"
#include "fastconv/train.h"

namespace fastconv::py_convert {

namespace py = pybind11;

DType dtype_of(const py::dtype& dt);  // throws TypeError for unsupported dtypes
py::dtype numpy_dtype(DType t);
// Wraps a NumPy array (any strides) without copying; the tensor keeps the array alive.
Tensor tensor_from_numpy(const py::array& a);
// The engine storage a NumPy array views (memory fastconv allocated: parameters, buffers, outputs), else null.
std::shared_ptr<Storage> engine_storage(const py::array& a);
// A NumPy array viewing the tensor's memory; the array keeps the tensor alive.
py::array numpy_from_tensor(const Tensor& t);
// The same for a tensor on any device: device tensors are copied to the host first.
py::array numpy_on_host(const Tensor& t);
// Accepts a fastconv Tensor, a NumPy array, or anything np.asarray takes.
Tensor to_tensor(const py::handle& obj);
Attrs attrs_from_dict(const py::dict& d);
// compile.py's training spec (what it passes to _C.build_training and to the model serializer):
// {"loss": id, "optimizer": "sgd"|..|"", "groups": [{"params": [(id, key)], "hyper": {...}}], "clip_grad_norm": x,
//  "clip_norm_type": y}
TrainSpec spec_from_dict(const py::dict& d);
py::object attr_to_py(const AttrValue& v);

}  // namespace fastconv::py_convert
