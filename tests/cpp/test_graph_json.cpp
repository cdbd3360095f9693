// GRAPH JSON (docs/model_format.md): attributes keep their C++ types through the text (non-finite floats as
// strings), a graph's prefix is written with only the values it uses, and reading rebuilds it through Graph::add.
#include <gtest/gtest.h>

#include <cmath>

#include "fastconv/error.h"
#include "io/graph_json.h"

using namespace fastconv;

TEST(GraphJson, AttributesRoundTripWithTheirTypes) {
  Attrs a;
  a.set("i", int64_t(-3)).set("f", 0.1).set("b", true).set("s", std::string("nearest"));
  a.set("is", std::vector<int64_t>{1, 2, 3}).set("fs", std::vector<double>{INFINITY, -INFINITY, 2.5});
  a.set("nan", NAN).set("whole", 2.0);
  const std::string text = json::dump(io::attrs_to_json(a));
  EXPECT_NE(text.find("{\"float\":2.0}"), std::string::npos) << text;  // a float stays a float
  EXPECT_NE(text.find("\"-inf\""), std::string::npos) << text;
  const Attrs b = io::attrs_from_json(json::parse(text), "attrs");
  EXPECT_EQ(std::get<int64_t>(*b.find("i")), -3);
  EXPECT_EQ(std::get<double>(*b.find("f")), 0.1);
  EXPECT_EQ(std::get<double>(*b.find("whole")), 2.0);
  EXPECT_TRUE(std::get<bool>(*b.find("b")));
  EXPECT_EQ(std::get<std::string>(*b.find("s")), "nearest");
  EXPECT_EQ(std::get<std::vector<int64_t>>(*b.find("is")), (std::vector<int64_t>{1, 2, 3}));
  const auto fs = std::get<std::vector<double>>(*b.find("fs"));
  ASSERT_EQ(fs.size(), 3u);
  EXPECT_TRUE(std::isinf(fs[0]) && fs[0] > 0 && std::isinf(fs[1]) && fs[1] < 0 && fs[2] == 2.5);
  EXPECT_TRUE(std::isnan(std::get<double>(*b.find("nan"))));
  EXPECT_THROW(io::attrs_from_json(json::parse("{\"k\":{\"complex\":1}}"), "attrs"), Error);
  EXPECT_THROW(io::attrs_from_json(json::parse("{\"k\":{\"float\":\"infinity\"}}"), "attrs"), Error);
}

TEST(GraphJson, PrefixWrittenAndRebuiltThroughAdd) {
  Graph g;
  Tensor w = Tensor::full({2, 3}, 0.5f), c = Tensor::full({2}, 1.f);
  const ValueId x = g.input("x", {{4, 3}});
  const ValueId pw = g.param("fc.weight", w);
  const ValueId y = g.add1("linear", {x, pw}, {}, "fc");
  const ValueId k = g.constant(c);
  const ValueId z = g.add1("add", {y, k}, {}, "bias");
  g.add1("relu", {z}, {}, "after");  // not part of the prefix
  io::TensorNames names;
  names.by_ptr[w.data_ptr()] = "fc.weight";
  io::GraphJson gj = io::graph_to_json(g, 2, {}, names);
  ASSERT_EQ(names.invented.size(), 1u);
  EXPECT_EQ(names.invented[0].first, "fastconv.const.0");
  EXPECT_EQ(gj.graph.at("nodes").items().size(), 2u);
  EXPECT_EQ(gj.graph.at("values").items().size(), 5u);  // x, w, y, the constant, z: not relu's output
  const std::string text = json::dump(gj.graph);
  auto bind = [&](const std::string& name, const TensorDesc& d, const std::string& where) -> Tensor {
    Tensor t = name == "fc.weight" ? w : name == "fastconv.const.0" ? c : Tensor();
    if (!t.defined()) fail(ErrorKind::Value, where, ": no tensor '", name, "'");
    EXPECT_EQ(d.shape, t.shape());
    return t;
  };
  io::GraphRead r = io::graph_from_json(json::parse(text), "g", bind);
  ASSERT_EQ(r.graph->num_nodes(), 2);
  EXPECT_EQ(r.graph->node(0).op, "linear");
  EXPECT_EQ(r.graph->node(1).scope, "bias");
  EXPECT_EQ(r.graph->value(r.at(gj.ids[size_t(z)], "z")).desc.shape, (Shape{4, 2}));
  EXPECT_EQ(r.graph->value(r.at(gj.ids[size_t(pw)], "w")).data.data_ptr(), w.data_ptr());
  // A wrong input count is the op's own error, with the graph, node index, op and layer in front.
  std::string bad = text;
  const std::string from = "\"inputs\":[2,3]", to = "\"inputs\":[2]";
  ASSERT_NE(bad.find(from), std::string::npos) << bad;
  bad.replace(bad.find(from), from.size(), to);
  try {
    io::graph_from_json(json::parse(bad), "g", bind);
    FAIL() << "no error";
  } catch (const Error& e) {
    const std::string m = e.what();
    EXPECT_NE(m.find("g.nodes[1] (op 'add', layer 'bias')"), std::string::npos) << m;
    EXPECT_NE(m.find("got 1 inputs"), std::string::npos) << m;
  }
}
