#include "tessera/url.hpp"

#include <algorithm>
#include <stdexcept>

namespace tessera {
namespace {

constexpr bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
constexpr bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }
constexpr bool is_hex(char c) noexcept {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}
constexpr bool is_scheme_char(char c) noexcept {
    return is_alpha(c) || is_digit(c) || c == '+' || c == '-' || c == '.';
}
constexpr char lower(char c) noexcept {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

[[noreturn]] void invalid(const char* what, std::string_view text) {
    throw std::invalid_argument(std::string(what) + ": '" + std::string(text) + "'");
}

// Dotted-quad IPv4 as Python's ipaddress accepts it: four decimal octets, no leading zeros.
bool valid_ipv4(std::string_view s) noexcept {
    int octets = 0;
    while (true) {
        std::size_t n = 0;
        int value = 0;
        while (n < s.size() && is_digit(s[n]) && n < 4) value = value * 10 + (s[n++] - '0');
        if (n == 0 || n > 3 || value > 255 || (n > 1 && s[0] == '0')) return false;
        ++octets;
        s.remove_prefix(n);
        if (s.empty()) return octets == 4;
        if (s.front() != '.' || octets == 4) return false;
        s.remove_prefix(1);
    }
}

// An IPv6 literal (RFC 4291 text form, optional trailing IPv4 and `%zone`), the forms Python's
// ipaddress.ip_address accepts as IPv6.
bool valid_ipv6(std::string_view s) noexcept {
    if (const std::size_t pct = s.find('%'); pct != std::string_view::npos) {
        const std::string_view zone = s.substr(pct + 1);
        if (zone.empty() || zone.find('%') != std::string_view::npos) return false;
        s = s.substr(0, pct);
    }
    if (s.empty()) return false;
    int groups = 0;
    bool compressed = false;
    std::size_t i = 0;
    if (s.starts_with("::")) {
        compressed = true;
        i = 2;
        if (i == s.size()) return true;
    } else if (s.front() == ':') {
        return false;
    }
    while (true) {
        std::size_t j = i;
        while (j < s.size() && is_hex(s[j])) ++j;
        if (j < s.size() && s[j] == '.') {
            // An embedded IPv4 address ends the literal and stands for two groups.
            if (!valid_ipv4(s.substr(i))) return false;
            groups += 2;
            break;
        }
        if (j == i || j - i > 4) return false;
        ++groups;
        if (j == s.size()) break;
        if (s[j] != ':') return false;
        if (j + 1 < s.size() && s[j + 1] == ':') {
            if (compressed) return false;
            compressed = true;
            i = j + 2;
            if (i == s.size()) break;
        } else {
            i = j + 1;
            if (i == s.size()) return false;  // a single trailing colon
        }
    }
    return compressed ? groups <= 7 : groups == 8;
}

// What may sit between brackets: IPv6, or IPvFuture (`v<hex>.<anything>`).
bool valid_bracketed_host(std::string_view h) noexcept {
    if (h.starts_with('v')) {
        std::size_t i = 1;
        while (i < h.size() && is_hex(h[i])) ++i;
        return i > 1 && i < h.size() && h[i] == '.' && i + 1 < h.size();
    }
    return valid_ipv6(h);
}

// Python's urlunsplit (3.12 rules, which keep an empty-netloc `//path` from turning into a
// netloc on re-parse).
std::string unsplit(std::string_view scheme, std::string_view netloc, std::string_view path,
                    std::string_view query, std::string_view fragment) {
    static constexpr std::string_view uses_netloc[] = {
        "",     "ftp",      "http",  "gopher", "nntp",  "telnet",  "imap",    "wais",
        "file", "mms",      "https", "shttp",  "snews", "prospero", "rtsp",   "rtsps",
        "rtspu", "rsync",   "svn",   "svn+ssh", "sftp", "nfs",     "git",     "git+ssh",
        "ws",   "wss",      "itms-services"};
    std::string out;
    out.reserve(scheme.size() + netloc.size() + path.size() + query.size() + fragment.size() + 6);
    if (!scheme.empty()) {
        out += scheme;
        out += ':';
    }
    if (!netloc.empty()) {
        out += "//";
        out += netloc;
        if (!path.empty() && path.front() != '/') out += '/';
    } else if (path.starts_with("//")) {
        out += "//";
    } else if (!scheme.empty() && (path.empty() || path.front() == '/') &&
               std::find(std::begin(uses_netloc), std::end(uses_netloc), scheme) !=
                   std::end(uses_netloc)) {
        out += "//";
    }
    out += path;
    if (!query.empty()) {
        out += '?';
        out += query;
    }
    if (!fragment.empty()) {
        out += '#';
        out += fragment;
    }
    return out;
}

}  // namespace

url::url(std::string text) : text_(std::move(text)) {
    // urlsplit strips leading C0 controls and spaces and removes tabs and newlines anywhere
    // (WHATWG); do it once here so the stored offsets stay valid.
    std::size_t lead = 0;
    while (lead < text_.size() && static_cast<unsigned char>(text_[lead]) <= 0x20) ++lead;
    text_.erase(0, lead);
    if (text_.find_first_of("\t\r\n") != std::string::npos) {
        std::erase_if(text_, [](char c) { return c == '\t' || c == '\r' || c == '\n'; });
    }
    parse();
}

void url::parse() {
    const std::string_view t = text_;
    std::size_t pos = 0;

    if (const std::size_t colon = t.find(':');
        colon != std::string_view::npos && colon > 0 && is_alpha(t[0]) &&
        std::all_of(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(colon), is_scheme_char)) {
        scheme_.assign(t.substr(0, colon));
        for (char& c : scheme_) c = lower(c);
        pos = colon + 1;
    }

    if (t.substr(pos).starts_with("//")) {
        const std::size_t start = pos + 2;
        std::size_t end = t.find_first_of("/?#", start);
        if (end == std::string_view::npos) end = t.size();
        netloc_ = {start, end - start};
        pos = end;
    }

    // The fragment is split off before the query, so a `?` after `#` belongs to the fragment.
    std::size_t rest_end = t.size();
    if (const std::size_t hash = t.find('#', pos); hash != std::string_view::npos) {
        fragment_ = {hash + 1, t.size() - hash - 1};
        rest_end = hash;
    }
    const std::size_t question = t.substr(0, rest_end).find('?', pos);
    if (question != std::string_view::npos) {
        query_ = {question + 1, rest_end - question - 1};
        rest_end = question;
    }
    path_ = {pos, rest_end - pos};

    // Netloc pieces, mirroring SplitResult's _userinfo / _hostinfo.
    const std::string_view netloc = view(netloc_);
    if (netloc.empty()) return;
    const std::size_t at = netloc.rfind('@');
    std::size_t host_start = netloc_.pos;
    if (at != std::string_view::npos) {
        const std::string_view userinfo = netloc.substr(0, at);
        const std::size_t colon = userinfo.find(':');
        has_username_ = true;
        username_ = {netloc_.pos, std::min(colon, userinfo.size())};
        if (colon != std::string_view::npos) {
            has_password_ = true;
            password_ = {netloc_.pos + colon + 1, userinfo.size() - colon - 1};
        }
        host_start = netloc_.pos + at + 1;
    }
    const std::string_view hostinfo = t.substr(host_start, netloc_.pos + netloc_.len - host_start);

    const bool has_open = netloc.find('[') != std::string_view::npos;
    const bool has_close = netloc.find(']') != std::string_view::npos;
    if (has_open != has_close) invalid("invalid IPv6 URL", text_);

    std::string_view port_text;
    if (has_open) {
        // Brackets must enclose the whole host: nothing before `[`, only `:port` after `]`.
        const std::size_t open = hostinfo.find('[');
        const std::size_t close = hostinfo.find(']');
        if (open != 0 || close == std::string_view::npos || close < open) {
            invalid("invalid IPv6 URL", text_);
        }
        const std::string_view after = hostinfo.substr(close + 1);
        if (!after.empty() && after.front() != ':') invalid("invalid IPv6 URL", text_);
        const std::string_view bracketed = hostinfo.substr(1, close - 1);
        if (!valid_bracketed_host(bracketed)) invalid("invalid IPv6 URL", text_);
        host_ = {host_start + 1, bracketed.size()};
        if (!after.empty()) port_text = after.substr(1);
    } else {
        const std::size_t colon = hostinfo.find(':');
        host_ = {host_start, std::min(colon, hostinfo.size())};
        if (colon != std::string_view::npos) port_text = hostinfo.substr(colon + 1);
    }

    if (!port_text.empty()) {
        unsigned long value = 0;
        for (const char c : port_text) {
            if (!is_digit(c)) invalid("port is not a number", text_);
            value = value * 10 + static_cast<unsigned long>(c - '0');
            if (value > 65535) invalid("port out of range 0-65535", text_);
        }
        port_ = static_cast<std::uint16_t>(value);
    }
}

std::optional<std::string_view> url::username() const noexcept {
    if (!has_username_) return std::nullopt;
    return view(username_);
}

std::optional<std::string_view> url::password() const noexcept {
    if (!has_password_) return std::nullopt;
    return view(password_);
}

std::string url::hostname() const {
    std::string host(view(host_));
    // A zone id (fe80::1%eth0) is an interface name, which is case-sensitive.
    const std::size_t end = std::min(host.find('%'), host.size());
    for (std::size_t i = 0; i < end; ++i) host[i] = lower(host[i]);
    return host;
}

url url::from_parts(std::string_view scheme, std::string_view host, std::string_view path,
                    std::string_view query_string) {
    std::string text;
    text.reserve(scheme.size() + 3 + host.size() + path.size() + 1 + query_string.size());
    if (!host.empty()) {
        text += scheme;
        text += "://";
        text += host;
    }
    text += path;
    if (!query_string.empty()) {
        text += '?';
        text += query_string;
    }
    return url(std::move(text));
}

url url::from_parts(std::string_view scheme, std::optional<std::string_view> host_header,
                    const std::optional<address>& server, std::string_view path,
                    std::string_view query_string) {
    if (host_header) return from_parts(scheme, *host_header, path, query_string);
    if (!server) return from_parts(scheme, std::string_view{}, path, query_string);
    const std::uint16_t default_port =
        (scheme == "https" || scheme == "wss") ? 443 : (scheme == "http" || scheme == "ws") ? 80 : 0;
    if (server->port == default_port) {
        // Brackets for IPv6 as address::to_string does; Starlette omits them, producing a URL
        // that does not parse back.
        const bool bracket = server->host.find(':') != std::string::npos &&
                             !server->host.starts_with('[');
        std::string host = bracket ? "[" + server->host + "]" : server->host;
        return from_parts(scheme, host, path, query_string);
    }
    return from_parts(scheme, server->to_string(), path, query_string);
}

url url::replace(const components& changes) const {
    std::string rebuilt_netloc;
    const bool rebuild = changes.hostname || changes.port || changes.username ||
                         changes.password || changes.remove_port;
    if (rebuild) {
        const url base = changes.netloc ? url("//" + *changes.netloc) : url();
        const url& from = changes.netloc ? base : *this;

        std::string host;
        if (changes.hostname) {
            host = *changes.hostname;
            if (host.find(':') != std::string::npos && !host.starts_with('[')) host = "[" + host + "]";
        } else {
            // As Starlette: the host as written (case kept), brackets included, port cut off.
            std::string_view hostinfo = from.netloc();
            if (const std::size_t at = hostinfo.rfind('@'); at != std::string_view::npos) {
                hostinfo.remove_prefix(at + 1);
            }
            if (!hostinfo.ends_with(']')) {
                if (const std::size_t colon = hostinfo.rfind(':'); colon != std::string_view::npos) {
                    hostinfo = hostinfo.substr(0, colon);
                }
            }
            host = hostinfo;
        }
        const std::optional<std::uint16_t> port =
            changes.remove_port ? std::nullopt : changes.port ? changes.port : from.port();
        std::optional<std::string> user = changes.username;
        if (!user && from.username()) user = std::string(*from.username());
        std::optional<std::string> pass = changes.password;
        if (!pass && from.password()) pass = std::string(*from.password());

        if (user) {
            rebuilt_netloc += *user;
            if (pass) {
                rebuilt_netloc += ':';
                rebuilt_netloc += *pass;
            }
            rebuilt_netloc += '@';
        }
        rebuilt_netloc += host;
        if (port) {
            rebuilt_netloc += ':';
            rebuilt_netloc += std::to_string(*port);
        }
    }

    const auto pick = [](const std::optional<std::string>& changed, std::string_view current) {
        return changed ? std::string_view(*changed) : current;
    };
    const std::string_view netloc =
        rebuild ? std::string_view(rebuilt_netloc) : pick(changes.netloc, this->netloc());
    return url(unsplit(pick(changes.scheme, scheme()), netloc, pick(changes.path, path()),
                       pick(changes.query, query()), pick(changes.fragment, fragment())));
}

url url::include_query_params(
    std::initializer_list<std::pair<std::string_view, std::string_view>> params) const {
    // MultiDict.update semantics: drop existing pairs whose key is being set, append the new.
    const query_params current(query());
    std::vector<query_params::value_type> merged;
    merged.reserve(current.size() + params.size());
    for (const auto& item : current) {
        const bool replaced = std::any_of(params.begin(), params.end(),
                                          [&](const auto& p) { return p.first == item.first; });
        if (!replaced) merged.push_back(item);
    }
    for (const auto& [key, value] : params) merged.emplace_back(std::string(key), std::string(value));
    return replace({.query = query_params(std::move(merged)).str()});
}

url url::replace_query_params(
    std::initializer_list<std::pair<std::string_view, std::string_view>> params) const {
    return replace_query_params(query_params(params));
}

url url::replace_query_params(const query_params& params) const {
    return replace({.query = params.str()});
}

url url::remove_query_params(std::initializer_list<std::string_view> keys) const {
    query_params params(query());
    for (const std::string_view key : keys) params.remove(key);
    return replace({.query = params.str()});
}

}  // namespace tessera
