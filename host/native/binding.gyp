{
  "targets": [
    {
      "target_name": "wasmbox_native",
      "sources": ["wasmbox_native.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "cflags_c": ["-std=gnu11"]
    }
  ]
}
