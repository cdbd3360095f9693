// Shape-only ops. They copy today; the planner may alias them later (the data layout does not change).
#include <cstring>

#include "ops/common.h"

namespace fastconv {

void register_shape_ops(Registry& r) {
  r.add({"reshape", 1, 1,
         [](const OpCall& c) -> std::vector<TensorDesc> {
           expect_inputs(c, 1);
           Shape s = c.attr().get_int_list("shape");
           const int64_t n = shape_numel(c.in[0].shape);
           int64_t known = 1, infer = -1;
           for (size_t i = 0; i < s.size(); ++i) {
             if (s[i] == -1) {
               FC_CHECK(infer < 0, Value, c.op, ": only one dimension may be -1, got ", shape_str(s));
               infer = int64_t(i);
             } else {
               FC_CHECK(s[i] >= 0, Value, c.op, ": invalid size ", s[i], " in shape ", shape_str(s));
               known *= s[i];
             }
           }
           if (infer >= 0) {
             FC_CHECK(known > 0 && n % known == 0, Value, c.op, ": cannot infer -1 in ", shape_str(s), " for ", n,
                      " elements (input shape ", shape_str(c.in[0].shape), ")");
             s[size_t(infer)] = n / known;
           }
           FC_CHECK(shape_numel(s) == n, Value, c.op, ": shape ", shape_str(s), " is invalid for an input of ", n,
                    " elements (input shape ", shape_str(c.in[0].shape), ")");
           return {{s, c.in[0].dtype}};
         },
         [](const OpCall& c, const std::vector<TensorDesc>&, Device d) -> Prepared {
           require_cpu(c.op, d);
           return {[](const std::vector<Tensor>& in, const std::vector<Tensor>& out, const RunContext&) {
                     if (in[0].data_ptr() != out[0].data_ptr())
                       std::memcpy(out[0].data_ptr(), in[0].data_ptr(), out[0].nbytes());
                   },
                   0, "copy"};
         },
         [](BackwardCall& b) -> std::vector<ValueId> {
           return {b.g.add1("reshape", {b.grad_out[0]}, {{"shape", b.desc(b.in(0)).shape}})};
         },
         false, 0, /*view*/ true});
}

}  // namespace fastconv
