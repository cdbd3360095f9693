/* The C ABI of libfastconv: a trained model (a file written by Python's fastconv.save, `fastconv train` or the C++
 * Model::save) loaded, run, trained and saved from C or any FFI (ctypes, cffi, Rust, Go...).
 *
 * Conventions: every function returns an fc_status (FC_OK = 0); on failure fc_last_error() gives a message naming
 * the argument or field, the value and what was expected (per thread, valid until this thread's next fastconv
 * call). No C++ exception ever crosses this boundary. Arrays are contiguous, row-major, float32 (inputs, outputs,
 * float targets) or int64 (shapes, class labels). Handles are thread-safe for fc_model_predict (several threads at
 * once); fc_model_train_step calls run one at a time. */
#ifndef FASTCONV_C_API_H
#define FASTCONV_C_API_H

#include <stddef.h>
#include <stdint.h>

#include "fastconv/export.h"

#ifdef __cplusplus
extern "C" {
#endif

#define FC_MAX_NDIM 32 /* the most dimensions a tensor has: size out_shape arrays with it */

typedef enum fc_status {
  FC_OK = 0,
  FC_ERROR_VALUE = 1,           /* a bad argument or file content (ValueError) */
  FC_ERROR_TYPE = 2,            /* a wrong kind of argument (TypeError) */
  FC_ERROR_INDEX = 3,           /* an index out of range (IndexError): a class label >= the number of classes */
  FC_ERROR_RUNTIME = 4,         /* a failure while running (I/O, device) */
  FC_ERROR_NOT_IMPLEMENTED = 5, /* not supported by this build */
  FC_ERROR_BUFFER_TOO_SMALL = 6, /* out_capacity is less than the output: out_shape/out_ndim say what is needed */
  FC_ERROR_OUT_OF_MEMORY = 7,
  FC_ERROR_INTERNAL = 8 /* a bug: please report fc_last_error() */
} fc_status;

typedef enum fc_dtype { FC_FLOAT32 = 0, FC_INT64 = 1 } fc_dtype;

typedef struct fc_model fc_model; /* opaque */

FASTCONV_API const char* fc_version(void);            /* "0.1.0" */
FASTCONV_API const char* fc_last_error(void);         /* "" after a successful call */
FASTCONV_API const char* fc_status_name(fc_status s); /* "FC_ERROR_VALUE", ... */

/* device: NULL or "cpu", "cuda", "cuda:N". On success *model is a new handle (free it with fc_model_free). */
FASTCONV_API fc_status fc_model_load(const char* path, const char* device, fc_model** model);
FASTCONV_API fc_status fc_model_save(const fc_model* model, const char* path);
FASTCONV_API void fc_model_free(fc_model* model); /* NULL is fine */

/* The input shape the model was traced with (batch dimension first; any batch size runs). out_shape holds
 * FC_MAX_NDIM entries. */
FASTCONV_API fc_status fc_model_input_shape(const fc_model* model, int64_t* out_shape, int* out_ndim);

/* Inference (eval mode) on x of `shape` (ndim entries). The first output is written to out (out_capacity floats);
 * its shape to out_shape (FC_MAX_NDIM entries) and out_ndim. With out_capacity too small (out may be NULL to ask)
 * the result is FC_ERROR_BUFFER_TOO_SMALL with out_shape/out_ndim set. */
FASTCONV_API fc_status fc_model_predict(const fc_model* model, const float* x, const int64_t* shape, int ndim,
                                        float* out, size_t out_capacity, int64_t* out_shape, int* out_ndim);

/* One optimizer step on (x, y) in train mode; *loss (may be NULL) gets the loss. y: int64 class labels
 * (y_dtype FC_INT64) or float32 targets (FC_FLOAT32), y_ndim entries in y_shape. Needs a model saved with its
 * training program (compiled with a loss and an optimizer). */
FASTCONV_API fc_status fc_model_train_step(fc_model* model, const float* x, const int64_t* x_shape, int x_ndim,
                                           const void* y, fc_dtype y_dtype, const int64_t* y_shape, int y_ndim,
                                           float* loss);
FASTCONV_API fc_status fc_model_steps(const fc_model* model, int64_t* steps); /* optimizer steps taken */
FASTCONV_API fc_status fc_model_set_lr(fc_model* model, double lr);           /* the first group's learning rate */

#ifdef __cplusplus
}
#endif
#endif /* FASTCONV_C_API_H */
