// The C ABI between the engine and a communication plugin (cpp/plugins/<name>/: MPI today). A plugin is a shared
// library loaded with dlopen by dist::init, so that neither _C nor libfastconv.so links libmpi: fastconv imports
// on machines without MPI, and the MPI the plugin was built against is the one it runs with.
// Every call returns 0 on success, else nonzero with a message (NUL-terminated, at most err_len bytes) in err.
// Collectives are queued in call order and run one after another on the plugin's own thread (the only thread that
// calls MPI besides init and finalize), so an allreduce overlaps with whatever the caller computes meanwhile.
#pragma once
#include <stddef.h>
#include <stdint.h>

#define FASTCONV_COMM_ABI_VERSION 1

#ifdef __cplusplus
extern "C" {
#endif

typedef struct fastconv_comm_api {
  int abi_version;  // FASTCONV_COMM_ABI_VERSION
  // timeout_s: how long any one collective may wait for the other ranks before it fails naming them.
  int (*init)(double timeout_s, int* rank, int* world_size, char* err, size_t err_len);
  // In-place sum of n floats over all ranks; returns at once, with a handle for wait.
  int (*allreduce_sum_start)(float* data, int64_t n, int64_t* handle, char* err, size_t err_len);
  // In-place broadcast of n floats from root.
  int (*broadcast_start)(float* data, int64_t n, int root, int64_t* handle, char* err, size_t err_len);
  int (*barrier_start)(int64_t* handle, char* err, size_t err_len);
  // Blocks until the collective behind handle is done (0) or has failed/timed out (nonzero, the message names the
  // ranks that did not take part). After a failure every later call fails: the job must end.
  int (*wait)(int64_t handle, char* err, size_t err_len);
  // Ends communication: MPI_Finalize after a clean run, MPI_Abort (which ends every rank) after a failure, so a
  // job never hangs at exit on a rank that stopped answering.
  void (*finalize)(void);
  // Seconds the plugin's thread has spent running collectives (posted to completed), for overlap reports.
  double (*busy_seconds)(void);
} fastconv_comm_api;

// The one symbol a plugin exports.
typedef const fastconv_comm_api* (*fastconv_comm_plugin_fn)(void);
#define FASTCONV_COMM_PLUGIN_SYMBOL "fastconv_comm_plugin"

#ifdef __cplusplus
}
#endif
