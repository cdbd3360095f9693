#include <pybind11/stl.h>

#include "convert.h"

#include "fastconv/error.h"

namespace fastconv::py_convert {

DType dtype_of(const py::dtype& dt) {
  char kind = dt.kind();
  size_t sz = dt.itemsize();
  if (kind == 'f' && sz == 4) return DType::f32;
  if (kind == 'f' && sz == 8) return DType::f64;
  if (kind == 'f' && sz == 2) return DType::f16;
  if (kind == 'i' && sz == 8) return DType::i64;
  if (kind == 'i' && sz == 4) return DType::i32;
  if (kind == 'u' && sz == 1) return DType::u8;
  if (kind == 'b') return DType::boolean;
  fail(ErrorKind::Type, "unsupported array dtype '", std::string(py::str(dt)),
       "'; fastconv takes float32/float64/float16, int64/int32, uint8 or bool arrays");
}

py::dtype numpy_dtype(DType t) {
  switch (t) {
    case DType::f32: return py::dtype::of<float>();
    case DType::f64: return py::dtype::of<double>();
    case DType::i64: return py::dtype::of<int64_t>();
    case DType::i32: return py::dtype::of<int32_t>();
    case DType::u8: return py::dtype::of<uint8_t>();
    case DType::boolean: return py::dtype("bool");
    case DType::f16: return py::dtype("float16");
    default: fail(ErrorKind::Type, "dtype ", dtype_name(t), " has no NumPy equivalent");
  }
}

namespace {
constexpr const char* kCapsule = "fastconv.Tensor";  // the base of every array numpy_from_tensor makes
}

std::shared_ptr<Storage> engine_storage(const py::array& a) {
  py::handle base = a.base();
  for (int hops = 0; hops < 8 && base && py::isinstance<py::array>(base); ++hops)  // views of views (Parameter)
    base = py::reinterpret_borrow<py::array>(base).base();
  if (base && PyCapsule_CheckExact(base.ptr()) && PyCapsule_IsValid(base.ptr(), kCapsule)) {
    const Tensor* owner = static_cast<const Tensor*>(PyCapsule_GetPointer(base.ptr(), kCapsule));
    const char* begin = static_cast<const char*>(owner->storage()->data());
    const char* p = static_cast<const char*>(a.data());
    if (owner->device().is_cpu() && p >= begin && p <= begin + owner->storage()->nbytes()) return owner->storage();
  }
  return nullptr;
}

Tensor tensor_from_numpy(const py::array& a) {
  DType t = dtype_of(a.dtype());
  Shape shape(a.shape(), a.shape() + a.ndim()), strides(a.ndim());
  const ssize_t item = a.itemsize();
  for (ssize_t i = 0; i < a.ndim(); ++i) {
    FC_CHECK(a.strides(i) % item == 0, Value, "array strides must be multiples of the item size, got ",
             a.strides(i), " bytes for items of ", item, " bytes");
    strides[size_t(i)] = a.strides(i) / item;
  }
  // An array viewing memory fastconv allocated (parameters, outputs): share that storage directly, so ownership
  // stays with C++ and no Python object is kept alive by the tensor.
  if (std::shared_ptr<Storage> st = engine_storage(a)) {
    const char* begin = static_cast<const char*>(st->data());
    return Tensor(std::move(st), int64_t(static_cast<const char*>(a.data()) - begin), shape, strides, t);
  }
  // The owner holds a reference to the array; releasing it needs the GIL, whichever thread drops the tensor.
  auto* ref = new py::object(a);
  std::shared_ptr<void> owner(ref, [](void* p) {
    py::gil_scoped_acquire gil;
    delete static_cast<py::object*>(p);
  });
  return Tensor::from_blob(const_cast<void*>(a.data()), shape, strides, t, Device{}, owner);
}

py::array numpy_from_tensor(const Tensor& t) {
  FC_CHECK(t.device().is_cpu(), Value, "cannot view a ", t.device().str(),
           " tensor as a NumPy array; copy it to the cpu first");
  std::vector<ssize_t> shape(t.shape().begin(), t.shape().end()), strides;
  for (int64_t s : t.strides()) strides.push_back(static_cast<ssize_t>(s * int64_t(dtype_size(t.dtype()))));
  auto* keep = new Tensor(t);
  py::capsule base(keep, kCapsule, [](PyObject* o) {
    delete static_cast<Tensor*>(PyCapsule_GetPointer(o, kCapsule));
  });
  return py::array(numpy_dtype(t.dtype()), shape, strides, t.data_ptr(), base);
}

py::array numpy_on_host(const Tensor& t) {
  if (t.device().is_cpu()) return numpy_from_tensor(t);
  Tensor h;
  {
    py::gil_scoped_release nogil;
    h = t.to(Device{});
  }
  return numpy_from_tensor(h);
}

Tensor to_tensor(const py::handle& obj) {
  if (py::isinstance<Tensor>(obj)) return obj.cast<Tensor>();
  if (py::isinstance<py::array>(obj)) return tensor_from_numpy(py::reinterpret_borrow<py::array>(obj));
  py::object np = py::module_::import("numpy");
  return tensor_from_numpy(np.attr("asarray")(obj));
}

namespace {

std::string type_name(py::handle v) { return Py_TYPE(v.ptr())->tp_name; }

// NumPy's bool scalar is neither a Python bool nor an int to pybind11.
bool is_bool(py::handle v) {
  const std::string t = type_name(v);
  return py::isinstance<py::bool_>(v) || t == "numpy.bool" || t == "numpy.bool_";
}

std::string repr_short(py::handle v) {
  std::string s = py::repr(v);
  return s.size() > 80 ? s.substr(0, 77) + "..." : s;
}

// An attribute integer: Python ints and anything with __index__ (NumPy integers), range-checked here rather than by
// pybind11, whose error ("Unable to cast Python instance of type int to C++ type '?'") names neither argument nor
// value.
int64_t int_value(const std::string& k, py::handle v) {
  py::object i = py::reinterpret_steal<py::object>(PyNumber_Index(v.ptr()));
  if (!i) {
    PyErr_Clear();
    fail(ErrorKind::Type, "argument '", k, "' must be an int, got ", type_name(v),
         " ", repr_short(v));
  }
  int overflow = 0;
  const long long x = PyLong_AsLongLongAndOverflow(i.ptr(), &overflow);
  if (overflow != 0 || (x == -1 && PyErr_Occurred())) {
    PyErr_Clear();
    fail(ErrorKind::Value, "argument '", k, "' = ", repr_short(v),
         " is out of range: integer arguments must fit in 64 bits (-2**63 to 2**63 - 1)");
  }
  return x;
}

double float_value(const std::string& k, py::handle v) {
  const double x = PyFloat_AsDouble(v.ptr());
  if (x == -1.0 && PyErr_Occurred()) {
    const bool too_big = PyErr_ExceptionMatches(PyExc_OverflowError);
    PyErr_Clear();
    if (too_big)
      fail(ErrorKind::Value, "argument '", k, "' = ", repr_short(v), " is too large for a float (at most ~1.8e308)");
    fail(ErrorKind::Type, "argument '", k, "' must be a number, got ",
         type_name(v), " ", repr_short(v));
  }
  return x;
}

bool is_int_like(py::handle v) {
  return !is_bool(v) && (py::isinstance<py::int_>(v) || (!py::isinstance<py::float_>(v) &&
                                                                           py::hasattr(v, "__index__") &&
                                                                           !py::isinstance<py::array>(v)));
}

}  // namespace

Attrs attrs_from_dict(const py::dict& d) {
  Attrs a;
  for (auto item : d) {
    std::string k = py::str(item.first);
    py::handle v = item.second;
    if (v.is_none()) continue;  // None = argument not given
    if (is_bool(v)) {
      a.set(k, PyObject_IsTrue(v.ptr()) == 1);
    } else if (is_int_like(v)) {
      a.set(k, int_value(k, v));
    } else if (py::isinstance<py::float_>(v)) {
      a.set(k, v.cast<double>());
    } else if (py::isinstance<py::str>(v)) {
      a.set(k, v.cast<std::string>());
    } else if (py::isinstance<py::tuple>(v) || py::isinstance<py::list>(v)) {
      py::sequence s = py::reinterpret_borrow<py::sequence>(v);
      bool all_int = true;
      for (auto e : s) {
        FC_CHECK(!py::isinstance<py::str>(e) && !py::isinstance<py::tuple>(e) && !py::isinstance<py::list>(e) &&
                     !e.is_none(),
                 Type, "argument '", k, "' must be a number or a flat sequence of numbers, got ", repr_short(v));
        all_int = all_int && is_int_like(e);
      }
      if (all_int) {
        std::vector<int64_t> xs;
        for (auto e : s) xs.push_back(int_value(k, e));
        a.set(k, std::move(xs));
      } else {
        std::vector<double> xs;
        for (auto e : s) xs.push_back(float_value(k, e));
        a.set(k, std::move(xs));
      }
    } else if (py::hasattr(v, "__float__") && !py::isinstance<py::array>(v)) {
      a.set(k, float_value(k, v));
    } else if (py::isinstance<py::array>(v) && py::reinterpret_borrow<py::array>(v).ndim() == 0) {
      py::object item0 = v.attr("item")();  // a 0-d NumPy array: its Python scalar
      if (is_bool(item0)) a.set(k, item0.cast<bool>());
      else if (is_int_like(item0)) a.set(k, int_value(k, item0));
      else a.set(k, float_value(k, item0));
    } else {
      fail(ErrorKind::Type, "argument '", k, "' has unsupported type ", type_name(v),
           " (expected an int, a float, a bool, a string or a sequence of numbers), got ", repr_short(v));
    }
  }
  return a;
}

py::object attr_to_py(const AttrValue& v) {
  if (auto p = std::get_if<int64_t>(&v)) return py::int_(*p);
  if (auto d = std::get_if<double>(&v)) return py::float_(*d);
  if (auto b = std::get_if<bool>(&v)) return py::bool_(*b);
  if (auto s = std::get_if<std::string>(&v)) return py::str(*s);
  if (auto il = std::get_if<std::vector<int64_t>>(&v)) return py::tuple(py::cast(*il));
  return py::tuple(py::cast(std::get<std::vector<double>>(v)));
}

TrainSpec spec_from_dict(const py::dict& d) {
  TrainSpec s;
  s.loss = d["loss"].cast<ValueId>();
  if (d.contains("optimizer") && !d["optimizer"].is_none()) s.optimizer = d["optimizer"].cast<std::string>();
  if (d.contains("groups"))
    for (auto g : d["groups"].cast<py::list>()) {
      py::dict gd = g.cast<py::dict>();
      ParamGroupSpec grp;
      for (auto p : gd["params"].cast<py::list>()) {
        py::tuple t = p.cast<py::tuple>();
        grp.params.emplace_back(t[0].cast<ValueId>(), py::str(t[1]).cast<std::string>());
      }
      if (gd.contains("hyper")) grp.hyper = attrs_from_dict(gd["hyper"].cast<py::dict>());
      s.groups.push_back(std::move(grp));
    }
  if (d.contains("clip_grad_norm") && !d["clip_grad_norm"].is_none())
    s.clip_grad_norm = d["clip_grad_norm"].cast<double>();
  if (d.contains("clip_norm_type")) s.clip_norm_type = d["clip_norm_type"].cast<double>();
  if (d.contains("allreduce_bucket_bytes") && !d["allreduce_bucket_bytes"].is_none())
    s.allreduce_bucket_bytes = d["allreduce_bucket_bytes"].cast<int64_t>();
  if (d.contains("given_grads")) s.given_grads = d["given_grads"].cast<std::vector<ValueId>>();
  return s;
}

}  // namespace fastconv::py_convert
