#pragma once
/// The WebSocket opening handshake (RFC 6455 §4), sans-IO: validating a client's upgrade
/// request, computing `Sec-WebSocket-Accept`, building the 101 response's fields, and the
/// client's side (a fresh key, checking the server's answer).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/headers.hpp"

namespace tessera::ws {

/// The only protocol version spoken, sent with every 426 answer.
inline constexpr std::string_view supported_version = "13";

/// How to answer an upgrade request.
enum class handshake_status : std::uint8_t {
    ok,                ///< accept (101) or let the app decide
    not_websocket,     ///< no `Upgrade: websocket`: an ordinary HTTP request
    bad_request,       ///< 400: asks for WebSocket but is malformed (see `reason`)
    upgrade_required,  ///< 426 with `sec-websocket-version: 13`: missing or unknown version
};

/// What `validate_handshake` found. Views point into the `headers` it was given.
struct handshake_request {
    handshake_status status = handshake_status::not_websocket;
    std::string_view reason;  ///< a short static English explanation when not `ok`
    std::string_view key;     ///< `Sec-WebSocket-Key` (trimmed), when `ok`
    /// `Sec-WebSocket-Protocol` entries in order (every field, comma lists split, trimmed,
    /// empty entries dropped), for `scope::subprotocols`.
    std::vector<std::string> subprotocols;
    /// Every `Sec-WebSocket-Extensions` field value in order, for `negotiate_deflate`.
    std::vector<std::string_view> extensions;

    /// The HTTP status to answer with when not `ok`: 400 or 426 (0 for `ok` and
    /// `not_websocket`).
    [[nodiscard]] int http_status() const noexcept;
};

/// Validates an upgrade request (RFC 6455 §4.2.1): `Upgrade` lists the `websocket` token (or
/// the request is `not_websocket`); then the method is GET, the version HTTP/1.1 or later
/// (`http_version` as in `scope`: "1.1", "2"…), `Connection` lists `upgrade`, there is exactly
/// one `Sec-WebSocket-Key` decoding from base64 to 16 bytes (all 400 otherwise), and exactly
/// one `Sec-WebSocket-Version` equal to 13 (426 otherwise). Token matching ignores case.
[[nodiscard]] handshake_request validate_handshake(std::string_view method,
                                                   std::string_view http_version,
                                                   const headers& fields);

/// `Sec-WebSocket-Accept` for a key: base64(SHA-1(key + the RFC 6455 GUID)).
[[nodiscard]] std::string accept_key(std::string_view key);

/// The fields of a 101 Switching Protocols answer: `upgrade: websocket`, `connection:
/// Upgrade`, `sec-websocket-accept`, then `sec-websocket-protocol` when a subprotocol was
/// chosen (empty: none), `sec-websocket-extensions` when one was agreed (empty: none), then
/// `extra` (the app's own fields from `websocket::accept`) except any field among these.
[[nodiscard]] headers accept_headers(std::string_view key, std::string_view subprotocol = {},
                                     std::string_view extensions = {},
                                     const headers& extra = {});

/// Standard base64 (RFC 4648 §4) with padding.
[[nodiscard]] std::string base64_encode(std::string_view bytes);
/// Decodes padded standard base64; nullopt on any other character, bad padding or length.
[[nodiscard]] std::optional<std::string> base64_decode(std::string_view text);

/// Client side: a fresh `Sec-WebSocket-Key` (16 random bytes from libcrypto, base64).
[[nodiscard]] std::string generate_key();

/// Client side: the server's answer completes the handshake: status 101, `Upgrade:
/// websocket`, `Connection: upgrade` and the accept value matching `key`.
[[nodiscard]] bool check_accept_response(int status, const headers& fields,
                                         std::string_view key);

}  // namespace tessera::ws
