#pragma once
// `wake_slot`: one coroutine waiting for a signal from another coroutine on the same loop.

#include <coroutine>
#include <memory>

#include "tessera/cancellation.hpp"
#include "tessera/loop.hpp"

namespace tessera::detail {

// The waiter is resumed from the loop (a post), never inline from `notify`: the notifier is
// often a child coroutine whose frame the woken parent may destroy (a task group cancelled
// after a failure), and resuming the parent on the child's stack would destroy a running
// frame. The post holds a liveness flag, so a waiter destroyed before the post runs (its
// coroutine torn down) is not resumed. Cancelling the waiter's scope wakes it with
// `operation_cancelled`. Level-triggered use: `while (!ready) co_await slot.wait();`.
class wake_slot {
public:
    class awaiter {
    public:
        explicit awaiter(wake_slot& slot) noexcept : slot_(slot) {}
        awaiter(const awaiter&) = delete;
        awaiter& operator=(const awaiter&) = delete;
        ~awaiter() {
            if (alive_) *alive_ = false;
            if (slot_.waiter_ == this) slot_.waiter_ = nullptr;
        }
        [[nodiscard]] bool await_ready() const noexcept { return false; }
        template <class Promise>
        void await_suspend(std::coroutine_handle<Promise> self) {
            self_ = self;
            alive_ = std::make_shared<bool>(true);
            slot_.waiter_ = this;
            cancel_.register_on(ambient_cancellation(self), &on_cancel, this);
        }
        void await_resume() {
            cancel_.unregister();
            if (cancelled_) throw operation_cancelled{};
        }
        void wake() {
            if (slot_.waiter_ != this) return;  // already woken
            slot_.waiter_ = nullptr;
            auto handle = self_;
            auto alive = alive_;
            this_thread_loop().post([handle, alive] {
                if (!*alive) return;
                const resumption_activity activity({});
                handle.resume();
            });
        }

    private:
        static void on_cancel(void* raw) noexcept {
            auto* self = static_cast<awaiter*>(raw);
            self->cancelled_ = true;
            self->wake();
        }
        wake_slot& slot_;
        std::coroutine_handle<> self_{};
        std::shared_ptr<bool> alive_;
        cancellation_callback cancel_;
        bool cancelled_ = false;
    };

    wake_slot() = default;
    wake_slot(const wake_slot&) = delete;
    wake_slot& operator=(const wake_slot&) = delete;

    [[nodiscard]] awaiter wait() noexcept { return awaiter(*this); }
    // Wakes the waiter, if one is waiting; a signal with nobody waiting is not kept.
    void notify() {
        if (waiter_) waiter_->wake();
    }

private:
    awaiter* waiter_ = nullptr;
};

}  // namespace tessera::detail
