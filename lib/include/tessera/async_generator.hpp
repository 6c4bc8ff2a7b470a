#pragma once
/// `async_generator<T>`: a coroutine that `co_yield`s values and may `co_await` between them.

#include <coroutine>
#include <exception>
#include <optional>
#include <type_traits>
#include <utility>

#include "tessera/task.hpp"

namespace tessera {

/// A lazy asynchronous sequence: the body runs only when the consumer asks for the next value
/// with `co_await gen.next()`, which gives `std::nullopt` at the end and rethrows the body's
/// exception. The body inherits the consumer's cancellation scope while it runs, so a
/// `sleep_for` inside it wakes with `operation_cancelled` when the consumer is cancelled.
/// Destroying the generator destroys a suspended body (its locals unwind).
template <class T>
class [[nodiscard]] async_generator {
public:
    struct promise_type : promise_base {
        std::optional<T> current_;
        std::exception_ptr error_;

        async_generator get_return_object() noexcept {
            return async_generator{std::coroutine_handle<promise_type>::from_promise(*this)};
        }
        template <class U>
            requires std::is_constructible_v<T, U&&>
        final_awaiter yield_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
            current_.emplace(std::forward<U>(value));
            return {};
        }
        void return_void() const noexcept {}
        void unhandled_exception() noexcept { error_ = std::current_exception(); }
    };
    using handle_type = std::coroutine_handle<promise_type>;

    async_generator() noexcept = default;
    explicit async_generator(handle_type handle) noexcept : handle_(handle) {}
    async_generator(async_generator&& other) noexcept : handle_(std::exchange(other.handle_, {})) {}
    async_generator& operator=(async_generator other) noexcept {
        std::swap(handle_, other.handle_);
        return *this;
    }
    ~async_generator() {
        if (handle_) handle_.destroy();
    }

    class next_awaiter {
    public:
        explicit next_awaiter(handle_type handle) noexcept : handle_(handle) {}
        [[nodiscard]] bool await_ready() const noexcept { return !handle_ || handle_.done(); }
        template <class Parent>
        detail::transfer_result await_suspend(std::coroutine_handle<Parent> parent) noexcept {
            handle_.promise().current_.reset();
            handle_.promise().continuation_ = parent;
            handle_.promise().cancellation_ = ambient_cancellation(parent);
            return detail::transfer_to(handle_, handle_.promise());
        }
        std::optional<T> await_resume() {
            if (!handle_) return std::nullopt;
            auto& promise = handle_.promise();
            if (promise.error_) std::rethrow_exception(std::exchange(promise.error_, {}));
            if (handle_.done()) return std::nullopt;
            return std::move(promise.current_);
        }

    private:
        handle_type handle_;
    };

    /// The next value, or `std::nullopt` once the body has returned.
    [[nodiscard]] next_awaiter next() noexcept { return next_awaiter{handle_}; }
    [[nodiscard]] bool valid() const noexcept { return static_cast<bool>(handle_); }

private:
    handle_type handle_{};
};

}  // namespace tessera
