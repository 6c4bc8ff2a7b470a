#include "tessera/task_group.hpp"

#include <utility>

#include "tessera/loop.hpp"

namespace tessera {

// Each child runs inside a small driver coroutine that belongs to the group. When the child
// ends, the driver records its outcome, unlinks itself, destroys its own frame and hands control
// to the joiner if it was the last one; all from final_suspend, so no frame is touched after it
// is gone.
struct task_group::child_promise : promise_base {
    task_group* group_ = nullptr;
    child_promise* prev_ = nullptr;
    child_promise* next_ = nullptr;
    std::exception_ptr error_;

    struct child_handle {
        std::coroutine_handle<child_promise> handle;
    };
    child_handle get_return_object() noexcept {
        return {std::coroutine_handle<child_promise>::from_promise(*this)};
    }
    std::suspend_always initial_suspend() const noexcept { return {}; }
    struct final_awaiter {
        [[nodiscard]] bool await_ready() const noexcept { return false; }
        std::coroutine_handle<> await_suspend(std::coroutine_handle<child_promise> self) noexcept {
            auto& promise = self.promise();
            auto next = promise.group_->child_finished(promise);
            self.destroy();
            return next;
        }
        void await_resume() const noexcept {}
    };
    final_awaiter final_suspend() const noexcept { return {}; }
    void return_void() const noexcept {}
    void unhandled_exception() noexcept { error_ = std::current_exception(); }

    void unlink() noexcept {
        if (!group_) return;
        if (prev_) {
            prev_->next_ = next_;
        } else {
            group_->children_ = next_;
        }
        if (next_) next_->prev_ = prev_;
        prev_ = next_ = nullptr;
    }
    ~child_promise() { unlink(); }
};

}  // namespace tessera

template <class... Args>
struct std::coroutine_traits<tessera::task_group::child_promise::child_handle, Args...> {
    using promise_type = tessera::task_group::child_promise;
};

namespace tessera {

namespace {
task_group::child_promise::child_handle run_child(task<void> child,
                                                  cancellation_state* scope) {
    co_await in_scope(std::move(child), scope);
}
}  // namespace

task_group::~task_group() {
    // Destroy children still suspended somewhere: their frames unwind, their pending operations
    // unregister. Each destroy unlinks that child from the list.
    while (children_) {
        auto handle = std::coroutine_handle<child_promise>::from_promise(*children_);
        handle.destroy();
        if (running_ > 0) --running_;
    }
}

void task_group::spawn(task<void> child) {
    auto handle = run_child(std::move(child), &scope_).handle;
    auto& promise = handle.promise();
    promise.group_ = this;
    promise.next_ = children_;
    if (children_) children_->prev_ = &promise;
    children_ = &promise;
    ++running_;
    // The child runs until its first suspension; any activity label it sets stays with it.
    const detail::resumption_activity keep(activity_scope::current());
    handle.resume();
}

std::coroutine_handle<> task_group::child_finished(child_promise& child) noexcept {
    child.unlink();
    child.group_ = nullptr;
    if (child.error_) {
        bool is_cancellation = false;
        try {
            std::rethrow_exception(child.error_);
        } catch (const operation_cancelled&) {
            is_cancellation = true;
        } catch (...) {
        }
        // A child unwinding because the group was cancelled is not a failure of its own.
        if (!(is_cancellation && scope_.is_cancelled()) && !first_error_) {
            first_error_ = child.error_;
            scope_.cancel();
        }
    }
    --running_;
    if (running_ == 0 && joiner_) return std::exchange(joiner_, {});
    return std::noop_coroutine();
}

void task_group::join_awaiter::suspend(std::coroutine_handle<> self, cancellation_state* outer) {
    group_.joiner_ = self;
    outer_link_.register_on(outer, &on_outer_cancel, &group_);
}

void task_group::join_awaiter::on_outer_cancel(void* raw) noexcept {
    auto* group = static_cast<task_group*>(raw);
    group->cancelled_from_outside_ = true;
    group->cancel();
}

void task_group::join_awaiter::await_resume() {
    outer_link_.unregister();
    if (group_.first_error_) std::rethrow_exception(std::exchange(group_.first_error_, {}));
    // The joiner itself was cancelled: it must not carry on as if its children had completed.
    // (A deliberate group.cancel() is not an error: join simply returns.)
    if (group_.cancelled_from_outside_) throw operation_cancelled{};
}

}  // namespace tessera
