#pragma once
/// `session_middleware`: keeps a per-client session in a signed cookie (Starlette's
/// SessionMiddleware), readable on HTTP and WebSocket scopes.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tessera/app.hpp"
#include "tessera/json.hpp"
#include "tessera/session.hpp"
#include "tessera/task.hpp"
#include "tessera/timestamp_signer.hpp"

namespace tessera {

/// Options of the session layer; defaults are Starlette's.
struct session_options {
    /// Signs the cookie; required and never empty (std::invalid_argument). Anyone who knows it
    /// can forge sessions: keep it out of the source, long and random.
    std::string secret_key;
    /// The cookie's name (a token, not an attribute name).
    std::string session_cookie = "session";
    /// How long a session lives after it was last written: the cookie's `Max-Age` and the
    /// oldest signature accepted. nullopt: a browser session (no `Max-Age`, any age accepted).
    /// Must be positive.
    std::optional<std::chrono::seconds> max_age = std::chrono::seconds(14 * 24 * 60 * 60);
    /// The cookie's `Path`.
    std::string path = "/";
    /// The cookie's `SameSite`: `lax`, `strict` or `none` (any case).
    std::string same_site = "lax";
    /// Adds `Secure`: browsers then send the cookie over HTTPS only.
    bool https_only = false;
    /// The cookie's `Domain`, if any.
    std::optional<std::string> domain;
};

/// Wraps an app so that each HTTP request and WebSocket connection carries a `session_data`
/// (read and written with `session(req)`), loaded from the signed session cookie:
/// `base64url(JSON).timestamp.HMAC-SHA256` (see `timestamp_signer`). A cookie that is missing,
/// malformed, longer than 8 KiB, not signed with this secret, older than `max_age`, or whose
/// payload is not a JSON object gives an empty session — never an error.
///
///     session_middleware app(router, {.secret_key = secret_from_environment()});
///
/// On HTTP, when the response starts: a session that was changed and is not empty is written
/// back (`Set-Cookie` with `HttpOnly`, `Path`, `Max-Age`, `SameSite`, `Secure` with
/// `https_only`, `Domain`), signed now — so `max_age` counts from the last change; a session
/// loaded non-empty and changed to empty gets its cookie deleted (expired); an unchanged
/// session sets no cookie; a session that was read or changed adds `Vary: Cookie`. Browsers drop cookies over 4096 bytes:
/// keep sessions small (an id, not a cart). On a WebSocket the session is loaded and may be
/// read (or changed in memory), but no cookie can be set after the handshake. Lifespan scopes
/// go straight to the inner app. Immutable and safe to call concurrently; the cookie's
/// attributes are formatted once here.
class session_middleware {
public:
    /// `inner` must be set and the options valid (std::invalid_argument otherwise).
    /// (A template so that copying a middleware never asks whether it converts to `any_app`.)
    template <class Inner>
        requires(!std::is_same_v<std::remove_cvref_t<Inner>, session_middleware>) && app<Inner>
    explicit session_middleware(Inner&& inner, session_options options)
        : session_middleware(construct{}, any_app(std::forward<Inner>(inner)),
                             std::move(options)) {}

    task<void> operator()(scope& s, receive r, send sd) const;

    [[nodiscard]] const session_options& options() const noexcept { return state_->options; }

    /// The longest session cookie value read; a longer one is ignored (empty session).
    static constexpr std::size_t max_cookie_value_size = 8192;

private:
    struct construct {};
    session_middleware(construct, any_app inner, session_options options);

    struct compiled {
        session_options options;
        timestamp_signer signer;
        std::string set_cookie_suffix;  // "; HttpOnly; Max-Age=…; Path=/; SameSite=lax…"
        std::string delete_cookie;      // the whole Set-Cookie value that expires the cookie
    };
    struct saving_send;

    any_app inner_;
    std::shared_ptr<const compiled> state_;
};

/// The session cookie value for `object` signed by `signer` at `timestamp` (Unix seconds): what
/// the middleware writes. For tests and tools that need a session cookie. Throws
/// std::invalid_argument when a key or string in `object` is not valid UTF-8 (JSON cannot carry
/// it, so the session would not load again): in the middleware, the response fails (500). So
/// too for a `timestamp` `timestamp_signer::sign` refuses (outside 0 to 10^18 - 1).
[[nodiscard]] std::string encode_session_cookie(const json& object, const timestamp_signer& signer,
                                                std::int64_t timestamp);

/// The session inside cookie value `value` if `signer` signed it no more than `max_age` before
/// `now` and it holds a JSON object; nullopt otherwise. What the middleware reads.
[[nodiscard]] std::optional<json> decode_session_cookie(
    std::string_view value, const timestamp_signer& signer,
    std::optional<std::chrono::seconds> max_age, std::int64_t now);

}  // namespace tessera
