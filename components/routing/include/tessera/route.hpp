#pragma once
/// `route`: an HTTP path template bound to a request handler or any app.

#include <concepts>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/base_route.hpp"
#include "tessera/middleware.hpp"
#include "tessera/request.hpp"
#include "tessera/response.hpp"
// One definition of what a handler returns, shared with endpoints and the error layers.
#include "tessera/response_task.hpp"

namespace tessera {

/// The methods a route serves, as given: `{"GET", "POST"}` (case-insensitive). A
/// default-constructed list (also `{}`) means "not given"; a list given empty
/// (`std::vector<std::string>{}`) is refused by the route, as it would serve nothing.
class method_list {
public:
    method_list() = default;
    method_list(std::initializer_list<std::string_view> names)  // NOLINT: {"GET"} converts
        : given_(true), names_(names.begin(), names.end()) {}
    method_list(std::vector<std::string> names)  // NOLINT(google-explicit-constructor)
        : given_(true), names_(std::move(names)) {}
    [[nodiscard]] bool given() const noexcept { return given_; }
    [[nodiscard]] const std::vector<std::string>& names() const noexcept { return names_; }

private:
    bool given_ = false;
    std::vector<std::string> names_;
};

/// Options of a `route`.
struct route_options {
    /// The methods served (GET implies HEAD). When not given, a request handler serves GET
    /// (and HEAD) and an app serves every method.
    method_list methods;
    /// The name for reverse routing (`url_path_for("user", {{"id", 1}})`); empty: unnamed.
    std::string name;
    /// Wraps the handler (outermost first), inside the method check: a 405 never reaches it.
    std::vector<tessera::middleware> middleware;
    /// User convertors the template may name (`{slug:slug}`).
    std::vector<path_convertor> convertors;
};

namespace detail {
/// A request handler: callable (const) with a `request&`, returning `task<R>` where R is
/// `response` or derives from it. Functions, lambdas and classes with such an operator().
template <class H>
concept request_handler =
    std::copy_constructible<H> && std::is_invocable_v<const H&, request&> &&
    response_task<std::invoke_result_t<const H&, request&>>;

/// The app a request handler becomes: it builds the `request` in its frame, awaits the
/// handler and sends the response it returns.
template <class H>
struct handler_app {
    H handler;
    task<void> operator()(scope& s, receive r, send sd) const {
        request req(s, r);
        auto answer = co_await handler(req);
        co_await std::move(answer)(s, r, sd);
    }
};

template <class>
inline constexpr bool unsupported_handler = false;
}  // namespace detail

/// An HTTP route (Starlette's `Route`): a path template such as `/users/{id:int}` and what
/// serves it, either a request handler (`task<R>(request&)` with R a response type, detected at
/// compile time) or any app. Matches HTTP scopes only; a path match with a method the route
/// does not serve is a partial match, answered 405 with `Allow` when no other route matches
/// fully. The template is compiled and validated here (std::invalid_argument).
///
///     route("/users/{id:int}", get_user, {.name = "user"})
///     route("/items", items_app, {.methods = {"GET", "POST"}})
class route : public base_route {
public:
    template <class H>
    route(std::string path, H handler, route_options options = {})
        : route(std::move(path), to_app(std::move(handler)), detail::request_handler<H>,
                std::move(options)) {}

    /// The methods served, upper-case (HEAD after GET when implied); empty: every method.
    [[nodiscard]] const std::vector<std::string>& methods() const noexcept { return methods_; }
    /// The `Allow` value of a 405 ("GET, HEAD, POST"), computed once.
    [[nodiscard]] const std::string& allow() const noexcept { return allow_; }

    [[nodiscard]] match_kind match(const scope& s, std::string_view route_path,
                                   route_match& found) const override;
    [[nodiscard]] task<void> handle(scope& s, receive r, send sd) const override;
    [[nodiscard]] std::optional<url_path> reverse(std::string_view name,
                                                  const path_params& params,
                                                  detail::reverse_notes& notes) const override;

private:
    route(std::string path, any_app endpoint, bool is_handler, route_options options);

    template <class H>
    static any_app to_app(H handler) {
        if constexpr (detail::request_handler<H>) {
            return any_app(detail::handler_app<H>{std::move(handler)});
        } else if constexpr (app<H>) {
            return any_app(std::move(handler));
        } else {
            static_assert(detail::unsupported_handler<H>,
                          "route: the handler must be callable as task<R>(request&) with R a "
                          "response type (response, json_response, ...), or be an app");
            return {};
        }
    }

    [[nodiscard]] bool serves(std::string_view method) const noexcept;

    any_app app_;
    std::vector<std::string> methods_;
    std::string allow_;
};

}  // namespace tessera
