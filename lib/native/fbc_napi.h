/* Argument helpers shared by the addon's C files: each reader returns false with a JS exception pending. */
#ifndef FBC_NAPI_H
#define FBC_NAPI_H
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Throws the error of a failed N-API call unless one is already pending. */
static inline void throw_last_error(napi_env env) {
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (pending) return;
  const napi_extended_error_info* info = NULL;
  napi_get_last_error_info(env, &info);
  napi_throw_error(env, NULL,
                   info && info->error_message ? info->error_message : "N-API call failed");
}

#define NAPI_CALL(env, call)                                                                  \
  do {                                                                                        \
    if ((call) != napi_ok) {                                                                  \
      throw_last_error(env);                                                                  \
      return NULL;                                                                            \
    }                                                                                         \
  } while (0)

static inline bool type_error(napi_env env, const char* name, const char* what) {
  char msg[160];
  snprintf(msg, sizeof msg, "%s must be %s", name, what);
  napi_throw_type_error(env, "ERR_INVALID_ARG_TYPE", msg);
  return false;
}

static inline bool range_error(napi_env env, const char* name, const char* fmt, int64_t a, int64_t b) {
  char detail[120], msg[200];
  snprintf(detail, sizeof detail, fmt, (long long)a, (long long)b);
  snprintf(msg, sizeof msg, "%s: %s", name, detail);
  napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
  return false;
}

/* Argument readers: each returns false with a JS exception pending on failure. */

static inline bool get_bool(napi_env env, napi_value v, const char* name, bool* out) {
  if (napi_get_value_bool(env, v, out) != napi_ok) return type_error(env, name, "a boolean");
  return true;
}

static inline bool get_number(napi_env env, napi_value v, const char* name, double* out) {
  if (napi_get_value_double(env, v, out) != napi_ok) return type_error(env, name, "a number");
  return true;
}

/* A dimension or leading dimension: an integer in [lo, INT32_MAX]. */
static inline bool get_int(napi_env env, napi_value v, const char* name, int64_t lo, int* out) {
  double d;
  if (!get_number(env, v, name, &d)) return false;
  if (!(d >= (double)lo && d <= (double)INT32_MAX && d == (double)(int64_t)d)) {
    char msg[160];
    snprintf(msg, sizeof msg, "%s must be an integer >= %lld, got %g", name, (long long)lo, d);
    napi_throw_range_error(env, "ERR_OUT_OF_RANGE", msg);
    return false;
  }
  *out = (int)d;
  return true;
}

/* A typed array of the wanted element type; data points at element 0 (byteOffset applied). */
static inline bool get_array(napi_env env, napi_value v, const char* name, napi_typedarray_type want,
                      void** data, size_t* length) {
  bool is_ta = false;
  napi_typedarray_type type;
  if (napi_is_typedarray(env, v, &is_ta) != napi_ok || !is_ta ||
      napi_get_typedarray_info(env, v, &type, length, data, NULL, NULL) != napi_ok ||
      type != want)
    return type_error(env, name, want == napi_float32_array ? "a Float32Array" : "a Float64Array");
  return true;
}

/* A Float32Array with at least `need` elements. */
static inline bool get_f32(napi_env env, napi_value v, const char* name, size_t need, float** data) {
  size_t len;
  if (!get_array(env, v, name, napi_float32_array, (void**)data, &len)) return false;
  if (len < need) return range_error(env, name, "array has %lld elements, needs %lld", (int64_t)len, (int64_t)need);
  return true;
}

/* A Float64Array with at least `need` elements. */
static inline bool get_f64(napi_env env, napi_value v, const char* name, size_t need, double** data) {
  size_t len;
  if (!get_array(env, v, name, napi_float64_array, (void**)data, &len)) return false;
  if (len < need) return range_error(env, name, "array has %lld elements, needs %lld", (int64_t)len, (int64_t)need);
  return true;
}


/* Defined in fbc_rnn.c: adds the network's fused forward and backward steps to the exports. */
bool fbc_register_rnn(napi_env env, napi_value exports);

#endif
