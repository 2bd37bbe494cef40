{
  "targets": [
    {
      "target_name": "wasmbox_native",
      "sources": ["wasmbox_native.c", "unaccounted.cc", "rawcall.cc"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"],
      "cflags_cc": ["-std=gnu++17"]
    },
    {
      "target_name": "wasmbox-runtime",
      "type": "executable",
      "sources": ["runtime.c"],
      "include_dirs": ["."],
      "cflags": ["-O2", "-Wall", "-Wextra"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
