// Shared between the emulator's scheduler (fiber.cpp) and its runtime (runtime.cpp); kernels never see it.
#pragma once
#include <memory>
#include <string>

#include "cuda_runtime.h"

namespace fc_emu {

struct LaunchInfo {
  const char* name;
  dim3 grid, block;
  size_t smem;
  Thunk thunk;
  const void* closure;
};

// Runs one block of a launch to its end on the calling OS thread; "" or what went wrong in it.
std::string run_block(const LaunchInfo& launch, uint3 block_idx, unsigned char* dynamic_smem);
std::string to_hex(unsigned v);

}  // namespace fc_emu
