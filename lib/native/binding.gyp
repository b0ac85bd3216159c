# N-API addon around OpenBLAS's GEMM. Build with scripts/build-native.sh, which finds the
# OpenBLAS header and library folders and passes them in GYP_DEFINES; the defaults below are
# Debian/Ubuntu's libopenblas-dev (pthread variant) on x86_64.
{
  "variables": {
    "openblas_include%": "/usr/include/x86_64-linux-gnu/openblas-pthread",
    "openblas_libdir%": "/usr/lib/x86_64-linux-gnu/openblas-pthread"
  },
  "targets": [
    {
      "target_name": "fbc_native",
      "sources": ["fbc_native.c", "fbc_rnn.c"],
      "include_dirs": ["<(openblas_include)"],
      "defines": ["NAPI_VERSION=8"],
      "cflags": ["-Wall", "-Wextra", "-Wno-unused-parameter", "-O3", "-march=native", "-fopenmp-simd"],
      "libraries": ["-L<(openblas_libdir)", "-Wl,-rpath,<(openblas_libdir)", "-lopenblas"]
    }
  ]
}
