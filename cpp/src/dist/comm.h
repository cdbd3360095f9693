// The process's communicator for data-parallel training (fastconv.distributed), behind which a plugin does the
// talking (comm_abi.h: MPI today, NCCL for device buffers next). "local" is a world of one rank without a plugin:
// the same graph nodes then average over one rank, so a program built for several ranks also runs alone.
// Collectives are asynchronous: start returns a handle at once, wait blocks until the data is there; the training
// graph's allreduce nodes (ops/dist.cpp) start a gradient bucket as soon as it is complete and wait for it just
// before the updates need it.
#pragma once
#include <cstdint>
#include <string>


namespace fastconv::dist {

// backend: "mpi" (loads the plugin at plugin_path) or "local". timeout_s: how long one collective may wait for the
// other ranks before it fails with an error naming them. Initializing twice with the same backend is a no-op.
void init(const std::string& backend, double timeout_s, const std::string& plugin_path);
bool initialized();
std::string backend();  // "" before init
int rank();
int world_size();
int64_t allreduce_sum_start(float* data, int64_t n);  // in place
int64_t broadcast_start(float* data, int64_t n, int root);
void wait(int64_t handle);  // RuntimeError with the plugin's message on failure or timeout
// The same, keyed by the buffer: the graph's allreduce nodes start a sum of `data` and later wait for that buffer.
void allreduce_sum_start_at(float* data, int64_t n);
void wait_for(const float* data);
void barrier();
// The end of communication (atexit): a clean shutdown, or after a failure the end of the whole job.
void finalize();
// Collectives started and waited for so far (tests check the graph's nodes talk when they should).
int64_t collectives_completed();
// Seconds spent running collectives so far (0 for 'local'): with the time steps spent blocked in waits, how much
// communication the backward pass hid.
double comm_seconds();

}  // namespace fastconv::dist
