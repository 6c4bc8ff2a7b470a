#pragma once
/// Reverse routing as the core sees it: `url_path`, `no_match_found`, and the non-owning hook a
/// router leaves in `scope.extensions` so `request::url_for` can reach it.

#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include "tessera/path_params.hpp"
#include "tessera/url.hpp"

namespace tessera {

/// The result of reverse routing (Starlette's `URLPath`): a path (percent-encoded, starting
/// with '/' and relative to the app's root), the protocol of the route that produced it, and
/// the host when a host route took part.
struct url_path {
    std::string path;
    /// "http" for a route, "websocket" for a WebSocket route, empty for a mounted app reached
    /// by its mount name (it serves any protocol).
    std::string protocol;
    /// The host a `host` route formatted ("api.example.org"), empty when none took part.
    std::string host;

    /// The absolute URL of this path under `base` (normally `request::base_url()`): the scheme
    /// follows the protocol (`http`/`https`, `ws`/`wss` as `base` is secure or not), the host
    /// replaces `base`'s netloc when set, and the path goes after `base`'s path.
    [[nodiscard]] url make_absolute_url(const url& base) const {
        std::string scheme(base.scheme());
        if (protocol == "http") {
            scheme = base.is_secure() ? "https" : "http";
        } else if (protocol == "websocket") {
            scheme = base.is_secure() ? "wss" : "ws";
        }
        std::string_view base_path = base.path();
        while (base_path.ends_with('/')) base_path.remove_suffix(1);
        std::string text = scheme;
        text.append("://").append(host.empty() ? base.netloc() : std::string_view(host));
        text.append(base_path).append(path);
        return url(std::move(text));
    }
};

/// Raised by reverse routing (`url_path_for`, `request::url_for`) when no route has the name
/// with exactly the parameters given. The message names both, as Starlette's `NoMatchFound`
/// does, followed by what came close ("route "user" (/users/{id}) takes params "id"").
class no_match_found : public std::runtime_error {
public:
    no_match_found(std::string name, std::string params, const std::string& details = {})
        : std::runtime_error("No route exists for name \"" + name + "\" and params \"" + params +
                             "\"." + (details.empty() ? std::string() : " " + details)),
          name_(std::move(name)), params_(std::move(params)) {}
    /// The route name that was asked for.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// The parameter names given, comma-separated.
    [[nodiscard]] const std::string& params() const noexcept { return params_; }

private:
    std::string name_;
    std::string params_;
};

/// What the outermost router leaves in `scope.extensions` (unless one is there already, like
/// Starlette's `scope.setdefault("router", self)`), so handlers can build URLs without knowing
/// the router. Non-owning: it points at the router, which outlives every request it serves; it
/// must not be used after the app call it was made for. Also records the root path at which the
/// router was reached, the base every path it gives is relative to (Starlette's app_root_path).
class url_path_for_hook {
public:
    /// The function reverse routing runs: `fn(router, name, params)`, throwing `no_match_found`.
    using function = url_path (*)(const void* router, std::string_view name,
                                  const path_params& params);

    url_path_for_hook(const void* router, function fn, std::string app_root_path)
        : router_(router), fn_(fn), app_root_path_(std::move(app_root_path)) {}

    /// The path of the route named `name` with `params` (see `router::url_path_for`).
    [[nodiscard]] url_path operator()(std::string_view name, const path_params& params) const {
        return fn_(router_, name, params);
    }
    /// The scope's root_path when the router was entered: the prefix of every URL it builds.
    [[nodiscard]] const std::string& app_root_path() const noexcept { return app_root_path_; }

private:
    const void* router_;
    function fn_;
    std::string app_root_path_;
};

}  // namespace tessera
