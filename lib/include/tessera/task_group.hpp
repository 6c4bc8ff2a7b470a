#pragma once
/// `task_group`: structured concurrency for tasks running side by side on one loop.

#include <coroutine>
#include <cstddef>
#include <exception>

#include "tessera/cancellation.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// Runs child tasks concurrently on the current thread's loop. Structured: `co_await join()`
/// waits for every child; the first child to fail cancels the others (their pending operations
/// throw `operation_cancelled`) and its exception is rethrown from `join()` once all have ended.
/// Destroying a group that still has children destroys them where they are suspended (their
/// locals unwind and pending operations unregister), so no child outlives its group. Cancelling
/// the coroutine that awaits `join()` cancels the group. Not thread-safe: one loop only.
class task_group {
public:
    task_group() = default;
    task_group(const task_group&) = delete;
    task_group& operator=(const task_group&) = delete;
    ~task_group();

    /// Starts `child` at once (it runs until its first suspension before `spawn` returns). The
    /// child runs under the spawner's activity label unless it sets its own; labels are views, so
    /// a child of a group that outlives its spawner should set its own (see `activity_scope`).
    void spawn(task<void> child);
    /// Cancels every running child. `join()` then returns normally once they have unwound
    /// (unless a child failed with an error of its own, which it rethrows).
    void cancel() noexcept { scope_.cancel(); }
    [[nodiscard]] bool is_cancelled() const noexcept { return scope_.is_cancelled(); }
    /// Children that have not finished yet.
    [[nodiscard]] std::size_t running() const noexcept { return running_; }

    class join_awaiter {
    public:
        explicit join_awaiter(task_group& group) noexcept : group_(group) {}
        [[nodiscard]] bool await_ready() const noexcept { return group_.running_ == 0; }
        template <class Promise>
        void await_suspend(std::coroutine_handle<Promise> self) {
            suspend(self, ambient_cancellation(self));
        }
        void await_resume();

    private:
        void suspend(std::coroutine_handle<> self, cancellation_state* outer);
        static void on_outer_cancel(void* group) noexcept;
        task_group& group_;
        cancellation_callback outer_link_;
    };
    /// Waits until every child has finished; rethrows the first failure.
    [[nodiscard]] join_awaiter join() noexcept { return join_awaiter{*this}; }

    struct child_promise;

private:
    friend struct child_promise;
    std::coroutine_handle<> child_finished(child_promise& child) noexcept;

    cancellation_state scope_;
    child_promise* children_ = nullptr;  // intrusive list of running children
    std::size_t running_ = 0;
    std::exception_ptr first_error_;
    std::coroutine_handle<> joiner_{};
    bool cancelled_from_outside_ = false;
};

}  // namespace tessera
