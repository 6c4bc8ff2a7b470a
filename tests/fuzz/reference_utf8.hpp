#pragma once
// A reference UTF-8 check for fuzz targets, written from the Unicode standard rather than from
// lib/src/ws_utf8.cpp, so a target can hold the library's validation to it.

#include <cstddef>
#include <string_view>

namespace tessera::fuzz {

// Well-formed UTF-8 as Unicode's Table 3-7 defines it: no overlongs, no surrogates, nothing
// above U+10FFFF.
inline bool valid_utf8(std::string_view s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b0 = static_cast<unsigned char>(s[i]);
        if (b0 < 0x80) {
            ++i;
            continue;
        }
        int n = 0;
        unsigned char lo = 0x80, hi = 0xBF;
        if (b0 >= 0xC2 && b0 <= 0xDF) {
            n = 1;
        } else if (b0 >= 0xE0 && b0 <= 0xEF) {
            n = 2;
            if (b0 == 0xE0) lo = 0xA0;
            if (b0 == 0xED) hi = 0x9F;
        } else if (b0 >= 0xF0 && b0 <= 0xF4) {
            n = 3;
            if (b0 == 0xF0) lo = 0x90;
            if (b0 == 0xF4) hi = 0x8F;
        } else {
            return false;
        }
        if (s.size() - i - 1 < static_cast<std::size_t>(n)) return false;
        for (int k = 1; k <= n; ++k) {
            const auto b = static_cast<unsigned char>(s[i + static_cast<std::size_t>(k)]);
            if (k == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) return false;
        }
        i += static_cast<std::size_t>(n) + 1;
    }
    return true;
}

}  // namespace tessera::fuzz
