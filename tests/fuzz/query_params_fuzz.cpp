// libFuzzer target for the query-string parser (`query_params`) and the percent-encoding
// functions under it (`percent_decode[_append]`, `quote`, `quote_plus`, `quote_append`).
//
// Build and run: scripts/fuzz (see its `sources` map), or by hand with clang:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/include \
//     tests/fuzz/query_params_fuzz.cpp lib/src/query_params.cpp lib/src/percent.cpp -o fuzz
//   cp -r tests/fuzz/corpus/query_params /tmp/corpus && ./fuzz -max_total_time=60 /tmp/corpus
//
// Input layout: byte 0 holds the options: bit 0 `plus` (quote_plus-style encoding), bits 1-4
// the length n of a `safe` set (0-15) that follows in bytes 1..n; the rest is the text. The
// text is used as a query string, as bytes to encode and decode, and, cut at '\n', as a list of
// name, value, name, value, ... pairs to serialise.
//
// Besides memory safety (the sanitizers), it checks the contracts in percent.hpp and
// query_params.hpp against plain models written from Python's urllib.parse:
// - percent_decode equals a byte-wise `unquote` (with `+` as space when asked), never grows
//   the text, keeps what the buffer held before, and leaves text without `%` (or `+`) alone;
// - quote / quote_plus / quote_append agree with each other and with a table model of
//   `quote` (ASCII letters, digits, `_.-~` and the ASCII bytes of `safe` kept; every other byte
//   `%XX`, upper case); the output holds only those bytes, `+`, and well-formed `%XX`;
//   quote_plus(x, s) is quote(x, s + " ") with spaces turned into `+` (Python's definition);
//   quoting again with `%` (and `+`) safe changes nothing;
// - decoding undoes quoting for any bytes and any `safe` without `%` and `+`;
// - query_params parses like `parse_qsl(..., keep_blank_values=True)` on bytes: never throws,
//   deterministic, at most one pair per `&`-separated chunk, exactly the model's pairs;
// - str() is urlencode (quote_plus with no safe bytes, `=` and `&`) and parsing it gives the
//   same pairs in the same order; a list of pairs serialised with any `safe` that leaves out
//   `&=%+` parses back to that list;
// - get / get_or / get_all / contains / keys / remove / == agree with the list of pairs
//   (the last value wins, keys in order of first appearance, equality ignores order).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/percent.hpp"
#include "tessera/query_params.hpp"

namespace {

using tessera::query_params;
using pair_list = std::vector<query_params::value_type>;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

constexpr std::string_view upper_hex = "0123456789ABCDEF";

int hex(char c) {
    const std::string_view digits = "0123456789abcdef";
    const std::size_t at = digits.find(static_cast<char>(c >= 'A' && c <= 'F' ? c - 'A' + 'a' : c));
    return at == std::string_view::npos ? -1 : static_cast<int>(at);
}

// urllib.parse._ALWAYS_SAFE.
bool always_safe(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '.' || c == '-' || c == '~';
}

// unquote_to_bytes: split on `%`; a piece that starts with two hex digits is decoded.
// parse_qsl replaces `+` with a space before unquoting.
std::string model_decode(std::string_view s, bool plus_as_space) {
    std::string out;
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (plus_as_space && s[i] == '+') {
            out += ' ';
        } else if (s[i] == '%' && i + 2 < s.size() && hex(s[i + 1]) >= 0 && hex(s[i + 2]) >= 0) {
            out += static_cast<char>(hex(s[i + 1]) * 16 + hex(s[i + 2]));
            i += 2;
        } else {
            out += s[i];
        }
    }
    return out;
}

// quote_from_bytes: a per-byte table; `safe` bytes >= 128 are ignored. quote_plus: a space
// is made safe and then replaced by `+`.
std::string model_quote(std::string_view s, std::string_view safe, bool plus) {
    bool keep[256] = {};
    for (int c = 0; c < 256; ++c) keep[c] = always_safe(static_cast<char>(c));
    for (const char c : safe) {
        if (static_cast<unsigned char>(c) < 128) keep[static_cast<unsigned char>(c)] = true;
    }
    std::string out;
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (plus && ch == ' ') {
            out += '+';
        } else if (keep[c]) {
            out += ch;
        } else {
            out += '%';
            out += upper_hex[c >> 4];
            out += upper_hex[c & 15];
        }
    }
    return out;
}

// parse_qsl(qs, keep_blank_values=True), on bytes.
pair_list model_parse(std::string_view qs) {
    pair_list out;
    std::size_t start = 0;
    while (start <= qs.size()) {
        std::size_t amp = qs.find('&', start);
        if (amp == std::string_view::npos) amp = qs.size();
        const std::string_view chunk = qs.substr(start, amp - start);
        start = amp + 1;
        if (chunk.empty()) continue;
        const std::size_t eq = chunk.find('=');
        const std::string_view name = chunk.substr(0, eq);
        const std::string_view value = eq == std::string_view::npos ? std::string_view{} : chunk.substr(eq + 1);
        out.emplace_back(model_decode(name, true), model_decode(value, true));
    }
    return out;
}

std::string without(std::string_view s, std::string_view drop) {
    std::string out;
    for (const char c : s) {
        if (drop.find(c) == std::string_view::npos) out += c;
    }
    return out;
}

std::string serialise(const pair_list& pairs, std::string_view safe, bool plus) {
    std::string out;
    for (std::size_t i = 0; i < pairs.size(); ++i) {
        if (i > 0) out += '&';
        tessera::quote_append(out, pairs[i].first, safe, plus);
        out += '=';
        tessera::quote_append(out, pairs[i].second, safe, plus);
    }
    return out;
}

// --- percent.hpp

void check_decode(std::string_view text, bool plus) {
    const std::string decoded = tessera::percent_decode(text, plus);
    check(decoded == model_decode(text, plus));
    check(decoded.size() <= text.size());
    if (text.find('%') == std::string_view::npos && !(plus && text.find('+') != std::string_view::npos)) {
        check(decoded == text);
    }
    std::string buffer = "prefix%41+";
    tessera::percent_decode_append(buffer, text, plus);
    check(buffer == "prefix%41+" + decoded);
}

// Everything in a quote() output is a kept byte, `+` for a space, or `%XX` in upper case.
void check_quote_shape(std::string_view out, std::string_view safe, bool plus) {
    const auto kept = [&](char c) {
        return always_safe(c) || (static_cast<unsigned char>(c) < 128 && safe.find(c) != std::string_view::npos);
    };
    const bool percent_safe = safe.find('%') != std::string_view::npos;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const char c = out[i];
        if (c == '%' && i + 2 < out.size() && upper_hex.find(out[i + 1]) != std::string_view::npos &&
            upper_hex.find(out[i + 2]) != std::string_view::npos) {
            i += 2;
        } else {
            // A lone `%` is only possible when `safe` kept it.
            check(c != '%' || percent_safe);
            check(kept(c) || (plus && c == '+'));
        }
    }
}

void check_quote(std::string_view text, std::string_view safe, bool plus) {
    std::string appended = "x%";
    tessera::quote_append(appended, text, safe, plus);
    check(appended.substr(0, 2) == "x%");
    const std::string out = appended.substr(2);
    check(out == model_quote(text, safe, plus));
    check(out == (plus ? tessera::quote_plus(text, safe) : tessera::quote(text, safe)));
    check(tessera::quote(text) == tessera::quote(text, "/"));
    check(tessera::quote_plus(text) == tessera::quote_plus(text, ""));
    check_quote_shape(out, safe, plus);
    check(out.size() >= text.size() && out.size() <= 3 * text.size());

    // Python: quote_plus(x, s) = quote(x, s + ' ').replace(' ', '+').
    std::string via_quote = tessera::quote(text, std::string(safe) + " ");
    std::replace(via_quote.begin(), via_quote.end(), ' ', '+');
    check(tessera::quote_plus(text, safe) == via_quote);

    // Quoting is idempotent once `%` (and the `+` it wrote) are safe.
    check(tessera::quote(out, std::string(safe) + "%+") == out);

    // Decoding undoes quoting whenever `safe` does not keep `%` or `+`, in every mode that
    // cannot confuse the two.
    const std::string plain_safe = without(safe, "%+");
    check(tessera::percent_decode(tessera::quote_plus(text, plain_safe), true) == text);
    check(tessera::percent_decode(tessera::quote(text, plain_safe), true) == text);
    check(tessera::percent_decode(tessera::quote(text, plain_safe), false) == text);
    if (safe.find('%') == std::string_view::npos) {
        check(tessera::percent_decode(tessera::quote(text, safe), false) == text);
    }
}

// --- query_params.hpp

void check_lookups(const query_params& q, const pair_list& items) {
    // keys(): distinct, in order of first appearance.
    std::vector<std::string_view> keys;
    for (const auto& [k, v] : items) {
        if (std::find(keys.begin(), keys.end(), std::string_view(k)) == keys.end()) keys.emplace_back(k);
    }
    check(q.keys() == keys);

    std::size_t longest = 0;
    for (std::size_t n = 0; n < keys.size() && n < 32; ++n) {
        const std::string_view key = keys[n];
        longest = std::max(longest, key.size());
        std::vector<std::string_view> all;
        for (const auto& [k, v] : items) {
            if (k == key) all.emplace_back(v);
        }
        check(q.contains(key));
        check(q.get_all(key) == all);
        check(q.get(key) == std::optional<std::string_view>(all.back()));
        check(q.get_or(key, "fallback") == all.back());
    }
    for (const auto& k : keys) longest = std::max(longest, k.size());
    const std::string absent(longest + 1, 'x');  // longer than every key
    check(!q.contains(absent) && !q.get(absent) && q.get_all(absent).empty());
    check(q.get_or(absent, "fallback") == "fallback");
}

void check_remove(const query_params& q, const pair_list& items, bool last) {
    if (items.empty()) return;
    query_params copy = q;
    const std::string key = last ? items.back().first : items.front().first;
    pair_list kept;
    for (const auto& item : items) {
        if (item.first != key) kept.push_back(item);
    }
    // The key views into a pair that remove() itself overwrites or destroys.
    const std::size_t removed = copy.remove(last ? copy.items().back().first : copy.items().front().first);
    check(removed == items.size() - kept.size());
    check(copy.items() == kept);
    check(!copy.contains(key));
}

void check_equality(const query_params& q, const pair_list& items) {
    check(q == q);
    check(query_params(pair_list(items.rbegin(), items.rend())) == q);
    pair_list rotated = items;
    std::rotate(rotated.begin(), rotated.begin() + static_cast<std::ptrdiff_t>(rotated.size() / 2), rotated.end());
    check(query_params(rotated) == q);
    query_params more = q;
    more.append("k", "v");
    check(!(more == q) && !(q == more));
    if (!items.empty()) {
        pair_list changed = items;
        changed.back().second += '\0';
        check(!(query_params(changed) == q));
    }
}

void check_query(std::string_view text, std::string_view safe, bool plus) {
    std::optional<query_params> parsed;
    try {
        parsed.emplace(text);
    } catch (...) {
        check(false);  // the parser is total
    }
    const query_params& q = *parsed;
    const pair_list& items = q.items();
    check(items == query_params(text).items());
    check(items == model_parse(text));
    check(q.size() == items.size() && q.empty() == items.empty());
    check(q.size() <= static_cast<std::size_t>(std::count(text.begin(), text.end(), '&')) + 1);
    check(static_cast<std::size_t>(std::distance(q.begin(), q.end())) == q.size());

    // str() is urlencode, and reads back as the same pairs in the same order.
    const std::string s = q.str();
    check(s == serialise(items, {}, true));
    check(s.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-~%+&=") ==
          std::string::npos);
    check(static_cast<std::size_t>(std::count(s.begin(), s.end(), '&')) + 1 == std::max<std::size_t>(q.size(), 1));
    check(query_params(s).items() == items);
    check(query_params(pair_list(items)).str() == s);
    if (items.size() >= 2) {
        const query_params listed{{items[0].first, items[0].second}, {items[1].first, items[1].second}};
        check(listed.items() == pair_list(items.begin(), items.begin() + 2));
    }

    check_lookups(q, items);
    check_remove(q, items, false);
    check_remove(q, items, true);
    check_equality(q, items);

    // Pairs taken from the text (cut at '\n'), serialised with the input's `safe` minus the
    // bytes the query syntax needs, parse back to themselves.
    pair_list pairs;
    if (!text.empty()) {
        std::vector<std::string_view> pieces;
        for (std::size_t start = 0;;) {
            const std::size_t nl = text.find('\n', start);
            pieces.push_back(text.substr(start, nl == std::string_view::npos ? nl : nl - start));
            if (nl == std::string_view::npos) break;
            start = nl + 1;
        }
        for (std::size_t i = 0; i < pieces.size(); i += 2) {
            pairs.emplace_back(pieces[i], i + 1 < pieces.size() ? pieces[i + 1] : std::string_view{});
        }
    }
    const std::string query_safe = without(safe, "&=%+");
    check(query_params(serialise(pairs, query_safe, plus)).items() == pairs);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const bool plus = (data[0] & 1) != 0;
    const std::size_t safe_size = std::min<std::size_t>((data[0] >> 1) & 15, size - 1);
    const std::string_view safe(reinterpret_cast<const char*>(data) + 1, safe_size);
    const std::string_view text(reinterpret_cast<const char*>(data) + 1 + safe_size, size - 1 - safe_size);

    check_decode(text, false);
    check_decode(text, true);
    check_quote(text, safe, plus);
    check_query(text, safe, plus);
    return 0;
}
