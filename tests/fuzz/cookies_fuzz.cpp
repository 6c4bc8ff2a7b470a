// libFuzzer target for the cookie parser (`parse_cookie_header`) and the `Set-Cookie` builders
// (`set_cookie_header_value`, `delete_cookie_header_value`, and `http_date` under them).
//
// Build and run: scripts/fuzz (see its `sources` map), or by hand with clang:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/include \
//     tests/fuzz/cookies_fuzz.cpp lib/src/cookies.cpp -o fuzz
//   cp -r tests/fuzz/corpus/cookies /tmp/corpus && ./fuzz -max_total_time=60 /tmp/corpus
//
// Input layout: byte 0 picks the Set-Cookie options (bit 0 Secure, 1 HttpOnly, 2 Partitioned,
// 3 Max-Age, bits 4-5 the expiry: none / text / time point / seconds from now, bit 6 no
// SameSite, bit 7 no Domain); byte 1 is a separator; the rest is both the `Cookie` header to
// parse and, cut at the separator, the fields name, value, path, domain, samesite, expiry text
// and a number (up to 8 little-endian bytes: the Max-Age, the time point in nanoseconds and the
// expiry in seconds).
//
// Besides memory safety (the sanitizers), it checks the contracts in cookies.hpp:
// - parsing is total (never throws) and deterministic, and gives what a plain model of
//   Starlette's `cookie_parser` gives (split on `;`, then on the first `=`, Python's ASCII
//   strip, `http.cookies._unquote`, dict semantics for repeated names): this also holds the
//   hash index used past 16 cookies to the linear search;
// - at most one cookie per `;`-separated chunk; names are unique and hold no `;` or `=` and
//   no leading or trailing whitespace; a value that was not in quotes holds no `;` either;
// - every parsed list, written back as `name=<SimpleCookie-quoted value>; ...`, parses to
//   itself;
// - `set_cookie_header_value` throws std::invalid_argument exactly for the inputs its comment
//   names (bad or reserved name, bad samesite, control byte or `;` in an attribute), and
//   otherwise returns a value with no control byte at all (so no CR, LF or NUL), made of
//   exactly the attributes asked for, in SimpleCookie's order, whose cookie pair (and the whole
//   value, read as a `Cookie` header) parses back to the name and value given;
// - `delete_cookie_header_value` accepts and refuses the same inputs and writes an empty value
//   with Max-Age=0 and the epoch;
// - `http_date` writes a 29-byte IMF-fixdate, ignores sub-second parts and steps the weekday by
//   one per day.

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/cookies.hpp"
#include "tessera/http_date.hpp"

namespace {

using tessera::cookie_list;
using tessera::cookie_options;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

// --- A model of Starlette's cookie_parser, written from the Python source, not from cookies.cpp.

// str.strip() whitespace among ASCII bytes (str.isspace: \t\n\v\f\r, \x1c-\x1f, space).
bool py_space(char c) {
    return std::string_view(" \t\n\v\f\r\x1c\x1d\x1e\x1f").find(c) != std::string_view::npos;
}

std::string_view py_strip(std::string_view s) {
    std::size_t b = 0, e = s.size();
    while (b < e && py_space(s[b])) ++b;
    while (e > b && py_space(s[e - 1])) --e;
    return s.substr(b, e - b);
}

// http.cookies._unquote: re.sub(r'\\(?:([0-3][0-7][0-7])|(.))', ...) inside the quotes.
std::string py_unquote(std::string_view s) {
    if (s.size() < 2 || s.front() != '"' || s.back() != '"') return std::string(s);
    const std::string_view in = s.substr(1, s.size() - 2);
    std::string out;
    std::size_t i = 0;
    while (i < in.size()) {
        if (in[i] == '\\' && in.size() - i >= 4 && in[i + 1] >= '0' && in[i + 1] <= '3' &&
            in[i + 2] >= '0' && in[i + 2] <= '7' && in[i + 3] >= '0' && in[i + 3] <= '7') {
            out += static_cast<char>((in[i + 1] - '0') << 6 | (in[i + 2] - '0') << 3 | (in[i + 3] - '0'));
            i += 4;
        } else if (in[i] == '\\' && i + 1 < in.size() && in[i + 1] != '\n') {  // `.` skips \n
            out += in[i + 1];
            i += 2;
        } else {
            out += in[i++];
        }
    }
    return out;
}

cookie_list model_parse(std::string_view header) {
    cookie_list dict;
    std::size_t start = 0;
    while (true) {
        const std::size_t semi = header.find(';', start);
        const std::string_view chunk =
            header.substr(start, semi == std::string_view::npos ? std::string_view::npos : semi - start);
        std::string_view key, val = chunk;
        if (const std::size_t eq = chunk.find('='); eq != std::string_view::npos) {
            key = chunk.substr(0, eq);
            val = chunk.substr(eq + 1);
        }
        key = py_strip(key);
        val = py_strip(val);
        if (!key.empty() || !val.empty()) {
            auto it = std::find_if(dict.begin(), dict.end(), [&](const auto& p) { return p.first == key; });
            if (it == dict.end()) {
                dict.emplace_back(std::string(key), py_unquote(val));
            } else {
                it->second = py_unquote(val);
            }
        }
        if (semi == std::string_view::npos) break;
        start = semi + 1;
    }
    return dict;
}

// http.cookies._LegalChars and _UnescapedChars.
bool legal_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~:").find(c) != std::string_view::npos;
}

bool unescaped_char(char c) {
    return legal_char(c) || std::string_view(" ()/<=>?@[]{}").find(c) != std::string_view::npos;
}

bool legal_key(std::string_view s) { return !s.empty() && std::all_of(s.begin(), s.end(), legal_char); }

// http.cookies._quote.
std::string py_quote(std::string_view s) {
    if (legal_key(s)) return std::string(s);
    std::string out = "\"";
    for (const char ch : s) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (unescaped_char(ch)) {
            out += ch;
        } else {
            out += '\\';
            out += static_cast<char>('0' + (c >> 6));
            out += static_cast<char>('0' + ((c >> 3) & 7));
            out += static_cast<char>('0' + (c & 7));
        }
    }
    return out + "\"";
}

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

bool reserved_name(std::string_view s) {
    const std::string l = lower(s);
    for (const char* r : {"expires", "path", "comment", "domain", "max-age", "secure", "httponly",
                          "version", "samesite", "partitioned"}) {
        if (l == r) return true;
    }
    return false;
}

bool clean_attribute(std::string_view s) {
    return std::none_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c < 0x20 || c == 0x7f || ch == ';';
    });
}

bool has_control(std::string_view s) {
    return std::any_of(s.begin(), s.end(), [](char ch) {
        const auto c = static_cast<unsigned char>(ch);
        return c < 0x20 || c == 0x7f;
    });
}

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    while (true) {
        const std::size_t at = s.find(sep);
        out.push_back(s.substr(0, at));
        if (at == std::string_view::npos) return out;
        s.remove_prefix(at + 1);
    }
}

// --- Parsing.

void check_parse(std::string_view header) {
    cookie_list cookies;
    try {
        cookies = tessera::parse_cookie_header(header);
    } catch (...) {
        check(false);  // documented as total
    }
    check(cookies == tessera::parse_cookie_header(header));
    check(cookies == model_parse(header));

    check(cookies.size() <= static_cast<std::size_t>(std::count(header.begin(), header.end(), ';')) + 1);
    for (std::size_t i = 0; i < cookies.size(); ++i) {
        const auto& [name, value] = cookies[i];
        check(name.find(';') == std::string::npos && name.find('=') == std::string::npos);
        check(py_strip(name) == name);
        // Only an escape inside quotes can produce `;`; an unquoted value is trimmed too.
        if (value.find(';') != std::string::npos) check(header.find('"') != std::string_view::npos);
        check(!name.empty() || !value.empty() || header.find("\"\"") != std::string_view::npos);
        for (std::size_t j = 0; j < i; ++j) check(cookies[j].first != name);
        check(tessera::find_cookie(cookies, name) == std::optional<std::string_view>(value));
    }
    std::size_t longest = 0;
    for (const auto& c : cookies) longest = std::max(longest, c.first.size());
    check(!tessera::find_cookie(cookies, std::string(longest + 1, 'x')));  // longer than every name

    // Written back as a header, the list reads as itself.
    std::string again;
    for (const auto& [name, value] : cookies) {
        if (!again.empty()) again += "; ";
        again += name + "=" + py_quote(value);
    }
    check(tessera::parse_cookie_header(again) == cookies);
}

// --- Building.

struct fields {
    std::string_view name, value, path, domain, samesite, expires_text;
    std::int64_t number = 0;
};

std::string expected_value(std::string_view name, std::string_view value, const cookie_options& o,
                           const std::string& expires) {
    std::string out = std::string(name) + "=" + py_quote(value);
    if (o.domain && !o.domain->empty()) out += "; Domain=" + *o.domain;
    if (!expires.empty()) out += "; expires=" + expires;
    if (o.httponly) out += "; HttpOnly";
    if (o.max_age) out += "; Max-Age=" + std::to_string(*o.max_age);
    if (o.partitioned) out += "; Partitioned";
    if (!o.path.empty()) out += "; Path=" + o.path;
    if (o.samesite) out += "; SameSite=" + *o.samesite;
    if (o.secure) out += "; Secure";
    return out;
}

bool documented_valid(std::string_view name, const cookie_options& o) {
    if (!legal_key(name) || reserved_name(name)) return false;
    if (o.samesite) {
        const std::string l = lower(*o.samesite);
        if (l != "strict" && l != "lax" && l != "none") return false;
    }
    if (!clean_attribute(o.path)) return false;
    if (o.domain && !clean_attribute(*o.domain)) return false;
    if (const auto* text = std::get_if<std::string>(&o.expires); text && !clean_attribute(*text)) return false;
    return true;
}

// Whether `in` seconds from `now`, in whole seconds, lands in the years 1 to 9999 (as Python's
// datetime allows); compared without forming `now + in`, which may overflow.
bool expiry_in_range(std::chrono::seconds in, std::chrono::system_clock::time_point now) {
    using namespace std::chrono;
    const sys_seconds from = floor<seconds>(now);
    const sys_seconds first{sys_days{year{1} / January / 1}};
    const sys_seconds last{sys_days{year{9999} / December / 31} + days{1} - seconds{1}};
    return in >= first - from && in <= last - from;
}

// The IMF-fixdate for `in` seconds from `now` (in range), in whole seconds.
std::string date_from(std::chrono::system_clock::time_point now, std::chrono::seconds in) {
    using namespace std::chrono;
    const sys_seconds at = floor<seconds>(now) + in;
    // http_date takes the clock's time points, which reach only about 292 years either way of
    // 1970: the date is moved by whole 400-year Gregorian cycles (146097 days, the same
    // weekdays and month days) to within 200 years of 1970, and its own year written back.
    constexpr std::int64_t cycle = 146097;
    const auto day = floor<days>(at);
    const std::int64_t d = day.time_since_epoch().count() + cycle / 2;
    const std::int64_t shift = d >= 0 ? d / cycle : -((-d + cycle - 1) / cycle);  // floor
    const sys_seconds near = at - days{shift * cycle};
    std::string text = tessera::http_date(system_clock::time_point(near));
    const int year_value = static_cast<int>(year_month_day{day}.year());
    char digits[8];
    std::snprintf(digits, sizeof digits, "%04d", year_value);
    text.replace(12, 4, digits);
    return text;
}

// The value built for an accepted cookie: no control bytes, nothing injected, reads back.
void check_built(const std::string& out, std::string_view name, std::string_view value) {
    check(!has_control(out));
    const std::size_t semi = out.find(';');
    const std::string_view pair = std::string_view(out).substr(0, semi);
    check(tessera::parse_cookie_header(pair) == cookie_list{{std::string(name), std::string(value)}});
    const cookie_list whole = tessera::parse_cookie_header(out);
    check(!whole.empty() && whole[0] == std::pair{std::string(name), std::string(value)});
}

void check_http_date(std::chrono::system_clock::time_point t) {
    using namespace std::chrono;
    const std::string d = tessera::http_date(t);
    check(d.size() == 29);
    check(d.substr(3, 2) == ", " && d[7] == ' ' && d[11] == ' ' && d[16] == ' ' && d[19] == ':' &&
          d[22] == ':' && d.substr(25) == " GMT");
    const std::string_view weekdays = "SunMonTueWedThuFriSat";
    const std::size_t wd = weekdays.find(d.substr(0, 3));
    check(wd != std::string_view::npos && wd % 3 == 0);
    const std::size_t month = std::string_view("JanFebMarAprMayJunJulAugSepOctNovDec").find(d.substr(8, 3));
    check(month != std::string_view::npos && month % 3 == 0);
    const auto num = [&](std::size_t at, std::size_t n) {
        int v = 0;
        for (std::size_t i = at; i < at + n; ++i) {
            check(d[i] >= '0' && d[i] <= '9');
            v = v * 10 + (d[i] - '0');
        }
        return v;
    };
    check(num(5, 2) >= 1 && num(5, 2) <= 31);
    num(12, 4);
    check(num(17, 2) <= 23 && num(20, 2) <= 59 && num(23, 2) <= 59);
    // Only when the whole second is still representable in nanoseconds.
    if (t.time_since_epoch() >= system_clock::duration::min() + 1s) {
        check(tessera::http_date(floor<seconds>(t)) == d);
    }
    // Only when a day later is still representable.
    if (t.time_since_epoch() < system_clock::duration::max() - 24h) {
        const std::string next = tessera::http_date(t + 24h);
        check(weekdays.substr((wd + 3) % 21, 3) == std::string_view(next).substr(0, 3));
        check(next.substr(16) == d.substr(16));
    }
}

void check_build(std::uint8_t flags, const fields& f) {
    using namespace std::chrono;
    cookie_options o;
    o.secure = (flags & 1) != 0;
    o.httponly = (flags & 2) != 0;
    o.partitioned = (flags & 4) != 0;
    if ((flags & 8) != 0) o.max_age = f.number;
    std::optional<std::pair<system_clock::time_point, system_clock::time_point>> relative;
    switch ((flags >> 4) & 3) {
        case 0: break;
        case 1: o.expires = std::string(f.expires_text); break;
        case 2: {
            const system_clock::time_point at{system_clock::duration(f.number)};
            o.expires = at;
            check_http_date(at);
            break;
        }
        case 3:
            // Any int64: beyond the years 1 to 9999 the library refuses it (it once overflowed
            // the clock's nanoseconds about 240 years out and wrote a date in the past).
            o.expires = seconds(f.number);
            break;
    }
    o.path = std::string(f.path);
    o.samesite = (flags & 64) != 0 ? std::nullopt : std::optional<std::string>(f.samesite);
    if ((flags & 128) == 0) o.domain = std::string(f.domain);

    const bool valid = documented_valid(f.name, o);
    std::optional<std::string> out;
    const auto before = system_clock::now();
    try {
        out = tessera::set_cookie_header_value(f.name, f.value, o);
    } catch (const std::invalid_argument&) {
    }
    const auto after = system_clock::now();
    const auto* in = std::get_if<seconds>(&o.expires);
    const bool in_range_before = !in || expiry_in_range(*in, before);
    const bool in_range_after = !in || expiry_in_range(*in, after);
    if (in_range_before == in_range_after) {
        check(out.has_value() == (valid && in_range_before));
    } else {
        check(!out || valid);  // `now` crossed the limit during the call: either answer
    }
    if (out) {
        check_built(*out, f.name, f.value);
        if (in) {
            // The expiry is dated from a `now` taken during the call.
            const auto dated = [&](system_clock::time_point now) {
                return expiry_in_range(*in, now) &&
                       *out == expected_value(f.name, f.value, o, date_from(now, *in));
            };
            check(dated(before) || dated(after));
        } else {
            std::string expires;
            if (const auto* text = std::get_if<std::string>(&o.expires)) expires = *text;
            if (const auto* at = std::get_if<system_clock::time_point>(&o.expires)) expires = tessera::http_date(*at);
            check(*out == expected_value(f.name, f.value, o, expires));
        }
    }

    // delete_cookie: the same checks on the name and attributes, a fixed expiry.
    cookie_options d = o;
    d.max_age = 0;
    d.expires = system_clock::time_point{};
    const bool delete_valid = documented_valid(f.name, d);
    std::optional<std::string> deleted;
    try {
        deleted = tessera::delete_cookie_header_value(
            f.name, o.path, o.domain ? std::optional<std::string_view>(*o.domain) : std::nullopt, o.secure,
            o.httponly, o.samesite ? std::optional<std::string_view>(*o.samesite) : std::nullopt);
    } catch (const std::invalid_argument&) {
    }
    check(deleted.has_value() == delete_valid);
    if (deleted) {
        check_built(*deleted, f.name, "");
        d.partitioned = false;
        check(*deleted == expected_value(f.name, "", d, "Thu, 01 Jan 1970 00:00:00 GMT"));
    }

    // A name the parser produced is built back whenever it is a legal, unreserved token.
    for (const auto& [name, value] : tessera::parse_cookie_header(f.value)) {
        if (!legal_key(name) || reserved_name(name)) continue;
        const std::string built = tessera::set_cookie_header_value(name, value, {.path = "", .samesite = {}});
        check(built == name + "=" + py_quote(value));
        check_built(built, name, value);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    const std::uint8_t flags = data[0];
    const char separator = static_cast<char>(data[1]);
    const std::string_view input(reinterpret_cast<const char*>(data) + 2, size - 2);

    check_parse(input);

    const std::vector<std::string_view> parts = split(input, separator);
    const auto part = [&](std::size_t i) { return i < parts.size() ? parts[i] : std::string_view{}; };
    fields f{part(0), part(1), part(2), part(3), part(4), part(5)};
    const std::string_view number = part(6).substr(0, 8);
    for (std::size_t i = number.size(); i-- > 0;) {
        f.number = static_cast<std::int64_t>(static_cast<std::uint64_t>(f.number) << 8 |
                                             static_cast<unsigned char>(number[i]));
    }
    check_build(flags, f);
    return 0;
}
