#pragma once
/// HTTP dates (RFC 9110 §5.6.7).

#include <chrono>
#include <string>

namespace tessera {

/// Formats `when` (truncated to whole seconds) as an IMF-fixdate in GMT:
/// `Sun, 06 Nov 1994 08:49:37 GMT`. Works for any time point, including ones before 1970.
[[nodiscard]] std::string http_date(std::chrono::system_clock::time_point when);

}  // namespace tessera
