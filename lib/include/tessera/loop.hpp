#pragma once
/// `event_loop`: one libuv loop per thread, wrapped so `<uv.h>` stays out of public headers.

#include <chrono>
#include <coroutine>
#include <functional>
#include <memory>
#include <string_view>

#include "tessera/log.hpp"

namespace tessera {

/// Options of an event loop, with the guard rails of DESIGN.md §4.
struct event_loop_options {
#ifdef NDEBUG
    bool watchdog = false;
#else
    bool watchdog = true;
#endif
    /// A callback holding the loop longer than this is reported through `sink`.
    std::chrono::milliseconds watchdog_threshold{100};
    log_sink sink;
};

/// An event loop bound to the thread that created it (at most one per thread). It owns a
/// `uv_loop_t`, or adopts one the caller owns for embedding. Everything that suspends in tessera
/// (timers, blocking work, transports) resumes on the loop of the thread that awaited.
class event_loop {
public:
    explicit event_loop(event_loop_options options = {});
    /// Wraps a `uv_loop_t*` owned by the caller, who keeps running it; passed as `void*` so
    /// callers need not include `<uv.h>` here.
    static std::unique_ptr<event_loop> adopt(void* uv_loop, event_loop_options options = {});
    event_loop(const event_loop&) = delete;
    event_loop& operator=(const event_loop&) = delete;
    ~event_loop();

    /// The loop bound to the calling thread, or null.
    [[nodiscard]] static event_loop* current() noexcept;
    /// The underlying `uv_loop_t*`.
    [[nodiscard]] void* native_handle() const noexcept;
    [[nodiscard]] const event_loop_options& options() const noexcept;

    /// Runs until `stop()` or until nothing is left to wait for.
    void run();
    /// Runs one iteration, waiting for at least one event if anything is pending. Returns false
    /// when nothing is left to wait for.
    bool run_once();
    /// Runs one iteration without waiting.
    void run_nowait();
    void stop() noexcept;

    /// Runs `fn` on this loop's thread soon. Safe to call from any thread.
    void post(std::function<void()> fn);
    /// Resumes `handle` on this loop's thread soon. Safe to call from any thread.
    void post(std::coroutine_handle<> handle);

    /// Keeps the loop alive while some other thread owes it a `post` (the cross-thread wake-up
    /// handle is otherwise not counted as pending work, so `run()` can finish).
    void hold() noexcept;
    void release() noexcept;

    /// Runs `fn` as one loop callback under the watchdog: if it takes longer than the threshold,
    /// a warning naming the current activity goes to the sink.
    template <class F>
    void guarded(F&& fn) {
        if (!watchdog_enabled_) {
            std::forward<F>(fn)();
            return;
        }
        struct end_on_exit {
            event_loop* self;
            bool outer;
            ~end_on_exit() { self->watchdog_end(outer); }
        } guard{this, watchdog_begin()};
        std::forward<F>(fn)();
    }

    struct impl;

private:
    explicit event_loop(void* adopted, event_loop_options options);
    bool watchdog_begin() noexcept;
    void watchdog_end(bool outer) noexcept;
    friend class activity_scope;
    std::unique_ptr<impl> impl_;
    bool watchdog_enabled_ = false;
};

/// What the current thread is doing, for watchdog reports ("GET /slow"). Set for the duration
/// of a scope; awaiting operations capture the label when they suspend and restore it when they
/// resume, so a report names the request whose code held the loop. A label set inside a
/// coroutine is in force only while that coroutine runs: starting or resuming a coroutine puts
/// back the previous label once it suspends. The label is viewed, not copied: its owner must
/// outlive the scope.
class activity_scope {
public:
    explicit activity_scope(std::string_view label) noexcept;
    activity_scope(const activity_scope&) = delete;
    activity_scope& operator=(const activity_scope&) = delete;
    ~activity_scope();
    /// The label in force on this thread (empty when unknown). The view stays valid while the
    /// scope that set it lives.
    [[nodiscard]] static std::string_view current() noexcept;

private:
    std::string_view label_;
    std::string_view previous_;
};

namespace detail {
/// Runs one start or resumption of a coroutine under `label` (what the coroutine had in force
/// when it suspended) and afterwards puts back the label of the code that started or resumed
/// it, whatever scopes the coroutine left open in its suspended frame. Used by everything that
/// starts or resumes coroutines (timers, blocking work, posts, task_group, drivers).
class resumption_activity {
public:
    explicit resumption_activity(std::string_view label) noexcept;
    resumption_activity(const resumption_activity&) = delete;
    resumption_activity& operator=(const resumption_activity&) = delete;
    ~resumption_activity();

private:
    std::string_view label_;
    std::string_view saved_;
};
}  // namespace detail

/// Returns the calling thread's loop, creating one with default options if there is none yet.
/// Used by `sync_wait` and the in-memory transport; a server creates its loops explicitly.
event_loop& this_thread_loop();

}  // namespace tessera
