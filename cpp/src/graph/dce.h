// Dead-code removal, the one rule every pass uses: a node is live when an output needs it or when it has side
// effects (running statistics, optimizer updates), and so are the nodes its live inputs come from.
#pragma once
#include <vector>

#include "fastconv/graph.h"

namespace fastconv {

// One flag per node of g: whether it is live for `outputs`. Validates the output ids.
std::vector<char> live_nodes(const Graph& g, const std::vector<ValueId>& outputs);

}  // namespace fastconv
