#pragma once
/// Cancellation scopes that suspended operations observe.

#include <coroutine>
#include <exception>
#include <functional>
#include <memory>

#include "tessera/task.hpp"

namespace tessera {

/// Thrown out of an awaiting operation (timer, receive, join…) whose cancellation scope was
/// cancelled while it waited.
class operation_cancelled : public std::exception {
public:
    [[nodiscard]] const char* what() const noexcept override { return "operation cancelled"; }
};

/// A callback registered on a `cancellation_state`; unregisters itself when destroyed. Intrusive,
/// so registering never allocates.
class cancellation_callback {
public:
    cancellation_callback() = default;
    cancellation_callback(const cancellation_callback&) = delete;
    cancellation_callback& operator=(const cancellation_callback&) = delete;
    ~cancellation_callback() { unregister(); }

    /// Calls `fn(context)` when `state` is cancelled (at once if it already is). `state` may be
    /// null, in which case nothing is registered.
    void register_on(cancellation_state* state, void (*fn)(void*), void* context);
    void unregister() noexcept;

private:
    friend class cancellation_state;
    cancellation_state* state_ = nullptr;
    cancellation_callback* prev_ = nullptr;
    cancellation_callback* next_ = nullptr;
    void (*fn_)(void*) = nullptr;
    void* context_ = nullptr;
};

/// One cancellation scope, bound to one event loop thread (not thread-safe by design: a
/// connection and all its coroutines live on one loop). A scope may have a parent scope whose
/// cancellation cancels it too. Coroutines carry a pointer to their scope in their promise;
/// awaiting a task passes the scope down.
class cancellation_state {
public:
    cancellation_state() = default;
    /// A child scope: cancelled when `parent` is (parent may be null).
    explicit cancellation_state(cancellation_state* parent);
    cancellation_state(const cancellation_state&) = delete;
    cancellation_state& operator=(const cancellation_state&) = delete;
    ~cancellation_state();

    [[nodiscard]] bool is_cancelled() const noexcept { return cancelled_; }
    /// Cancels the scope and runs every registered callback once, in registration order.
    void cancel() noexcept;

private:
    friend class cancellation_callback;
    static void cancel_from_parent(void* self) noexcept;
    bool cancelled_ = false;
    cancellation_callback* head_ = nullptr;
    cancellation_callback* tail_ = nullptr;
    cancellation_callback parent_link_;
};

/// A handle to the current coroutine's cancellation scope (see `current_cancellation`).
class cancellation_token {
public:
    cancellation_token() = default;
    explicit cancellation_token(cancellation_state* state) noexcept : state_(state) {}
    [[nodiscard]] bool is_cancelled() const noexcept { return state_ && state_->is_cancelled(); }
    /// Throws `operation_cancelled` if the scope is cancelled: a check point for long loops.
    void throw_if_cancelled() const {
        if (is_cancelled()) throw operation_cancelled{};
    }
    [[nodiscard]] cancellation_state* state() const noexcept { return state_; }

private:
    cancellation_state* state_ = nullptr;
};

namespace detail {
struct current_cancellation_awaiter {
    cancellation_state* state_ = nullptr;
    [[nodiscard]] bool await_ready() const noexcept { return false; }
    template <class Promise>
    bool await_suspend(std::coroutine_handle<Promise> self) noexcept {
        state_ = ambient_cancellation(self);
        return false;  // never actually suspends
    }
    [[nodiscard]] cancellation_token await_resume() const noexcept {
        return cancellation_token{state_};
    }
};

/// Awaits `work` under `scope` instead of the awaiting coroutine's own scope.
template <class T>
struct scoped_task_awaiter {
    // A constructor, not an aggregate: see the note on g++ 12 in events.hpp.
    scoped_task_awaiter(task<T> work, cancellation_state* scope) noexcept
        : work_(std::move(work)), scope_(scope) {}
    task<T> work_;
    cancellation_state* scope_;
    // A ready task has no coroutine to run under the scope: it continues at once.
    [[nodiscard]] bool await_ready() const noexcept { return work_.is_ready(); }
    transfer_result await_suspend(std::coroutine_handle<> parent) noexcept {
        auto child = work_.handle();
        child.promise().continuation_ = parent;
        child.promise().cancellation_ = scope_;
        return transfer_to(child, child.promise());
    }
    T await_resume() {
        if constexpr (std::is_void_v<T>) {
            if (work_.is_ready()) return;
        }
        return work_.handle().promise().take_result();
    }
};
}  // namespace detail

/// `co_await in_scope(std::move(work), &scope)` runs `work` with `scope` as its cancellation
/// scope (for code that builds a narrower scope, such as a deadline or a task group).
template <class T>
[[nodiscard]] detail::scoped_task_awaiter<T> in_scope(task<T> work, cancellation_state* scope) {
    return {std::move(work), scope};
}

/// `co_await current_cancellation()` gives the awaiting coroutine's cancellation token, for code
/// that wants to poll it between steps of a long computation.
[[nodiscard]] inline detail::current_cancellation_awaiter current_cancellation() noexcept {
    return {};
}

}  // namespace tessera
