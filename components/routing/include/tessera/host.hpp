#pragma once
/// `host`: routes on the Host header (`{sub}.example.org`), to any app or a list of routes.

#include <string>
#include <utility>
#include <vector>

#include "tessera/base_route.hpp"
#include "tessera/middleware.hpp"
#include "tessera/router.hpp"

namespace tessera {

/// Options of a `host`.
struct host_options {
    /// The name for reverse routing: `"name:child"` for the routes of a router under this
    /// host, `"name"` with a `path` param for the app itself. Empty: children's names as they are.
    std::string name;
    /// Wraps the app (outermost first).
    std::vector<tessera::middleware> middleware;
    /// User convertors the pattern may name.
    std::vector<path_convertor> convertors;
};

/// Serves any app for requests (and WebSockets) whose Host header matches a pattern such as
/// `{tenant}.example.org` (Starlette's `Host`). The port is ignored when matching, and the
/// name compared case-insensitively; the pattern's parameters go into `path_params`. The
/// scope's path and root_path are left alone. Reverse routing through a host gives a
/// `url_path` carrying the host, so `request::url_for` builds a URL on that host.
///
///     host("{tenant}.example.org", tenant_router, {.name = "tenant"})
///     // url_path_for("tenant:home", {{"tenant", "acme"}}) -> host "acme.example.org", path "/"
class host : public base_route {
public:
    template <class A>
        requires app<A>
    host(std::string pattern, A app, host_options options = {})
        : host(std::move(pattern), detail::routes_of(app), any_app(app), std::move(options)) {}
    /// Serves a router made of `routes` (with the router's default options).
    host(std::string pattern, std::vector<any_route> routes, host_options options = {});

    /// The routes of the app (empty when it has none).
    [[nodiscard]] const std::vector<any_route>& routes() const noexcept { return routes_; }
    /// The app, wrapped in the host's middleware.
    [[nodiscard]] const any_app& app() const noexcept { return app_; }

    [[nodiscard]] match_kind match(const scope& s, std::string_view route_path,
                                   route_match& found) const override;
    [[nodiscard]] task<void> handle(scope& s, receive r, send sd) const override;
    [[nodiscard]] std::optional<url_path> reverse(std::string_view name,
                                                  const path_params& params,
                                                  detail::reverse_notes& notes) const override;
    [[nodiscard]] const any_app* lifespan_app() const noexcept override { return &app_; }

private:
    host(std::string pattern, std::vector<any_route> routes, any_app app, host_options options);

    std::vector<any_route> routes_;
    any_app app_;
};

}  // namespace tessera
