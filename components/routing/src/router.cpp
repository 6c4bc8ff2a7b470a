// Dispatch is a loop over the routes with one `route_match` on the frame: matching compares
// string views, and only the route that wins converts its parameters (the values are the only
// allocations). The router's own state lives in `impl`, shared by copies; the middleware stack
// wraps a small `dispatcher` pointing back at it.
#include "tessera/router.hpp"

#include <optional>
#include <stdexcept>

#include "not_found.hpp"
#include "support.hpp"
#include "tessera/child_lifespans.hpp"
#include "tessera/percent.hpp"
#include "tessera/response.hpp"

namespace tessera {

struct router::impl {
    std::vector<any_route> routes;
    bool redirect_slashes = true;
    any_app default_app;
    std::vector<any_app> lifespan_children;
    any_app entry;  // the middleware stack around dispatch

    task<void> dispatch(scope& s, receive r, send sd) const;
    std::optional<std::string> redirect_location(const scope& s, std::string_view path) const;
    url_path url_path_for(std::string_view name, const path_params& params) const;

    static url_path reverse_hook(const void* self, std::string_view name,
                                 const path_params& params) {
        return static_cast<const impl*>(self)->url_path_for(name, params);
    }
};

namespace {
struct dispatcher {
    const router::impl* self;
    task<void> operator()(scope& s, receive r, send sd) const { return self->dispatch(s, r, sd); }
};
}  // namespace

router::router(std::vector<any_route> routes, router_options options) {
    auto state = std::make_shared<impl>();
    for (const auto& candidate : routes) {
        if (!candidate.get()) throw std::invalid_argument("router: an empty route");
        if (const auto* child = candidate->lifespan_app()) {
            state->lifespan_children.push_back(*child);
        }
    }
    state->routes = std::move(routes);
    state->redirect_slashes = options.redirect_slashes;
    state->default_app = std::move(options.default_app);
    state->entry = wrap_all(options.middleware, dispatcher{state.get()});
    impl_ = std::move(state);
}

task<void> router::operator()(scope& s, receive r, send sd) const {
    return impl_->entry(s, r, sd);
}

url_path router::url_path_for(std::string_view name, const path_params& params) const {
    return impl_->url_path_for(name, params);
}

const std::vector<any_route>& router::routes() const noexcept { return impl_->routes; }

const std::vector<any_app>& router::lifespan_apps() const noexcept {
    return impl_->lifespan_children;
}

task<void> router::impl::dispatch(scope& s, receive r, send sd) const {
    if (s.type == scope_type::lifespan) {
        co_await serve_child_lifespans(lifespan_children, s, r, sd);
        co_return;
    }
    if (!s.extensions.contains<url_path_for_hook>()) {
        s.extensions.set(url_path_for_hook(this, &impl::reverse_hook, s.root_path));
    }
    const std::string_view path = route_path_of(s);
    route_match found;
    route_match partial_found;
    const base_route* partial = nullptr;
    for (const auto& candidate : routes) {
        const auto kind = candidate->match(s, path, found);
        if (kind == match_kind::full) {
            candidate->enter(s, path, found);
            co_await candidate->handle(s, r, sd);
            co_return;
        }
        if (kind == match_kind::partial && partial == nullptr) {
            partial = candidate.get();
            partial_found = found;
        }
    }
    if (partial != nullptr) {
        partial->enter(s, path, partial_found);
        co_await partial->handle(s, r, sd);
        co_return;
    }
    if (s.type == scope_type::http && redirect_slashes && path != "/") {
        if (auto location = redirect_location(s, path)) {
            redirect_response answer(*location);
            co_await std::move(answer)(s, r, sd);
            co_return;
        }
    }
    if (default_app) {
        co_await default_app(s, r, sd);
    } else {
        co_await detail::answer_not_found(s, r, sd);
    }
}

// Where the trailing-slash redirect goes, if the toggled path matches any route: the request's
// URL (root_path and query kept) with the slash added or removed.
std::optional<std::string> router::impl::redirect_location(const scope& s,
                                                           std::string_view path) const {
    std::string toggled(path);
    const bool had_slash = path.ends_with('/');
    if (had_slash) {
        while (toggled.ends_with('/')) toggled.pop_back();
    } else {
        toggled.push_back('/');
    }
    route_match probe;
    bool matches = false;
    for (const auto& candidate : routes) {
        if (candidate->match(s, toggled, probe) != match_kind::none) {
            matches = true;
            break;
        }
    }
    if (!matches) return std::nullopt;
    // The bytes the client sent when they still say the same path, else the path quoted back.
    std::string raw = !s.raw_path.empty() && percent_decode(s.raw_path) == s.path
                          ? s.raw_path
                          : detail::quote_path(s.path);
    if (had_slash) {
        while (raw.ends_with('/')) raw.pop_back();
    } else {
        raw.push_back('/');
    }
    try {
        return url::from_parts(s.scheme, s.headers.get("host"), s.server, raw, s.query_string)
            .str();
    } catch (const std::invalid_argument&) {
        // A Host header that is not a valid authority: redirect relative to it instead.
        return s.query_string.empty() ? raw : raw + "?" + s.query_string;
    }
}

url_path router::impl::url_path_for(std::string_view name, const path_params& params) const {
    detail::reverse_notes notes;
    for (const auto& candidate : routes) {
        if (auto found = candidate->reverse(name, params, notes)) return std::move(*found);
    }
    detail::throw_no_match(name, params, notes);
}

}  // namespace tessera
