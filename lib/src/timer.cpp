#include "tessera/timer.hpp"

#include <uv.h>

#include <cstdint>

#include "loop_impl.hpp"

namespace tessera {

namespace detail {

namespace {
// Starts `handle` so that it fires no earlier than `duration` from now. libuv measures a timer
// from the loop's cached clock, which is as old as the loop's last iteration: without the update,
// a timer started after a stretch of work (or from sync_wait on a loop idle since long ago) fired
// early, even at once. The cached clock also counts whole milliseconds (truncated), so one more
// millisecond makes "at least `duration`" hold.
void start_timer(uv_timer_t* handle, uv_timer_cb callback, std::chrono::milliseconds duration) {
    uv_update_time(handle->loop);
    const auto ms = duration.count() <= 0 ? 0 : static_cast<std::uint64_t>(duration.count()) + 1;
    uv_timer_start(handle, callback, ms, 0);
}
}  // namespace

// The uv_timer_t must live until libuv's close callback, which comes after the awaiting
// coroutine may already be gone; so it lives here, separate from the awaiter, and frees itself.
struct timer_state {
    uv_timer_t handle{};
    event_loop* loop = nullptr;
    std::coroutine_handle<> waiter{};
    std::string_view activity;

    static void on_fire(uv_timer_t* handle) {
        auto* self = static_cast<timer_state*>(handle->data);
        auto waiter = std::exchange(self->waiter, {});
        if (!waiter) return;
        self->loop->guarded([&] {
            const detail::resumption_activity activity(self->activity);
            waiter.resume();
        });
    }
    void close() noexcept {
        waiter = {};
        uv_timer_stop(&handle);
        uv_close(reinterpret_cast<uv_handle_t*>(&handle), [](uv_handle_t* h) {
            delete static_cast<timer_state*>(h->data);
        });
    }
};

sleep_awaiter::~sleep_awaiter() {
    if (timer_) timer_->close();
}

void sleep_awaiter::start(std::coroutine_handle<> self, cancellation_state* scope) {
    auto& loop = this_thread_loop();
    timer_ = new timer_state;
    timer_->loop = &loop;
    timer_->waiter = self;
    timer_->activity = activity_scope::current();
    uv_timer_init(static_cast<uv_loop_t*>(loop.native_handle()), &timer_->handle);
    timer_->handle.data = timer_;
    start_timer(&timer_->handle, &timer_state::on_fire, duration_);
    // Registered last: if the scope is already cancelled this resumes nothing yet (we are still
    // inside await_suspend), it only marks us so the timer fires at once.
    cancel_.register_on(scope, &on_cancel, this);
}

void sleep_awaiter::on_cancel(void* raw) noexcept {
    auto* self = static_cast<sleep_awaiter*>(raw);
    self->cancelled_ = true;
    // Wake through the loop rather than resuming inline: cancel() may run deep inside another
    // coroutine, and resuming here would interleave two coroutines' stacks.
    uv_timer_start(&self->timer_->handle, &timer_state::on_fire, 0, 0);
}

void sleep_awaiter::await_resume() {
    cancel_.unregister();
    if (timer_) {
        timer_->close();
        timer_ = nullptr;
    }
    if (cancelled_) throw operation_cancelled{};
}

task<void> run_with_deadline(task<void> work, std::chrono::milliseconds limit,
                             cancellation_state* outer) {
    cancellation_state scope(outer);
    bool timed_out = false;
    struct deadline {
        uv_timer_t* handle = new uv_timer_t;
        struct context {
            cancellation_state* scope;
            bool* timed_out;
        } ctx;
        ~deadline() {
            uv_close(reinterpret_cast<uv_handle_t*>(handle),
                     [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
        }
    } timer{.ctx = {&scope, &timed_out}};
    uv_timer_init(current_uv_loop(), timer.handle);
    timer.handle->data = &timer.ctx;
    start_timer(
        timer.handle,
        [](uv_timer_t* h) {
            auto* ctx = static_cast<deadline::context*>(h->data);
            *ctx->timed_out = true;
            ctx->scope->cancel();
        },
        limit);
    try {
        co_await in_scope(std::move(work), &scope);
    } catch (const operation_cancelled&) {
        if (timed_out && !(outer && outer->is_cancelled())) throw timeout_error{};
        throw;
    }
    // Finished in time but cancellation arrived late: a result is still a result.
}

}  // namespace detail

}  // namespace tessera
