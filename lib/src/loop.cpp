#include "tessera/loop.hpp"

#include <uv.h>

#include <cassert>
#include <mutex>
#include <stdexcept>
#include <utility>
#include <vector>

#include "loop_impl.hpp"
#include "tls_model.hpp"
#include "tessera/sync_wait.hpp"

namespace tessera {

namespace {
TESSERA_FAST_TLS thread_local event_loop* current_loop = nullptr;
thread_local std::unique_ptr<event_loop> lazily_created_loop;
}  // namespace

event_loop::event_loop(event_loop_options options) : event_loop(nullptr, std::move(options)) {}

std::unique_ptr<event_loop> event_loop::adopt(void* uv_loop, event_loop_options options) {
    if (!uv_loop) throw std::invalid_argument("event_loop::adopt: null uv_loop_t");
    return std::unique_ptr<event_loop>(new event_loop(uv_loop, std::move(options)));
}

event_loop::event_loop(void* adopted, event_loop_options options)
    : impl_(std::make_unique<impl>()) {
    if (current_loop) {
        throw std::logic_error("event_loop: this thread already has an event loop");
    }
    impl_->options = std::move(options);
    impl_->owner = this;
    if (adopted) {
        impl_->uv = static_cast<uv_loop_t*>(adopted);
    } else {
        impl_->owned = std::make_unique<uv_loop_t>();
        if (int rc = uv_loop_init(impl_->owned.get()); rc != 0) {
            throw std::runtime_error(std::string("uv_loop_init: ") + uv_strerror(rc));
        }
        impl_->uv = impl_->owned.get();
    }
    impl_->wakeup = new uv_async_t;
    uv_async_init(impl_->uv, impl_->wakeup, &impl::on_wakeup);
    impl_->wakeup->data = impl_.get();
    uv_unref(reinterpret_cast<uv_handle_t*>(impl_->wakeup));
    watchdog_enabled_ = impl_->options.watchdog;
    current_loop = this;
}

event_loop::~event_loop() {
    uv_close(reinterpret_cast<uv_handle_t*>(impl_->wakeup),
             [](uv_handle_t* handle) { delete reinterpret_cast<uv_async_t*>(handle); });
    if (impl_->owned) {
        // Let close callbacks (ours and those of handles closed by their owners) run, then close.
        uv_run(impl_->uv, UV_RUN_NOWAIT);
        while (uv_loop_close(impl_->uv) == UV_EBUSY) {
            uv_walk(
                impl_->uv,
                [](uv_handle_t* handle, void*) {
                    if (!uv_is_closing(handle)) uv_close(handle, nullptr);
                },
                nullptr);
            uv_run(impl_->uv, UV_RUN_NOWAIT);
        }
    }
    if (current_loop == this) current_loop = nullptr;
}

event_loop* event_loop::current() noexcept { return current_loop; }
void* event_loop::native_handle() const noexcept { return impl_->uv; }
const event_loop_options& event_loop::options() const noexcept { return impl_->options; }

void event_loop::run() { uv_run(impl_->uv, UV_RUN_DEFAULT); }
bool event_loop::run_once() { return uv_run(impl_->uv, UV_RUN_ONCE) != 0; }
void event_loop::run_nowait() { uv_run(impl_->uv, UV_RUN_NOWAIT); }
void event_loop::stop() noexcept { uv_stop(impl_->uv); }

void event_loop::post(std::function<void()> fn) {
    const bool same_thread = current_loop == this;
    {
        std::lock_guard lock(impl_->mutex);
        impl_->posted.push_back(std::move(fn));
    }
    // A post from the loop's own thread is pending work the loop must not exit before running;
    // from other threads the poster arranged a hold() (uv_ref is not thread-safe).
    if (same_thread) {
        hold();
        ++impl_->self_posted;
    }
    uv_async_send(impl_->wakeup);
}

void event_loop::post(std::coroutine_handle<> handle) {
    // The label to resume under is the poster's only when posting from this loop's own thread:
    // another thread's label means nothing here, and its owner may be gone by the time this runs.
    const auto label = current_loop == this ? activity_scope::current() : std::string_view{};
    post([handle, label] {
        const detail::resumption_activity activity(label);
        handle.resume();
    });
}

void event_loop::hold() noexcept {
    if (impl_->holds++ == 0) uv_ref(reinterpret_cast<uv_handle_t*>(impl_->wakeup));
}

void event_loop::release() noexcept {
    assert(impl_->holds > 0);
    if (--impl_->holds == 0) uv_unref(reinterpret_cast<uv_handle_t*>(impl_->wakeup));
}

void event_loop::impl::on_wakeup(uv_async_t* handle) {
    auto* self = static_cast<impl*>(handle->data);
    std::vector<std::function<void()>> batch;
    {
        std::lock_guard lock(self->mutex);
        batch.swap(self->posted);
    }
    const auto own = std::exchange(self->self_posted, 0);
    for (auto& fn : batch) {
        self->owner->guarded(fn);
    }
    for (std::size_t i = 0; i < own; ++i) self->owner->release();
}

event_loop& this_thread_loop() {
    if (current_loop) return *current_loop;
    lazily_created_loop = std::make_unique<event_loop>();
    return *lazily_created_loop;
}

namespace detail {
void run_loop_until(const bool& done) {
    auto& loop = this_thread_loop();
    while (!done) {
        if (!loop.run_once() && !done) {
            // One more pass runs callbacks made pending by the last one (close callbacks).
            loop.run_nowait();
            if (!done) {
                throw std::logic_error(
                    "sync_wait: the task is waiting for an event that nothing will deliver");
            }
        }
    }
}
}  // namespace detail

}  // namespace tessera
