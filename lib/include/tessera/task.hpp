#pragma once
/// `task<T>`: the lazy coroutine type every tessera API returns.

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <type_traits>
#include <utility>
#include <variant>

namespace tessera {

class cancellation_state;

namespace detail {
/// Coroutine frames come from a per-thread cache of recently freed frames, so a steady stream of
/// requests reuses the same memory instead of calling the global allocator for every coroutine.
/// Sanitizer builds bypass the cache so use-after-free stays detectable.
[[nodiscard]] void* allocate_frame(std::size_t size);
void deallocate_frame(void* frame, std::size_t size) noexcept;
}  // namespace detail

/// What every tessera promise carries: who to resume when done, and the ambient cancellation
/// scope that awaiting operations observe (inherited from the awaiting coroutine).
struct promise_base {
    std::coroutine_handle<> continuation_{};
    cancellation_state* cancellation_ = nullptr;
    /// Where this coroutine stands with an awaiter that runs it inline (see `detail::transfer_to`).
    enum class inline_run : unsigned char { no, running, finished };
    inline_run inline_ = inline_run::no;

    static void* operator new(std::size_t size) { return detail::allocate_frame(size); }
    static void operator delete(void* frame, std::size_t size) noexcept {
        detail::deallocate_frame(frame, size);
    }

    /// Resumes the awaiting coroutine by symmetric transfer, so chains of any depth use
    /// constant stack. (Also what an `async_generator` does at each `co_yield`.)
    struct final_awaiter {
        [[nodiscard]] bool await_ready() const noexcept { return false; }
        template <class Promise>
        std::coroutine_handle<> await_suspend(std::coroutine_handle<Promise> self) noexcept {
            auto& promise = self.promise();
            if (promise.inline_ == inline_run::running) {
                // The awaiter is still inside its await_suspend, running us inline: it sees
                // this and continues the awaiting coroutine itself, on its own stack frame.
                promise.inline_ = inline_run::finished;
                return std::noop_coroutine();
            }
            auto next = promise.continuation_;
            return next ? next : std::noop_coroutine();
        }
        void await_resume() const noexcept {}
    };
    [[nodiscard]] std::suspend_always initial_suspend() const noexcept { return {}; }
    [[nodiscard]] final_awaiter final_suspend() const noexcept { return {}; }
};

/// Copies the ambient cancellation scope from an awaiting coroutine to an awaited one, when the
/// awaiting coroutine is a tessera coroutine.
template <class Parent>
cancellation_state* ambient_cancellation(std::coroutine_handle<Parent> parent) noexcept {
    if constexpr (std::is_base_of_v<promise_base, Parent>) {
        return parent.promise().cancellation_;
    } else {
        return nullptr;
    }
}

template <class T = void>
class task;

// Symmetric transfer (await_suspend returning the next coroutine's handle) keeps the stack
// constant only if the compiler makes that resumption a tail call. Clang always does; GCC does
// only with sibling-call optimisation (-O2, -O3, -Os) and never under Address- or
// ThreadSanitizer, whose instrumentation prevents it. Without the tail call every await of a
// task that completes synchronously adds stack frames, and a loop of a million such awaits
// overflowed the stack (regression tests in tests/lib/task_test.cpp). So where the tail call is
// not guaranteed, awaiters run the awaited coroutine inline and, when it finishes (or yields)
// before returning, continue without suspending: sequential awaits use constant stack and only
// nesting depth costs stack. (GCC's -O1 and -Og cannot be told apart from -O2 by the
// preprocessor; they keep symmetric transfer without a guaranteed tail call.)
#if defined(__clang__)
#define TESSERA_TAIL_CALL_TRANSFER 1
#elif defined(__GNUC__) && defined(__OPTIMIZE__) && !defined(__SANITIZE_ADDRESS__) && \
    !defined(__SANITIZE_HWADDRESS__) && !defined(__SANITIZE_THREAD__)
#define TESSERA_TAIL_CALL_TRANSFER 1
#else
#define TESSERA_TAIL_CALL_TRANSFER 0
#endif

namespace detail {
#if TESSERA_TAIL_CALL_TRANSFER
using transfer_result = std::coroutine_handle<>;
/// Hands control from an awaiting coroutine to `next` (whose promise is `promise`); the value
/// is what the awaiter's await_suspend returns.
inline transfer_result transfer_to(std::coroutine_handle<> next, promise_base&) noexcept {
    return next;
}
#else
using transfer_result = bool;
inline transfer_result transfer_to(std::coroutine_handle<> next, promise_base& promise) noexcept {
    promise.inline_ = promise_base::inline_run::running;
    next.resume();
    // Either `next` reached its final (or yield) point while we were still here, and the
    // awaiting coroutine continues at once (false: do not stay suspended); or it suspended
    // somewhere, and its final_awaiter will resume the awaiting coroutine later.
    const bool finished = promise.inline_ == promise_base::inline_run::finished;
    promise.inline_ = promise_base::inline_run::no;
    return !finished;
}
#endif
}  // namespace detail

namespace detail {
template <class T>
struct task_promise : promise_base {
    std::variant<std::monostate, T, std::exception_ptr> result_;

    task<T> get_return_object() noexcept;
    void unhandled_exception() noexcept { result_.template emplace<2>(std::current_exception()); }
    template <class U>
        requires std::is_convertible_v<U&&, T>
    void return_value(U&& value) noexcept(std::is_nothrow_constructible_v<T, U&&>) {
        result_.template emplace<1>(std::forward<U>(value));
    }
    T take_result() {
        if (result_.index() == 2) std::rethrow_exception(std::get<2>(result_));
        assert(result_.index() == 1 && "task resumed its awaiter without a result");
        return std::move(std::get<1>(result_));
    }
};

template <>
struct task_promise<void> : promise_base {
    std::exception_ptr error_;

    task<void> get_return_object() noexcept;
    void unhandled_exception() noexcept { error_ = std::current_exception(); }
    void return_void() const noexcept {}
    void take_result() {
        if (error_) std::rethrow_exception(error_);
    }
};
}  // namespace detail

/// A lazy, move-only coroutine producing a `T`. Nothing runs until the task is awaited (or
/// handed to `sync_wait`, `when_all` or a `task_group`); exceptions thrown inside travel out of
/// the `co_await`. Destroying a task that never ran, or one suspended mid-way, frees its frame and
/// every local in it (awaiting operations unregister themselves). Awaiting resumes the task by
/// symmetric transfer, so a chain of a million nested awaits uses constant stack.
template <class T>
class [[nodiscard]] task {
public:
    using promise_type = detail::task_promise<T>;
    using handle_type = std::coroutine_handle<promise_type>;
    using value_type = T;

    task() noexcept = default;
    explicit task(handle_type handle) noexcept : frame_(handle.address()) {}
    task(task&& other) noexcept : frame_(std::exchange(other.frame_, nullptr)) {}
    task& operator=(task other) noexcept {
        std::swap(frame_, other.frame_);
        return *this;
    }
    ~task() {
        if (auto coroutine = handle()) coroutine.destroy();
    }

    /// A task whose work is already done: awaiting it continues at once. It has no coroutine
    /// frame, which is the point: a function that can usually finish at once (the server's
    /// `send` when nothing has to wait) returns this instead of running a coroutine, and only
    /// builds one for the cases that suspend. Such a function does its work when called rather
    /// than when awaited, so it is for primitives that are awaited at once (`co_await send(e)`).
    [[nodiscard]] static task ready() noexcept
        requires std::is_void_v<T>
    {
        task done;
        done.frame_ = ready_mark();
        return done;
    }

    /// True when the task holds work to await: a coroutine or a ready result (a
    /// default-constructed or moved-from task does not).
    [[nodiscard]] bool valid() const noexcept { return frame_ != nullptr; }
    /// True once the work has run to completion.
    [[nodiscard]] bool done() const noexcept { return is_ready() || (frame_ && handle().done()); }
    /// True for a task made by `ready()`: there is no coroutine to run.
    [[nodiscard]] bool is_ready() const noexcept { return frame_ == ready_mark(); }

    /// A null handle stands for a ready task (only `task<void>` has those).
    struct awaiter {
        handle_type handle_;
        [[nodiscard]] bool await_ready() const noexcept { return !handle_; }
        template <class Parent>
        detail::transfer_result await_suspend(std::coroutine_handle<Parent> parent) noexcept {
            handle_.promise().continuation_ = parent;
            handle_.promise().cancellation_ = ambient_cancellation(parent);
            return detail::transfer_to(handle_, handle_.promise());
        }
        T await_resume() {
            if constexpr (std::is_void_v<T>) {
                if (!handle_) return;
            }
            return handle_.promise().take_result();
        }
    };
    awaiter operator co_await() && noexcept {
        assert(valid() && "awaiting an empty task");
        return awaiter{handle()};
    }
    awaiter operator co_await() & noexcept {
        assert(valid() && "awaiting an empty task");
        return awaiter{handle()};
    }

    /// Gives up ownership of the coroutine (used by drivers such as `task_group`); a ready task
    /// has none.
    [[nodiscard]] handle_type release() noexcept {
        assert(!is_ready() && "a ready task has no coroutine to release");
        return handle_type::from_address(std::exchange(frame_, nullptr));
    }
    /// The coroutine; null for an empty or a ready task.
    [[nodiscard]] handle_type handle() const noexcept {
        return frame_ != nullptr && !is_ready() ? handle_type::from_address(frame_)
                                                : handle_type{};
    }

private:
    // A ready task's mark: an address no frame can have. A value, not the address of a
    // variable, so that every shared library agrees on it.
    static void* ready_mark() noexcept { return reinterpret_cast<void*>(std::uintptr_t{1}); }

    // The coroutine's frame address, null (no work), or ready_mark(). One pointer rather than a
    // handle and a flag: tasks sit in every suspended coroutine frame (an idle WebSocket holds
    // several), and the flag's eight bytes of padding showed as 64 bytes per idle WebSocket.
    void* frame_ = nullptr;
};
static_assert(sizeof(task<void>) == sizeof(void*), "a task is one pointer");

/// A task that fails with `error` when awaited: the counterpart of `task<>::ready()` for a
/// function that finishes at once by throwing, so its caller still sees the exception at the
/// `co_await`, as from any task.
task<void> failed_task(std::exception_ptr error);

namespace detail {
template <class T>
task<T> task_promise<T>::get_return_object() noexcept {
    return task<T>{std::coroutine_handle<task_promise<T>>::from_promise(*this)};
}
inline task<void> task_promise<void>::get_return_object() noexcept {
    return task<void>{std::coroutine_handle<task_promise<void>>::from_promise(*this)};
}
}  // namespace detail

}  // namespace tessera
