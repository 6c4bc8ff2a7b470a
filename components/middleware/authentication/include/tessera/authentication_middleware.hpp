#pragma once
/// `authentication_middleware`: asks a backend who is on the other end of each HTTP request and
/// WebSocket connection and leaves the answer in the scope (Starlette's AuthenticationMiddleware).

#include <functional>
#include <memory>
#include <type_traits>
#include <utility>

#include "tessera/app.hpp"
#include "tessera/authentication.hpp"
#include "tessera/http_connection.hpp"
#include "tessera/response.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// Builds the HTTP answer to an `auth_error`. Called on the request's coroutine; must be safe to
/// call concurrently.
using auth_error_handler = std::function<response(http_connection&, const auth_error&)>;

/// Options of the authentication layer.
struct authentication_options {
    /// Checks the credentials; required (std::invalid_argument when null). Shared, immutable.
    std::shared_ptr<const authentication_backend> backend;
    /// The answer to an `auth_error` on an HTTP scope; empty: `default_auth_error_response`.
    auth_error_handler on_error;
};

/// The default answer to an `auth_error`: its message as plain text with status 400.
[[nodiscard]] response default_auth_error_response(http_connection& conn, const auth_error& error);

/// Wraps an app so that each HTTP request and WebSocket connection is first shown to the backend
/// (`authentication_backend::authenticate`), then reaches the app with an `auth_credentials`
/// slot and an `authenticated_user` slot in `scope.extensions` — read with `auth(req)` and
/// `user(req)` from a `request` or a `websocket_connection`. A connection the backend does not
/// authenticate (nullopt) gets empty credentials and an `unauthenticated_user`.
///
///     authentication_middleware app(router, {.backend = std::make_shared<token_backend>()});
///
/// An `auth_error` from the backend ends the call before the app sees it: on HTTP with the
/// `on_error` response (by default 400 and the message), on WebSocket with a close (code 1000)
/// before the accept, which refuses the handshake (HTTP 403) — what Starlette sends; `on_error`
/// is not called there. Other exceptions from the backend propagate. Lifespan scopes go
/// straight to the inner app. Immutable and safe to call concurrently.
class authentication_middleware {
public:
    /// `inner` must be set and `options.backend` non-null (std::invalid_argument otherwise).
    /// (A template so that copying a middleware never asks whether it converts to `any_app`.)
    template <class Inner>
        requires(!std::is_same_v<std::remove_cvref_t<Inner>, authentication_middleware>) &&
                app<Inner>
    explicit authentication_middleware(Inner&& inner, authentication_options options)
        : authentication_middleware(construct{}, any_app(std::forward<Inner>(inner)),
                                    std::move(options)) {}

    task<void> operator()(scope& s, receive r, send sd) const;

    [[nodiscard]] const authentication_options& options() const noexcept { return *options_; }

private:
    struct construct {};
    authentication_middleware(construct, any_app inner, authentication_options options);

    any_app inner_;
    std::shared_ptr<const authentication_options> options_;
};

}  // namespace tessera
