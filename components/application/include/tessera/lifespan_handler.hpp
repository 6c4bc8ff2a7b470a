#pragma once
/// `lifespan_handler`: an application's startup and shutdown, written as one coroutine that
/// `co_yield`s once between them (Starlette's `lifespan` context manager).

#include <concepts>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>

#include "tessera/async_generator.hpp"
#include "tessera/state.hpp"

namespace tessera {

/// What a lifespan yields when its startup is done and the application may serve. (A class
/// with a constructor, so `co_yield lifespan_ready{}` is safe under g++ 12.)
struct lifespan_ready {
    lifespan_ready() = default;
};

/// The coroutine type a lifespan function returns.
using lifespan_generator = async_generator<lifespan_ready>;

/// An application's lifespan: a function taking the application-wide state (the
/// `scope.app_state` every request will see) and returning a `lifespan_generator`. The code
/// before its single `co_yield lifespan_ready{}` is the startup, the code after it the
/// shutdown; locals (a connection pool…) live across both.
///
///     lifespan_generator open_db(std::shared_ptr<state> app_state) {
///         auto db = std::make_shared<database>();
///         co_await db->connect();              // throwing here: lifespan.startup.failed
///         app_state->set(db);                  // every request: scope.app_state->get<...>()
///         co_yield lifespan_ready{};           // serving
///         co_await db->close();                // throwing here: lifespan.shutdown.failed
///     }
///     application app({.routes = ..., .lifespan = open_db});
///
/// The state comes as a `std::shared_ptr` by value (a coroutine parameter must not be a
/// reference that could dangle). The handler keeps the callable in shared storage that the
/// application's lifespan run holds until the generator is gone, so a capturing lambda is
/// safe too. Immutable and cheap to copy; empty means "no lifespan work of its own".
class lifespan_handler {
public:
    lifespan_handler() = default;
    /// From any callable `lifespan_generator(std::shared_ptr<state>)`.
    template <class F>
        requires(!std::is_same_v<std::decay_t<F>, lifespan_handler>) &&
                std::is_invocable_r_v<lifespan_generator, const std::decay_t<F>&,
                                      std::shared_ptr<state>>
    lifespan_handler(F&& fn)  // NOLINT(google-explicit-constructor): callables convert
        : fn_(std::make_shared<const function>(std::forward<F>(fn))) {}

    /// Whether there is a lifespan function.
    [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(fn_); }

    /// Runs the startup (up to the `co_yield`) and returns the suspended generator, whose
    /// `next()` then runs the shutdown. Throws what the startup threw, or
    /// `std::logic_error` when the function returned without yielding. The handler (or a
    /// copy) must outlive the generator.
    [[nodiscard]] task<lifespan_generator> start(std::shared_ptr<state> app_state) const;
    /// Runs the shutdown of a generator `start` returned. Throws what the shutdown threw, or
    /// `std::logic_error` when the function yielded a second time.
    [[nodiscard]] static task<void> stop(lifespan_generator generator);

private:
    using function = std::function<lifespan_generator(std::shared_ptr<state>)>;
    std::shared_ptr<const function> fn_;
};

}  // namespace tessera
