#pragma once
/// `server_error_middleware`: the outermost layer, turning an exception that escapes everything
/// else into a 500 (Starlette's ServerErrorMiddleware).

#include <memory>
#include <type_traits>
#include <utility>

#include "tessera/app.hpp"
#include "tessera/server_error_response.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// Options of the server-error layer.
struct server_error_options {
    /// Answer with the debug page (exception type and message, request line, headers) instead
    /// of the handler or the plain page. For development only.
    bool debug = false;
    /// The application's 500 page; empty means "Internal Server Error" in plain text. Ignored
    /// when `debug` is set (as in Starlette).
    server_error_handler handler;
};

/// Wraps an app so that an exception escaping it before the response started becomes a 500
/// (see `server_error_response`: debug page, handler, or plain page) and is then rethrown, so
/// the server logs it and a test client can raise it. An exception after the response started
/// is rethrown untouched: the transport ends the connection, which is all a client can still be
/// told. `client_disconnected` and `operation_cancelled` always pass through (there is nobody
/// to answer). HTTP scopes only; other scopes go straight to the inner app.
///
///     server_error_middleware app(router, server_error_options{.debug = true});
///
/// It sits outside the user middleware: a 500 it produces is not seen by them. To give 500s
/// the user middleware's headers (CORS…), let the exception layer answer them instead
/// (`exception_options::catch_unhandled`); this layer then sees a started response and only
/// rethrows. See docs/exceptions.md.
class server_error_middleware {
public:
    /// `inner` must be set (std::invalid_argument otherwise).
    /// (A template so that copying a middleware never asks whether it converts to `any_app`,
    /// which would make being an app depend on itself.)
    template <class Inner>
        requires(!std::is_same_v<std::remove_cvref_t<Inner>, server_error_middleware>) && app<Inner>
    explicit server_error_middleware(Inner&& inner, server_error_options options = {})
        : server_error_middleware(construct{}, any_app(std::forward<Inner>(inner)),
                                  std::move(options)) {}

    task<void> operator()(scope& s, receive r, send sd) const;

    [[nodiscard]] const server_error_options& options() const noexcept { return *options_; }

private:
    struct construct {};
    server_error_middleware(construct, any_app inner, server_error_options options);

    any_app inner_;
    std::shared_ptr<const server_error_options> options_;
};

}  // namespace tessera
