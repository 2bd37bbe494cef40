// One function of the addon (native/wasmbox_native.c) that N-API cannot express: an ArrayBuffer over
// memory the addon owns and frees itself (a file mapping), which V8 does not count as external
// memory. N-API's external ArrayBuffers carry a deleter, and V8 counts every byte of such a buffer
// towards its external-memory limit: a 1 GiB filestore mapping, mostly untouched, set off two
// young-generation collections and a full one (~9 ms) in each sandbox's first file writes. A buffer
// with V8's empty deleter is not counted, and the addon unmaps it itself (munmap(), or a finalizer
// on the ArrayBuffer object).
//
// The result goes back to C as a napi_value. Node's N-API passes a Local's slot pointer as the
// napi_value (and reads it back the same way), so the two are copied bit for bit; the Local lives
// in the handle scope of the N-API call that asked for it.
#include <node_api.h>
#include <v8.h>

#include <cstring>
#include <memory>

extern "C" napi_value wasmbox_unaccounted_arraybuffer(void *data, size_t len) {
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr) return nullptr;
  std::unique_ptr<v8::BackingStore> store = v8::ArrayBuffer::NewBackingStore(data, len, v8::BackingStore::EmptyDeleter, nullptr);
  v8::Local<v8::ArrayBuffer> buffer = v8::ArrayBuffer::New(isolate, std::move(store));
  napi_value out;
  static_assert(sizeof out == sizeof buffer, "a napi_value is a Local");
  std::memcpy(&out, &buffer, sizeof out);
  return out;
}
