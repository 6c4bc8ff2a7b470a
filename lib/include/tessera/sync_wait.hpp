#pragma once
/// `sync_wait`: run a task to completion from ordinary (non-coroutine) code.

#include <exception>
#include <optional>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "tessera/detail/driver.hpp"
#include "tessera/loop.hpp"
#include "tessera/task.hpp"

namespace tessera {

namespace detail {
template <class T>
struct sync_wait_state {
    std::optional<std::conditional_t<std::is_void_v<T>, char, T>> value;
    std::exception_ptr error;
    bool done = false;
};

template <class T>
driver sync_wait_body(task<T> work, sync_wait_state<T>& state) {
    try {
        if constexpr (std::is_void_v<T>) {
            co_await std::move(work);
            state.value.emplace();
        } else {
            state.value.emplace(co_await std::move(work));
        }
    } catch (...) {
        state.error = std::current_exception();
    }
    state.done = true;
}

/// Runs the calling thread's loop until `done` is set. Throws std::logic_error when the loop runs
/// out of work first (the task waits for something nothing will ever deliver).
void run_loop_until(const bool& done);
}  // namespace detail

/// Starts `work` on the calling thread and runs the thread's event loop (creating it if needed)
/// until the task finishes; returns its value or rethrows its exception. For `main`, tests and
/// bridges from synchronous code; never call it from inside a coroutine running on a loop.
template <class T>
T sync_wait(task<T> work) {
    detail::sync_wait_state<T> state;
    auto body = detail::sync_wait_body(std::move(work), state);
    body.start();
    detail::run_loop_until(state.done);
    if (state.error) std::rethrow_exception(state.error);
    if constexpr (!std::is_void_v<T>) return std::move(*state.value);
}

}  // namespace tessera
