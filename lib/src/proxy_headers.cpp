#include "tessera/proxy_headers.hpp"

#include "tessera/http1_parser.hpp"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <utility>

namespace tessera {

namespace {
struct parsed_ip {
    std::array<std::uint8_t, 16> bytes{};
    bool v6 = false;
};

// The 12-byte prefix of an IPv4-mapped IPv6 address (::ffff:a.b.c.d, RFC 4291 §2.5.5.2).
constexpr std::array<std::uint8_t, 12> v4_mapped_prefix{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

bool is_v4_mapped(const std::array<std::uint8_t, 16>& bytes) noexcept {
    return std::equal(v4_mapped_prefix.begin(), v4_mapped_prefix.end(), bytes.begin());
}

// An address in text form. An IPv4-mapped IPv6 address is the IPv4 address it carries: a
// dual-stack listener reports IPv4 peers as ::ffff:127.0.0.1, and they must match the IPv4
// entries ("127.0.0.1", "10.0.0.0/8") of a trust list. `mapped_form`, when given, is set when
// the text was in mapped form (a CIDR length written after it counts the 96 prefix bits).
std::optional<parsed_ip> parse_ip(std::string_view text, bool* mapped_form = nullptr) {
    // inet_pton wants a terminated string; the longest address text is 45 characters. An
    // embedded NUL would end the address early ("10.0.0.1\0junk" read as 10.0.0.1): refused.
    char copy[64];
    if (text.empty() || text.size() >= sizeof copy ||
        text.find('\0') != std::string_view::npos) {
        return std::nullopt;
    }
    std::memcpy(copy, text.data(), text.size());
    copy[text.size()] = '\0';
    parsed_ip out;
    if (::inet_pton(AF_INET, copy, out.bytes.data()) == 1) return out;
    if (::inet_pton(AF_INET6, copy, out.bytes.data()) != 1) return std::nullopt;
    if (is_v4_mapped(out.bytes)) {
        std::memmove(out.bytes.data(), out.bytes.data() + 12, 4);
        std::fill(out.bytes.begin() + 4, out.bytes.end(), std::uint8_t{0});
        if (mapped_form) *mapped_form = true;
        return out;
    }
    out.v6 = true;
    return out;
}

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// The next part of `value` up to `delimiter`; removes it and the delimiter from `value`. With
// `honour_quotes`, a delimiter inside a quoted-string does not count (RFC 9110 §5.6.4: a quoted
// `host="a;for=1.2.3.4"` is one value, not two parameters); an unterminated quote runs to the end.
std::string_view next_part(std::string_view& value, char delimiter, bool honour_quotes) noexcept {
    bool quoted = false;
    for (std::size_t i = 0; i < value.size(); ++i) {
        const char c = value[i];
        if (quoted && c == '\\') {
            ++i;
        } else if (c == '"' && honour_quotes) {
            quoted = !quoted;
        } else if (!quoted && c == delimiter) {
            const auto part = value.substr(0, i);
            value.remove_prefix(i + 1);
            return part;
        }
    }
    return std::exchange(value, std::string_view{});
}

// Every non-empty trimmed item of every line of field `name`, in order: several lines are one
// comma-joined list (RFC 9110 §5.3). Reading only the first line let a client's own
// X-Forwarded-For line win over the one a proxy appends after it. `honour_quotes`: commas
// inside quoted strings do not separate (Forwarded); X-Forwarded-* have no quoting, and are
// split at every comma as uvicorn splits them.
std::vector<std::string_view> list_items(const headers& h, std::string_view name,
                                         bool honour_quotes) {
    std::vector<std::string_view> items;
    for (auto value : h.get_all(name)) {
        while (!value.empty()) {
            const auto item = trim(next_part(value, ',', honour_quotes));
            if (!item.empty()) items.push_back(item);
        }
    }
    return items;
}

std::string unquote(std::string_view v) {
    v = trim(v);
    if (v.size() >= 2 && v.front() == '"' && v.back() == '"') {
        std::string out;
        for (std::size_t i = 1; i + 1 < v.size(); ++i) {
            if (v[i] == '\\' && i + 2 < v.size()) ++i;
            out.push_back(v[i]);
        }
        return out;
    }
    return std::string(v);
}

// A `for=` node ("192.0.2.1", "192.0.2.1:80", "[2001:db8::1]:443", "unknown", "_hidden") as
// host and port.
address node_address(std::string_view node) {
    address out;
    if (!node.empty() && node.front() == '[') {
        const auto close = node.find(']');
        out.host = std::string(node.substr(1, close == std::string_view::npos ? node.npos : close - 1));
        if (close != std::string_view::npos && close + 1 < node.size() && node[close + 1] == ':') {
            std::from_chars(node.data() + close + 2, node.data() + node.size(), out.port);
        }
        return out;
    }
    const auto colon = node.find(':');
    if (colon != std::string_view::npos && node.find(':', colon + 1) == std::string_view::npos) {
        out.host = std::string(node.substr(0, colon));
        std::from_chars(node.data() + colon + 1, node.data() + node.size(), out.port);
        return out;
    }
    out.host = std::string(node);
    return out;
}

struct forwarded_element {
    std::string for_node, proto, host;
};

std::vector<forwarded_element> parse_forwarded(const headers& h) {
    std::vector<forwarded_element> elements;
    for (const auto element : list_items(h, "forwarded", true)) {
        forwarded_element parsed;
        std::string_view rest = element;
        while (!rest.empty()) {
            const auto pair = trim(next_part(rest, ';', true));
            const auto eq = pair.find('=');  // the key is a token: no quote before it
            if (eq == std::string_view::npos) continue;
            const auto key = to_lower_ascii(trim(pair.substr(0, eq)));
            auto val = unquote(pair.substr(eq + 1));
            if (key == "for") parsed.for_node = std::move(val);
            else if (key == "proto") parsed.proto = to_lower_ascii(val);
            else if (key == "host") parsed.host = std::move(val);
        }
        elements.push_back(std::move(parsed));
    }
    return elements;
}

void set_scheme(scope& s, std::string_view proto) {
    const bool secure = proto == "https" || proto == "wss";
    if (proto != "http" && proto != "https" && proto != "ws" && proto != "wss") return;
    if (s.type == scope_type::websocket) {
        s.scheme = secure ? "wss" : "ws";
    } else {
        s.scheme = secure ? "https" : "http";
    }
}
}  // namespace

proxy_trust::proxy_trust(const std::vector<std::string>& entries) {
    for (const auto& entry : entries) {
        const auto text = trim(entry);
        if (text == "*") {
            everyone_ = true;
            continue;
        }
        const auto slash = text.find('/');
        bool mapped = false;
        const auto ip = parse_ip(text.substr(0, slash), &mapped);
        if (!ip) throw std::invalid_argument("proxy trust: not an IP address or CIDR: " + entry);
        network net{ip->bytes, ip->v6, ip->v6 ? 128 : 32};
        if (slash != std::string_view::npos) {
            int prefix = -1;
            const auto digits = text.substr(slash + 1);
            // from_chars takes a sign: "/-0" would pass as a prefix of 0, trusting everyone.
            const bool unsigned_digits =
                !digits.empty() && digits.front() >= '0' && digits.front() <= '9';
            auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), prefix);
            // A mapped entry's length counts the 96 bits of its ::ffff: prefix.
            const int max_prefix = mapped ? 128 : net.prefix;
            if (!unsigned_digits || ec != std::errc{} || end != digits.data() + digits.size() ||
                prefix > max_prefix) {
                throw std::invalid_argument("proxy trust: bad prefix length: " + entry);
            }
            if (mapped && prefix < 96) {
                // Wider than ::ffff:0:0/96 it would cover real IPv6 addresses while mapped
                // peers are matched in IPv4 form: ambiguous, so refused.
                throw std::invalid_argument(
                    "proxy trust: an IPv4-mapped range needs a prefix of at least 96: " + entry);
            }
            net.prefix = mapped ? prefix - 96 : prefix;
        }
        networks_.push_back(net);
    }
}

bool proxy_trust::trusts(std::string_view host) const noexcept {
    if (everyone_) return true;
    const auto ip = parse_ip(host);
    if (!ip) return false;
    for (const auto& net : networks_) {
        if (net.v6 != ip->v6) continue;
        int bits = net.prefix;
        bool match = true;
        for (std::size_t i = 0; bits > 0; ++i, bits -= 8) {
            const std::uint8_t mask = bits >= 8 ? 0xff : static_cast<std::uint8_t>(0xff << (8 - bits));
            if ((net.bytes[i] & mask) != (ip->bytes[i] & mask)) {
                match = false;
                break;
            }
        }
        if (match) return true;
    }
    return false;
}

namespace {
// One pass over the (lower-case) names: most requests carry no proxy header, and then neither
// the trust check (an address parse) nor the four lookups below are worth doing.
bool has_proxy_header(const headers& h) noexcept {
    for (const auto& field : h) {
        const std::string_view name = field.name;
        if (name == "forwarded" || name.starts_with("x-forwarded-")) return true;
    }
    return false;
}
}  // namespace

void apply_proxy_headers(const proxy_trust& trust, scope& s) {
    if (!has_proxy_header(s.headers)) return;
    // A peer without an address (a Unix socket) is trusted only by "*", as in uvicorn.
    if (s.client ? !trust.trusts(s.client->host) : !trust.trusts_everyone()) return;
    const auto forwarded = parse_forwarded(s.headers);
    if (!forwarded.empty()) {
        // The nearest hop (from the right) that is not a trusted proxy is the client.
        std::size_t chosen = 0;
        for (std::size_t i = forwarded.size(); i-- > 0;) {
            chosen = i;
            const auto node = node_address(forwarded[i].for_node);
            if (!trust.trusts(node.host)) break;
        }
        const auto& element = forwarded[chosen];
        // A node without a host (`for=""`, `for="[]:80"`) names nobody: the peer stays.
        if (auto node = node_address(element.for_node); !node.host.empty()) {
            s.client = std::move(node);
        }
        if (!element.proto.empty()) set_scheme(s, element.proto);
        // A quoted host may hold anything a quoted string can (spaces, `"`, `\`): only a value
        // the HTTP parser would have taken as a Host replaces it.
        if (!element.host.empty() && http1::is_host_value(element.host)) {
            s.headers.set("host", element.host);
        }
        return;
    }
    if (const auto hops = list_items(s.headers, "x-forwarded-for", false); !hops.empty()) {
        std::string_view chosen = hops.front();
        for (std::size_t i = hops.size(); i-- > 0;) {
            chosen = hops[i];
            if (!trust.trusts(hops[i])) break;
        }
        s.client = address{std::string(chosen), 0};
    }
    if (const auto items = list_items(s.headers, "x-forwarded-proto", false); !items.empty()) {
        set_scheme(s, to_lower_ascii(items.back()));
    }
    if (const auto items = list_items(s.headers, "x-forwarded-host", false);
        !items.empty() && http1::is_host_value(items.back())) {
        s.headers.set("host", items.back());
    }
}

}  // namespace tessera
