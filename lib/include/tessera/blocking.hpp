#pragma once
/// `run_blocking`: move blocking work off the loop and resume on it when done.

#include <coroutine>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <type_traits>
#include <utility>

namespace tessera {

class event_loop;

namespace detail {
/// One piece of blocking work in flight. Heap-allocated so it survives the awaiting coroutine
/// being destroyed mid-way: then it is marked abandoned and frees itself when the work ends.
struct blocking_job {
    virtual ~blocking_job() = default;
    virtual void execute() noexcept = 0;  // runs on the worker thread
    event_loop* loop = nullptr;
    std::coroutine_handle<> waiter{};
    std::string_view activity;  // the watchdog label to restore on resumption
    bool abandoned = false;
};

template <class F>
struct blocking_job_of final : blocking_job {
    using result_type = std::invoke_result_t<F&>;
    explicit blocking_job_of(F&& f) : fn(std::move(f)) {}
    void execute() noexcept override {
        try {
            if constexpr (std::is_void_v<result_type>) {
                fn();
                value.emplace();
            } else {
                value.emplace(fn());
            }
        } catch (...) {
            error = std::current_exception();
        }
    }
    F fn;
    std::optional<std::conditional_t<std::is_void_v<result_type>, char, result_type>> value;
    std::exception_ptr error;
};

class thread_affinity_impl;
/// Hands `job` to the libuv thread pool (or to `affinity`'s thread) and arranges for the job's
/// waiter to be resumed on the current loop. Takes ownership of the job on the worker side.
void submit_blocking(blocking_job* job, thread_affinity_impl* affinity);
/// Called by an awaiter destroyed before its job finished.
void abandon_blocking(blocking_job* job) noexcept;

template <class F>
class blocking_awaiter {
public:
    blocking_awaiter(F&& fn, thread_affinity_impl* affinity)
        : job_(new blocking_job_of<F>(std::move(fn))), affinity_(affinity) {}
    blocking_awaiter(const blocking_awaiter&) = delete;
    blocking_awaiter& operator=(const blocking_awaiter&) = delete;
    blocking_awaiter(blocking_awaiter&& other) noexcept
        : job_(std::exchange(other.job_, nullptr)), affinity_(other.affinity_),
          submitted_(other.submitted_) {}
    ~blocking_awaiter() {
        if (!job_) return;
        if (submitted_ && !finished_) {
            abandon_blocking(job_);  // the worker side frees it
        } else {
            delete job_;
        }
    }

    [[nodiscard]] bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> self) {
        job_->waiter = self;
        submit_blocking(job_, affinity_);
        submitted_ = true;
    }
    auto await_resume() {
        finished_ = true;
        if (job_->error) std::rethrow_exception(job_->error);
        if constexpr (!std::is_void_v<typename blocking_job_of<F>::result_type>) {
            return std::move(*job_->value);
        }
    }

private:
    blocking_job_of<F>* job_;
    thread_affinity_impl* affinity_;
    bool submitted_ = false;
    bool finished_ = false;
};
}  // namespace detail

/// A dedicated worker thread for thread-sensitive libraries (SQLite connections, some GUI or
/// crypto libraries): everything submitted to one affinity runs on the same OS thread, in order.
/// The destructor finishes queued work, then joins the thread.
class thread_affinity {
public:
    explicit thread_affinity(std::string name = "tessera-affinity");
    thread_affinity(const thread_affinity&) = delete;
    thread_affinity& operator=(const thread_affinity&) = delete;
    ~thread_affinity();
    /// The OS thread's id, for assertions in tests and diagnostics.
    [[nodiscard]] std::thread::id thread_id() const noexcept;
    [[nodiscard]] detail::thread_affinity_impl* impl() const noexcept { return impl_.get(); }

private:
    std::unique_ptr<detail::thread_affinity_impl> impl_;
};

/// `co_await run_blocking(fn)` runs `fn()` on the libuv thread pool and resumes the awaiting
/// coroutine on its own loop with `fn`'s result (or exception). The loop keeps serving others
/// meanwhile. Blocking work cannot be interrupted: cancellation takes effect after it returns
/// (at the coroutine's next cancellable await).
///
/// g++ 12 destroys a lambda temporary written inside a `co_await` expression twice, so
/// `co_await run_blocking([name] { ... })` with a capture that has a destructor (a string, a
/// shared_ptr) double-frees it. Name the lambda first (`auto job = [name] { ... };
/// co_await run_blocking(std::move(job));`) or capture only pointers and plain values.
template <class F>
[[nodiscard]] detail::blocking_awaiter<std::decay_t<F>> run_blocking(F&& fn) {
    return {std::decay_t<F>(std::forward<F>(fn)), nullptr};
}

/// The same, but on `affinity`'s dedicated thread.
template <class F>
[[nodiscard]] detail::blocking_awaiter<std::decay_t<F>> run_blocking(F&& fn,
                                                                     thread_affinity& affinity) {
    return {std::decay_t<F>(std::forward<F>(fn)), affinity.impl()};
}

}  // namespace tessera
