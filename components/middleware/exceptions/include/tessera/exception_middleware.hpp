#pragma once
/// `exception_middleware`: the layer that turns exceptions raised by handlers into responses
/// (Starlette's ExceptionMiddleware).

#include <memory>
#include <type_traits>
#include <utility>

#include "tessera/app.hpp"
#include "tessera/exception_handlers.hpp"
#include "tessera/server_error_response.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// Options of the exception layer.
struct exception_options {
    /// Handlers by status and by type; by default only `http_error`'s built-in response.
    exception_handlers handlers;
    /// With `catch_unhandled`: answer unhandled exceptions with the debug page. For development.
    bool debug = false;
    /// Answer an exception no handler takes with the 500 of the server-error layer (the same
    /// `server_error_response`: debug page, `server_error` handler, or plain page) and then
    /// rethrow it. The 500 then travels out through whatever wraps this layer (the user
    /// middleware of an application), and the outer server-error layer, seeing the response
    /// started, only rethrows. Off: unhandled exceptions are rethrown untouched.
    bool catch_unhandled = false;
    /// The application's 500 page for `catch_unhandled` (empty: plain "Internal Server Error").
    /// Setting it without `catch_unhandled` is a std::invalid_argument.
    server_error_handler server_error;
};

/// Wraps an app so that an exception it raises before its response starts is answered by the
/// matching handler of `exception_options::handlers` (see `exception_handlers` for the lookup):
///
///     exception_middleware app(router, exception_options{
///         .handlers = exception_handlers{}.on(404, not_found_page).on<db_error>(db_down),
///     });
///
/// - Going in, it leaves `http_errors_handled` in `scope.extensions`, so routers and endpoints
///   throw their 404/405 as `http_error` for these handlers to shape.
/// - `client_disconnected` and `operation_cancelled` always pass through untouched.
/// - An exception after the response started cannot become a response: it is rethrown, and the
///   transport ends the connection (nothing more is sent).
/// - An exception no handler takes (or one a handler raises) is rethrown, for the server-error
///   layer to answer with a 500 — or answered here first with `catch_unhandled`.
/// On WebSocket scopes (Starlette's handling of WebSocketException): a `websocket_error` escaping
/// the inner app closes the connection with its code and reason unless the app had closed it
/// already — before the accept that refuses the handshake (HTTP 403). The handlers, `debug` and
/// `catch_unhandled` are for HTTP responses and do not apply: every other exception is rethrown
/// (the transport closes with 1011, or answers 500 before the accept). No `http_errors_handled`
/// is set for a WebSocket scope. Lifespan scopes go straight to the inner app. Immutable and safe
/// to call concurrently; per-request state lives in the call's frame.
class exception_middleware {
public:
    /// `inner` must be set; the options are checked (std::invalid_argument).
    /// (A template so that copying a middleware never asks whether it converts to `any_app`,
    /// which would make being an app depend on itself.)
    template <class Inner>
        requires(!std::is_same_v<std::remove_cvref_t<Inner>, exception_middleware>) && app<Inner>
    explicit exception_middleware(Inner&& inner, exception_options options = {})
        : exception_middleware(construct{}, any_app(std::forward<Inner>(inner)),
                               std::move(options)) {}

    task<void> operator()(scope& s, receive r, send sd) const;

    [[nodiscard]] const exception_options& options() const noexcept { return *options_; }

private:
    struct construct {};
    exception_middleware(construct, any_app inner, exception_options options);
    task<void> handle_websocket(scope& s, receive r, send sd) const;

    any_app inner_;
    std::shared_ptr<const exception_options> options_;
};

}  // namespace tessera
