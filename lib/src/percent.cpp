#include "tessera/percent.hpp"

namespace tessera {
namespace {

constexpr int hex_value(char c) noexcept {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr bool always_safe(unsigned char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-' || c == '~';
}

constexpr char upper_hex[] = "0123456789ABCDEF";

}  // namespace

void percent_decode_append(std::string& out, std::string_view text, bool plus_as_space) {
    out.reserve(out.size() + text.size());
    // The next byte that needs decoding. Paths (the per-request case) look for '%' only, with
    // memchr; string_view::find_first_of would call memchr over the set for every byte.
    const auto next_special = [&](std::size_t from) -> std::size_t {
        if (!plus_as_space) return text.find('%', from);
        for (std::size_t k = from; k < text.size(); ++k) {
            if (text[k] == '%' || text[k] == '+') return k;
        }
        return std::string_view::npos;
    };
    std::size_t i = 0;
    while (i < text.size()) {
        // Copy plain runs in one go; most query strings and paths have few escapes.
        const std::size_t next = next_special(i);
        if (next == std::string_view::npos) {
            out.append(text.substr(i));
            return;
        }
        out.append(text.substr(i, next - i));
        i = next;
        if (text[i] == '+') {
            out.push_back(' ');
            ++i;
            continue;
        }
        if (i + 2 < text.size()) {
            const int hi = hex_value(text[i + 1]);
            const int lo = hex_value(text[i + 2]);
            if (hi >= 0 && lo >= 0) {
                out.push_back(static_cast<char>(hi * 16 + lo));
                i += 3;
                continue;
            }
        }
        // Only a complete `%XX` decodes; anything else stays literal, like Python's unquote.
        out.push_back('%');
        ++i;
    }
}

std::string percent_decode(std::string_view text, bool plus_as_space) {
    std::string out;
    percent_decode_append(out, text, plus_as_space);
    return out;
}

void quote_append(std::string& out, std::string_view text, std::string_view safe, bool plus) {
    out.reserve(out.size() + text.size());
    for (const char ch : text) {
        const auto c = static_cast<unsigned char>(ch);
        if (plus && c == ' ') {
            out.push_back('+');
        } else if (always_safe(c) ||
                   // `safe` is a handful of characters, so a scan beats building a table per
                   // call; Python ignores non-ASCII entries in `safe` (quote_from_bytes).
                   (c < 128 && safe.find(ch) != std::string_view::npos)) {
            out.push_back(ch);
        } else {
            out.push_back('%');
            out.push_back(upper_hex[c >> 4]);
            out.push_back(upper_hex[c & 0xF]);
        }
    }
}

std::string quote(std::string_view text, std::string_view safe) {
    std::string out;
    quote_append(out, text, safe, false);
    return out;
}

std::string quote_plus(std::string_view text, std::string_view safe) {
    std::string out;
    quote_append(out, text, safe, true);
    return out;
}

}  // namespace tessera
