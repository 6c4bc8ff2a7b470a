// libFuzzer target for tessera::url: the urlsplit-style parser, urlunsplit-style rebuilding
// (`replace` and the query-parameter edits) and `from_parts`.
//
// Build and run: scripts/fuzz (see its `sources` map), or by hand with clang:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -Ilib/include tests/fuzz/url_fuzz.cpp lib/src/url.cpp lib/src/query_params.cpp \
//     lib/src/percent.cpp lib/src/address.cpp -o fuzz
//   cp -r tests/fuzz/corpus/url /tmp/corpus && ./fuzz -max_total_time=60 /tmp/corpus
//
// Input layout: up to five lines separated by '\n' (so seeds stay readable; a '\n' inside a URL
// is removed by the parser anyway, and '\t'/'\r' still reach it):
//   1. the URL text to parse;
//   2. A: a scheme / host name / user name / query key candidate;
//   3. B: a path / password / query value candidate;
//   4. C: a query / fragment candidate;
//   5. D: a port (decimal, or else derived from its bytes).
// Arguments that do not meet an operation's precondition skip that operation's checks.
//
// Besides memory safety (the sanitizers), it checks the class contract:
// - parsing agrees with an independent port of Python's urlsplit (plus the eager validation
//   the class comment documents: brackets enclosing the whole host and holding an IPv6 or
//   IPvFuture literal, a numeric port <= 65535): same accept/reject decision, same text after
//   the WHATWG stripping, same scheme/netloc/path/query/fragment/username/password/hostname/
//   port; the only exception ever thrown is std::invalid_argument;
// - re-parsing str() gives the same URL;
// - replace({}) (urlunsplit) never throws, gives back the same components, and gives back the
//   exact text whenever urlunsplit(urlsplit(x)) == x holds in Python (lower-case scheme, no
//   empty '?'/'#', no '//' that urlunsplit would drop or add);
// - replace() of one component (scheme, netloc, path, query, fragment, hostname, port, user
//   info, remove_port) sets it and keeps every other component; a new netloc throws iff it does
//   not parse, and so does a plain new hostname under user info that holds a bracket;
// - include/replace/remove_query_params set exactly the expected decoded pairs and keep the
//   other components;
// - from_parts keeps the scheme, host, path and query it was given, throws only when the host
//   does not parse, and the server-address overload brackets IPv6 and omits default ports.

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/address.hpp"
#include "tessera/query_params.hpp"
#include "tessera/url.hpp"

namespace {

using tessera::url;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

constexpr auto npos = std::string_view::npos;

bool ascii_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool ascii_digit(char c) { return c >= '0' && c <= '9'; }

std::string lower_ascii(std::string_view s) {
    std::string out(s);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c | 0x20) : c; });
    return out;
}

bool has_any(std::string_view s, std::string_view chars) { return s.find_first_of(chars) != npos; }

// ---- an independent urlsplit -----------------------------------------------------------------
// Written after CPython's Lib/urllib/parse.py (urlsplit, _splitnetloc, _userinfo, _hostinfo,
// hostname, port, _check_bracketed_host) with Python's string operations, so it shares no code
// shape with lib/src/url.cpp.

struct partitioned {
    std::string_view head, tail;
    bool found = false;
};
partitioned partition(std::string_view s, char sep) {
    const auto i = s.find(sep);
    if (i == npos) return {s, {}, false};
    return {s.substr(0, i), s.substr(i + 1), true};
}
partitioned rpartition(std::string_view s, char sep) {
    const auto i = s.rfind(sep);
    if (i == npos) return {{}, s, false};
    return {s.substr(0, i), s.substr(i + 1), true};
}

// ipaddress.ip_address(x) is an IPv6Address (a scope id after '%' allowed). glibc's inet_pton
// and Python agree on the RFC 4291 text forms; a NUL would end inet_pton's string early.
bool python_ipv6(std::string_view s) {
    const auto [addr, zone, has_zone] = partition(s, '%');
    if (has_zone && (zone.empty() || zone.find('%') != npos)) return false;
    if (addr.find('\0') != npos) return false;
    const std::string copy(addr);
    unsigned char buf[16];
    return ::inet_pton(AF_INET6, copy.c_str(), buf) == 1;
}

// re.match(r"\Av[a-fA-F0-9]+\..+\Z", h) (newlines never reach here).
bool python_ipvfuture(std::string_view h) {
    if (h.empty() || h[0] != 'v') return false;
    const auto dot = h.find('.');
    if (dot == npos || dot < 2 || dot + 1 >= h.size()) return false;
    return std::all_of(h.begin() + 1, h.begin() + static_cast<std::ptrdiff_t>(dot), [](char c) {
        return ascii_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
    });
}

struct split_result {
    bool valid = true;
    std::string text;  // after the WHATWG stripping
    std::string scheme, scheme_as_written, netloc, path, query, fragment;
    bool has_netloc = false, has_query = false, has_fragment = false;
    std::optional<std::string> username, password;
    std::string hostname;
    std::optional<std::uint16_t> port;
};

split_result python_urlsplit(std::string_view input) {
    split_result r;
    // url.lstrip(_WHATWG_C0_CONTROL_OR_SPACE); then remove every '\t', '\r', '\n'.
    std::string c0_or_space;
    for (int c = 0; c <= 0x20; ++c) c0_or_space.push_back(static_cast<char>(c));
    const auto first = input.find_first_not_of(c0_or_space);
    const std::string_view stripped = first == npos ? std::string_view{} : input.substr(first);
    for (const char c : stripped) {
        if (c != '\t' && c != '\r' && c != '\n') r.text.push_back(c);
    }

    std::string_view rest = r.text;
    static constexpr std::string_view scheme_chars =
        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";
    if (const auto i = rest.find(':'); i != npos && i > 0 && ascii_alpha(rest[0]) &&
                                       rest.substr(0, i).find_first_not_of(scheme_chars) == npos) {
        r.scheme_as_written = std::string(rest.substr(0, i));
        r.scheme = lower_ascii(r.scheme_as_written);
        rest.remove_prefix(i + 1);
    }
    if (rest.substr(0, 2) == "//") {
        std::size_t delim = rest.size();
        for (const char c : std::string_view("/?#")) delim = std::min(delim, rest.find(c, 2));
        r.netloc = std::string(rest.substr(2, delim - 2));
        r.has_netloc = true;
        rest.remove_prefix(delim);
    }
    if (const auto [before, after, found] = partition(rest, '#'); found) {
        r.fragment = std::string(after);
        r.has_fragment = true;
        rest = before;
    }
    if (const auto [before, after, found] = partition(rest, '?'); found) {
        r.query = std::string(after);
        r.has_query = true;
        rest = before;
    }
    r.path = std::string(rest);

    const std::string_view netloc = r.netloc;
    const bool open = netloc.find('[') != npos;
    if (open != (netloc.find(']') != npos)) {
        r.valid = false;
        return r;
    }
    const auto [userinfo, hostinfo, have_info] = rpartition(netloc, '@');
    if (have_info) {
        const auto [user, pass, have_password] = partition(userinfo, ':');
        r.username = std::string(user);
        if (have_password) r.password = std::string(pass);
    }
    std::string_view host, port_text;
    if (open) {
        // tessera's documented rule: the brackets enclose the whole host, only ":port" after.
        if (hostinfo.empty() || hostinfo[0] != '[') {
            r.valid = false;
            return r;
        }
        const auto [bracketed, after, closed] = partition(hostinfo.substr(1), ']');
        if (!closed || (!after.empty() && after[0] != ':') ||
            !(bracketed.starts_with('v') ? python_ipvfuture(bracketed) : python_ipv6(bracketed))) {
            r.valid = false;
            return r;
        }
        host = bracketed;
        if (!after.empty()) port_text = after.substr(1);
    } else {
        const auto parts = partition(hostinfo, ':');
        host = parts.head;
        port_text = parts.tail;
    }
    // SplitResult.hostname: lower-case up to the zone id.
    const auto [h, pct, zone] = partition(host, '%');
    r.hostname = lower_ascii(h) + (zone ? "%" + std::string(pct) : std::string());
    // SplitResult.port: port.isdigit() and port.isascii(), then 0 <= int(port) <= 65535.
    if (!port_text.empty()) {
        if (!std::all_of(port_text.begin(), port_text.end(), ascii_digit)) {
            r.valid = false;
            return r;
        }
        const auto nonzero = port_text.find_first_not_of('0');
        const std::string_view digits = nonzero == npos ? "0" : port_text.substr(nonzero);
        if (digits.size() > 5 || std::stoul(std::string(digits)) > 65535) {
            r.valid = false;
            return r;
        }
        r.port = static_cast<std::uint16_t>(std::stoul(std::string(digits)));
    }
    return r;
}

// Python 3.12's urllib.parse.uses_netloc.
bool uses_netloc(std::string_view scheme) {
    static constexpr std::string_view list[] = {
        "",     "ftp",   "http",    "gopher", "nntp",  "telnet",       "imap",
        "wais", "file",  "mms",     "https",  "shttp", "snews",        "prospero",
        "rtsp", "rtsps", "rtspu",   "rsync",  "svn",   "svn+ssh",      "sftp",
        "nfs",  "git",   "git+ssh", "ws",     "wss",   "itms-services"};
    return std::find(std::begin(list), std::end(list), scheme) != std::end(list);
}

// ---- comparing urls ------------------------------------------------------------------------

struct parts {
    std::string scheme, netloc, path, query, fragment;
    std::optional<std::string> username, password;
    std::string hostname;
    std::optional<std::uint16_t> port;
    friend bool operator==(const parts&, const parts&) = default;
};

std::optional<std::string> opt(std::optional<std::string_view> v) {
    return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

parts parts_of(const url& u) {
    // Every accessor is total on a parsed url; views point into str().
    const std::string& t = u.str();
    const auto inside = [&](std::string_view v) {
        return v.empty() || (v.data() >= t.data() && v.data() + v.size() <= t.data() + t.size());
    };
    check(inside(u.netloc()) && inside(u.path()) && inside(u.query()) && inside(u.fragment()));
    check(!u.username() || inside(*u.username()));
    check(!u.password() || inside(*u.password()));
    check(!u.password() || u.username());
    check(u.is_secure() == (u.scheme() == "https" || u.scheme() == "wss"));
    return {std::string(u.scheme()),
            std::string(u.netloc()),
            std::string(u.path()),
            std::string(u.query()),
            std::string(u.fragment()),
            opt(u.username()),
            opt(u.password()),
            u.hostname(),
            u.port()};
}

parts parts_of(const split_result& r) {
    return {r.scheme,   r.netloc,   r.path,     r.query, r.fragment,
            r.username, r.password, r.hostname, r.port};
}

// Parses, allowing only std::invalid_argument to escape (anything else reaches libFuzzer).
std::optional<url> try_parse(std::string_view text) {
    try {
        return url(text);
    } catch (const std::invalid_argument&) {
        return std::nullopt;
    }
}

// ---- argument preconditions ----------------------------------------------------------------

bool valid_scheme(std::string_view s) {
    return !s.empty() && ascii_alpha(s[0]) && std::all_of(s.begin(), s.end(), [](char c) {
        return ascii_alpha(c) || ascii_digit(c) || c == '+' || c == '-' || c == '.';
    });
}
// A path that survives urlunsplit + urlsplit unchanged: empty or absolute, no delimiters of
// later components, nothing the parser strips.
bool clean_path(std::string_view p) {
    return (p.empty() || p[0] == '/') && !has_any(p, std::string_view("?#\t\r\n", 5));
}
bool clean_query(std::string_view q) { return !has_any(q, std::string_view("#\t\r\n", 4)); }
bool clean_fragment(std::string_view f) { return !has_any(f, std::string_view("\t\r\n", 3)); }
// A registered name made of unreserved characters.
bool plain_host(std::string_view h) {
    return !h.empty() && std::all_of(h.begin(), h.end(), [](char c) {
        return ascii_alpha(c) || ascii_digit(c) || c == '-' || c == '.' || c == '_' || c == '~';
    });
}
// user info characters (RFC 3986 unreserved / pct-encoded / sub-delims, without ':').
bool userinfo_chars(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) {
        return ascii_alpha(c) || ascii_digit(c) ||
               std::string_view("-._~%!$&'()*+,;=").find(c) != npos;
    });
}
bool ipv6_no_zone(std::string_view s) { return s.find('%') == npos && python_ipv6(s); }

std::uint16_t port_from(std::string_view d) {
    if (!d.empty() && d.size() <= 5 && std::all_of(d.begin(), d.end(), ascii_digit) &&
        std::stoul(std::string(d)) <= 65535) {
        return static_cast<std::uint16_t>(std::stoul(std::string(d)));
    }
    if (d.size() >= 2) {
        return static_cast<std::uint16_t>((static_cast<unsigned char>(d[0]) << 8) |
                                          static_cast<unsigned char>(d[1]));
    }
    return d.empty() ? 443 : 80;
}

// The decoded pairs of a query, as query_params parses them.
std::vector<tessera::query_params::value_type> pairs_of(std::string_view query) {
    return tessera::query_params(query).items();
}

// ---- the checks ----------------------------------------------------------------------------

// `expected` holds the original parts with the edit applied.
void check_edit(const url& result, const parts& expected) { check(parts_of(result) == expected); }

void check_replace(const url& u, const parts& p, std::string_view a, std::string_view b,
                   std::string_view c, std::string_view d) {
    // When a netloc appears, a relative path gains a '/' (urlunsplit), so netloc edits need an
    // absolute (or empty) path to keep it.
    const bool absolute_path = p.path.empty() || p.path[0] == '/';

    if (valid_scheme(a)) {
        parts e = p;
        e.scheme = lower_ascii(a);
        check_edit(u.replace({.scheme = std::string(a)}), e);
    }
    if (clean_path(b)) {
        parts e = p;
        e.path = std::string(b);
        check_edit(u.replace({.path = std::string(b)}), e);
    }
    if (clean_query(c)) {
        parts e = p;
        e.query = std::string(c);
        check_edit(u.replace({.query = std::string(c)}), e);
    }
    if (clean_fragment(c)) {
        parts e = p;
        e.fragment = std::string(c);
        check_edit(u.replace({.fragment = std::string(c)}), e);
    }
    if (!absolute_path) return;

    const auto netloc_edit = [&](const url& r, const parts& e) {
        // The netloc text is rebuilt, so compare it through its pieces.
        parts got = parts_of(r);
        got.netloc = e.netloc;
        check(got == e);
    };
    if (!has_any(a, std::string_view("/?#\t\r\n", 6))) {
        // A new netloc, alone or with a port: the pieces come from it; it throws iff it does
        // not parse.
        const split_result n = python_urlsplit("//" + std::string(a));
        parts e = p;
        e.netloc = std::string(a);
        e.username = n.username;
        e.password = n.password;
        e.hostname = n.hostname;
        e.port = n.port;
        try {
            check(parts_of(u.replace({.netloc = std::string(a)})) == e);
            check(n.valid);
        } catch (const std::invalid_argument&) {
            check(!n.valid);
        }
        e.port = port_from(d);
        try {
            netloc_edit(u.replace({.netloc = std::string(a), .port = e.port}), e);
            check(n.valid);
        } catch (const std::invalid_argument&) {
            check(!n.valid);
        }
    }
    if (plain_host(a) || ipv6_no_zone(a)) {
        parts e = p;
        e.hostname = lower_ascii(a);
        // User info holding a bracket parses only beside a bracketed host (Python refuses the
        // unbalanced netloc too): a plain new host makes a URL that does not parse.
        const auto bracket = [](const std::optional<std::string>& part) {
            return part && part->find_first_of("[]") != npos;
        };
        const bool unparsable = !ipv6_no_zone(a) && (bracket(p.username) || bracket(p.password));
        try {
            const url r = u.replace({.hostname = std::string(a)});
            check(!unparsable);
            netloc_edit(r, e);
            // An IPv6 host gets brackets, so the port stays apart from its colons.
            check(!ipv6_no_zone(a) || r.netloc().find("[" + std::string(a) + "]") != npos);
        } catch (const std::invalid_argument&) {
            check(unparsable);
        }
    }
    {
        const std::uint16_t port = port_from(d);
        parts e = p;
        e.port = port;
        netloc_edit(u.replace({.port = port}), e);
        e.port = std::nullopt;
        netloc_edit(u.replace({.remove_port = true}), e);
        netloc_edit(u.replace({.port = port, .remove_port = true}), e);
    }
    if (userinfo_chars(a) && userinfo_chars(b)) {
        parts e = p;
        e.username = std::string(a);
        e.password = std::string(b);
        netloc_edit(u.replace({.username = std::string(a), .password = std::string(b)}), e);
    }
}

void check_query_edits(const url& u, const parts& p, std::string_view a, std::string_view b,
                       std::string_view c, std::string_view d) {
    using pair_list = std::vector<tessera::query_params::value_type>;
    const auto same_but_query = [&](const url& r, const pair_list& expected) {
        parts got = parts_of(r);
        check(pairs_of(got.query) == expected);
        // An edit that leaves no pair leaves no query at all.
        check(expected.empty() == got.query.empty());
        got.query = p.query;
        check(got == p);
    };
    const pair_list before = pairs_of(p.query);

    pair_list kept;
    for (const auto& item : before) {
        if (item.first != a) kept.push_back(item);
    }
    pair_list included = kept;
    included.emplace_back(std::string(a), std::string(b));
    same_but_query(u.include_query_params({{a, b}}), included);
    same_but_query(u.remove_query_params({a}), kept);
    same_but_query(u.replace_query_params({{a, b}, {c, d}}),
                   {{std::string(a), std::string(b)}, {std::string(c), std::string(d)}});
    same_but_query(u.replace_query_params(tessera::query_params(c)), pairs_of(c));
}

void check_from_parts(std::string_view scheme, std::string_view a, std::string_view b,
                      std::string_view c, std::string_view d) {
    const bool clean = clean_path(b) && clean_query(c);
    if (!a.empty() && !has_any(a, std::string_view("/?#\t\r\n", 6)) && clean) {
        try {
            const url r = url::from_parts(scheme, a, b, c);
            check(r.scheme() == scheme && r.netloc() == a && r.path() == b && r.query() == c);
            check(r.fragment().empty());
            check(url::from_parts(scheme, std::optional<std::string_view>(a),
                                  tessera::address{"ignored", 1}, b, c) == r);
        } catch (const std::invalid_argument&) {
            // Only a Host that does not parse as a netloc may throw.
            check(!python_urlsplit("//" + std::string(a)).valid);
        }
    }
    if (clean && !b.starts_with("//")) {
        // No host: a relative URL.
        const url r = url::from_parts(scheme, std::string_view{}, b, c);
        check(r.scheme().empty() && r.netloc().empty() && r.path() == b && r.query() == c);
        check(url::from_parts(scheme, std::nullopt, std::nullopt, b, c) == r);
    }
    if (clean && (plain_host(a) || ipv6_no_zone(a))) {
        // The server address: IPv6 in brackets, the scheme's default port left out.
        const std::uint16_t port = port_from(d);
        const url r =
            url::from_parts(scheme, std::nullopt, tessera::address{std::string(a), port}, b, c);
        const std::uint16_t default_port = (scheme == "https" || scheme == "wss") ? 443
                                           : (scheme == "http" || scheme == "ws") ? 80
                                                                                  : 0;
        check(r.scheme() == scheme && r.path() == b && r.query() == c);
        check(r.hostname() == lower_ascii(a));
        check(r.port() == (port == default_port ? std::nullopt : std::optional(port)));
        if (ipv6_no_zone(a)) {
            // A server host already in brackets is not bracketed again.
            const std::string bracketed = "[" + std::string(a) + "]";
            check(url::from_parts(scheme, std::nullopt, tessera::address{bracketed, port}, b, c) ==
                  r);
        }
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    std::string_view lines[5];
    {
        std::string_view rest = input;
        for (int i = 0; i < 5; ++i) {
            const auto nl = i == 4 ? npos : rest.find('\n');
            lines[i] = rest.substr(0, nl);
            if (nl == npos) break;
            rest.remove_prefix(nl + 1);
        }
    }
    const std::string_view text = lines[0];
    const std::string_view a = lines[1], b = lines[2], c = lines[3], d = lines[4];

    const split_result expected = python_urlsplit(text);
    const std::optional<url> parsed = try_parse(text);
    check(parsed.has_value() == expected.valid);

    const std::string scheme = !expected.scheme.empty() && expected.valid
                                   ? expected.scheme
                                   : std::string(std::array<std::string_view, 4>{
                                         "http", "https", "ws", "wss"}[d.size() % 4]);
    check_from_parts(scheme, a, b, c, d);
    if (!parsed) return 0;

    const url& u = *parsed;
    const parts p = parts_of(u);
    check(u.str() == expected.text);
    check(p == parts_of(expected));

    // Parsing is idempotent on the stored text.
    check(parts_of(url(u.str())) == p && url(u.str()) == u);

    // urlunsplit(urlsplit(x)): same components always, same text where Python guarantees it.
    const url rebuilt = u.replace({});
    check(parts_of(rebuilt) == p);
    check(rebuilt.replace({}) == rebuilt);
    const bool unsplit_keeps_slashes = !expected.has_netloc || !expected.netloc.empty() ||
                                       expected.path.starts_with("//") ||
                                       (!expected.scheme.empty() && uses_netloc(expected.scheme));
    const bool unsplit_adds_slashes = !expected.has_netloc && !expected.scheme.empty() &&
                                      uses_netloc(expected.scheme) &&
                                      (expected.path.empty() || expected.path[0] == '/');
    const bool canonical = expected.scheme_as_written == expected.scheme &&
                           expected.has_query == !expected.query.empty() &&
                           expected.has_fragment == !expected.fragment.empty() &&
                           unsplit_keeps_slashes && !unsplit_adds_slashes;
    if (canonical) check(rebuilt.str() == u.str());

    check_replace(u, p, a, b, c, d);
    check_query_edits(u, p, a, b, c, d);
    return 0;
}
