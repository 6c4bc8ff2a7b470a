// libFuzzer target for the WebSocket opening handshake: validating a client's upgrade request,
// base64, the accept value, the 101 answer's fields, the client's check of that answer, and
// the permessage-deflate negotiation of the client's Sec-WebSocket-Extensions offers.
//
// Build and run: scripts/fuzz (see its `sources` map), or by hand with clang:
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -Ilib/include \
//     tests/fuzz/ws_handshake_fuzz.cpp lib/src/ws_handshake.cpp lib/src/ws_deflate.cpp \
//     lib/src/headers.cpp -lz -lcrypto -o fuzz
//   cp -r tests/fuzz/corpus/ws_handshake /tmp/corpus && ./fuzz -max_total_time=60 /tmp/corpus
//
// Input layout: four configuration bytes, then header field lines.
//   byte 0: bits 0-2 the method, bits 3-5 the HTTP version (tables below), bits 6-7 the status
//           given to check_accept_response with the fields read as a server's answer.
//   byte 1: the server's deflate_options: bit 0 set disables it, bits 1 and 2 its
//           server_ and client_no_context_takeover, bits 3-5 its server_max_window_bits
//           (15 minus the value); bits 6 and 7 the client's server_ and
//           client_no_context_takeover (the client's options build deflate_offer).
//   byte 2: bits 0-2 the server's client_max_window_bits, bits 3-5 the client's
//           server_max_window_bits (15 minus the value).
//   byte 3: bits 0-2 the client's client_max_window_bits (15 minus the value), bits 3-7 pick
//           the subprotocol the app chooses (0: none, k: the k-th offered, modulo).
//   rest:   lines split on '\n' (a trailing '\r' dropped), "name: value" (whitespace after the
//           colon skipped, the name lower-cased as parsers produce it); lines without a colon
//           are ignored.
//
// Besides memory safety (the sanitizers), it checks the documented contracts:
// - base64: decode(encode(x)) == x for any bytes; encode agrees with libcrypto; decode agrees
//   with a reference decoder, and succeeds only on a multiple of 4 characters from the
//   alphabet with at most two '=' at the very end; re-encoding what it decoded gives the
//   input back except for the padding bits of the last character.
// - validate_handshake: the status is the one the documented rules give (a model built on
//   headers' list_has_token); http_status() is 0/0/400/426 for ok/not_websocket/bad_request/
//   upgrade_required; the reason is empty exactly when ok; ok means one key of 24 characters
//   decoding to 16 bytes, trimmed and viewing into that field's value; subprotocols are every
//   comma-list entry of every Sec-WebSocket-Protocol field, trimmed, none empty; extensions
//   view exactly the Sec-WebSocket-Extensions values, in order; nothing is reported unless ok.
// - accept_key equals base64(SHA-1(key + GUID)) computed with libcrypto.
// - accept_headers: the three fixed fields, then the chosen subprotocol and extension, then
//   the extras without the handshake's own names, in order; no CR, LF or NUL appears unless an
//   input had one; check_accept_response accepts it for the same key only, and only with 101;
//   check_accept_response on arbitrary fields matches a model of its documented rule.
// - negotiate_deflate: nothing when disabled; when no offer holds a quote, exactly the
//   agreement a reference negotiation (RFC 7692 §7.1 over a plain split) reaches, and
//   otherwise one whenever a quote-free field lists a bare offer; windows within 8-15 and within
//   the server's options (the client's window 15 when it did not offer a cap); the server's
//   no-context-takeover options always honoured; parameters nobody mentioned keep their
//   defaults; the answer is one `permessage-deflate` element without duplicate parameters,
//   which the library's client reads back as the same parameters and which, offered again,
//   is agreed to unchanged; declined offers do not change the answer to a later field; and
//   the answer to deflate_offer(client) reads back, with that client, as the same parameters.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/evp.h>
#include <openssl/sha.h>

#include "tessera/headers.hpp"
#include "tessera/ws/deflate.hpp"
#include "tessera/ws/handshake.hpp"

namespace {

using tessera::header_field;
using tessera::headers;
using tessera::ws::deflate_agreement;
using tessera::ws::deflate_options;
using tessera::ws::deflate_params;
using tessera::ws::handshake_request;
using tessera::ws::handshake_status;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr std::string_view guid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

constexpr std::array<std::string_view, 8> methods = {"GET",     "POST",    "get",  "HEAD",
                                                     "CONNECT", "OPTIONS", "GET ", ""};
// Versions as `scope::http_version` spells them, and whether each is HTTP/1.1 or later.
constexpr std::array<std::string_view, 8> versions = {"1.1", "1.0", "2",  "3",
                                                      "0.9", "1.2", "",   "2.0"};
constexpr std::array<bool, 8> version_ok = {true, false, true, true, false, true, false, true};
constexpr std::array<int, 4> statuses = {101, 101, 200, 426};

bool is_ows(char c) { return c == ' ' || c == '\t'; }

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

bool clean(std::string_view s) {
    return s.find_first_of(std::string_view("\r\n\0", 3)) == std::string_view::npos;
}

bool inside(std::string_view v, std::string_view storage) {
    return v.data() >= storage.data() && v.data() + v.size() <= storage.data() + storage.size();
}

bool contains_ci(std::string_view haystack, std::string_view lower_needle) {
    return tessera::to_lower_ascii(haystack).find(lower_needle) != std::string::npos;
}

// An independent base64 decoder: a bit accumulator over the text without its padding.
std::optional<std::string> reference_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t pad = 0;
    while (pad < 2 && pad < text.size() && text[text.size() - 1 - pad] == '=') ++pad;
    std::string out;
    std::uint32_t acc = 0;
    int bits = 0;
    for (const char c : text.substr(0, text.size() - pad)) {
        const std::size_t d = alphabet.find(c);
        if (d == std::string_view::npos) return std::nullopt;
        acc = (acc << 6) | static_cast<std::uint32_t>(d);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out += static_cast<char>((acc >> bits) & 0xff);
        }
    }
    return out;
}

std::string reference_encode(std::string_view bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3) + 1, '\0');
    const int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                  reinterpret_cast<const unsigned char*>(bytes.data()),
                                  static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

std::string reference_accept(std::string_view key) {
    const std::string input = std::string(key) + std::string(guid);
    std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
    return reference_encode(
        std::string_view(reinterpret_cast<const char*>(digest.data()), digest.size()));
}

void check_encode(std::string_view bytes) {
    const std::string encoded = tessera::ws::base64_encode(bytes);
    check(encoded == reference_encode(bytes));
    check(tessera::ws::base64_decode(encoded) == std::string(bytes));
}

void check_decode(std::string_view text) {
    const auto decoded = tessera::ws::base64_decode(text);
    check(decoded == reference_decode(text));
    if (!decoded) return;
    check(text.size() % 4 == 0);
    const std::size_t pad = text.size() - std::min(text.find('='), text.size());
    check(pad <= 2);
    for (std::size_t i = 0; i < text.size(); ++i) {
        check(i >= text.size() - pad ? text[i] == '='
                                     : alphabet.find(text[i]) != std::string_view::npos);
    }
    check(decoded->size() == text.size() / 4 * 3 - pad);
    // Canonical re-encoding: the same text, but for the unused low bits of the last
    // character before the padding (RFC 4648 §3.5 lets a decoder accept those).
    const std::string again = tessera::ws::base64_encode(*decoded);
    check(again.size() == text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
        check(again[i] == text[i] || (pad != 0 && i == text.size() - pad - 1));
    }
    check(tessera::ws::base64_decode(again) == decoded);
}

bool lists(const headers& fields, std::string_view name, std::string_view token) {
    for (const std::string_view v : fields.get_all(name)) {
        if (tessera::list_has_token(v, token)) return true;
    }
    return false;
}

// RFC 6455 §4.2.1 as handshake.hpp documents it; the version is checked before the key.
handshake_status expected_status(std::string_view method, bool http11, const headers& fields) {
    if (!lists(fields, "upgrade", "websocket")) return handshake_status::not_websocket;
    if (method != "GET" || !http11 || !lists(fields, "connection", "upgrade")) {
        return handshake_status::bad_request;
    }
    const auto version = fields.get_all("sec-websocket-version");
    if (version.size() != 1 || trim(version[0]) != "13") {
        return handshake_status::upgrade_required;
    }
    const auto key = fields.get_all("sec-websocket-key");
    if (key.size() != 1) return handshake_status::bad_request;
    const auto decoded = reference_decode(trim(key[0]));
    if (!decoded || decoded->size() != 16) return handshake_status::bad_request;
    return handshake_status::ok;
}

void check_handshake(const handshake_request& r, std::string_view method, bool http11,
                     const headers& fields) {
    check(r.status == expected_status(method, http11, fields));
    switch (r.status) {
        case handshake_status::ok:
        case handshake_status::not_websocket: check(r.http_status() == 0); break;
        case handshake_status::bad_request: check(r.http_status() == 400); break;
        case handshake_status::upgrade_required: check(r.http_status() == 426); break;
    }
    check(r.reason.empty() == (r.status == handshake_status::ok));
    if (r.status != handshake_status::ok) {
        check(r.key.empty() && r.subprotocols.empty() && r.extensions.empty());
        return;
    }
    // The key: 16 bytes of base64, trimmed, a view into the one Sec-WebSocket-Key value.
    const auto decoded = tessera::ws::base64_decode(r.key);
    check(decoded && decoded->size() == 16);
    check(r.key.size() == 24 && r.key.ends_with("=="));
    check(trim(r.key) == r.key);
    const auto keys = fields.get_all("sec-websocket-key");
    check(keys.size() == 1 && inside(r.key, keys[0]));

    std::vector<std::string> protocols;
    for (std::string_view v : fields.get_all("sec-websocket-protocol")) {
        while (true) {
            const std::size_t comma = v.find(',');
            const std::string_view entry = trim(v.substr(0, comma));
            if (!entry.empty()) protocols.emplace_back(entry);
            if (comma == std::string_view::npos) break;
            v.remove_prefix(comma + 1);
        }
    }
    check(r.subprotocols == protocols);
    for (const std::string& p : r.subprotocols) {
        check(!p.empty() && !is_ows(p.front()) && !is_ows(p.back()));
        check(p.find(',') == std::string::npos);
    }

    const auto extensions = fields.get_all("sec-websocket-extensions");
    check(r.extensions.size() == extensions.size());
    for (std::size_t i = 0; i < extensions.size(); ++i) {
        check(r.extensions[i].data() == extensions[i].data() &&
              r.extensions[i].size() == extensions[i].size());
    }
}

bool is_handshake_name(std::string_view name) {
    return name == "upgrade" || name == "connection" || name == "sec-websocket-accept" ||
           name == "sec-websocket-protocol" || name == "sec-websocket-extensions";
}

void check_accept(std::string_view key, std::string_view subprotocol,
                  std::string_view extensions, const headers& extra) {
    const std::string accept = tessera::ws::accept_key(key);
    check(accept == reference_accept(key));
    check(accept.size() == 28);

    const headers out = tessera::ws::accept_headers(key, subprotocol, extensions, extra);
    const auto& f = out.fields();
    check(f.size() >= 3);
    check(f[0] == header_field{"upgrade", "websocket"});
    check(f[1] == header_field{"connection", "Upgrade"});
    check(f[2] == header_field{"sec-websocket-accept", accept});
    std::size_t i = 3;
    if (!subprotocol.empty()) {
        check(i < f.size() &&
              f[i++] == header_field{"sec-websocket-protocol", std::string(subprotocol)});
    }
    if (!extensions.empty()) {
        check(i < f.size() &&
              f[i++] == header_field{"sec-websocket-extensions", std::string(extensions)});
    }
    bool inputs_clean = clean(key) && clean(subprotocol) && clean(extensions);
    for (const auto& e : extra) {
        inputs_clean = inputs_clean && clean(e.name) && clean(e.value);
        if (is_handshake_name(e.name)) continue;
        check(i < f.size() && f[i++] == e);
    }
    check(i == f.size());
    if (inputs_clean) {
        for (const auto& g : f) check(clean(g.name) && clean(g.value));
    }

    check(tessera::ws::check_accept_response(101, out, key));
    check(!tessera::ws::check_accept_response(200, out, key));
    check(!tessera::ws::check_accept_response(426, out, key));
    check(!tessera::ws::check_accept_response(101, out, std::string(key) + "A"));
}

// check_accept_response's documented rule, for any fields read as a server's answer.
bool expected_accepted(int status, const headers& fields, std::string_view key) {
    const auto accept = fields.get("sec-websocket-accept");
    return status == 101 && lists(fields, "upgrade", "websocket") &&
           lists(fields, "connection", "upgrade") && accept &&
           trim(*accept) == reference_accept(key);
}

// The answer is one well-formed element: the extension name, then `; name[=value]`
// parameters, none twice.
void check_response_shape(std::string_view response) {
    check(clean(response) && response.find(',') == std::string_view::npos);
    check(response.starts_with("permessage-deflate"));
    std::string_view rest = response.substr(std::string_view("permessage-deflate").size());
    std::vector<std::string_view> names;
    while (!rest.empty()) {
        check(rest.starts_with("; "));
        rest.remove_prefix(2);
        const std::size_t end = std::min(rest.find(';'), rest.size());
        const std::string_view item = rest.substr(0, end);
        const std::string_view name = item.substr(0, std::min(item.find('='), item.size()));
        for (const std::string_view seen : names) check(seen != name);
        names.push_back(name);
        rest.remove_prefix(end);
    }
}

bool is_token(std::string_view s) {
    constexpr std::string_view specials = "!#$%&'*+-.^_`|~";
    for (const char c : s) {
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              specials.find(c) != std::string_view::npos)) {
            return false;
        }
    }
    return !s.empty();
}

// "8" to "15", as RFC 7692 §7.1.2 spells window sizes; 0 otherwise.
int reference_bits(std::string_view v) {
    for (int bits = 8; bits <= 15; ++bits) {
        if (v == std::to_string(bits)) return bits;
    }
    return 0;
}

// The parameters one quote-free `permessage-deflate` element (its `;`-separated parts) asks
// for under `server`, or nullopt when the element is to be declined: RFC 7692 §7.1 and
// deflate.hpp's rules, written over a plain split instead of a scanner.
std::optional<deflate_params> reference_offer(std::string_view element,
                                              const deflate_options& server) {
    std::vector<std::string_view> parts;
    while (true) {
        const std::size_t semi = element.find(';');
        parts.push_back(trim(element.substr(0, semi)));
        if (semi == std::string_view::npos) break;
        element.remove_prefix(semi + 1);
    }
    if (!is_token(parts[0]) || !tessera::iequals(parts[0], "permessage-deflate")) {
        return std::nullopt;
    }
    deflate_params p;
    p.server_no_context_takeover = server.server_no_context_takeover;
    p.client_no_context_takeover = server.client_no_context_takeover;
    p.server_max_window_bits = server.server_max_window_bits;
    p.client_max_window_bits = 15;  // the client did not say it can be capped
    bool seen[4] = {false, false, false, false};
    for (std::size_t i = 1; i < parts.size(); ++i) {
        const std::size_t eq = parts[i].find('=');
        const std::string_view name = trim(parts[i].substr(0, eq));
        const bool has_value = eq != std::string_view::npos;
        const std::string_view value = has_value ? trim(parts[i].substr(eq + 1)) : "";
        if (!is_token(name) || (has_value && !is_token(value))) return std::nullopt;
        const std::string lower = tessera::to_lower_ascii(name);
        const int which = lower == "server_no_context_takeover"   ? 0
                          : lower == "client_no_context_takeover" ? 1
                          : lower == "server_max_window_bits"     ? 2
                          : lower == "client_max_window_bits"     ? 3
                                                                  : -1;
        if (which < 0 || seen[which]) return std::nullopt;
        seen[which] = true;
        if (which <= 1) {
            if (has_value) return std::nullopt;
            (which == 0 ? p.server_no_context_takeover : p.client_no_context_takeover) = true;
        } else if (which == 2) {
            const int bits = reference_bits(value);
            if (bits == 0) return std::nullopt;
            p.server_max_window_bits = std::min(bits, server.server_max_window_bits);
        } else {
            const int bits = has_value ? reference_bits(value) : server.client_max_window_bits;
            if (bits == 0) return std::nullopt;
            p.client_max_window_bits = std::min(bits, server.client_max_window_bits);
        }
    }
    return p;
}

// What negotiate_deflate must agree to when no field holds a quote (so every comma ends a
// list element): the first acceptable offer's parameters, or nullopt. Outer nullopt: a field
// has a quote and this model does not apply.
std::optional<std::optional<deflate_params>> reference_negotiation(
    std::span<const std::string_view> offers, const deflate_options& server) {
    for (const std::string_view field : offers) {
        if (field.find('"') != std::string_view::npos) return std::nullopt;
    }
    if (!server.enabled) return std::optional<deflate_params>();
    for (std::string_view field : offers) {
        while (true) {
            const std::size_t comma = field.find(',');
            if (const auto p = reference_offer(field.substr(0, comma), server)) return p;
            if (comma == std::string_view::npos) break;
            field.remove_prefix(comma + 1);
        }
    }
    return std::optional<deflate_params>();
}

void check_agreement(const std::optional<deflate_agreement>& a,
                     std::span<const std::string_view> offers, const deflate_options& server) {
    if (!server.enabled) {
        check(!a);
        return;
    }
    bool any_name = false, plain_offer = false;
    bool any_snct = false, any_cnct = false, any_smwb = false, any_cmwb = false;
    for (const std::string_view field : offers) {
        any_name = any_name || contains_ci(field, "permessage-deflate");
        any_snct = any_snct || contains_ci(field, "server_no_context_takeover");
        any_cnct = any_cnct || contains_ci(field, "client_no_context_takeover");
        any_smwb = any_smwb || contains_ci(field, "server_max_window_bits");
        any_cmwb = any_cmwb || contains_ci(field, "client_max_window_bits");
        // Without quotes every comma ends an element, so a bare offer is always reached.
        if (field.find('"') != std::string_view::npos) continue;
        std::string_view rest = field;
        while (true) {
            const std::size_t comma = rest.find(',');
            plain_offer = plain_offer ||
                          tessera::iequals(trim(rest.substr(0, comma)), "permessage-deflate");
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    if (!any_name) check(!a);
    if (const auto expected = reference_negotiation(offers, server)) {
        check(a.has_value() == expected->has_value());
        if (a) check(a->params == **expected);
    }
    if (plain_offer) check(a.has_value());
    if (!a) return;

    const deflate_params& p = a->params;
    check(p.server_max_window_bits >= 8 && p.server_max_window_bits <= 15);
    check(p.server_max_window_bits <= server.server_max_window_bits);
    check(p.client_max_window_bits == 15 ||
          (p.client_max_window_bits >= 8 &&
           p.client_max_window_bits <= server.client_max_window_bits));
    if (server.server_no_context_takeover) check(p.server_no_context_takeover);
    if (server.client_no_context_takeover) check(p.client_no_context_takeover);
    if (!any_snct) check(p.server_no_context_takeover == server.server_no_context_takeover);
    if (!any_cnct) check(p.client_no_context_takeover == server.client_no_context_takeover);
    if (!any_smwb) check(p.server_max_window_bits == server.server_max_window_bits);
    if (!any_cmwb) check(p.client_max_window_bits == 15);

    const std::string formatted = tessera::ws::format_deflate(p);
    check(a->response == formatted || a->response == formatted + "; server_max_window_bits=15");
    check_response_shape(a->response);
    // A client that asked for nothing in particular reads the same parameters back.
    const auto read = tessera::ws::accept_deflate_response(a->response, deflate_options{});
    check(read && *read == p);
    // Offered again, the answer is agreed to unchanged.
    const std::string_view again[] = {a->response};
    const auto b = tessera::ws::negotiate_deflate(again, server);
    check(b && b->params == p);
}

deflate_options server_options(std::uint8_t b1, std::uint8_t b2) {
    deflate_options o;
    o.enabled = (b1 & 1) == 0;
    o.server_no_context_takeover = (b1 & 2) != 0;
    o.client_no_context_takeover = (b1 & 4) != 0;
    o.server_max_window_bits = 15 - ((b1 >> 3) & 7);
    o.client_max_window_bits = 15 - (b2 & 7);
    return o;
}

deflate_options client_options(std::uint8_t b1, std::uint8_t b2, std::uint8_t b3) {
    deflate_options o;
    o.server_no_context_takeover = (b1 & 0x40) != 0;
    o.client_no_context_takeover = (b1 & 0x80) != 0;
    o.server_max_window_bits = 15 - ((b2 >> 3) & 7);
    o.client_max_window_bits = 15 - (b3 & 7);
    return o;
}

headers read_fields(std::string_view text) {
    headers fields;
    while (!text.empty()) {
        const std::size_t nl = std::min(text.find('\n'), text.size());
        std::string_view line = text.substr(0, nl);
        text.remove_prefix(std::min(nl + 1, text.size()));
        if (line.ends_with('\r')) line.remove_suffix(1);
        const std::size_t colon = line.find(':');
        if (colon == std::string_view::npos) continue;
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && is_ows(value.front())) value.remove_prefix(1);
        fields.append(line.substr(0, colon), value);
    }
    return fields;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 4) return 0;
    const std::string_view method = methods[data[0] & 7];
    const std::string_view version = versions[(data[0] >> 3) & 7];
    const bool http11 = version_ok[(data[0] >> 3) & 7];
    const int response_status = statuses[data[0] >> 6];
    const deflate_options server = server_options(data[1], data[2]);
    const deflate_options client = client_options(data[1], data[2], data[3]);
    server.validate();
    client.validate();
    const std::string_view rest(reinterpret_cast<const char*>(data) + 4, size - 4);
    const headers fields = read_fields(rest);

    check_encode(rest);
    check_decode(rest);
    for (const auto& f : fields) {
        check_decode(f.value);
        check_decode(trim(f.value));
    }

    const handshake_request r = tessera::ws::validate_handshake(method, version, fields);
    check_handshake(r, method, http11, fields);

    const auto offers = fields.get_all("sec-websocket-extensions");
    const auto agreement = tessera::ws::negotiate_deflate(offers, server);
    check_agreement(agreement, offers, server);

    // The 101 answer: for the validated key, or (to reach accept_headers with any key) the
    // first key field's trimmed value; the request's own fields stand in for the app's extras.
    const std::string_view key =
        r.status == handshake_status::ok ? r.key
                                         : trim(fields.get_or("sec-websocket-key", ""));
    std::string_view subprotocol;
    if (!r.subprotocols.empty()) {
        const std::size_t pick = (data[3] >> 3) % (r.subprotocols.size() + 1);
        if (pick != 0) subprotocol = r.subprotocols[pick - 1];
    }
    check_accept(key, subprotocol, agreement ? std::string_view(agreement->response) : "",
                 fields);
    check(tessera::ws::check_accept_response(response_status, fields, key) ==
          expected_accepted(response_status, fields, key));

    // The library's own client: the answer to its offer reads back as the same parameters,
    // alone or after fields whose offers were all declined.
    const std::string offer = tessera::ws::deflate_offer(client);
    const std::string_view one[] = {offer};
    const auto answer = tessera::ws::negotiate_deflate(one, server);
    check(answer.has_value() == server.enabled);
    if (answer) {
        check_agreement(answer, one, server);
        const auto read = tessera::ws::accept_deflate_response(answer->response, client);
        check(read && *read == answer->params);
        if (!agreement) {
            std::vector<std::string_view> all(offers.begin(), offers.end());
            all.push_back(offer);
            const auto later = tessera::ws::negotiate_deflate(all, server);
            check(later && later->params == answer->params &&
                  later->response == answer->response);
        }
    }
    return 0;
}
