#pragma once
/// `requires_scopes`: a guard around an app, a request handler or a WebSocket handler that lets
/// through only connections granted every required scope (Starlette's `@requires`; `requires`
/// itself is a C++20 keyword).

#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/route.hpp"
#include "tessera/task.hpp"
#include "tessera/websocket_route.hpp"

namespace tessera {

/// Options of a `requires_scopes` guard.
struct requires_options {
    /// Every one must be in the connection's `auth_credentials` (none: only the authentication
    /// middleware is required).
    std::vector<std::string> scopes;
    /// The HTTP status for a request that lacks a scope (400..599, else std::invalid_argument).
    int status_code = 403;
    /// The name of a route to redirect such a request to instead (303, with the request's URL in
    /// a `next` query parameter, as Starlette does); empty: answer `status_code`.
    std::string redirect;
};

/// Wraps what serves a route so that it runs only for connections granted every scope of
/// `requires_options::scopes` (checked with `has_required_scopes`, so an authentication
/// middleware must be installed further out: without one the guard raises std::logic_error).
/// What it wraps may be any app, a request handler (`task<R>(request&)`) or a WebSocket handler
/// (`task<void>(websocket_connection&)`); the guard is itself an app, so it goes wherever an app
/// does — and `middleware::of<requires_scopes>(requires_options{...})` makes it a route's
/// middleware.
///
///     route("/admin", requires_scopes(admin_page, {.scopes = {"admin"}}))
///     route("/me", requires_scopes(profile, {.scopes = {"authenticated"}, .redirect = "login"}))
///     websocket_route("/feed", requires_scopes(feed, {.scopes = {"authenticated"}}))
///
/// A request lacking a scope gets, on HTTP, the redirect when one is named, else an `http_error`
/// of `status_code` thrown for the exception layer when one is installed (`http_errors_handled`,
/// as inside an `application`), else the status answered in plain text with its reason phrase.
/// A WebSocket connection lacking a scope is closed with 1000 before the accept (the client gets
/// HTTP 403), as Starlette's `websocket.close()`. Lifespan scopes pass through. Immutable.
class requires_scopes {
public:
    /// `guarded` is an app, a request handler or a WebSocket handler (checked at compile time);
    /// the options are validated (std::invalid_argument).
    template <class Guarded>
        requires(!std::is_same_v<std::remove_cvref_t<Guarded>, requires_scopes>)
    requires_scopes(Guarded guarded, requires_options options)
        : requires_scopes(construct{}, to_app(std::move(guarded)), std::move(options)) {}

    task<void> operator()(scope& s, receive r, send sd) const;

    [[nodiscard]] const requires_options& options() const noexcept { return *options_; }

private:
    struct construct {};
    requires_scopes(construct, any_app inner, requires_options options);
    task<void> refuse_http(scope& s, receive r, send sd) const;

    template <class G>
    static any_app to_app(G guarded) {
        if constexpr (detail::request_handler<G>) {
            return any_app(detail::handler_app<G>{std::move(guarded)});
        } else if constexpr (detail::websocket_handler<G>) {
            return any_app(detail::websocket_handler_app<G>{std::move(guarded)});
        } else if constexpr (app<G>) {
            return any_app(std::move(guarded));
        } else {
            static_assert(detail::unsupported_handler<G>,
                          "requires_scopes: wrap an app, a request handler (task<R>(request&)) "
                          "or a WebSocket handler (task<void>(websocket_connection&))");
            return {};
        }
    }

    any_app inner_;
    std::shared_ptr<const requires_options> options_;
};

}  // namespace tessera
