// The C ABI over fastconv::Model: every entry point catches everything, so no exception crosses into C; the
// message of the last failure is kept per thread.
#include "fastconv/c_api.h"

#include <cstring>
#include <new>
#include <string>

#include "fastconv/error.h"
#include "fastconv/fastconv.h"
#include "fastconv/model.h"

struct fc_model {
  fastconv::Model model;
};

namespace {

thread_local std::string g_last_error;

fc_status fail_with(fc_status s, const std::string& msg) {
  g_last_error = msg;
  return s;
}

fc_status status_of(fastconv::ErrorKind k) {
  switch (k) {
    case fastconv::ErrorKind::Value: return FC_ERROR_VALUE;
    case fastconv::ErrorKind::Type: return FC_ERROR_TYPE;
    case fastconv::ErrorKind::Index: return FC_ERROR_INDEX;
    case fastconv::ErrorKind::NotImplemented: return FC_ERROR_NOT_IMPLEMENTED;
    default: return FC_ERROR_RUNTIME;
  }
}

// Runs f, turning every exception into a status and a message that names the function.
template <class F>
fc_status guarded(const char* fn, F&& f) {
  try {
    g_last_error.clear();
    return f();
  } catch (const fastconv::Error& e) {
    return fail_with(status_of(e.kind()), std::string(fn) + ": " + e.what());
  } catch (const std::bad_alloc&) {
    return fail_with(FC_ERROR_OUT_OF_MEMORY, std::string(fn) + ": out of memory");
  } catch (const std::exception& e) {
    return fail_with(FC_ERROR_RUNTIME, std::string(fn) + ": " + e.what());
  } catch (...) {
    return fail_with(FC_ERROR_INTERNAL, std::string(fn) + ": unknown C++ exception");
  }
}

void need(const void* p, const char* fn, const char* arg) {
  FC_CHECK(p != nullptr, Value, "argument '", arg, "' is NULL");
  (void)fn;
}

fastconv::Shape shape_arg(const int64_t* shape, int ndim, const char* arg) {
  FC_CHECK(ndim >= 1 && ndim <= FC_MAX_NDIM, Value, "argument '", arg, "' has ndim ", ndim,
           "; expected 1 to ", FC_MAX_NDIM, " dimensions (the batch first)");
  FC_CHECK(shape != nullptr, Value, "argument '", arg, "' is NULL");
  fastconv::Shape s(shape, shape + ndim);
  for (int i = 0; i < ndim; ++i)
    FC_CHECK(s[size_t(i)] >= 0, Value, "argument '", arg, "' has a negative size ", s[size_t(i)], " at dimension ",
             i, " (shape ", fastconv::shape_str(s), ")");
  return s;
}

void write_shape(const fastconv::Shape& s, int64_t* out_shape, int* out_ndim) {
  FC_CHECK(s.size() <= FC_MAX_NDIM, Runtime, "the output has ", s.size(), " dimensions, more than FC_MAX_NDIM");
  for (size_t i = 0; i < s.size(); ++i) out_shape[i] = s[i];
  *out_ndim = int(s.size());
}

}  // namespace

extern "C" {

const char* fc_version(void) { return fastconv::version(); }

const char* fc_last_error(void) { return g_last_error.c_str(); }

const char* fc_status_name(fc_status s) {
  switch (s) {
    case FC_OK: return "FC_OK";
    case FC_ERROR_VALUE: return "FC_ERROR_VALUE";
    case FC_ERROR_TYPE: return "FC_ERROR_TYPE";
    case FC_ERROR_INDEX: return "FC_ERROR_INDEX";
    case FC_ERROR_RUNTIME: return "FC_ERROR_RUNTIME";
    case FC_ERROR_NOT_IMPLEMENTED: return "FC_ERROR_NOT_IMPLEMENTED";
    case FC_ERROR_BUFFER_TOO_SMALL: return "FC_ERROR_BUFFER_TOO_SMALL";
    case FC_ERROR_OUT_OF_MEMORY: return "FC_ERROR_OUT_OF_MEMORY";
    case FC_ERROR_INTERNAL: return "FC_ERROR_INTERNAL";
  }
  return "FC_STATUS_UNKNOWN";
}

fc_status fc_model_load(const char* path, const char* device, fc_model** model) {
  return guarded("fc_model_load", [&] {
    need(model, "fc_model_load", "model");
    *model = nullptr;
    need(path, "fc_model_load", "path");
    fastconv::ModelOptions opts;
    if (device != nullptr) opts.device = fastconv::Device::parse(device);
    *model = new fc_model{fastconv::Model::load(path, opts)};
    return FC_OK;
  });
}

fc_status fc_model_save(const fc_model* model, const char* path) {
  return guarded("fc_model_save", [&] {
    need(model, "fc_model_save", "model");
    need(path, "fc_model_save", "path");
    model->model.save(path);
    return FC_OK;
  });
}

void fc_model_free(fc_model* model) {
  try {
    delete model;
  } catch (...) {  // a destructor cannot throw here, but nothing may cross the ABI
  }
}

fc_status fc_model_input_shape(const fc_model* model, int64_t* out_shape, int* out_ndim) {
  return guarded("fc_model_input_shape", [&] {
    need(model, "fc_model_input_shape", "model");
    need(out_shape, "fc_model_input_shape", "out_shape");
    need(out_ndim, "fc_model_input_shape", "out_ndim");
    write_shape(model->model.input_shape(), out_shape, out_ndim);
    return FC_OK;
  });
}

fc_status fc_model_predict(const fc_model* model, const float* x, const int64_t* shape, int ndim, float* out,
                           size_t out_capacity, int64_t* out_shape, int* out_ndim) {
  return guarded("fc_model_predict", [&] {
    need(model, "fc_model_predict", "model");
    need(out_shape, "fc_model_predict", "out_shape");
    need(out_ndim, "fc_model_predict", "out_ndim");
    const fastconv::Shape s = shape_arg(shape, ndim, "shape");
    FC_CHECK(x != nullptr || fastconv::shape_numel(s) == 0, Value, "argument 'x' is NULL");
    fastconv::Tensor y = model->model.predict(x, s).contiguous().to(fastconv::DType::f32);
    write_shape(y.shape(), out_shape, out_ndim);
    const size_t n = size_t(y.numel());
    if (out_capacity < n)
      return fail_with(FC_ERROR_BUFFER_TOO_SMALL, "fc_model_predict: the output has " + std::to_string(n) +
                                                      " floats (shape " + fastconv::shape_str(y.shape()) +
                                                      ") but out_capacity is " + std::to_string(out_capacity));
    need(out, "fc_model_predict", "out");
    if (n) std::memcpy(out, y.data<float>(), n * sizeof(float));
    return FC_OK;
  });
}

fc_status fc_model_train_step(fc_model* model, const float* x, const int64_t* x_shape, int x_ndim, const void* y,
                              fc_dtype y_dtype, const int64_t* y_shape, int y_ndim, float* loss) {
  return guarded("fc_model_train_step", [&] {
    need(model, "fc_model_train_step", "model");
    const fastconv::Shape xs = shape_arg(x_shape, x_ndim, "x_shape"), ys = shape_arg(y_shape, y_ndim, "y_shape");
    FC_CHECK(x != nullptr || fastconv::shape_numel(xs) == 0, Value, "argument 'x' is NULL");
    FC_CHECK(y != nullptr || fastconv::shape_numel(ys) == 0, Value, "argument 'y' is NULL");
    FC_CHECK(y_dtype == FC_FLOAT32 || y_dtype == FC_INT64, Value, "argument 'y_dtype' is ", int(y_dtype),
             "; expected FC_FLOAT32 (0) or FC_INT64 (1)");
    using fastconv::Tensor;
    // Borrowed for the call: the tensors own nothing.
    Tensor xt = Tensor::from_blob(const_cast<float*>(x), xs, fastconv::contiguous_strides(xs), fastconv::DType::f32,
                                  {}, nullptr);
    Tensor yt = Tensor::from_blob(const_cast<void*>(y), ys, fastconv::contiguous_strides(ys),
                                  y_dtype == FC_INT64 ? fastconv::DType::i64 : fastconv::DType::f32, {}, nullptr);
    const float l = model->model.train_step(xt, yt);
    if (loss != nullptr) *loss = l;
    return FC_OK;
  });
}

fc_status fc_model_steps(const fc_model* model, int64_t* steps) {
  return guarded("fc_model_steps", [&] {
    need(model, "fc_model_steps", "model");
    need(steps, "fc_model_steps", "steps");
    *steps = model->model.steps();
    return FC_OK;
  });
}

fc_status fc_model_set_lr(fc_model* model, double lr) {
  return guarded("fc_model_set_lr", [&] {
    need(model, "fc_model_set_lr", "model");
    model->model.set_lr(lr);
    return FC_OK;
  });
}

}  // extern "C"
