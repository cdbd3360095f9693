// Eager op calls, graphs and executables. Glue only: argument conversion, no decisions.
#include <pybind11/stl.h>

#include "convert.h"
#include "backend/backend.h"
#include "fastconv/graph.h"
#include "ops/op.h"

namespace fastconv {
namespace py = pybind11;
using namespace py_convert;

void bind_graph(py::module_& m) {
  m.def("run_op",
        [](const std::string& op, const py::sequence& inputs, const py::dict& attrs) {
          std::vector<Tensor> in;
          for (auto x : inputs) in.push_back(to_tensor(x));
          Attrs a = attrs_from_dict(attrs);
          std::vector<Tensor> out;
          {
            py::gil_scoped_release nogil;
            out = run_op(op, in, a);
          }
          py::list res;
          for (const Tensor& t : out) res.append(numpy_from_tensor(t));
          return res;
        },
        py::arg("op"), py::arg("inputs"), py::arg("attrs") = py::dict(),
        "Runs one op now on arrays; returns a list of NumPy arrays.");
  m.def("op_names", [] { return Registry::global().names(); });
  m.def("op_attrs", [](const std::string& op) { return Registry::global().get(op).attrs; }, py::arg("op"),
        "The attribute names op `op` accepts, sorted; any other name is a ValueError.");
  m.def("backend_names", &Backend::names);
  m.def("derive_backend", &Backend::derive, py::arg("name"), py::arg("base") = "cpu",
        py::arg("algos") = std::vector<std::string>(),
        "A CPU backend with a subset of another's kernels (no algos: the reference set); returns the kernel count.");
  m.def("kernel_algos", [](const std::string& family_or_op, const std::string& backend) {
          return KernelTable::global().algos(family_or_op, backend);
        }, py::arg("family_or_op"), py::arg("backend") = "cpu");

  py::class_<Graph, std::shared_ptr<Graph>>(m, "Graph")
      .def(py::init<>())
      .def("input", [](Graph& g, const std::string& name, std::vector<int64_t> shape, const std::string& dtype) {
             return g.input(name, {shape, dtype_from_name(dtype)});
           }, py::arg("name"), py::arg("shape"), py::arg("dtype") = "float32")
      .def("param", [](Graph& g, const std::string& name, py::handle data, bool requires_grad) {
             return g.param(name, to_tensor(data), requires_grad);
           }, py::arg("name"), py::arg("data"), py::arg("requires_grad") = true,
           "A persistent value bound to `data` (no copy: updates are visible to the owner).")
      .def("constant", [](Graph& g, py::handle data, const std::string& name) {
             return g.constant(to_tensor(data).contiguous(), name);
           }, py::arg("data"), py::arg("name") = "")
      .def("add", [](Graph& g, const std::string& op, std::vector<ValueId> inputs, const py::dict& attrs,
                     const std::string& scope) { return g.add(op, inputs, attrs_from_dict(attrs), scope); },
           py::arg("op"), py::arg("inputs"), py::arg("attrs") = py::dict(), py::arg("scope") = "")
      .def("shape", [](const Graph& g, ValueId v) { return py::tuple(py::cast(g.value(v).desc.shape)); })
      .def("dtype", [](const Graph& g, ValueId v) { return std::string(dtype_name(g.value(v).desc.dtype)); })
      .def("kind", [](const Graph& g, ValueId v) {
        switch (g.value(v).kind) {
          case ValueKind::Input: return "input";
          case ValueKind::Param: return "param";
          case ValueKind::Const: return "const";
          default: return "computed";
        }
      })
      .def("node", [](const Graph& g, int i) {
        const Node& n = g.node(i);
        py::dict attrs;
        for (const auto& [k, v] : n.attrs.items()) attrs[py::str(k)] = attr_to_py(v);
        return py::dict(py::arg("op") = n.op, py::arg("inputs") = n.inputs, py::arg("outputs") = n.outputs,
                        py::arg("attrs") = attrs, py::arg("scope") = n.scope);
      })
      .def_property_readonly("num_nodes", &Graph::num_nodes)
      .def_property_readonly("num_values", &Graph::num_values)
      .def_readwrite("current_scope", &Graph::current_scope)
      .def("dump", &Graph::dump)
      .def("append_backward", [](Graph& g, ValueId loss, std::vector<ValueId> wrt) {
             return append_backward(g, loss, wrt);
           }, py::arg("loss"), py::arg("wrt"));

  // A graph compiled for a device needs its parameters and constants there. Each host tensor is copied once into
  // `cache` (keyed by its data address, shared by every program of one compiled model, so they update the same
  // device weights) and the graph's value rebound to the copy.
  m.def("params_to_device", [](Graph& g, const std::string& device, py::dict cache) {
          const Device d = Device::parse(device);
          for (ValueId v = 0; v < g.num_values(); ++v) {
            Value& val = g.value(v);
            if ((val.kind != ValueKind::Param && val.kind != ValueKind::Const) || val.data.device() == d) continue;
            const py::int_ key(reinterpret_cast<uintptr_t>(val.data.data_ptr()));
            if (!cache.contains(key)) {
              Tensor t;
              {
                py::gil_scoped_release nogil;
                t = val.data.to(d);
              }
              cache[key] = py::make_tuple(t, val.data);  // the host tensor too: its address must stay taken
            }
            val.data = cache[key].cast<py::tuple>()[0].cast<Tensor>();
          }
        }, py::arg("graph"), py::arg("device"), py::arg("cache"));

  // Copies every (device, host) pair of a params_to_device cache one way: to the device before a step (the host
  // arrays are the truth: edits, loaded weights, a schedule's learning rate), back after a step that updates state.
  m.def("sync_params", [](py::dict cache, bool to_device) {
          std::vector<std::pair<Tensor, Tensor>> pairs;
          for (auto item : cache) {
            py::tuple t = item.second.cast<py::tuple>();
            pairs.emplace_back(t[0].cast<Tensor>(), t[1].cast<Tensor>());
          }
          py::gil_scoped_release nogil;
          for (auto& [dev, host] : pairs) (to_device ? dev : host).copy_from(to_device ? host : dev);
        }, py::arg("cache"), py::arg("to_device"));

  // Weight versions (docs/inference.md): Python-side writes into engine memory (Parameter.__setitem__, in-place
  // ufuncs, load_state_dict) announce themselves here. Arrays not in engine memory have no shared version: skipped.
  m.def("bump_versions", [](const py::sequence& arrays) {
          int n = 0;
          for (auto a : arrays)
            if (py::isinstance<py::array>(a))
              if (std::shared_ptr<Storage> st = engine_storage(py::reinterpret_borrow<py::array>(a))) {
                st->bump_version();
                ++n;
              }
          return n;
        }, py::arg("arrays"), "Bumps the weight version of each array's engine storage; returns how many had one.");
  m.def("storage_version", [](const py::array& a) -> py::object {
          std::shared_ptr<Storage> st = engine_storage(a);
          return st ? py::object(py::int_(st->version())) : py::object(py::none());
        }, py::arg("array"), "The weight version of the engine storage the array views (None if it views none).");

  py::class_<Executable>(m, "Executable")
      .def(py::init([](std::shared_ptr<Graph> g, std::vector<ValueId> outputs, const std::string& device,
                       bool plan_memory, bool fuse, const std::string& backend,
                       std::map<std::string, std::string> algo, int fixed_io, bool fold_constants,
                       const std::string& precision) {
             CompileOptions o;
             o.device = Device::parse(device);
             o.plan_memory = plan_memory;
             o.fuse = fuse;
             o.backend = backend;
             o.algo = std::move(algo);
             o.fixed_io = fixed_io;
             o.fold_constants = fold_constants;
             o.precision = precision;
             return new Executable(std::move(g), std::move(outputs), o);
           }),
           py::arg("graph"), py::arg("outputs"), py::arg("device") = "cpu", py::arg("plan_memory") = true,
           py::arg("fuse") = false, py::arg("backend") = "", py::arg("algo") = std::map<std::string, std::string>(),
           py::arg("fixed_io") = -1, py::arg("fold_constants") = true, py::arg("precision") = "fp32")
      .def_property_readonly("backend", &Executable::backend)
      .def_property_readonly("precision", [](const Executable& e) { return e.precision(); })
      .def_property_readonly("fuse_stats", [](const Executable& e) { return e.fuse_stats().counts; })
      .def("call",
           [](Executable& e, const py::dict& inputs, const std::vector<ValueId>& outputs) {
             std::vector<std::pair<ValueId, Tensor>> in;
             for (auto [k, v] : inputs) in.emplace_back(k.cast<ValueId>(), to_tensor(v));
             std::vector<Tensor> out;
             {
               py::gil_scoped_release nogil;
               out = e.call(in, outputs);
             }
             py::list res;
             for (const Tensor& t : out) res.append(numpy_on_host(t));
             return res;
           },
           py::arg("inputs"), py::arg("outputs"),
           "One step, safe from several threads: {input id: array} in, a list of arrays (the outputs asked for) out.")
      .def("set_input", [](Executable& e, ValueId id, py::handle x) { e.set_input(id, to_tensor(x)); })
      .def("step_addresses", [](const Executable& e) {
        std::vector<uintptr_t> a;
        for (const void* p : e.step_addresses()) a.push_back(reinterpret_cast<uintptr_t>(p));
        return a;
      })
      .def_property_readonly("io_bytes", &Executable::io_bytes)
      .def_property_readonly("stateful", &Executable::stateful)
      .def_property_readonly("fixed_io", &Executable::fixed_io)
      .def_property_readonly("max_contexts", &Executable::max_contexts)
      .def("run", &Executable::run, py::call_guard<py::gil_scoped_release>())
      .def("output", [](const Executable& e, ValueId id) { return numpy_on_host(e.output(id)); })
      .def_property_readonly("peak_bytes", &Executable::peak_bytes)
      .def_property_readonly("naive_bytes", &Executable::naive_bytes)
      .def_property_readonly("inplace_count", &Executable::inplace_count)
      .def_property_readonly("alias_count", &Executable::alias_count)
      .def_property_readonly("steps_run", &Executable::steps_run)
      .def("schedule", &Executable::schedule_str)
      .def_property_readonly("folded_steps", &Executable::folded_steps)
      .def_property_readonly("fold_runs", &Executable::fold_runs)
      .def("weights_changed", &Executable::weights_changed,
           "Bumps the weight version of every parameter and constant the graph holds (after raw writes).")
      .def("set_profiling", &Executable::set_profiling, py::arg("on"))
      .def("profile", [](const Executable& e) {
        py::list out;
        for (const Executable::StepProfile& p : e.profile())
          out.append(py::dict(py::arg("step") = p.step, py::arg("op") = p.op, py::arg("algo") = p.algo,
                              py::arg("scope") = p.scope, py::arg("total_ms") = p.total_ms,
                              py::arg("calls") = p.calls, py::arg("folded") = p.folded));
        return out;
      })
      .def("plan", [](const Executable& e) {
        py::list out;
        for (const PlannedBuffer& b : e.plan())
          out.append(py::dict(py::arg("value") = b.value, py::arg("node") = b.node, py::arg("offset") = b.offset,
                              py::arg("size") = b.size, py::arg("first") = b.first, py::arg("last") = b.last));
        return out;
      });
}

}  // namespace fastconv
