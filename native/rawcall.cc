// The addon's two functions that WebAssembly calls once per guest I/O (hostRw's and pageCopy's,
// native/wasmbox_native.c), made as plain V8 API functions rather than N-API ones. An N-API
// callback pays for N-API's frame around V8's: its env and scope set-up, napi_get_cb_info, a
// napi_get_value_uint32 per argument, a napi_value made for the result; ~60 ns a call from
// WebAssembly here against ~5 for a JavaScript function. This callback reads the arguments from
// V8's FunctionCallbackInfo and sets the result as a small integer.
//
// The function's data is the C side's: a struct whose first member is a wasmbox_raw_head (the C
// function to call, how many arguments, what to answer for arguments that are not 32-bit
// integers). The C side frees it with an N-API finalizer on the function, as before; nothing here
// keeps it. The result goes back to C as a napi_value the way unaccounted.cc's does (a Local's slot
// pointer, in the handle scope of the N-API call that asked for it).
#include <node_api.h>
#include <v8.h>

#include <cstdint>
#include <cstring>

extern "C" {
typedef int32_t (*wasmbox_raw_fn)(void *data, const uint32_t *v);
typedef struct {
  wasmbox_raw_fn fn;
  int32_t nargs; // at most 8
  int32_t bad;
} wasmbox_raw_head;
}

static void raw_call(const v8::FunctionCallbackInfo<v8::Value> &info) {
  auto *head = static_cast<wasmbox_raw_head *>(info.Data().As<v8::External>()->Value());
  uint32_t v[8];
  if (info.Length() < head->nargs) {
    info.GetReturnValue().Set(head->bad);
    return;
  }
  for (int i = 0; i < head->nargs; i++) {
    v8::Local<v8::Value> a = info[i];
    if (a->IsInt32()) v[i] = static_cast<uint32_t>(a.As<v8::Int32>()->Value());
    else if (a->IsUint32()) v[i] = a.As<v8::Uint32>()->Value();
    else {
      info.GetReturnValue().Set(head->bad);
      return;
    }
  }
  info.GetReturnValue().Set(head->fn(head, v));
}

// A function named `name` calling head->fn(head, args) with no N-API between; NULL if V8 would
// not make one (the caller then makes an N-API function).
extern "C" napi_value wasmbox_raw_function(const char *name, wasmbox_raw_head *head) {
  v8::Isolate *isolate = v8::Isolate::GetCurrent();
  if (isolate == nullptr || head == nullptr || head->nargs < 0 || head->nargs > 8) return nullptr;
  v8::Local<v8::Context> context = isolate->GetCurrentContext();
  v8::Local<v8::FunctionTemplate> tmpl = v8::FunctionTemplate::New(isolate, raw_call, v8::External::New(isolate, head), v8::Local<v8::Signature>(), head->nargs, v8::ConstructorBehavior::kThrow);
  v8::Local<v8::Function> f;
  if (!tmpl->GetFunction(context).ToLocal(&f)) return nullptr;
  v8::Local<v8::String> n;
  if (v8::String::NewFromUtf8(isolate, name).ToLocal(&n)) f->SetName(n);
  napi_value out;
  static_assert(sizeof out == sizeof f, "a napi_value is a Local");
  std::memcpy(&out, &f, sizeof out);
  return out;
}
