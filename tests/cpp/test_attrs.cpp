// Attribute names against each op's declared list (ops/attr_check.cpp), and the registry self-test: the names the
// shape rules, kernels and backward rules read (recorded by AttrReadLog) are names their ops declare.
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <functional>
#include <set>

#include "core/attr_log.h"
#include "fastconv/graph.h"
#include "ops/op.h"

using namespace fastconv;

namespace {

using Ints = std::vector<int64_t>;

std::string joined(const std::set<std::string>& s) {
  std::string out;
  for (const std::string& n : s) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// The recorded names an op does not declare.
std::set<std::string> undeclared(const std::string& op, const std::set<std::string>& read) {
  const std::vector<std::string>& d = Registry::global().get(op).attrs;
  std::set<std::string> extra;
  for (const std::string& n : read)
    if (!std::binary_search(d.begin(), d.end(), n)) extra.insert(n);
  return extra;
}

Tensor filled(const Shape& s, float start) {
  Tensor t = Tensor::empty(s);
  float* p = t.data<float>();
  for (int64_t i = 0; i < t.numel(); ++i) p[i] = start + 0.37f * float(i % 11) - 0.5f * float(i % 3);
  return t;
}

std::string error_of(const std::function<void()>& f, ErrorKind* kind = nullptr) {
  try {
    f();
  } catch (const Error& e) {
    if (kind) *kind = e.kind();
    return e.what();
  }
  return "";
}

}  // namespace

TEST(Attrs, MisspeltConvAttributeIsAValueErrorWithSuggestionAndList) {
  Graph g;
  ValueId x = g.input("x", {{1, 3, 8, 8}});
  ValueId w = g.input("w", {{4, 3, 3, 3}});
  ErrorKind kind = ErrorKind::Runtime;
  const std::string m = error_of([&] { g.add1("conv2d", {x, w}, Attrs{{"strides", Ints{2, 2}}}); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Value);
  EXPECT_EQ(m,
            "conv2d: unknown attribute 'strides' (did you mean 'stride'?); conv2d accepts: dilation, groups, "
            "out_size, padding, pads, stride");
  EXPECT_EQ(g.num_nodes(), 0);  // nothing was added
  // The correct name gives the strided shape: (8 - 3) / 2 + 1 = 3.
  ValueId y = g.add1("conv2d", {x, w}, Attrs{{"stride", Ints{2, 2}}});
  EXPECT_EQ(g.value(y).desc.shape, (Shape{1, 4, 3, 3}));
}

TEST(Attrs, EagerRunOpChecksNamesToo) {
  ErrorKind kind = ErrorKind::Runtime;
  const std::string m =
      error_of([&] { run_op("max_pool2d", {filled({1, 1, 4, 4}, 0.f)}, {{"kernel", int64_t(2)}}); }, &kind);
  EXPECT_EQ(kind, ErrorKind::Value);
  EXPECT_NE(m.find("max_pool2d: unknown attribute 'kernel' (did you mean 'kernel_size'?)"), std::string::npos) << m;
  EXPECT_NE(m.find("max_pool2d accepts: ceil_mode, dilation, kernel_size, padding, pads, stride"), std::string::npos)
      << m;
}

TEST(Attrs, OpWithoutAttributesSaysSoAndFarNamesGetNoSuggestion) {
  EXPECT_EQ(error_of([] { run_op("relu", {filled({4}, -1.f)}, {{"inplace", true}}); }),
            "relu: unknown attribute 'inplace'; relu takes no attributes");
  const std::string m = error_of([] { run_op("softmax", {filled({2, 3}, 0.f)}, {{"temperature", 2.0}}); });
  EXPECT_EQ(m, "softmax: unknown attribute 'temperature'; softmax accepts: dim");
}

TEST(Attrs, GraphErrorsKeepTheLayerName) {
  Graph g;
  ValueId x = g.input("x", {{2, 3}});
  const std::string m = error_of([&] { g.add1("softmax", {x}, {{"dmi", int64_t(1)}}, "head.softmax"); });
  EXPECT_EQ(m, "in layer 'head.softmax': softmax: unknown attribute 'dmi' (did you mean 'dim'?); softmax accepts: dim");
}

TEST(Attrs, EveryOpDeclaresASortedListOfNames) {
  const Registry& r = Registry::global();
  for (const std::string& op : r.names()) {
    const std::vector<std::string>& a = r.get(op).attrs;
    EXPECT_TRUE(std::is_sorted(a.begin(), a.end())) << op;
    EXPECT_EQ(std::adjacent_find(a.begin(), a.end()), a.end()) << op;
    for (const std::string& n : a) {
      EXPECT_FALSE(n.empty()) << op;
      for (char ch : n)
        EXPECT_TRUE(std::islower((unsigned char)ch) || std::isdigit((unsigned char)ch) || ch == '_') << op << ": " << n;
    }
  }
  // Spot checks against the ops' documented arguments.
  EXPECT_TRUE(r.get("relu").attrs.empty());
  EXPECT_TRUE(r.get("linear").attrs.empty());
  EXPECT_EQ(r.get("conv_transpose2d").attrs,
            (std::vector<std::string>{"dilation", "groups", "output_padding", "padding", "pads", "stride"}));
  EXPECT_EQ(r.get("leaky_relu").attrs, std::vector<std::string>{"negative_slope"});
  EXPECT_EQ(r.get("leaky_relu_backward").attrs, std::vector<std::string>{"negative_slope"});
  EXPECT_EQ(r.get("huber_loss").attrs, (std::vector<std::string>{"delta", "has_weight", "reduction"}));
}

// Every op's shape rule with no attributes, on inputs of several ranks and dtypes: most calls fail (wrong inputs,
// missing required attributes), but every name a rule asks for before it fails is recorded, and must be declared.
TEST(Attrs, NamesEveryShapeRuleReadsAreDeclared) {
  const Registry& r = Registry::global();
  const std::vector<TensorDesc> kinds{{{2, 4, 6, 6}, DType::f32}, {{2, 4, 6}, DType::f32}, {{2, 4}, DType::f32},
                                      {{2, 4, 4, 4, 4}, DType::f32}, {{4}, DType::f32}, {{2}, DType::i64},
                                      {{1}, DType::i64}, {{2, 4, 6, 6}, DType::i64}};
  int reads = 0;
  for (const std::string& op : r.names()) {
    const OpDef& def = r.get(op);
    AttrReadLog log;
    const int max_in = def.max_inputs < 0 ? def.min_inputs + 2 : def.max_inputs;
    for (int n = std::max(def.min_inputs, 0); n <= max_in; ++n)
      for (const TensorDesc& k : kinds) {
        std::vector<TensorDesc> in(size_t(n), k);
        try {
          def.infer(OpCall{op, Attrs{}, in});
        } catch (const Error&) {
        } catch (const std::exception& e) {  // a shape rule must fail with fastconv::Error only
          ADD_FAILURE() << op << " on " << n << " inputs " << shape_str(k.shape) << ": " << e.what();
        }
      }
    reads += int(log.names().size());
    EXPECT_TRUE(undeclared(op, log.names()).empty())
        << op << " reads undeclared attributes: " << joined(undeclared(op, log.names()));
  }
  EXPECT_GT(reads, 50);  // the log works: shape rules do ask for their attributes
}

// Representative valid calls, run eagerly (shape rule + the CPU kernel's prepare) under the log.
TEST(Attrs, NamesRepresentativeCallsReadAreDeclared) {
  struct Case {
    std::string op;
    std::vector<Tensor> in;
    Attrs attrs;
  };
  Tensor labels = Tensor::empty({2}, DType::i64);
  labels.data<int64_t>()[0] = 1, labels.data<int64_t>()[1] = 3;
  Tensor step = Tensor::empty({1}, DType::i64);
  step.data<int64_t>()[0] = 0;
  const std::vector<Case> cases{
      {"conv2d", {filled({1, 2, 6, 6}, 0.f), filled({4, 2, 3, 3}, 0.f), filled({4}, 0.f)},
       {{"stride", Ints{2, 1}}, {"padding", int64_t(1)}, {"dilation", int64_t(1)}, {"groups", int64_t(1)}}},
      {"conv2d", {filled({1, 2, 6, 6}, 0.f), filled({4, 2, 3, 3}, 0.f)},
       {{"padding", std::string("same")}, {"stride", int64_t(1)}}},
      {"conv_transpose2d", {filled({1, 4, 3, 3}, 0.f), filled({4, 2, 3, 3}, 0.f)},
       {{"stride", int64_t(2)}, {"output_padding", int64_t(1)}}},
      {"max_pool2d", {filled({1, 2, 6, 6}, 0.f)}, {{"kernel_size", int64_t(2)}, {"ceil_mode", true}}},
      {"avg_pool2d", {filled({1, 2, 6, 6}, 0.f)},
       {{"kernel_size", int64_t(3)},
        {"stride", int64_t(2)},
        {"padding", int64_t(1)},
        {"divisor_override", int64_t(4)}}},
      {"adaptive_avg_pool2d", {filled({1, 2, 6, 6}, 0.f)}, {{"output_size", Ints{2, 3}}}},
      {"batch_norm", {filled({2, 3, 4, 4}, 0.f)}, {{"training", true}, {"eps", 1e-3}}},
      {"layer_norm", {filled({2, 3, 4}, 0.f)}, {{"normalized_shape", Ints{4}}}},
      {"group_norm", {filled({2, 4, 3}, 0.f)}, {{"num_groups", int64_t(2)}}},
      {"local_response_norm", {filled({1, 5, 3, 3}, 0.f)}, {{"size", int64_t(3)}}},
      {"interpolate", {filled({1, 1, 3, 3}, 0.f)}, {{"mode", std::string("bilinear")}, {"scale_factor", 2.0}}},
      {"resize", {filled({1, 1, 3, 3}, 0.f)},
       {{"mode", std::string("linear")}, {"sizes", Ints{1, 1, 6, 6}}, {"scales", std::vector<double>{1, 1, 2, 2}}}},
      {"pad", {filled({1, 1, 3, 3}, 0.f)}, {{"pad", Ints{1, 1, 2, 0}}, {"mode", std::string("reflect")}}},
      {"softmax", {filled({2, 5}, 0.f)}, {{"dim", int64_t(-1)}}},
      {"gelu", {filled({2, 5}, 0.f)}, {{"approximate", std::string("tanh")}}},
      {"softplus", {filled({2, 5}, 0.f)}, {{"beta", 2.0}}},
      {"dropout", {filled({2, 5}, 0.f), step}, {{"p", 0.5}, {"seed", int64_t(7)}}},
      {"cross_entropy", {filled({2, 5}, 0.f), labels}, {{"label_smoothing", 0.1}, {"reduction", std::string("sum")}}},
      {"nll_loss", {filled({2, 5}, 0.f), labels}, {{"ignore_index", int64_t(1)}}},
      {"huber_loss", {filled({2, 5}, 0.f), filled({2, 5}, 1.f)}, {{"delta", 0.5}}},
      {"triplet_margin_loss", {filled({2, 5}, 0.f), filled({2, 5}, 1.f), filled({2, 5}, 2.f)}, {{"swap", true}}},
      {"unfold", {filled({1, 2, 5, 5}, 0.f)}, {{"kernel_size", int64_t(2)}}},
      {"pixel_shuffle", {filled({1, 4, 2, 2}, 0.f)}, {{"upscale_factor", int64_t(2)}}},
      {"sum", {filled({2, 3, 4}, 0.f)}, {{"dim", Ints{1}}, {"keepdim", true}}},
      {"flatten", {filled({2, 3, 4}, 0.f)}, {{"start_dim", int64_t(1)}}},
      {"slice", {filled({2, 6}, 0.f)}, {{"dim", int64_t(1)}, {"start", int64_t(1)}, {"length", int64_t(3)}}},
      {"clip_grad_coef", {filled({2, 6}, 0.f), filled({3}, 1.f)}, {{"max_norm", 1.0}, {"norm_type", 2.0}}},
  };
  for (const Case& c : cases) {
    AttrReadLog log;
    run_op(c.op, c.in, c.attrs);
    // The log sees these calls (string-valued `padding` is looked up directly, not through AttrReader).
    int seen = 0;
    for (const auto& item : c.attrs.items()) seen += int(log.names().count(item.first));
    EXPECT_GT(seen, 0) << c.op;
    EXPECT_TRUE(undeclared(c.op, log.names()).empty())
        << c.op << " reads undeclared attributes: " << joined(undeclared(c.op, log.names()));
  }
}

// Backward rules and the fusion patterns build nodes with attributes of their own (input_size, has_bias, relu...):
// a training graph through them must pass the checks (Graph::add, fuse_graph), and what the new ops read is
// declared.
TEST(Attrs, BackwardAndFusedNodesUseDeclaredNames) {
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{2, 3, 6, 6}});
  ValueId w = g->param("w", filled({4, 3, 3, 3}, 0.f));
  ValueId b = g->param("b", filled({4}, 0.f));
  ValueId y = g->add1("conv2d", {x, w, b}, {{"stride", int64_t(2)}, {"padding", int64_t(1)}});
  ValueId bn = g->add("batch_norm", {y}, {{"training", true}})[0];
  ValueId h = g->add1("relu", {bn});
  ValueId t = g->add1("conv_transpose2d", {h, g->param("wt", filled({4, 2, 2, 2}, 0.f))}, {{"stride", int64_t(2)}});
  ValueId p = g->add("max_pool2d", {t}, {{"kernel_size", int64_t(2)}})[0];
  ValueId a = g->add1("avg_pool2d", {p}, {{"kernel_size", int64_t(2)}, {"count_include_pad", false}});
  ValueId u = g->add1("interpolate", {a}, {{"size", Ints{4, 4}}, {"mode", std::string("nearest")}});
  ValueId padded = g->add1("pad", {u}, {{"pad", Ints{1, 1, 1, 1}}, {"mode", std::string("replicate")}});
  ValueId loss = g->add1("mean", {padded});
  const int forward_nodes = g->num_nodes();
  std::vector<ValueId> grads = append_backward(*g, loss, {x, w, b});
  EXPECT_GT(g->num_nodes(), forward_nodes + 8);
  FuseStats st;
  std::vector<ValueId> outs{loss, grads[0], grads[1], grads[2]};
  std::shared_ptr<Graph> fused = fuse_graph(*g, outs, &st, "cpu");
  EXPECT_GT(st.total(), 0);
  std::set<std::string> ops;
  for (const Graph* gr : {g.get(), fused.get()})
    for (int i = 0; i < gr->num_nodes(); ++i) {
      const Node& n = gr->node(i);
      ops.insert(n.op);
      std::vector<TensorDesc> in;
      for (ValueId v : n.inputs) in.push_back(gr->value(v).desc);
      AttrReadLog log;
      Registry::global().get(n.op).infer(OpCall{n.op, n.attrs, in});
      EXPECT_TRUE(undeclared(n.op, log.names()).empty())
          << n.op << " reads undeclared attributes: " << joined(undeclared(n.op, log.names()));
    }
  for (const char* op : {"conv2d_backward_data", "conv2d_backward_weight", "conv_transpose2d", "batch_norm_backward",
                         "max_pool2d_backward", "avg_pool2d_backward", "interpolate_backward", "pad_backward"})
    EXPECT_TRUE(ops.count(op)) << op << " is not in the training graph";
  // The compiled program (fused, kernels prepared) runs.
  CompileOptions opts;
  opts.fuse = true;
  Executable exe(g, outs, opts);
  exe.set_input(x, filled({2, 3, 6, 6}, 0.f));
  exe.run();
  EXPECT_TRUE(std::isfinite(exe.output(loss).data<float>()[0]));
}

TEST(Attrs, FusePassRejectsAnUndeclaredAttributeOnARewrittenNode) {
  // A node list set directly (as a pass would) with a misspelt name: fuse_graph's check catches it.
  auto g = std::make_shared<Graph>();
  ValueId x = g->input("x", {{2, 3}});
  ValueId y = g->add1("softmax", {x}, {{"dim", int64_t(1)}});
  std::vector<Node> nodes{g->node(0)};
  nodes[0].attrs = Attrs{{"dims", int64_t(1)}};
  g->set_nodes(nodes);
  const std::string m = error_of([&] { fuse_graph(*g, {y}, nullptr, "cpu"); });
  EXPECT_EQ(m, "softmax: unknown attribute 'dims' (did you mean 'dim'?); softmax accepts: dim");
}
