// Shared by the nn/*.cpp files: the seeded stream layers initialise from, and the JSON fragments of the
// architecture description (python/fastconv/io.py's architecture(): plain values, {"__tuple__": [...]}).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "fastconv/nn.h"

namespace fastconv::nn::detail {

uint64_t next_seed();  // a fresh seed from manual_seed's stream (thread-safe)
// Fills a float32 tensor with U(-bound, bound) from a generator seeded by next_seed().
void uniform_(Tensor& t, double bound);

std::string json_num(double v);   // always reads back as a float ("0.5", "1e-05", "2.0")
std::string json_size(const Size2& s, bool none_for_negative = false);  // 3 or {"__tuple__":[3,3]}
std::string json_str(const std::string& s);
// `"args":[a...],"kwargs":[["k",v]...]` from already-encoded values.
std::string json_arguments(const std::vector<std::string>& args,
                           const std::vector<std::pair<std::string, std::string>>& kwargs);
AttrValue size_attr(const Size2& s);  // int when given as one, else [h, w]
std::vector<int64_t> pair(const Size2& s);

}  // namespace fastconv::nn::detail
