#include "tessera/cookies.hpp"

#include <algorithm>
#include <array>
#include <cstdio>
#include <stdexcept>
#include <unordered_map>

#include "tessera/http_date.hpp"

namespace tessera {
namespace {

// Python's str.strip() whitespace, restricted to ASCII: Starlette decodes headers as latin-1,
// where strip() would also eat 0x85 and 0xA0, but here those bytes may be parts of UTF-8
// sequences.
constexpr bool is_strip_space(char c) noexcept {
    return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

std::string_view strip(std::string_view s) noexcept {
    while (!s.empty() && is_strip_space(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_strip_space(s.back())) s.remove_suffix(1);
    return s;
}

// http.cookies._LegalChars: the bytes a cookie name (and an unquoted value) may hold.
constexpr bool is_legal_char(unsigned char c) noexcept {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
    return std::string_view("!#$%&'*+-.^_`|~:").find(static_cast<char>(c)) != std::string_view::npos;
}

// http.cookies._UnescapedChars: legal characters plus those that are fine inside quotes.
constexpr bool is_unescaped_char(unsigned char c) noexcept {
    return is_legal_char(c) ||
           std::string_view(" ()/<=>?@[]{}").find(static_cast<char>(c)) != std::string_view::npos;
}

bool is_legal_key(std::string_view s) noexcept {
    return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
        return is_legal_char(static_cast<unsigned char>(c));
    });
}

constexpr bool is_octal(char c, char max) noexcept { return c >= '0' && c <= max; }

// http.cookies._unquote: only a value wrapped in double quotes is unescaped; inside, `\ooo`
// (first digit 0-3) is an octal byte and `\x` is `x` for any byte except a newline (the
// regex `.` does not match one); anything else is literal.
void unquote_into(std::string& out, std::string_view v) {
    if (v.size() < 2 || v.front() != '"' || v.back() != '"') {
        out.assign(v);
        return;
    }
    v = v.substr(1, v.size() - 2);
    out.reserve(v.size());
    for (std::size_t i = 0; i < v.size(); ++i) {
        if (v[i] == '\\' && i + 3 < v.size() && is_octal(v[i + 1], '3') &&
            is_octal(v[i + 2], '7') && is_octal(v[i + 3], '7')) {
            out.push_back(static_cast<char>((v[i + 1] - '0') * 64 + (v[i + 2] - '0') * 8 +
                                            (v[i + 3] - '0')));
            i += 3;
        } else if (v[i] == '\\' && i + 1 < v.size() && v[i + 1] != '\n') {
            out.push_back(v[i + 1]);
            ++i;
        } else {
            out.push_back(v[i]);
        }
    }
}

// http.cookies._quote: token values go out as they are, anything else (the empty string
// included) in double quotes with SimpleCookie's escapes.
void quote_value_into(std::string& out, std::string_view value) {
    if (is_legal_key(value)) {
        out += value;
        return;
    }
    out += '"';
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (ch == '"' || ch == '\\') {
            out += '\\';
            out += ch;
        } else if (is_unescaped_char(c)) {
            out += ch;
        } else {
            const std::array<char, 4> octal{'\\', static_cast<char>('0' + (c >> 6)),
                                            static_cast<char>('0' + ((c >> 3) & 7)),
                                            static_cast<char>('0' + (c & 7))};
            out.append(octal.data(), octal.size());
        }
    }
    out += '"';
}

bool is_reserved_attribute(std::string_view name) noexcept {
    static constexpr std::string_view reserved[] = {
        "expires", "path",     "comment",  "domain",      "max-age",
        "secure",  "httponly", "version",  "samesite",    "partitioned"};
    for (const std::string_view r : reserved) {
        if (r.size() != name.size()) continue;
        bool same = true;
        for (std::size_t i = 0; i < r.size() && same; ++i) {
            const char c = name[i];
            same = (c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) == r[i];
        }
        if (same) return true;
    }
    return false;
}

// Python writes attribute values verbatim, so a `;` or a CR/LF from user input would add
// attributes or split the header; refuse them instead.
void check_attribute(std::string_view what, std::string_view value) {
    for (const char ch : value) {
        const auto c = static_cast<unsigned char>(ch);
        if (c < 0x20 || c == 0x7f || ch == ';') {
            throw std::invalid_argument("cookie " + std::string(what) +
                                        " contains a control character or ';'");
        }
    }
}

// An IMF-fixdate for a time in whole seconds (years 1 to 9999: four digits).
std::string format_http_date(std::chrono::sys_seconds secs) {
    using namespace std::chrono;
    const auto day = floor<days>(secs);
    const year_month_day ymd{day};
    const hh_mm_ss<seconds> time{secs - day};
    static constexpr const char* weekdays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static constexpr const char* months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                             "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    char buffer[48];
    const int n = std::snprintf(buffer, sizeof buffer, "%s, %02u %s %04d %02d:%02d:%02d GMT",
                                weekdays[weekday{day}.c_encoding()],
                                static_cast<unsigned>(ymd.day()),
                                months[static_cast<unsigned>(ymd.month()) - 1],
                                static_cast<int>(ymd.year()), static_cast<int>(time.hours().count()),
                                static_cast<int>(time.minutes().count()),
                                static_cast<int>(time.seconds().count()));
    return std::string(buffer, static_cast<std::size_t>(n));
}

}  // namespace

std::string http_date(std::chrono::system_clock::time_point when) {
    return format_http_date(std::chrono::floor<std::chrono::seconds>(when));
}

cookie_list parse_cookie_header(std::string_view header) {
    cookie_list cookies;
    // Reserving the upper bound means the strings never move, so the index below can view
    // into their names.
    cookies.reserve(static_cast<std::size_t>(std::count(header.begin(), header.end(), ';')) + 1);
    // A linear search is fastest for the usual handful of cookies; a hostile header with
    // thousands of chunks switches to a hash index to stay linear overall.
    constexpr std::size_t index_threshold = 16;
    std::unordered_map<std::string_view, std::size_t> index;

    while (true) {
        const std::size_t semi = header.find(';');
        const std::string_view chunk = header.substr(0, semi);
        const std::size_t eq = chunk.find('=');
        const std::string_view name = strip(eq == std::string_view::npos ? std::string_view{}
                                                                        : chunk.substr(0, eq));
        const std::string_view raw = strip(eq == std::string_view::npos ? chunk : chunk.substr(eq + 1));
        if (!name.empty() || !raw.empty()) {
            std::pair<std::string, std::string>* slot = nullptr;
            if (index.empty() && cookies.size() <= index_threshold) {
                for (auto& c : cookies) {
                    if (c.first == name) {
                        slot = &c;
                        break;
                    }
                }
            } else {
                if (index.empty()) {
                    for (std::size_t i = 0; i < cookies.size(); ++i) index.emplace(cookies[i].first, i);
                }
                if (const auto it = index.find(name); it != index.end()) slot = &cookies[it->second];
            }
            if (slot == nullptr) {
                slot = &cookies.emplace_back(std::string(name), std::string{});
                if (!index.empty()) index.emplace(slot->first, cookies.size() - 1);
            }
            // Python assigns into a dict: a repeated name keeps its place and takes this value.
            slot->second.clear();
            unquote_into(slot->second, raw);
        }
        if (semi == std::string_view::npos) break;
        header.remove_prefix(semi + 1);
    }
    return cookies;
}

std::optional<std::string_view> find_cookie(const cookie_list& cookies,
                                            std::string_view name) noexcept {
    for (const auto& [n, v] : cookies) {
        if (n == name) return std::string_view(v);
    }
    return std::nullopt;
}

std::string set_cookie_header_value(std::string_view name, std::string_view value,
                                    const cookie_options& options) {
    if (!is_legal_key(name)) {
        throw std::invalid_argument("illegal cookie name '" + std::string(name) + "'");
    }
    if (is_reserved_attribute(name)) {
        throw std::invalid_argument("cookie name '" + std::string(name) +
                                    "' is a reserved attribute name");
    }
    if (options.samesite) {
        check_attribute("samesite", *options.samesite);
        std::string lowered(*options.samesite);
        for (char& c : lowered) c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
        if (lowered != "strict" && lowered != "lax" && lowered != "none") {
            throw std::invalid_argument("samesite must be either 'strict', 'lax' or 'none'");
        }
    }
    check_attribute("path", options.path);
    if (options.domain) check_attribute("domain", *options.domain);

    std::string expires;
    if (const auto* text = std::get_if<std::string>(&options.expires)) {
        check_attribute("expires", *text);
        expires = *text;
    } else if (const auto* at = std::get_if<std::chrono::system_clock::time_point>(&options.expires)) {
        expires = http_date(*at);
    } else if (const auto* in = std::get_if<std::chrono::seconds>(&options.expires)) {
        // Added in whole seconds: the clock's nanoseconds overflow about 240 years out, which
        // wrapped a long-lived cookie into one dated in the past. Like Python's datetime
        // (Starlette adds a timedelta), a date outside years 1 to 9999 is refused.
        using namespace std::chrono;
        const sys_seconds now = floor<seconds>(system_clock::now());
        constexpr sys_seconds first{sys_days{year{1} / January / 1}};
        constexpr sys_seconds last{sys_days{year{9999} / December / 31} + days{1} - seconds{1}};
        if (*in < first - now || *in > last - now) {
            throw std::invalid_argument("expires is out of range (years 1 to 9999)");
        }
        expires = format_http_date(now + *in);
    }

    // Morsel.OutputString writes attributes sorted by their lower-case key and skips empty
    // values; this fixed order is that sort.
    std::string out;
    out.reserve(name.size() + value.size() + 96);
    out += name;
    out += '=';
    quote_value_into(out, value);
    if (options.domain && !options.domain->empty()) {
        out += "; Domain=";
        out += *options.domain;
    }
    if (!expires.empty()) {
        out += "; expires=";
        out += expires;
    }
    if (options.httponly) out += "; HttpOnly";
    if (options.max_age) {
        out += "; Max-Age=";
        out += std::to_string(*options.max_age);
    }
    if (options.partitioned) out += "; Partitioned";
    if (!options.path.empty()) {
        out += "; Path=";
        out += options.path;
    }
    if (options.samesite && !options.samesite->empty()) {
        out += "; SameSite=";
        out += *options.samesite;
    }
    if (options.secure) out += "; Secure";
    return out;
}

std::string delete_cookie_header_value(std::string_view name, std::string_view path,
                                       std::optional<std::string_view> domain, bool secure,
                                       bool httponly, std::optional<std::string_view> samesite) {
    cookie_options options;
    options.max_age = 0;
    options.expires = std::chrono::system_clock::time_point{};
    options.path = std::string(path);
    if (domain) options.domain = std::string(*domain);
    options.secure = secure;
    options.httponly = httponly;
    if (samesite) {
        options.samesite = std::string(*samesite);
    } else {
        options.samesite.reset();
    }
    return set_cookie_header_value(name, "", options);
}

}  // namespace tessera
