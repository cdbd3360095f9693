#include "io/graph_json.h"

#include <cmath>

#include "fastconv/error.h"

namespace fastconv::io {

namespace {

json::Value float_to_json(double d) {
  if (std::isnan(d)) return json::Value("nan");
  if (std::isinf(d)) return json::Value(d > 0 ? "inf" : "-inf");
  return json::Value(d);
}

double float_from_json(const json::Value& v, const std::string& where) {
  if (v.type() == json::Type::String) {
    const std::string& s = v.as_string(where);
    if (s == "inf") return INFINITY;
    if (s == "-inf") return -INFINITY;
    if (s == "nan") return NAN;
    fail(ErrorKind::Value, where, ": expected a number or \"inf\", \"-inf\", \"nan\", got \"", s, "\"");
  }
  return v.as_float(where);
}

const char* kind_name(ValueKind k) {
  switch (k) {
    case ValueKind::Input: return "input";
    case ValueKind::Param: return "param";
    case ValueKind::Const: return "const";
    default: return "computed";
  }
}

}  // namespace

std::string TensorNames::name_of(const Tensor& t_in, const char* kind) {
  auto host = host_of.find(t_in.data_ptr());
  const Tensor& t = host == host_of.end() ? t_in : host->second;
  auto it = by_ptr.find(t.data_ptr());
  if (it != by_ptr.end()) return it->second;
  std::string name = std::string("fastconv.") + kind + "." + std::to_string(next_const++);
  by_ptr[t.data_ptr()] = name;
  invented.emplace_back(name, t);
  return name;
}

json::Value shape_to_json(const Shape& s) {
  json::Value a = json::Value::array();
  for (int64_t d : s) a.push(json::Value(d));
  return a;
}

Shape shape_from_json(const json::Value& v, const std::string& where) {
  const auto& items = v.items(where);
  FC_CHECK(items.size() <= size_t(kMaxGraphRank), Value, where, ": a shape of ", items.size(),
           " dimensions (at most ", kMaxGraphRank, ")");
  Shape s;
  for (size_t i = 0; i < items.size(); ++i) s.push_back(items[i].as_int(where + "[" + std::to_string(i) + "]"));
  try {
    shape_numel(s);
  } catch (const Error& e) {
    fail(ErrorKind::Value, where, ": invalid shape ", shape_str(s), ": ", e.what());
  }
  return s;
}

DType dtype_from_json(const json::Value& v, const std::string& where) {
  const std::string& s = v.as_string(where);
  try {
    return dtype_from_name(s);
  } catch (const Error&) {
    fail(ErrorKind::Value, where, ": unknown dtype '", s,
         "' (expected float32, float64, float16, int64, int32, int16, int8, uint8 or bool)");
  }
}

json::Value attrs_to_json(const Attrs& a) {
  json::Value o = json::Value::object();
  for (const auto& [k, v] : a.items()) {
    json::Value t = json::Value::object();
    if (const auto* i = std::get_if<int64_t>(&v)) t.set("int", json::Value(*i));
    else if (const auto* d = std::get_if<double>(&v)) t.set("float", float_to_json(*d));
    else if (const auto* b = std::get_if<bool>(&v)) t.set("bool", json::Value(*b));
    else if (const auto* s = std::get_if<std::string>(&v)) t.set("str", json::Value(*s));
    else if (const auto* is = std::get_if<std::vector<int64_t>>(&v)) t.set("ints", shape_to_json(*is));
    else {
      json::Value arr = json::Value::array();
      for (double d : std::get<std::vector<double>>(v)) arr.push(float_to_json(d));
      t.set("floats", std::move(arr));
    }
    o.set(k, std::move(t));
  }
  return o;
}

Attrs attrs_from_json(const json::Value& v, const std::string& where) {
  Attrs a;
  for (const auto& [k, t] : v.members(where)) {
    const std::string w = where + "." + k;
    const auto& m = t.members(w);
    FC_CHECK(m.size() == 1, Value, w, ": expected one of {\"int\": ..}, {\"float\": ..}, {\"bool\": ..}, "
             "{\"str\": ..}, {\"ints\": [..]}, {\"floats\": [..]}, got an object with ", m.size(), " members");
    const std::string& type = m[0].first;
    const json::Value& x = m[0].second;
    if (type == "int") {
      a.set(k, x.as_int(w + ".int"));
    } else if (type == "float") {
      a.set(k, float_from_json(x, w + ".float"));
    } else if (type == "bool") {
      a.set(k, x.as_bool(w + ".bool"));
    } else if (type == "str") {
      a.set(k, x.as_string(w + ".str"));
    } else if (type == "ints") {
      std::vector<int64_t> is;
      for (const auto& e : x.items(w + ".ints")) is.push_back(e.as_int(w + ".ints[]"));
      a.set(k, is);
    } else if (type == "floats") {
      std::vector<double> ds;
      for (const auto& e : x.items(w + ".floats")) ds.push_back(float_from_json(e, w + ".floats[]"));
      a.set(k, ds);
    } else {
      fail(ErrorKind::Value, w, ": unknown attribute type '", type,
           "' (expected int, float, bool, str, ints or floats)");
    }
  }
  return a;
}

GraphJson graph_to_json(const Graph& g, int num_nodes, const std::vector<ValueId>& keep, TensorNames& names) {
  const int nn = num_nodes < 0 ? g.num_nodes() : num_nodes;
  std::vector<char> used(size_t(g.num_values()), 0);
  for (int i = 0; i < nn; ++i) {
    for (ValueId v : g.node(i).inputs) used[size_t(v)] = 1;
    for (ValueId v : g.node(i).outputs) used[size_t(v)] = 1;
  }
  for (ValueId v : keep) {
    g.value(v);  // validates the id
    used[size_t(v)] = 1;
  }
  GraphJson out;
  out.ids.assign(size_t(g.num_values()), kNoValue);
  json::Value values = json::Value::array();
  int64_t next = 0;
  for (ValueId id = 0; id < g.num_values(); ++id) {
    const Value& v = g.value(id);
    if (!used[size_t(id)] && v.kind != ValueKind::Input) continue;
    if (v.kind == ValueKind::Computed && (v.producer < 0 || v.producer >= nn)) continue;
    json::Value o = json::Value::object();
    o.set("kind", json::Value(kind_name(v.kind)));
    if (v.kind != ValueKind::Computed) o.set("name", json::Value(v.name));
    if (v.kind == ValueKind::Param || v.kind == ValueKind::Const)
      o.set("tensor", json::Value(names.name_of(v.data, v.kind == ValueKind::Param ? "param" : "const")));
    if (v.kind == ValueKind::Param) o.set("requires_grad", json::Value(v.requires_grad));
    o.set("shape", shape_to_json(v.desc.shape));
    o.set("dtype", json::Value(dtype_name(v.desc.dtype)));
    values.push(std::move(o));
    out.ids[size_t(id)] = ValueId(next++);
  }
  json::Value nodes = json::Value::array();
  for (int i = 0; i < nn; ++i) {
    const Node& n = g.node(i);
    json::Value o = json::Value::object(), in = json::Value::array(), outs = json::Value::array();
    for (ValueId v : n.inputs) in.push(json::Value(int64_t(out.ids[size_t(v)])));
    for (ValueId v : n.outputs) outs.push(json::Value(int64_t(out.ids[size_t(v)])));
    o.set("op", json::Value(n.op));
    o.set("inputs", std::move(in));
    o.set("outputs", std::move(outs));
    o.set("attrs", attrs_to_json(n.attrs));
    o.set("scope", json::Value(n.scope));
    nodes.push(std::move(o));
  }
  json::Value memo = json::Value::array();
  const ValueId step = g.memo("step");
  if (step != kNoValue && out.ids[size_t(step)] != kNoValue) {
    json::Value e = json::Value::array();
    e.push(json::Value("step"));
    e.push(json::Value(int64_t(out.ids[size_t(step)])));
    memo.push(std::move(e));
  }
  out.graph = json::Value::object();
  out.graph.set("values", std::move(values));
  out.graph.set("nodes", std::move(nodes));
  out.graph.set("memo", std::move(memo));
  return out;
}

ValueId GraphRead::at(int64_t json_id, const std::string& where) const {
  FC_CHECK(json_id >= 0 && json_id < int64_t(ids.size()) && ids[size_t(json_id)] != kNoValue, Value, where,
           ": value id ", json_id, " is out of range (the graph has ", ids.size(), " values)");
  return ids[size_t(json_id)];
}

GraphRead graph_from_json(const json::Value& doc, const std::string& what, const TensorBinder& bind) {
  const auto& values = doc.at("values", what).items(what + ".values");
  const auto& nodes = doc.at("nodes", what).items(what + ".nodes");
  FC_CHECK(int64_t(values.size()) <= kMaxGraphValues && int64_t(nodes.size()) <= kMaxGraphValues, Value, what,
           ": ", values.size(), " values and ", nodes.size(), " nodes (at most ", kMaxGraphValues, " of each)");
  GraphRead r;
  r.graph = std::make_shared<Graph>();
  Graph& g = *r.graph;
  r.ids.assign(values.size(), kNoValue);
  std::vector<TensorDesc> recorded(values.size());
  std::vector<char> computed(values.size(), 0), produced(values.size(), 0);
  // Inputs, params and consts first (in id order), then the nodes: an id is usable once made.
  for (size_t i = 0; i < values.size(); ++i) {
    const std::string w = what + ".values[" + std::to_string(i) + "]";
    const json::Value& v = values[i];
    const std::string& kind = v.at("kind", w).as_string(w + ".kind");
    recorded[i] = {shape_from_json(v.at("shape", w), w + ".shape"), dtype_from_json(v.at("dtype", w), w + ".dtype")};
    if (kind == "computed") {
      computed[i] = 1;
      continue;
    }
    const json::Value* nm = v.find("name");
    const std::string name = nm ? nm->as_string(w + ".name") : "";
    if (kind == "input") {
      r.ids[i] = g.input(name, recorded[i]);
    } else if (kind == "param" || kind == "const") {
      const std::string& tensor = v.at("tensor", w).as_string(w + ".tensor");
      Tensor t = bind(tensor, recorded[i], w);
      if (kind == "param") {
        const json::Value* rg = v.find("requires_grad");
        r.ids[i] = g.param(name, t, rg ? rg->as_bool(w + ".requires_grad") : false);
      } else {
        r.ids[i] = g.constant(t, name);
      }
    } else {
      fail(ErrorKind::Value, w, ".kind: unknown value kind '", kind, "' (expected input, param, const or computed)");
    }
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    const json::Value& n = nodes[i];
    const std::string w0 = what + ".nodes[" + std::to_string(i) + "]";
    const std::string& op = n.at("op", w0).as_string(w0 + ".op");
    const json::Value* sc = n.find("scope");
    const std::string scope = sc ? sc->as_string(w0 + ".scope") : "";
    const std::string w = w0 + " (op '" + op + "', layer '" + scope + "')";
    std::vector<ValueId> in;
    for (const json::Value& x : n.at("inputs", w).items(w + ".inputs")) {
      const int64_t id = x.as_int(w + ".inputs[]");
      FC_CHECK(id >= 0 && id < int64_t(values.size()), Value, w, ": input value id ", id,
               " is out of range (the graph has ", values.size(), " values)");
      FC_CHECK(r.ids[size_t(id)] != kNoValue, Value, w, ": input value ", id,
               " is not an earlier value (a forward reference: no earlier node makes it)");
      in.push_back(r.ids[size_t(id)]);
    }
    std::vector<int64_t> outs;
    for (const json::Value& x : n.at("outputs", w).items(w + ".outputs")) {
      const int64_t id = x.as_int(w + ".outputs[]");
      FC_CHECK(id >= 0 && id < int64_t(values.size()), Value, w, ": output value id ", id,
               " is out of range (the graph has ", values.size(), " values)");
      FC_CHECK(computed[size_t(id)] && !produced[size_t(id)], Value, w, ": output value ", id,
               produced[size_t(id)] ? " is already the output of an earlier node" : " is not a computed value");
      produced[size_t(id)] = 1;
      outs.push_back(id);
    }
    const json::Value* at = n.find("attrs");
    const Attrs attrs = at ? attrs_from_json(*at, w + ".attrs") : Attrs{};
    std::vector<ValueId> made;
    try {
      made = g.add(op, in, attrs, scope);
    } catch (const Error& e) {
      throw Error(ErrorKind::Value, w + ": " + e.what());
    }
    FC_CHECK(made.size() == outs.size(), Value, w, ": the op makes ", made.size(), " outputs, the file lists ",
             outs.size());
    for (size_t k = 0; k < made.size(); ++k) {
      const TensorDesc& got = g.value(made[k]).desc;
      FC_CHECK(got == recorded[size_t(outs[k])], Value, w, ": output ", k, " (value ", outs[k], ") is recorded as ",
               desc_str(recorded[size_t(outs[k])]), " but the shape rule gives ", desc_str(got));
      r.ids[size_t(outs[k])] = made[k];
    }
  }
  if (const json::Value* memo = doc.find("memo")) {
    for (const json::Value& e : memo->items(what + ".memo")) {
      const auto& kv = e.items(what + ".memo[]");
      FC_CHECK(kv.size() == 2, Value, what, ".memo: entries are [key, value id], got ", kv.size(), " elements");
      const std::string& key = kv[0].as_string(what + ".memo[].key");
      FC_CHECK(key == "step", Value, what, ".memo: unknown key '", key, "' (expected 'step')");
      const ValueId id = r.at(kv[1].as_int(what + ".memo[1]"), what + ".memo");
      // the step memo is the counter's increment node: build_training finds its counter through it
      const Value& sv = g.value(id);
      FC_CHECK(sv.producer >= 0 && g.node(sv.producer).inputs.size() == 1 &&
                   g.value(g.node(sv.producer).inputs[0]).kind == ValueKind::Param,
               Value, what, ".memo: 'step' must name the step counter's output");
      g.set_memo(key, id);
    }
  }
  return r;
}

}  // namespace fastconv::io
