#pragma once
/// Timers: `sleep_for` and deadlines on any task.

#include <chrono>
#include <coroutine>
#include <optional>
#include <stdexcept>
#include <type_traits>

#include "tessera/cancellation.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// Thrown by `with_timeout` when the task did not finish in time.
class timeout_error : public std::runtime_error {
public:
    timeout_error() : std::runtime_error("operation timed out") {}
};

namespace detail {
struct timer_state;  // owns the uv_timer_t; outlives the awaiter until libuv closes the handle

/// Awaiter of `sleep_for`. Cancellation of the awaiting coroutine's scope wakes it early with
/// `operation_cancelled`; destroying the suspended coroutine stops the timer.
class sleep_awaiter {
public:
    explicit sleep_awaiter(std::chrono::milliseconds duration) noexcept : duration_(duration) {}
    sleep_awaiter(const sleep_awaiter&) = delete;
    sleep_awaiter& operator=(const sleep_awaiter&) = delete;
    ~sleep_awaiter();

    [[nodiscard]] bool await_ready() const noexcept { return false; }
    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> self) {
        start(self, ambient_cancellation(self));
    }
    void await_resume();

private:
    void start(std::coroutine_handle<> self, cancellation_state* scope);
    static void on_cancel(void* self) noexcept;
    std::chrono::milliseconds duration_;
    timer_state* timer_ = nullptr;
    cancellation_callback cancel_;
    bool cancelled_ = false;
};
}  // namespace detail

/// Suspends the awaiting coroutine for `duration` on the current thread's loop, without blocking
/// the loop. Throws `operation_cancelled` if the coroutine's scope is cancelled meanwhile.
template <class Rep, class Period>
[[nodiscard]] detail::sleep_awaiter sleep_for(std::chrono::duration<Rep, Period> duration) {
    return detail::sleep_awaiter{std::chrono::ceil<std::chrono::milliseconds>(duration)};
}

namespace detail {
task<void> run_with_deadline(task<void> work, std::chrono::milliseconds limit,
                             cancellation_state* outer);
}  // namespace detail

/// Runs `work` with a deadline: if it has not finished after `limit`, its cancellation scope is
/// cancelled (its pending timer, receive or join throws `operation_cancelled`), and once it has
/// unwound `timeout_error` is thrown. Other errors pass through unchanged.
template <class T, class Rep, class Period>
task<T> with_timeout(task<T> work, std::chrono::duration<Rep, Period> limit) {
    const auto ms = std::chrono::ceil<std::chrono::milliseconds>(limit);
    const cancellation_token token = co_await current_cancellation();
    auto* const outer = token.state();
    if constexpr (std::is_void_v<T>) {
        co_await detail::run_with_deadline(std::move(work), ms, outer);
    } else {
        std::optional<T> result;
        co_await detail::run_with_deadline(
            [](task<T> inner, std::optional<T>& out) -> task<void> {
                out.emplace(co_await std::move(inner));
            }(std::move(work), result),
            ms, outer);
        co_return std::move(*result);
    }
}

}  // namespace tessera
