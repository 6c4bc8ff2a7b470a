#pragma once
/// `application`: routes, user middleware, exception handlers and a lifespan, stacked once into
/// one app (Starlette's `Starlette` class).

#include <memory>
#include <string_view>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/base_route.hpp"
#include "tessera/exception_handlers.hpp"
#include "tessera/lifespan_handler.hpp"
#include "tessera/middleware.hpp"
#include "tessera/server_error_response.hpp"
#include "tessera/url_path_for.hpp"

namespace tessera {

/// Options of an `application`; every field may be left out.
struct application_options {
    /// The routes, tried in order (see `router`).
    std::vector<any_route> routes;
    /// User middleware, outermost first: `{a, b}` means a request meets `a`, then `b`. Each
    /// application builds its own instances from these recipes.
    std::vector<tessera::middleware> middleware;
    /// Handlers by status (`http_error`s, including the router's 404/405) and by exception type
    /// (most derived wins). Their responses travel out through the user middleware. A handler
    /// `on<std::exception>` takes every unhandled exception: it is then answered, not
    /// re-raised, and the server does not log it — prefer `server_error` for a 500 page.
    tessera::exception_handlers exception_handlers;
    /// The 500 page for exceptions no handler takes (Starlette's handler keyed 500 or
    /// `Exception`); empty: plain "Internal Server Error". The exception is still re-raised, so
    /// the server logs it. Ignored when `debug` is set.
    server_error_handler server_error;
    /// Startup and shutdown; the state it fills is `scope.app_state` for every request.
    lifespan_handler lifespan;
    /// Answer unhandled exceptions with the debug page (type, message, request line, headers;
    /// HTML for browsers, text otherwise). Development only.
    bool debug = false;
    /// Redirect to the path with the trailing slash added or removed when only that matches.
    bool redirect_slashes = true;
};

/// A whole application: an app built once from its options, immutable, cheap to copy (copies
/// share the stack) and safe to call concurrently. From the outside in:
///
///     server_error_middleware      whatever escapes the user middleware → 500, re-raised
///       user middleware…           `options.middleware`, outermost first
///         exception_middleware     handlers; unhandled exceptions → the 500, re-raised
///           router                 `options.routes`
///
/// Every error response — a handled exception, a 404/405 from the router, and the 500 of an
/// unhandled exception — is sent by the exception layer and so travels out through the user
/// middleware (a CORS middleware's headers are on it). An unhandled exception is re-raised
/// after its 500, for the server to log (and for `test_client` to raise). An exception after
/// the response started is never answered: the connection is ended.
///
/// Lifespan scopes are served by the application itself (the user middleware do not see them):
/// on startup, its own `lifespan` startup, then the lifespans of the mounted apps (in route
/// order); on shutdown, the mounted apps' in reverse, then its own. A failure anywhere answers
/// `lifespan.startup.failed` / `lifespan.shutdown.failed` with a message naming the exception
/// (a failed child startup first shuts down what had started, its own lifespan included).
///
///     const application app({
///         .routes = {route("/", home), mount("/static", files, {.name = "static"})},
///         .middleware = {middleware::of<cors_middleware>(cors_options{...})},
///         .exception_handlers = exception_handlers{}.on(404, not_found_page),
///         .lifespan = open_db,
///     });
///
/// An application mounts like any app (`mount("/admin", admin_app, {.name = "admin"})`): its
/// routes take part in the outer reverse routing, its own error handling answers for it, and
/// its lifespan runs once, as a mounted app of the outer one.
class application {
public:
    /// Builds the stack; throws std::invalid_argument for invalid routes or options.
    explicit application(application_options options = {});

    task<void> operator()(scope& s, receive r, send sd) const;

    /// The path of the route named `name` (see `router::url_path_for`).
    [[nodiscard]] url_path url_path_for(std::string_view name,
                                        const path_params& params = {}) const;
    /// The routes, for reverse routing when this application is mounted.
    [[nodiscard]] const std::vector<any_route>& routes() const noexcept;
    /// Whether unhandled exceptions get the debug page.
    [[nodiscard]] bool debug() const noexcept;

    struct impl;

private:
    std::shared_ptr<const impl> impl_;
};

}  // namespace tessera
