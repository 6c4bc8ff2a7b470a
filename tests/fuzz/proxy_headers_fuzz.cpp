// libFuzzer target for proxy headers: tessera::proxy_trust (the trust list parser and matcher)
// and tessera::apply_proxy_headers (X-Forwarded-For/-Proto/-Host and RFC 7239 Forwarded).
//
// Build and run: scripts/fuzz (see its `sources` map), or by hand with clang:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
//     -Ilib/include tests/fuzz/proxy_headers_fuzz.cpp lib/src/proxy_headers.cpp \
//     lib/src/headers.cpp lib/src/address.cpp -o fuzz
//   cp -r tests/fuzz/corpus/proxy_headers /tmp/corpus && ./fuzz -max_total_time=60 /tmp/corpus
//
// Input layout: byte 0 picks the configuration:
//   bits 0-1  trust list: nobody, "*", a fixed list of addresses and CIDR ranges (IPv4, IPv6,
//             IPv4-mapped), or (3) the first line of the rest, comma-separated entries;
//   bits 2-4  the peer: none (a Unix socket), 127.0.0.1, ::1, 10.1.2.3, ::ffff:10.1.2.3,
//             192.168.0.9, fd00::7, 198.51.100.9;
//   bit 5     a WebSocket scope (else HTTP); bit 6: the scheme starts secure (https/wss);
//   bit 7     a `host: internal:8000` field comes first.
// The rest is header lines split on '\n' (one trailing '\r' dropped): the name before the first
// ':', lower-cased (shorthands: f = forwarded, xf/xp/xh = x-forwarded-for/-proto/-host,
// h = host), the value after it with spaces and tabs trimmed, as the HTTP/1 parser gives them.
// Values may hold any byte, so the function is also exercised beyond what the parser lets in.
//
// Besides memory safety (the sanitizers), it checks:
// - proxy_trust accepts exactly the entries that are "*" or an IPv4/IPv6 address with an
//   optional decimal prefix length in range (>= 96 for an IPv4-mapped entry); an accepted entry
//   trusts its own address; trusts() agrees with an independent matcher (IPv4-mapped addresses
//   as the IPv4 address they carry) on every peer and hop the function looks at;
// - without a proxy header, or from an untrusted peer (no peer: trusted only by "*"), the scope
//   is left exactly as it was;
// - from a trusted peer only `client`, `scheme` and the host field change: the scheme stays in
//   http/https (ws/wss for WebSockets) and changes only when a proto was sent; other fields keep
//   their order; a rewritten host field is a single field, where the first one was, whose value
//   is non-empty, made of bytes of a Forwarded / X-Forwarded-Host value, and made only of what
//   the HTTP parser takes in a Host (RFC 3986 reg-name, IP-literal and port characters); a new
//   client's host is likewise made of bytes of a
//   Forwarded / X-Forwarded-For value, is non-empty, and formats with brackets iff IPv6;
// - when the headers are well-formed (RFC 7239 syntax, also accepting the unquoted
//   `for=192.0.2.1:80` that proxies send), the result is exactly the documented one: the
//   nearest untrusted hop from the right (the leftmost when all are trusted) gives the client,
//   and that Forwarded element's proto and host (or the last X-Forwarded-Proto / -Host item) give
//   the scheme and host (a host that is not a Host value leaves the host field alone); Forwarded
//   wins over X-Forwarded-*; repeated field lines count as one comma-joined line (RFC 9110 §5.3).
//
// Bugs it found (fixed, each pinned by a test in tests/lib/proxy_headers_test.cpp): only the
// first X-Forwarded-* line was read, so a client's own line won over its proxy's; Forwarded was
// split at ',' and ';' inside quoted strings; a node without a host (`for="[]"`) set an empty
// client; a trust entry "10.0.0.0/-0" was taken as /0; a quoted host="a b" was written into
// the Host field as it came.

#include <arpa/inet.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/proxy_headers.hpp"

namespace {

using tessera::address;
using tessera::header_field;
using tessera::proxy_trust;
using tessera::scope;
using tessera::scope_type;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

constexpr auto npos = std::string_view::npos;

bool ows(char c) { return c == ' ' || c == '\t'; }
std::string_view trim(std::string_view s) {
    while (!s.empty() && ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && ows(s.back())) s.remove_suffix(1);
    return s;
}
std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c | 0x20);
    }
    return out;
}
bool is_ctl(char c) {
    const auto u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\t') || u == 0x7f;
}
bool has_ctl(std::string_view s) { return std::any_of(s.begin(), s.end(), is_ctl); }

// RFC 3986 §3.2.2/§3.2.3: a host (reg-name: unreserved, pct-encoded, sub-delims; IP-literal:
// those and ':', '[', ']') and ":" port, character by character.
bool host_chars(std::string_view s) {
    constexpr std::string_view allowed = "-._~!$&'()*+,;=%:[]";
    return std::all_of(s.begin(), s.end(), [&](char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
               allowed.find(c) != std::string_view::npos;
    });
}
// Whether `part` can be obtained from `whole` by deleting bytes.
bool subsequence(std::string_view part, std::string_view whole) {
    std::size_t i = 0;
    for (const char c : whole) {
        if (i < part.size() && part[i] == c) ++i;
    }
    return i == part.size();
}

// ---- an independent trust matcher ----------------------------------------------------------

struct ip {
    bool v6 = false;
    std::uint64_t hi = 0, lo = 0;  // an IPv4 address sits in the low 32 bits of lo
    bool mapped_form = false;
};

std::optional<ip> parse_ip(std::string_view text) {
    if (text.find('\0') != npos) return std::nullopt;
    const std::string z(text);
    unsigned char b[16];
    if (::inet_pton(AF_INET, z.c_str(), b) == 1) {
        return ip{false, 0, (std::uint64_t{b[0]} << 24) | (b[1] << 16) | (b[2] << 8) | b[3]};
    }
    if (::inet_pton(AF_INET6, z.c_str(), b) != 1) return std::nullopt;
    ip out{true, 0, 0};
    for (int i = 0; i < 8; ++i) out.hi = (out.hi << 8) | b[i];
    for (int i = 8; i < 16; ++i) out.lo = (out.lo << 8) | b[i];
    if (out.hi == 0 && (out.lo >> 32) == 0xffff) {  // ::ffff:a.b.c.d
        return ip{false, 0, out.lo & 0xffffffffu, true};
    }
    return out;
}

struct network {
    ip addr;
    int prefix = 0;  // in bits of the family (IPv4: 0-32)
};

struct trust_model {
    bool everyone = false;
    std::vector<network> networks;

    [[nodiscard]] bool trusts(std::string_view host) const {
        if (everyone) return true;
        const auto a = parse_ip(host);
        if (!a) return false;
        return std::any_of(networks.begin(), networks.end(), [&](const network& n) {
            if (n.addr.v6 != a->v6) return false;
            if (!a->v6) {
                const std::uint64_t mask =
                    n.prefix == 0 ? 0 : (0xffffffffu << (32 - n.prefix)) & 0xffffffffu;
                return (n.addr.lo & mask) == (a->lo & mask);
            }
            const auto masked = [](std::uint64_t v, int bits) {
                return bits <= 0 ? 0 : bits >= 64 ? v : v & ~(~std::uint64_t{0} >> bits);
            };
            return masked(n.addr.hi, n.prefix) == masked(a->hi, n.prefix) &&
                   masked(n.addr.lo, n.prefix - 64) == masked(a->lo, n.prefix - 64);
        });
    }
};

// The model of proxy_trust's constructor: nullopt when it must throw.
std::optional<trust_model> model_trust(const std::vector<std::string>& entries) {
    trust_model m;
    for (const auto& entry : entries) {
        const std::string_view text = trim(entry);
        if (text == "*") {
            m.everyone = true;
            continue;
        }
        const auto slash = text.find('/');
        const auto a = parse_ip(text.substr(0, slash));
        if (!a) return std::nullopt;
        network n{*a, a->v6 ? 128 : 32};
        if (slash != npos) {
            std::string_view digits = text.substr(slash + 1);
            if (digits.empty() || !std::all_of(digits.begin(), digits.end(),
                                               [](char c) { return c >= '0' && c <= '9'; })) {
                return std::nullopt;
            }
            const auto nonzero = digits.find_first_not_of('0');
            const std::string_view value = nonzero == npos ? "0" : digits.substr(nonzero);
            if (value.size() > 3) return std::nullopt;
            const int prefix = std::stoi(std::string(value));
            if (a->mapped_form) {
                if (prefix < 96 || prefix > 128) return std::nullopt;
                n.prefix = prefix - 96;
            } else {
                if (prefix > n.prefix) return std::nullopt;
                n.prefix = prefix;
            }
        }
        m.networks.push_back(n);
    }
    return m;
}

// ---- the expected rewrite --------------------------------------------------------------------

bool tchar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           std::string_view("!#$%&'*+-.^_`|~").find(c) != npos;
}

struct element {
    std::string for_node, proto, host;
};

// RFC 7239 §4 `Forwarded = 1#forwarded-element`, `forwarded-element = [ forwarded-pair ] *( ";"
// [ forwarded-pair ] )`, `forwarded-pair = token "=" value`, `value = token / quoted-string`,
// leniently: OWS around ';' and unquoted values with ':', '[' and ']' (the unquoted IPv6-less
// nodes with ports that proxies send) are accepted. Appends the elements; false when malformed.
bool parse_forwarded(std::string_view v, std::vector<element>& out) {
    std::size_t i = 0;
    const auto skip_ows = [&] {
        while (i < v.size() && ows(v[i])) ++i;
    };
    while (true) {
        skip_ows();
        element e;
        bool any_content = false;  // a pair or a ';': an element, though maybe an empty one
        bool seen_for = false, seen_proto = false, seen_host = false;
        while (i < v.size() && v[i] != ',') {
            if (v[i] == ';') {
                any_content = true;
                ++i;
                skip_ows();
                continue;
            }
            const std::size_t key_start = i;
            while (i < v.size() && tchar(v[i])) ++i;
            if (i == key_start || i >= v.size() || v[i] != '=') return false;
            const std::string key = lower(v.substr(key_start, i - key_start));
            ++i;
            std::string value;
            if (i < v.size() && v[i] == '"') {
                ++i;
                bool closed = false;
                while (i < v.size()) {
                    const char c = v[i++];
                    if (c == '"') {
                        closed = true;
                        break;
                    }
                    if (c == '\\') {
                        if (i >= v.size() || is_ctl(v[i])) return false;
                        value.push_back(v[i++]);
                        continue;
                    }
                    if (is_ctl(c)) return false;
                    value.push_back(c);
                }
                if (!closed) return false;
            } else {
                while (i < v.size() && v[i] != ',' && v[i] != ';' && !ows(v[i])) {
                    if (!(tchar(v[i]) || v[i] == ':' || v[i] == '[' || v[i] == ']')) return false;
                    value.push_back(v[i++]);
                }
            }
            // An empty value, or a parameter given twice, has no defined meaning.
            if (value.empty()) return false;
            any_content = true;
            if (key == "for") {
                if (std::exchange(seen_for, true)) return false;
                e.for_node = value;
            } else if (key == "proto") {
                if (std::exchange(seen_proto, true)) return false;
                e.proto = lower(value);
            } else if (key == "host") {
                if (std::exchange(seen_host, true)) return false;
                e.host = value;
            }
            skip_ows();
            if (i < v.size() && v[i] != ';' && v[i] != ',') return false;
        }
        // Empty list elements are allowed and skipped (RFC 9110 §5.6.1); an element without a
        // `for` is a hop of unknown address.
        if (any_content) out.push_back(std::move(e));
        if (i >= v.size()) return true;
        ++i;  // ','
    }
}

struct node {
    std::string host;
    std::uint16_t port = 0;  // 0 unless a decimal port in range is given
    bool port_known = true;  // false for digits followed by junk ("80x"): left undefined
};

// RFC 7239 §6 `node = nodename [ ":" node-port ]`, `nodename = IPv4address / "[" IPv6address
// "]" / "unknown" / obfnode`; an unbracketed text with several colons is taken whole.
node parse_node(std::string_view n) {
    node out;
    std::string_view port;
    if (n.starts_with('[')) {
        const auto close = n.find(']');
        out.host = std::string(n.substr(1, close == npos ? npos : close - 1));
        if (close != npos && n.substr(close + 1).starts_with(':')) port = n.substr(close + 2);
    } else if (const auto colon = n.find(':'); colon != npos && n.find(':', colon + 1) == npos) {
        out.host = std::string(n.substr(0, colon));
        port = n.substr(colon + 1);
    } else {
        out.host = std::string(n);
    }
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    if (!port.empty() && std::all_of(port.begin(), port.end(), digit)) {
        const auto nonzero = port.find_first_not_of('0');
        const std::string_view value = nonzero == npos ? "0" : port.substr(nonzero);
        if (value.size() <= 5 && std::stoul(std::string(value)) <= 65535) {
            out.port = static_cast<std::uint16_t>(std::stoul(std::string(value)));
        }
    } else if (!port.empty() && digit(port[0])) {
        out.port_known = false;
    }
    return out;
}

std::vector<std::string_view> list_items(const std::vector<std::string_view>& lines) {
    std::vector<std::string_view> items;
    for (std::string_view line : lines) {
        while (true) {
            const auto comma = line.find(',');
            const auto item = trim(line.substr(0, comma));
            if (!item.empty()) items.push_back(item);
            if (comma == npos) break;
            line.remove_prefix(comma + 1);
        }
    }
    return items;
}

std::string scheme_for(std::string_view proto, scope_type type, const std::string& current) {
    if (proto != "http" && proto != "https" && proto != "ws" && proto != "wss") return current;
    const bool secure = proto == "https" || proto == "wss";
    if (type == scope_type::websocket) return secure ? "wss" : "ws";
    return secure ? "https" : "http";
}

struct expectation {
    bool exact = false;      // the headers were well-formed: client/scheme/host are known exactly
    bool forwarded = false;  // the Forwarded path is taken (it has a non-empty list item)
    std::optional<address> client;
    bool client_port_known = true;
    std::string scheme;
    std::optional<std::string> host;   // a rewritten host field
    std::vector<std::string> queried;  // hosts whose trust decided the hop
};

// `trusts` is the library's matcher (checked against the model separately).
expectation expect(const scope& before, const proxy_trust& trust) {
    expectation x;
    x.client = before.client;
    x.scheme = before.scheme;
    const auto& h = before.headers;

    std::vector<element> elements;
    bool well_formed = true;
    bool any_forwarded_item = false;
    for (const auto v : h.get_all("forwarded")) {
        well_formed = parse_forwarded(v, elements) && well_formed;
        for (const auto item : list_items({v}))
            any_forwarded_item = any_forwarded_item || !item.empty();
    }
    if (any_forwarded_item) {
        x.forwarded = true;
        x.exact = well_formed && !elements.empty();
        if (!x.exact) return x;
        std::size_t chosen = 0;
        for (std::size_t i = elements.size(); i-- > 0;) {
            chosen = i;
            x.queried.push_back(parse_node(elements[i].for_node).host);
            if (!trust.trusts(x.queried.back())) break;
        }
        const element& e = elements[chosen];
        if (!e.for_node.empty()) {
            const node n = parse_node(e.for_node);
            if (!n.host.empty()) {  // otherwise nothing usable: the peer stays
                x.client = address{n.host, n.port};
                x.client_port_known = n.port_known;
            }
        }
        x.scheme = scheme_for(e.proto, before.type, before.scheme);
        if (!e.host.empty() && host_chars(e.host)) x.host = e.host;
        return x;
    }

    x.exact = true;
    const auto xff = h.get_all("x-forwarded-for");
    const auto xfp = h.get_all("x-forwarded-proto");
    const auto xfh = h.get_all("x-forwarded-host");
    if (const auto hops = list_items(xff); !hops.empty()) {
        std::string_view chosen = hops.front();
        for (std::size_t i = hops.size(); i-- > 0;) {
            chosen = hops[i];
            x.queried.emplace_back(hops[i]);
            if (!trust.trusts(hops[i])) break;
        }
        x.client = address{std::string(chosen), 0};
    }
    if (const auto items = list_items(xfp); !items.empty()) {
        x.scheme = scheme_for(lower(items.back()), before.type, before.scheme);
    }
    if (const auto items = list_items(xfh); !items.empty() && host_chars(items.back())) {
        x.host = std::string(items.back());
    }
    return x;
}

// ---- building the scope ----------------------------------------------------------------------

std::vector<std::string> split_entries(std::string_view line) {
    std::vector<std::string> out;
    while (true) {
        const auto comma = line.find(',');
        out.emplace_back(line.substr(0, comma));
        if (comma == npos) return out;
        line.remove_prefix(comma + 1);
    }
}

std::string field_name(std::string_view raw) {
    const std::string n = lower(raw);
    if (n == "f") return "forwarded";
    if (n == "xf") return "x-forwarded-for";
    if (n == "xp") return "x-forwarded-proto";
    if (n == "xh") return "x-forwarded-host";
    if (n == "h") return "host";
    return n;
}

bool same_scope(const scope& a, const scope& b) {
    return a.type == b.type && a.http_version == b.http_version && a.method == b.method &&
           a.scheme == b.scheme && a.path == b.path && a.raw_path == b.raw_path &&
           a.query_string == b.query_string && a.root_path == b.root_path &&
           a.headers == b.headers && a.client == b.client && a.server == b.server &&
           a.subprotocols == b.subprotocols && a.path_params == b.path_params &&
           a.state.size() == b.state.size() && a.extensions.size() == b.extensions.size() &&
           a.app_state == b.app_state;
}

std::vector<header_field> without_host(const tessera::headers& h) {
    std::vector<header_field> out;
    for (const auto& f : h) {
        if (f.name != "host") out.push_back(f);
    }
    return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0) return 0;
    const std::uint8_t config = data[0];
    std::string_view rest(reinterpret_cast<const char*>(data) + 1, size - 1);
    std::vector<std::string_view> lines;
    while (!rest.empty()) {
        const auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        if (line.ends_with('\r')) line.remove_suffix(1);
        lines.push_back(line);
        if (nl == npos) break;
        rest.remove_prefix(nl + 1);
    }

    // The trust list.
    std::vector<std::string> entries;
    switch (config & 3) {
        case 0: break;
        case 1: entries = {"*"}; break;
        case 2:
            entries = {"127.0.0.1", "::1", "10.0.0.0/8", "fd00::/8", "::ffff:192.168.0.0/112"};
            break;
        case 3:
            if (!lines.empty()) {
                entries = split_entries(lines.front());
                lines.erase(lines.begin());
            }
            break;
    }
    const bool nul_entry = std::any_of(entries.begin(), entries.end(), [](const std::string& e) {
        return e.find('\0') != std::string::npos;
    });
    const std::optional<trust_model> model = model_trust(entries);
    std::optional<proxy_trust> built;
    try {
        built.emplace(entries);
    } catch (const std::invalid_argument&) {
    }
    if (!nul_entry) {
        check(built.has_value() == model.has_value());
    }
    if (!built) return 0;
    const proxy_trust& trust = *built;
    check(trust.trusts_everyone() ==
          std::any_of(entries.begin(), entries.end(),
                      [](const std::string& e) { return trim(e) == "*"; }));
    for (const auto& e : entries) {
        // An accepted entry trusts its own address.
        const std::string_view text = trim(e);
        if (text != "*" && text.find('\0') == npos)
            check(trust.trusts(text.substr(0, text.find('/'))));
    }
    const auto trust_agrees = [&](std::string_view host) {
        if (model && !nul_entry && host.find('\0') == npos)
            check(trust.trusts(host) == model->trusts(host));
    };

    // The scope.
    static constexpr std::string_view peers[] = {"",         "127.0.0.1",       "::1",
                                                 "10.1.2.3", "::ffff:10.1.2.3", "192.168.0.9",
                                                 "fd00::7",  "198.51.100.9"};
    scope s;
    s.type = (config & 0x20) != 0 ? scope_type::websocket : scope_type::http;
    const bool secure = (config & 0x40) != 0;
    s.scheme =
        s.type == scope_type::websocket ? (secure ? "wss" : "ws") : (secure ? "https" : "http");
    s.path = s.raw_path = "/p";
    s.query_string = "a=1";
    s.server = address{"10.0.0.1", 8000};
    if (s.type == scope_type::websocket) s.subprotocols = {"chat"};
    if (const auto peer = peers[(config >> 2) & 7]; !peer.empty()) {
        s.client = address{std::string(peer), 50000};
    }
    std::vector<header_field> fields;
    if ((config & 0x80) != 0) fields.push_back({"host", "internal:8000"});
    for (const auto line : lines) {
        const auto colon = line.find(':');
        const std::string name = field_name(line.substr(0, colon));
        if (name.empty()) continue;
        fields.push_back(
            {name, std::string(colon == npos ? std::string_view{} : trim(line.substr(colon + 1)))});
    }
    s.headers = tessera::headers(std::move(fields));

    const scope before = s;
    tessera::apply_proxy_headers(trust, s);

    // Without a proxy header, or from an untrusted peer, nothing changes.
    const bool proxied = std::any_of(
        before.headers.begin(), before.headers.end(),
        [](const auto& f) { return f.name == "forwarded" || f.name.starts_with("x-forwarded-"); });
    if (before.client) trust_agrees(before.client->host);
    const bool trusted =
        before.client ? trust.trusts(before.client->host) : trust.trusts_everyone();
    if (!proxied || !trusted) {
        check(same_scope(s, before));
        return 0;
    }

    const expectation x = expect(before, trust);
    for (const auto& host : x.queried) trust_agrees(host);

    // Only client, scheme and the host field may change.
    {
        scope rest_of_it = s;
        rest_of_it.client = before.client;
        rest_of_it.scheme = before.scheme;
        rest_of_it.headers = before.headers;
        check(same_scope(rest_of_it, before));
    }
    check(without_host(s.headers) == without_host(before.headers));

    const auto sources = [&](std::initializer_list<std::string_view> names) {
        std::vector<std::string_view> out;
        for (const auto name : names) {
            for (const auto v : before.headers.get_all(name)) out.push_back(v);
        }
        return out;
    };
    const auto made_of = [](std::string_view value, const std::vector<std::string_view>& from) {
        return std::any_of(from.begin(), from.end(),
                           [&](std::string_view v) { return subsequence(value, v); });
    };
    const auto clean = [](const std::vector<std::string_view>& from) {
        return std::none_of(from.begin(), from.end(), has_ctl);
    };

    // The scheme stays one the scope type allows, and changes only on a proto.
    if (s.type == scope_type::websocket) {
        check(s.scheme == "ws" || s.scheme == "wss");
    } else {
        check(s.scheme == "http" || s.scheme == "https");
    }
    if (s.scheme != before.scheme) {
        check(!sources({"x-forwarded-proto"}).empty() ||
              std::any_of(before.headers.begin(), before.headers.end(), [](const auto& f) {
                  return f.name == "forwarded" && lower(f.value).find("proto") != npos;
              }));
    }

    // A rewritten host field is one field, taken from a proxy header.
    const auto host_values = s.headers.get_all("host");
    const bool host_changed = host_values != before.headers.get_all("host");
    if (host_changed) {
        check(host_values.size() == 1);
        const std::string_view host = host_values.front();
        const auto from = sources({"forwarded", "x-forwarded-host"});
        // (Not necessarily trimmed: a quoted `host=" a "` keeps its spaces, as RFC 7239 reads.)
        check(!host.empty());
        check(made_of(host, from));
        check(host_chars(host));
        // It stands where the first host field stood (at the end when there was none).
        const auto& f = s.headers.fields();
        const auto& b = before.headers.fields();
        const auto first = [](const std::vector<header_field>& v) {
            return std::find_if(v.begin(), v.end(),
                                [](const auto& x) { return x.name == "host"; }) -
                   v.begin();
        };
        check(first(f) == (first(b) == static_cast<std::ptrdiff_t>(b.size())
                               ? static_cast<std::ptrdiff_t>(f.size()) - 1
                               : first(b)));
    }

    // A new client comes from a proxy header.
    if (s.client != before.client) {
        check(s.client.has_value());
        const auto from = sources({"forwarded", "x-forwarded-for"});
        check(made_of(s.client->host, from));
        if (clean(from)) check(!has_ctl(s.client->host));
        const std::string text = s.client->to_string();
        const bool v6 = s.client->host.find(':') != npos && !s.client->host.starts_with('[');
        check(text == (v6 ? "[" + s.client->host + "]" : s.client->host) + ":" +
                          std::to_string(s.client->port));
        // An empty node (`for="[]"`) leaves nothing usable; the peer stays, as in uvicorn.
        check(!s.client->host.empty());
    }

    // Well-formed headers: exactly the documented result.
    if (!x.exact) return 0;
    check(s.scheme == x.scheme);
    if (x.host) {
        check(host_values.size() == 1 && host_values.front() == *x.host);
    } else {
        check(!host_changed);
    }
    check(s.client.has_value() == x.client.has_value());
    if (x.client) {
        check(s.client->host == x.client->host);
        if (x.client_port_known) check(s.client->port == x.client->port);
    }
    return 0;
}
