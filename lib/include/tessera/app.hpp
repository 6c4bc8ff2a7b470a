#pragma once
/// The message interface: `receive`, `send`, the `app` concept and `any_app`.

#include <concepts>
#include <memory>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "tessera/events.hpp"
#include "tessera/scope.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// Raised by `send` once the client has gone; `receive` then yields `http::disconnect` or
/// `websocket::disconnect`. Apps may let it propagate: transports expect it.
class client_disconnected : public std::runtime_error {
public:
    client_disconnected() : std::runtime_error("the client disconnected") {}
    using std::runtime_error::runtime_error;
};

namespace detail {
template <class F, class Self>
concept not_self = !std::is_same_v<std::remove_cvref_t<F>, Self>;
}

/// A cheap, copyable handle to the function an app calls for its next event
/// (`co_await receive()`). It does not own the function: whoever builds one (a transport, a
/// middleware wrapping its inner app's receive) keeps the function alive while the app runs,
/// which structured awaiting guarantees. Binding a temporary does not compile.
class receive {
public:
    template <class F>
        requires detail::not_self<F, receive> && std::is_invocable_r_v<task<event>, F&>
    receive(F& fn) noexcept  // NOLINT(google-explicit-constructor): handles convert implicitly
        : object_(const_cast<void*>(static_cast<const void*>(std::addressof(fn)))),
          call_([](void* object) -> task<event> { return (*static_cast<F*>(object))(); }) {}
    template <class F>
        requires detail::not_self<F, receive>
    receive(F&& fn) = delete;  // would dangle: keep the function in a named variable
    receive(const receive&) noexcept = default;
    receive& operator=(const receive&) noexcept = default;

    [[nodiscard]] task<event> operator()() const { return call_(object_); }

private:
    void* object_;
    task<event> (*call_)(void*);
};

/// A cheap, copyable handle to the function an app calls to emit an event
/// (`co_await send(http::response_start{...})`). Non-owning, like `receive`. Await it where it
/// is called: a transport's send may do its work at the call and return `task<>::ready()`.
class send {
public:
    template <class F>
        requires detail::not_self<F, send> && std::is_invocable_r_v<task<void>, F&, event>
    send(F& fn) noexcept  // NOLINT(google-explicit-constructor)
        : object_(const_cast<void*>(static_cast<const void*>(std::addressof(fn)))),
          call_([](void* object, event&& e) -> task<void> {
              return (*static_cast<F*>(object))(std::move(e));
          }) {}
    template <class F>
        requires detail::not_self<F, send>
    send(F&& fn) = delete;  // would dangle: keep the function in a named variable
    send(const send&) noexcept = default;
    send& operator=(const send&) noexcept = default;

    [[nodiscard]] task<void> operator()(event e) const { return call_(object_, std::move(e)); }

private:
    void* object_;
    // The event travels by reference down to the function, which takes it by value: one move
    // per send instead of one per layer (a send happens for every event of every request).
    task<void> (*call_)(void*, event&&);
};

/// Function objects a transport (or a middleware) keeps in its coroutine frame to hand out
/// `receive` and `send` handles bound to its own member functions:
/// `receive_member<conn, &conn::next_event> r{this}; co_await app(s, receive(r), ...)`.
template <class T, task<event> (T::*Next)()>
struct receive_member {
    T* self;
    task<event> operator()() const { return (self->*Next)(); }
};
template <class T, task<void> (T::*Emit)(event)>
struct send_member {
    T* self;
    task<void> operator()(event&& e) const { return (self->*Emit)(std::move(e)); }
};

/// An app: anything callable as `task<void>(scope&, receive, send) const`. Apps are immutable
/// once built and may be called concurrently (from several loops); per-call state lives in the
/// coroutine frame. The scope outlives the call; `receive` and `send` are handles by value.
/// Functions count too (they decay to function pointers).
template <class A>
concept app = std::copy_constructible<std::decay_t<A>> &&
              requires(const std::decay_t<A>& a, scope& s, receive r, send sd) {
                  { a(s, r, sd) } -> std::same_as<task<void>>;
              };

/// A type-erased app: cheap to copy (the app is shared, immutable), used wherever apps are
/// stored (routers, mounts, middleware stacks).
class any_app {
public:
    any_app() = default;
    template <class A>
        requires(!std::is_same_v<std::decay_t<A>, any_app>) && app<A>
    any_app(A&& a)  // NOLINT(google-explicit-constructor): any app converts
        : model_(std::make_shared<const model<std::decay_t<A>>>(std::forward<A>(a))) {}

    task<void> operator()(scope& s, receive r, send sd) const { return (*model_)(s, r, sd); }
    [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(model_); }
    /// The wrapped app if it is an `A`, else null (for introspection, e.g. reverse routing).
    template <class A>
    [[nodiscard]] const A* target() const noexcept {
        auto* typed = dynamic_cast<const model<A>*>(model_.get());
        return typed ? &typed->app_ : nullptr;
    }

private:
    struct concept_base {
        virtual ~concept_base() = default;
        virtual task<void> operator()(scope& s, receive r, send sd) const = 0;
    };
    template <class A>
    struct model final : concept_base {
        template <class U>
        explicit model(U&& a) : app_(std::forward<U>(a)) {}
        task<void> operator()(scope& s, receive r, send sd) const override {
            return app_(s, r, sd);
        }
        A app_;
    };
    std::shared_ptr<const concept_base> model_;
};

}  // namespace tessera
