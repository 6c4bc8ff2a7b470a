#pragma once
// Thread-locals the request path touches several times per request (the coroutine frame cache,
// the current loop, the watchdog's activity label) use the initial-exec TLS model: in a shared
// library the default model calls __tls_get_addr on every access, which profiles showed at ~2%
// of a pipelined request. Initial-exec takes its few hundred bytes from the static TLS block,
// which glibc also reserves for libraries loaded later with dlopen.
#if defined(__GNUC__)
#define TESSERA_FAST_TLS __attribute__((tls_model("initial-exec")))
#else
#define TESSERA_FAST_TLS
#endif
