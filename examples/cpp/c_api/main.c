/* fastconv_c_example MODEL [LABEL]: loads a model file through the C ABI, runs it on a batch of two inputs
 * (x[i] = (i % 17) / 16, so other languages can recompute them), prints the outputs, shows what an error looks
 * like, and with LABEL (a class index) takes one training step towards it and prints the loss. */
#include <stdio.h>
#include <stdlib.h>

#include "fastconv/c_api.h"

static int check(fc_status s, const char* what) {
  if (s != FC_OK) fprintf(stderr, "%s failed: %s: %s\n", what, fc_status_name(s), fc_last_error());
  return s == FC_OK;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s MODEL [LABEL]\n", argv[0]);
    return 2;
  }
  printf("fastconv %s (C ABI)\n", fc_version());
  fc_model* model = NULL;
  if (!check(fc_model_load(argv[1], NULL, &model), "fc_model_load")) return 1;

  int64_t shape[FC_MAX_NDIM];
  int ndim = 0;
  if (!check(fc_model_input_shape(model, shape, &ndim), "fc_model_input_shape")) return 1;
  shape[0] = 2; /* any batch size runs */
  size_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= (size_t)shape[d];
  float* x = malloc(n * sizeof(float));
  for (size_t i = 0; i < n; ++i) x[i] = (float)(i % 17) / 16.0f;

  /* Ask for the output's size first (out = NULL), then fill a buffer of that size. */
  int64_t out_shape[FC_MAX_NDIM];
  int out_ndim = 0;
  fc_status s = fc_model_predict(model, x, shape, ndim, NULL, 0, out_shape, &out_ndim);
  if (s != FC_ERROR_BUFFER_TOO_SMALL && !check(s, "fc_model_predict (size query)")) return 1;
  size_t m = 1;
  for (int d = 0; d < out_ndim; ++d) m *= (size_t)out_shape[d];
  float* y = malloc((m ? m : 1) * sizeof(float));
  if (!check(fc_model_predict(model, x, shape, ndim, y, m, out_shape, &out_ndim), "fc_model_predict")) return 1;
  printf("output shape [%lld, %lld]\n", (long long)out_shape[0], (long long)(out_ndim > 1 ? out_shape[1] : 1));
  for (size_t i = 0; i < m; ++i) printf("%.9g%c", y[i], (i + 1) % (m / (size_t)out_shape[0]) ? ' ' : '\n');

  /* Errors are statuses with a message, never a crash: a wrong channel count here. */
  int64_t bad_shape[FC_MAX_NDIM];
  for (int d = 0; d < ndim; ++d) bad_shape[d] = shape[d];
  if (ndim > 1) bad_shape[1] += 1;
  float* big = calloc(n * 2, sizeof(float));
  s = fc_model_predict(model, big, bad_shape, ndim, y, m, out_shape, &out_ndim);
  printf("wrong input shape -> %s: %s\n", fc_status_name(s), fc_last_error());
  free(big);

  int status = s == FC_OK; /* the bad shape must have been refused */
  if (argc > 2) {
    int64_t labels[2] = {atoll(argv[2]), atoll(argv[2])};
    int64_t label_shape[1] = {2};
    float loss = 0;
    if (!check(fc_model_train_step(model, x, shape, ndim, labels, FC_INT64, label_shape, 1, &loss),
               "fc_model_train_step"))
      status = 1;
    else
      printf("train step loss %.9g\n", loss);
  }
  free(x);
  free(y);
  fc_model_free(model);
  return status;
}
