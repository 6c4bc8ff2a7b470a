#pragma once
/// `base_route`: what a router holds (a route, WebSocket route, mount or host), and `any_route`,
/// the cheap copyable handle routers store them by.

#include <concepts>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/path_pattern.hpp"
#include "tessera/url_path_for.hpp"

namespace tessera {

/// How a scope matches a route (Starlette's `Match`): not at all, by path but not by method
/// (the router answers 405 if nothing matches fully), or fully.
enum class match_kind { none, partial, full };

/// What `base_route::match` found, kept by the router between matching and entering the route.
/// Views into the scope's path (or Host header); valid while the scope is unchanged.
struct route_match {
    path_pattern::captures captures{};
    /// For a mount: the length of the route path its prefix matched.
    std::size_t consumed = 0;
};

class base_route;

/// Left in `scope.extensions` by every route, mount or host a router enters, so the innermost
/// one wins: which route served the request, for logs and metrics
/// (`s.extensions.find<matched_route>()->route->path()`). Points into the router, which
/// outlives the requests it serves.
struct matched_route {
    const base_route* route = nullptr;
};

/// The path a router matches against: the scope's path without its root_path (Starlette's
/// `get_route_path`). The whole path when it does not start with root_path at a segment
/// boundary; empty when it is exactly root_path. A view into `s.path`.
[[nodiscard]] std::string_view route_path_of(const scope& s) noexcept;

namespace detail {
/// Near misses collected while reverse routing, for the message of `no_match_found`.
struct reverse_notes {
    std::vector<std::string> lines;
    void add(std::string line) { lines.push_back(std::move(line)); }
};
/// "a, b": the parameter names of `params`, as `no_match_found` shows them.
[[nodiscard]] std::string param_names(const path_params& params);
/// Throws `no_match_found` for `name` and `params` with the notes' explanations.
[[noreturn]] void throw_no_match(std::string_view name, const path_params& params,
                                 const reverse_notes& notes);
}  // namespace detail

/// The interface of everything a router routes to. Concrete routes are immutable apps: used on
/// their own, a route matches the scope and handles it or answers 404 (a WebSocket is closed),
/// as Starlette's routes do.
class base_route {
public:
    virtual ~base_route() = default;

    /// The name for reverse routing; empty when unnamed.
    [[nodiscard]] const std::string& name() const noexcept { return name_; }
    /// The template as written ("/users/{id:int}", "{sub}.example.org"; a mount's without
    /// its trailing '/').
    [[nodiscard]] const std::string& path() const noexcept { return pattern_.text(); }
    [[nodiscard]] const path_pattern& pattern() const noexcept { return pattern_; }

    /// How `s`, whose route path is `route_path`, matches; fills `found`. Never changes the
    /// scope and never allocates for static templates.
    [[nodiscard]] virtual match_kind match(const scope& s, std::string_view route_path,
                                           route_match& found) const = 0;
    /// Enters the route after a match: merges the converted parameters into
    /// `s.path_params`, grows `s.root_path` (mounts) and records `matched_route`.
    virtual void enter(scope& s, std::string_view route_path, const route_match& found) const;
    /// Serves a scope that entered this route.
    [[nodiscard]] virtual task<void> handle(scope& s, receive r, send sd) const = 0;
    /// Reverse routing without exceptions: the path for `name` with exactly `params`, or
    /// nullopt (with a note in `notes` when something came close).
    [[nodiscard]] virtual std::optional<url_path> reverse(std::string_view name,
                                                          const path_params& params,
                                                          detail::reverse_notes& notes) const = 0;
    /// The app whose lifespan runs with its router's (mounts and hosts), or null.
    [[nodiscard]] virtual const any_app* lifespan_app() const noexcept { return nullptr; }

    /// As a stand-alone app: handles the scope if it matches (405 on a method mismatch),
    /// answers 404 otherwise (a WebSocket is closed before accept). Ignores lifespan scopes.
    task<void> operator()(scope& s, receive r, send sd) const;
    /// The path of `name` with exactly `params`, within this route (`"mount:child"` for
    /// routes under a named mount). Throws `no_match_found` saying what did not match.
    [[nodiscard]] url_path url_path_for(std::string_view name,
                                        const path_params& params = {}) const;

protected:
    base_route(std::string name, path_pattern pattern)
        : pattern_(std::move(pattern)), name_(std::move(name)) {}
    base_route(const base_route&) = default;
    base_route(base_route&&) noexcept = default;
    base_route& operator=(const base_route&) = default;
    base_route& operator=(base_route&&) noexcept = default;

private:
    path_pattern pattern_;
    std::string name_;
};

/// A route of any kind, shared and immutable: what `router` takes (`router({route(...),
/// mount(...)})`). Cheap to copy.
class any_route {
public:
    template <class R>
        requires std::derived_from<std::decay_t<R>, base_route>
    any_route(R&& r)  // NOLINT(google-explicit-constructor): every route converts
        : route_(std::make_shared<const std::decay_t<R>>(std::forward<R>(r))) {}

    [[nodiscard]] const base_route& operator*() const noexcept { return *route_; }
    [[nodiscard]] const base_route* operator->() const noexcept { return route_.get(); }
    [[nodiscard]] const base_route* get() const noexcept { return route_.get(); }

private:
    std::shared_ptr<const base_route> route_;
};

}  // namespace tessera
