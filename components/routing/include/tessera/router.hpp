#pragma once
/// `router`: dispatches a scope to the first route that matches it (Starlette's `Router`).

#include <concepts>
#include <memory>
#include <type_traits>
#include <string_view>
#include <vector>

#include "tessera/base_route.hpp"
#include "tessera/middleware.hpp"

namespace tessera {

/// Options of a `router`.
struct router_options {
    /// When nothing matches an HTTP request, redirect (307) to its path with the trailing slash
    /// added or removed if that path would match; root_path and query are kept.
    bool redirect_slashes = true;
    /// Serves what nothing else matches (Starlette's `default`); when empty, HTTP gets 404 and a
    /// WebSocket is closed before accept.
    any_app default_app;
    /// Wraps the whole router, outermost first; lifespan scopes pass through it too.
    std::vector<tessera::middleware> middleware;
};

/// An app that routes each scope through its routes, in order. The first full match wins; a
/// route that matched the path but not the method answers 405 (with `Allow`) when no route
/// matches fully; otherwise the trailing-slash redirect, then 404. The 404 and 405 are thrown
/// as `http_error` when an exception layer marked the scope with `http_errors_handled`, and
/// answered in plain text otherwise.
///
/// Reverse routing: the outermost router leaves a `url_path_for_hook` in the scope's
/// extensions, which `request::url_for` uses. Lifespan: the router runs the lifespans of its
/// mounted and host apps (see `serve_child_lifespans`) and answers the server.
///
/// Immutable and cheap to copy (copies share the routes); safe to call concurrently.
///
///     const router app({route("/", home),
///                       route("/users/{id:int}", get_user, {.name = "user"}),
///                       mount("/static", files, {.name = "static"})});
class router {
public:
    explicit router(std::vector<any_route> routes, router_options options = {});

    task<void> operator()(scope& s, receive r, send sd) const;

    /// The path of the route named `name` with exactly `params`, relative to this router's root.
    /// Routes under a named mount or host are `"mount:child"`; a mounted app that is not a
    /// router is reached by the mount's name with a `path` param. Throws `no_match_found`
    /// naming the name, the params and what came close.
    [[nodiscard]] url_path url_path_for(std::string_view name,
                                        const path_params& params = {}) const;

    [[nodiscard]] const std::vector<any_route>& routes() const noexcept;
    /// The apps whose lifespans this router runs: its mounts' and hosts', in route order.
    [[nodiscard]] const std::vector<any_app>& lifespan_apps() const noexcept;

    struct impl;

private:
    std::shared_ptr<const impl> impl_;
};

namespace detail {
/// The routes of an app that has them, for reverse routing through a mount or host: a route
/// (mount, host) used as an app is its own single route, so its prefix is kept; a router (or
/// anything with `routes()`) gives its routes.
template <class A>
std::vector<any_route> routes_of(const A& a) {
    if constexpr (std::derived_from<A, base_route>) {
        return {any_route(a)};
    } else if constexpr (requires {
                             { a.routes() } -> std::convertible_to<std::vector<any_route>>;
                         }) {
        return a.routes();
    } else if constexpr (std::is_same_v<A, any_app>) {
        if (const auto* inner = a.template target<router>()) return inner->routes();
        return {};
    } else {
        return {};
    }
}
}  // namespace detail

}  // namespace tessera
