#pragma once
/// This thread's OpenSSL error queue as text, for the TLS code and its tests.

#include <string>

namespace tessera::detail {

/// The queued errors as one line ("a; b"), emptying the queue: OpenSSL's errors are
/// thread-local and must not leak into the next connection's diagnosis. Empty when there
/// were none.
[[nodiscard]] std::string openssl_errors();

}  // namespace tessera::detail
