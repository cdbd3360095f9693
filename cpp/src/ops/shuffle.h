// Attribute parsing of pixel_shuffle / pixel_unshuffle / channel_shuffle, shared by every backend's kernels
// (ops/shuffle.cpp, ops/cuda/).
#pragma once
#include "cpu/ref/shuffle_ref.h"
#include "ops/op.h"

namespace fastconv {

ref::PixelShuffleParams pixel_params(const OpCall& c, Shape* out);  // *out: the output shape
ref::ChannelShuffleParams channel_params(const OpCall& c);

}  // namespace fastconv
