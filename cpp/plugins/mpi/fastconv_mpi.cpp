// The MPI communication plugin (comm_abi.h). One thread of ours makes every MPI call after init, running the queued
// collectives in order: MPI_Iallreduce/MPI_Ibcast/MPI_Ibarrier, then MPI_Test with short sleeps, so the caller's
// compute threads keep the cores while a bucket is in flight. A collective that has not completed within the
// timeout fails; before failing, this rank asks every other one, over a duplicated control communicator, how far
// it got (their threads answer even while their main thread is busy elsewhere), so the message names the rank that
// stopped: silent (stopped or dead) or alive but not at this collective. Collectives are numbered 1, 2, ... in call
// order on every rank; data-parallel training issues the same sequence everywhere, so the numbers match.
#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "dist/comm_abi.h"

namespace {

using Clock = std::chrono::steady_clock;
enum class Kind { allreduce, broadcast, barrier };
constexpr int kAsk = 1, kTell = 2;  // control tags: "how far are you?" and its answer {completed, current}
constexpr int64_t kChunk = int64_t(1) << 30;  // MPI counts are int

struct Task {
  int64_t id;
  Kind kind;
  float* data;
  int64_t n;
  int root;
};

struct State {
  std::mutex mu;
  std::condition_variable cv;
  std::deque<Task> queue;
  std::map<int64_t, bool> done;  // finished collectives not yet waited for
  int64_t issued = 0, completed = 0, current = 0;
  bool failed = false, stop = false, we_initialized = false, up = false;
  std::string failure;
  std::thread worker;
  MPI_Comm data = MPI_COMM_NULL, ctrl = MPI_COMM_NULL;
  MPI_Request ask_req = MPI_REQUEST_NULL;
  int64_t ask_buf = 0;
  int rank = 0, size = 1;
  double timeout = 300;
  double busy = 0;  // seconds in collectives
};
State S;

int fail_msg(char* err, size_t len, const std::string& m) {
  if (err && len) std::snprintf(err, len, "%s", m.c_str());
  return 1;
}

std::string mpi_error(int code) {
  char s[MPI_MAX_ERROR_STRING];
  int n = 0;
  MPI_Error_string(code, s, &n);
  return std::string(s, size_t(n));
}

// Answers other ranks' "how far are you?" (worker thread only).
void service_control() {
  for (;;) {
    int flag = 0;
    MPI_Status st;
    if (MPI_Test(&S.ask_req, &flag, &st) != MPI_SUCCESS || !flag) return;
    int64_t tell[2];
    {
      std::lock_guard<std::mutex> lock(S.mu);
      tell[0] = S.completed;
      tell[1] = S.current;
    }
    MPI_Send(tell, 2, MPI_INT64_T, st.MPI_SOURCE, kTell, S.ctrl);
    MPI_Irecv(&S.ask_buf, 1, MPI_INT64_T, MPI_ANY_SOURCE, kAsk, S.ctrl, &S.ask_req);
  }
}

// Why collective `id` did not complete: each other rank's answer, or its silence (worker thread only).
std::string diagnose(int64_t id) {
  for (int r = 0; r < S.size; ++r)
    if (r != S.rank) MPI_Send(&id, 1, MPI_INT64_T, r, kAsk, S.ctrl);
  std::map<int, std::pair<int64_t, int64_t>> told;
  const auto until = Clock::now() + std::chrono::seconds(2);
  while (int(told.size()) < S.size - 1 && Clock::now() < until) {
    service_control();
    int flag = 0;
    MPI_Status st;
    MPI_Iprobe(MPI_ANY_SOURCE, kTell, S.ctrl, &flag, &st);
    if (!flag) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      continue;
    }
    int64_t tell[2];
    MPI_Recv(tell, 2, MPI_INT64_T, st.MPI_SOURCE, kTell, S.ctrl, MPI_STATUS_IGNORE);
    told[st.MPI_SOURCE] = {tell[0], tell[1]};
  }
  std::string why;
  for (int r = 0; r < S.size; ++r) {
    if (r == S.rank) continue;
    auto it = told.find(r);
    std::string s;
    if (it == told.end()) {
      s = "rank " + std::to_string(r) + " does not respond (stopped, hung or dead)";
    } else if (it->second.second == id) {
      continue;  // waiting in this collective too
    } else {
      s = "rank " + std::to_string(r) + " has not reached it (it has completed " + std::to_string(it->second.first) +
          " collectives" + (it->second.second ? ", and is in #" + std::to_string(it->second.second) : "") + ")";
    }
    why += (why.empty() ? "" : "; ") + s;
  }
  return why.empty() ? "every rank is in it (a network failure?)" : why;
}

const char* kind_name(Kind k) {
  return k == Kind::allreduce ? "allreduce" : k == Kind::broadcast ? "broadcast" : "barrier";
}

// Runs one collective to completion; false (and S.failure set) on an MPI error or the timeout.
bool run_task(const Task& t) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(S.timeout);
  for (int64_t off = 0; off < std::max<int64_t>(t.n, 1); off += kChunk) {
    const int count = int(std::min(kChunk, t.n - off));
    MPI_Request req;
    int rc = t.kind == Kind::allreduce
                 ? MPI_Iallreduce(MPI_IN_PLACE, t.data + off, count, MPI_FLOAT, MPI_SUM, S.data, &req)
             : t.kind == Kind::broadcast ? MPI_Ibcast(t.data + off, count, MPI_FLOAT, t.root, S.data, &req)
                                         : MPI_Ibarrier(S.data, &req);
    int flag = 0, spins = 0;
    while (rc == MPI_SUCCESS && !flag) {
      rc = MPI_Test(&req, &flag, MPI_STATUS_IGNORE);
      if (flag || rc != MPI_SUCCESS) break;
      service_control();
      if (Clock::now() > deadline) break;
      // A few spins, then short sleeps: the caller's compute threads need the cores more than we do.
      if (++spins > 64) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    if (rc != MPI_SUCCESS || !flag) {
      const std::string head = "fastconv.distributed: rank " + std::to_string(S.rank) + ": " + kind_name(t.kind) +
                               " #" + std::to_string(t.id) + " (" + std::to_string(t.n) + " floats) ";
      const std::string m = rc != MPI_SUCCESS
                                ? head + "failed: " + mpi_error(rc)
                                : head + "did not complete within " + std::to_string(int(S.timeout)) + " s: " +
                                      diagnose(t.id);
      std::lock_guard<std::mutex> lock(S.mu);
      S.failed = true;
      S.failure = m;
      return false;
    }
    if (t.kind == Kind::barrier) break;
  }
  return true;
}

void worker() {
  for (;;) {
    Task t;
    {
      std::unique_lock<std::mutex> lock(S.mu);
      if (S.queue.empty()) {
        if (S.stop) return;
        lock.unlock();
        service_control();
        lock.lock();
        S.cv.wait_for(lock, std::chrono::milliseconds(2));
        continue;
      }
      t = S.queue.front();
      S.queue.pop_front();
      S.current = t.id;
    }
    const auto t0 = Clock::now();
    const bool ok = run_task(t);
    std::lock_guard<std::mutex> lock(S.mu);
    S.busy += std::chrono::duration<double>(Clock::now() - t0).count();
    S.current = 0;
    if (!ok) {
      S.cv.notify_all();
      return;  // the job is broken: every later call fails, finalize aborts
    }
    ++S.completed;
    S.done[t.id] = true;
    S.cv.notify_all();
  }
}

int init(double timeout_s, int* rank, int* world, char* err, size_t len) {
  if (S.up) {
    *rank = S.rank;
    *world = S.size;
    return 0;
  }
  int inited = 0;
  MPI_Initialized(&inited);
  int provided = 0;
  if (!inited) {
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS)
      return fail_msg(err, len, "MPI_Init_thread failed");
    S.we_initialized = true;
  } else {
    MPI_Query_thread(&provided);
  }
  if (provided < MPI_THREAD_SERIALIZED)
    return fail_msg(err, len, "this MPI gives thread level " + std::to_string(provided) +
                                  "; fastconv needs MPI_THREAD_SERIALIZED or higher (its own thread makes the calls)");
  MPI_Comm_dup(MPI_COMM_WORLD, &S.data);
  MPI_Comm_dup(MPI_COMM_WORLD, &S.ctrl);
  MPI_Comm_set_errhandler(S.data, MPI_ERRORS_RETURN);
  MPI_Comm_set_errhandler(S.ctrl, MPI_ERRORS_RETURN);
  MPI_Comm_rank(S.data, &S.rank);
  MPI_Comm_size(S.data, &S.size);
  S.timeout = timeout_s;
  MPI_Irecv(&S.ask_buf, 1, MPI_INT64_T, MPI_ANY_SOURCE, kAsk, S.ctrl, &S.ask_req);
  S.up = true;
  S.worker = std::thread(worker);
  *rank = S.rank;
  *world = S.size;
  return 0;
}

int enqueue(Kind kind, float* data, int64_t n, int root, int64_t* handle, char* err, size_t len) {
  std::lock_guard<std::mutex> lock(S.mu);
  if (!S.up) return fail_msg(err, len, "fastconv.distributed: not initialized");
  if (S.failed) return fail_msg(err, len, S.failure);
  *handle = ++S.issued;
  S.queue.push_back({*handle, kind, data, n, root});
  S.cv.notify_all();
  return 0;
}

int allreduce_sum_start(float* data, int64_t n, int64_t* handle, char* err, size_t len) {
  return enqueue(Kind::allreduce, data, n, 0, handle, err, len);
}
int broadcast_start(float* data, int64_t n, int root, int64_t* handle, char* err, size_t len) {
  return enqueue(Kind::broadcast, data, n, root, handle, err, len);
}
int barrier_start(int64_t* handle, char* err, size_t len) {
  return enqueue(Kind::barrier, nullptr, 0, 0, handle, err, len);
}

int wait(int64_t handle, char* err, size_t len) {
  std::unique_lock<std::mutex> lock(S.mu);
  S.cv.wait(lock, [&] { return S.done.count(handle) || S.failed; });
  if (S.done.erase(handle)) return 0;
  return fail_msg(err, len, S.failure);
}

void finalize() {
  if (!S.up) return;
  bool failed;
  {
    std::lock_guard<std::mutex> lock(S.mu);
    S.stop = true;
    failed = S.failed;
    S.cv.notify_all();
  }
  if (failed) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, 1);  // ends the ranks that stopped answering too
  }
  S.worker.join();
  MPI_Cancel(&S.ask_req);
  MPI_Wait(&S.ask_req, MPI_STATUS_IGNORE);
  MPI_Comm_free(&S.data);
  MPI_Comm_free(&S.ctrl);
  S.up = false;
  if (S.we_initialized) MPI_Finalize();
}

double busy_seconds() {
  std::lock_guard<std::mutex> lock(S.mu);
  return S.busy;
}

const fastconv_comm_api kApi = {FASTCONV_COMM_ABI_VERSION, init, allreduce_sum_start, broadcast_start,
                                barrier_start, wait, finalize, busy_seconds};

}  // namespace

extern "C" __attribute__((visibility("default"))) const fastconv_comm_api* fastconv_comm_plugin(void) {
  return &kApi;
}
