#pragma once
/// `middleware`: a recipe that wraps an app in another app, and `wrap_all` for stacks of them.

#include <concepts>
#include <functional>
#include <memory>
#include <span>
#include <type_traits>
#include <utility>

#include "tessera/app.hpp"

namespace tessera {

/// How to wrap an inner app: what `application{.middleware}`, `route(..., {.middleware})` and
/// `mount(..., {.middleware})` take (Starlette's `Middleware(cls, **options)`). A recipe is
/// immutable and cheap to copy; the same recipe may wrap any number of apps, each wrap building
/// its own middleware instance around its own inner app.
///
///     middleware::of<cors_middleware>(cors_options{.allow_origins = {"*"}})
///     middleware([](any_app inner) { return my_middleware{std::move(inner)}; })
class middleware {
public:
    /// From any callable taking the inner app and returning an app.
    template <class F>
        requires(!std::is_same_v<std::decay_t<F>, middleware>) &&
                std::is_invocable_v<const std::decay_t<F>&, any_app> &&
                app<std::invoke_result_t<const std::decay_t<F>&, any_app>>
    middleware(F&& factory)  // NOLINT(google-explicit-constructor): factories convert
        : factory_(std::make_shared<const factory_fn>(
              [f = std::forward<F>(factory)](any_app inner) -> any_app {
                  return any_app(f(std::move(inner)));
              })) {}

    /// The recipe for `M(inner, options...)`: the middleware type's constructor takes the inner
    /// app first, then its options (copied into every instance the recipe builds).
    template <class M, class... Options>
        requires std::constructible_from<M, any_app, const Options&...> && app<M>
    [[nodiscard]] static middleware of(Options... options) {
        return middleware([... opts = std::move(options)](any_app inner) {
            return M(std::move(inner), opts...);
        });
    }

    /// `inner` wrapped by a new instance of this middleware.
    [[nodiscard]] any_app wrap(any_app inner) const { return (*factory_)(std::move(inner)); }

private:
    using factory_fn = std::function<any_app(any_app)>;
    std::shared_ptr<const factory_fn> factory_;
};

/// `inner` wrapped by every recipe of `stack`; the list reads outermost first, so
/// `wrap_all({a, b}, app)` is `a(b(app))`: a request meets `a` first.
[[nodiscard]] inline any_app wrap_all(std::span<const middleware> stack, any_app inner) {
    for (auto it = stack.rbegin(); it != stack.rend(); ++it) inner = it->wrap(std::move(inner));
    return inner;
}

}  // namespace tessera
