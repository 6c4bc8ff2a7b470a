#pragma once
/// A minimal owning coroutine used by drivers (`sync_wait`, test transports): it starts when told,
/// never propagates exceptions (bodies catch their own), and is destroyed by its owner.

#include <coroutine>
#include <exception>
#include <utility>

#include "tessera/loop.hpp"
#include "tessera/task.hpp"

namespace tessera::detail {

class driver {
public:
    struct promise_type : promise_base {
        driver get_return_object() noexcept {
            return driver{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        std::suspend_always final_suspend() const noexcept { return {}; }
        void return_void() const noexcept {}
        // Bodies catch everything themselves; anything escaping is a bug in the body.
        [[noreturn]] void unhandled_exception() const noexcept { std::terminate(); }
    };

    driver() = default;
    explicit driver(std::coroutine_handle<promise_type> handle) noexcept : handle_(handle) {}
    driver(driver&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    driver& operator=(driver other) noexcept {
        std::swap(handle_, other.handle_);
        return *this;
    }
    ~driver() {
        if (handle_) handle_.destroy();
    }

    /// Runs the body until its first suspension; an activity label the body sets stays with it.
    void start() {
        const resumption_activity keep(activity_scope::current());
        handle_.resume();
    }
    [[nodiscard]] bool done() const noexcept { return !handle_ || handle_.done(); }

private:
    std::coroutine_handle<promise_type> handle_{};
};

}  // namespace tessera::detail
