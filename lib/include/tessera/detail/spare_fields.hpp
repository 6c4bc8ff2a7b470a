#pragma once
/// One spare vector of header fields per thread, so that a response built per request does not
/// allocate its field vector and field strings every time: the server gives a response head's
/// fields back once it has written them, and the next response built on that thread fills the
/// same vector and strings in place.

#include <vector>

#include "tessera/headers.hpp"

namespace tessera::detail {

/// Takes the thread's spare fields (an empty vector when there are none). The elements are
/// left in place so that their strings keep their capacity: assign into them, then erase the
/// ones not needed.
[[nodiscard]] std::vector<header_field> take_spare_fields() noexcept;

/// Keeps `fields` as the thread's spare when there is none and they are small (a few fields of
/// short strings); otherwise lets them go.
void keep_spare_fields(std::vector<header_field>&& fields) noexcept;

}  // namespace tessera::detail
