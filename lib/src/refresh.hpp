#pragma once
// Reusing strings from one request to the next (the scope's, a response's spare fields): the
// new value is usually the one already there (GET, "/plaintext", "content-type"), and comparing
// is cheaper than assigning.

#include <cstring>
#include <string>
#include <string_view>

namespace tessera::detail {

/// Sets `text` to `value` unless it already holds it.
inline void refresh(std::string& text, std::string_view value) {
    if (text.size() == value.size() &&
        (value.empty() || std::memcmp(text.data(), value.data(), value.size()) == 0)) {
        return;
    }
    text.assign(value);
}

}  // namespace tessera::detail
