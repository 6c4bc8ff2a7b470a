#include "tessera/ws/handshake.hpp"

#include <array>
#include <cstdint>
#include <random>

#include <openssl/rand.h>
#include <openssl/sha.h>

namespace tessera::ws {
namespace {

constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

constexpr std::array<std::int8_t, 256> make_decode_table() {
    std::array<std::int8_t, 256> t{};
    t.fill(-1);
    for (std::size_t i = 0; i < alphabet.size(); ++i) {
        t[static_cast<unsigned char>(alphabet[i])] = static_cast<std::int8_t>(i);
    }
    return t;
}
constexpr auto decode_table = make_decode_table();

bool is_ows(char c) noexcept { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// Calls fn(element) for each trimmed, non-empty element of a comma-separated list.
template <class Fn>
void for_each_element(std::string_view list, Fn&& fn) {
    while (true) {
        const std::size_t comma = list.find(',');
        const std::string_view element = trim(list.substr(0, comma));
        if (!element.empty()) fn(element);
        if (comma == std::string_view::npos) return;
        list.remove_prefix(comma + 1);
    }
}

// Some field named `name` lists `token` (case-insensitively).
bool lists_token(const headers& fields, std::string_view name, std::string_view token) {
    bool found = false;
    for (const auto& f : fields) {
        if (found || f.name != name) continue;
        for_each_element(f.value, [&](std::string_view e) { found = found || iequals(e, token); });
    }
    return found;
}

// HTTP/1.1 or later: "1.1", "1.2", "2", "3"… but not "1.0" or "0.9".
bool at_least_http11(std::string_view version) noexcept {
    if (version.empty() || version.front() < '1' || version.front() > '9') return false;
    if (version.front() > '1') return true;
    return version.size() >= 3 && version[1] == '.' && version.substr(2) != "0";
}

handshake_request reject(handshake_status status, std::string_view reason) {
    handshake_request r;
    r.status = status;
    r.reason = reason;
    return r;
}

}  // namespace

int handshake_request::http_status() const noexcept {
    switch (status) {
        case handshake_status::bad_request: return 400;
        case handshake_status::upgrade_required: return 426;
        default: return 0;
    }
}

handshake_request validate_handshake(std::string_view method, std::string_view http_version,
                                     const headers& fields) {
    if (!lists_token(fields, "upgrade", "websocket")) {
        return reject(handshake_status::not_websocket, "no Upgrade: websocket");
    }
    if (method != "GET") return reject(handshake_status::bad_request, "method is not GET");
    if (!at_least_http11(http_version)) {
        return reject(handshake_status::bad_request, "HTTP version below 1.1");
    }
    if (!lists_token(fields, "connection", "upgrade")) {
        return reject(handshake_status::bad_request, "Connection does not list upgrade");
    }
    // The version before the key: a client speaking an older draft learns what we speak
    // from the 426 even when its other fields differ.
    std::string_view version, key;
    std::size_t versions = 0, keys = 0;
    for (const auto& f : fields) {
        if (f.name == "sec-websocket-version") {
            ++versions;
            version = trim(f.value);
        } else if (f.name == "sec-websocket-key") {
            ++keys;
            key = trim(f.value);
        }
    }
    if (versions != 1 || version != supported_version) {
        return reject(handshake_status::upgrade_required, "unsupported Sec-WebSocket-Version");
    }
    if (keys != 1) {
        return reject(handshake_status::bad_request,
                      keys == 0 ? "missing Sec-WebSocket-Key" : "duplicate Sec-WebSocket-Key");
    }
    const auto decoded = base64_decode(key);
    if (!decoded || decoded->size() != 16) {
        return reject(handshake_status::bad_request, "Sec-WebSocket-Key is not 16 bytes base64");
    }

    handshake_request r;
    r.status = handshake_status::ok;
    r.key = key;
    for (const auto& f : fields) {
        if (f.name == "sec-websocket-protocol") {
            for_each_element(f.value, [&](std::string_view e) { r.subprotocols.emplace_back(e); });
        } else if (f.name == "sec-websocket-extensions") {
            r.extensions.push_back(f.value);
        }
    }
    return r;
}

std::string accept_key(std::string_view key) {
    std::string input;
    input.reserve(key.size() + guid.size());
    input.append(key).append(guid);
    std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
    return base64_encode(
        std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

headers accept_headers(std::string_view key, std::string_view subprotocol,
                       std::string_view extensions, const headers& extra) {
    std::vector<header_field> out;
    out.reserve(5 + extra.size());
    out.push_back({"upgrade", "websocket"});
    out.push_back({"connection", "Upgrade"});
    out.push_back({"sec-websocket-accept", accept_key(key)});
    if (!subprotocol.empty()) out.push_back({"sec-websocket-protocol", std::string(subprotocol)});
    if (!extensions.empty()) {
        out.push_back({"sec-websocket-extensions", std::string(extensions)});
    }
    for (const auto& f : extra) {
        // The handshake's own fields are decided here; an app's copy would contradict them.
        if (f.name == "upgrade" || f.name == "connection" || f.name == "sec-websocket-accept" ||
            f.name == "sec-websocket-protocol" || f.name == "sec-websocket-extensions") {
            continue;
        }
        out.push_back(f);
    }
    return headers(std::move(out));
}

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
    std::size_t i = 0;
    for (; i + 3 <= bytes.size(); i += 3) {
        const std::uint32_t v = (std::uint32_t{p[i]} << 16) | (std::uint32_t{p[i + 1]} << 8) |
                                p[i + 2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    const std::size_t rest = bytes.size() - i;
    if (rest != 0) {
        std::uint32_t v = std::uint32_t{p[i]} << 16;
        if (rest == 2) v |= std::uint32_t{p[i + 1]} << 8;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += rest == 2 ? alphabet[(v >> 6) & 63] : '=';
        out += '=';
    }
    return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t padding = 0;
    if (!text.empty() && text.back() == '=') padding = text[text.size() - 2] == '=' ? 2 : 1;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        const bool last = i + 4 == text.size();
        std::uint32_t v = 0;
        for (std::size_t j = 0; j < 4; ++j) {
            const char c = text[i + j];
            if (last && j >= 4 - padding) {
                v <<= 6;  // '=' (checked by position: padding only ends the text)
                continue;
            }
            const std::int8_t d = decode_table[static_cast<unsigned char>(c)];
            if (d < 0) return std::nullopt;
            v = (v << 6) | static_cast<std::uint32_t>(d);
        }
        out += static_cast<char>(v >> 16);
        if (!last || padding < 2) out += static_cast<char>(v >> 8);
        if (!last || padding < 1) out += static_cast<char>(v);
    }
    return out;
}

std::string generate_key() {
    std::array<unsigned char, 16> bytes{};
    if (RAND_bytes(bytes.data(), static_cast<int>(bytes.size())) != 1) {
        // libcrypto's generator failing to seed is near impossible; the OS source is next best.
        std::random_device os;
        for (auto& b : bytes) b = static_cast<unsigned char>(os());
    }
    return base64_encode(std::string_view(reinterpret_cast<const char*>(bytes.data()), 16));
}

bool check_accept_response(int status, const headers& fields, std::string_view key) {
    if (status != 101) return false;
    if (!lists_token(fields, "upgrade", "websocket")) return false;
    if (!lists_token(fields, "connection", "upgrade")) return false;
    const auto accept = fields.get("sec-websocket-accept");
    return accept && trim(*accept) == accept_key(key);
}

}  // namespace tessera::ws
