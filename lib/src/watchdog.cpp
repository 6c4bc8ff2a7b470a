// The loop watchdog: times every loop callback run through event_loop::guarded and reports the
// ones that held the loop longer than the threshold, naming the activity (request) that ran.
#include <string>
#include <utility>

#include "tessera/loop.hpp"
#include "tls_model.hpp"

namespace tessera {

namespace {
TESSERA_FAST_TLS thread_local std::string_view current_activity;

// The callback being timed on this thread. Nested guarded() calls (a callback that runs the loop
// or resumes work inline) are timed as part of the outermost one.
struct timed_callback {
    event_loop* loop = nullptr;
    std::chrono::steady_clock::time_point start;
    bool reported = false;
};
TESSERA_FAST_TLS thread_local timed_callback timing;

void report(event_loop& loop, std::chrono::steady_clock::duration held,
            std::string_view what) noexcept {
    const auto& opts = loop.options();
    if (!opts.sink) return;
    try {
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(held).count();
        std::string message = "a callback held the event loop for " + std::to_string(ms) +
                              " ms (threshold " +
                              std::to_string(opts.watchdog_threshold.count()) + " ms) ";
        message += what.empty() ? std::string("in an unnamed activity")
                                : "while running " + std::string(what);
        emit(opts.sink, log_level::warning, "watchdog", message);
    } catch (...) {
        // A failing sink must never take the loop down.
    }
}

// Reports the running callback once if it is over the threshold by now.
void check(std::string_view what) noexcept {
    if (!timing.loop || timing.reported) return;
    const auto held = std::chrono::steady_clock::now() - timing.start;
    if (held > timing.loop->options().watchdog_threshold) {
        timing.reported = true;
        report(*timing.loop, held, what);
    }
}

// The same view (not merely equal text): whether `label` is the one a given scope set.
bool same_view(std::string_view a, std::string_view b) noexcept {
    return a.data() == b.data() && a.size() == b.size();
}
}  // namespace

activity_scope::activity_scope(std::string_view label) noexcept
    : label_(label), previous_(std::exchange(current_activity, label)) {}

activity_scope::~activity_scope() {
    // Scopes in coroutine frames do not end in LIFO order: a frame destroyed while suspended
    // (by its owner, from some other code) ends its scope while another label is in force. That
    // label is not ours to change: putting back our stale `previous_` would mislabel the running
    // code, or leave a view into a freed frame behind.
    if (!same_view(current_activity, label_)) return;
    // Checked here, while the label's owner is certainly alive, so the report can name it.
    if (timing.loop && !label_.empty()) check(label_);
    current_activity = previous_;
}

namespace detail {
resumption_activity::resumption_activity(std::string_view label) noexcept
    : label_(label), saved_(std::exchange(current_activity, label)) {}

resumption_activity::~resumption_activity() {
    // The resumed coroutine may have finished (its frame, and so the owner of `label_`, may be
    // gone) or suspended with scopes of its own still open. Name it in a report only if its
    // label is still the one in force, which means its owner is still alive; then always put back
    // the resumer's label, so nothing set inside the coroutine outlives this resumption.
    if (timing.loop && !label_.empty() && same_view(current_activity, label_)) check(label_);
    current_activity = saved_;
}
}  // namespace detail

std::string_view activity_scope::current() noexcept { return current_activity; }

bool event_loop::watchdog_begin() noexcept {
    if (timing.loop) return false;
    timing = timed_callback{this, std::chrono::steady_clock::now(), false};
    return true;
}

void event_loop::watchdog_end(bool outer) noexcept {
    if (!outer) return;
    check(current_activity);
    timing = timed_callback{};
}

}  // namespace tessera
