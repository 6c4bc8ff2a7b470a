#pragma once
/// `mount`: any app (or a list of routes) served under a path prefix.

#include <string>
#include <utility>
#include <vector>

#include "tessera/base_route.hpp"
#include "tessera/middleware.hpp"
#include "tessera/router.hpp"

namespace tessera {

/// Options of a `mount`.
struct mount_options {
    /// The name for reverse routing: `"name:child"` for the routes of a mounted router, `"name"`
    /// with a `path` param for the mounted app itself. Empty: the children's names are used
    /// as they are.
    std::string name;
    /// Wraps the mounted app (outermost first), so it applies to everything under the prefix.
    std::vector<tessera::middleware> middleware;
    /// User convertors the prefix may name.
    std::vector<path_convertor> convertors;
};

/// Serves any app under a path prefix (Starlette's `Mount`): another router, a static file
/// server, a whole application, a third-party app. `mount("/users", app)` matches "/users" and
/// "/users/..." (not "/usersx") for HTTP and WebSocket scopes. The child sees `root_path` grown
/// by the matched prefix and `path` unchanged (Starlette 0.33+ semantics), so a router inside
/// matches the rest and anything building URLs keeps the full path. The prefix may have
/// parameters (`/orgs/{org}`), merged into `path_params`. A router receiving a lifespan scope
/// runs the mounted app's lifespan too (Starlette never does).
///
///     mount("/api", router({...}), {.name = "api"})   // url_path_for("api:users")
///     mount("/static", files, {.name = "static"})     // "static" with {{"path", "/a.css"}}
///     mount("/admin", {route("/", dashboard)})        // routes: a router is built
class mount : public base_route {
public:
    template <class A>
        requires app<A>
    mount(std::string path, A app, mount_options options = {})
        : mount(std::move(path), detail::routes_of(app), any_app(app), std::move(options)) {}
    /// Mounts a router made of `routes` (with the router's default options).
    mount(std::string path, std::vector<any_route> routes, mount_options options = {});

    /// The mounted router's routes (empty when the app has none).
    [[nodiscard]] const std::vector<any_route>& routes() const noexcept { return routes_; }
    /// The mounted app, wrapped in the mount's middleware.
    [[nodiscard]] const any_app& app() const noexcept { return app_; }

    [[nodiscard]] match_kind match(const scope& s, std::string_view route_path,
                                   route_match& found) const override;
    void enter(scope& s, std::string_view route_path, const route_match& found) const override;
    [[nodiscard]] task<void> handle(scope& s, receive r, send sd) const override;
    [[nodiscard]] std::optional<url_path> reverse(std::string_view name,
                                                  const path_params& params,
                                                  detail::reverse_notes& notes) const override;
    [[nodiscard]] const any_app* lifespan_app() const noexcept override { return &app_; }

private:
    mount(std::string path, std::vector<any_route> routes, any_app app, mount_options options);

    std::vector<any_route> routes_;
    any_app app_;
};

}  // namespace tessera
