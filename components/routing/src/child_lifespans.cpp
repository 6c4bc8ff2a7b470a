// Each child talks to an in-memory channel: its receive yields `startup`, then waits until the
// parent asks for the shutdown; its send records the answers. Parent and child wake each other
// through wake_slots (resumption posted to the loop, see wake_slot.hpp), so neither ever runs
// on the other's stack.
#include "tessera/child_lifespans.hpp"

#include <optional>
#include <string>
#include <utility>

#include "wake_slot.hpp"

namespace tessera {

struct child_lifespans::child {
    any_app app;
    scope child_scope;
    bool startup_delivered = false;
    bool shutdown_requested = false;
    bool shutdown_delivered = false;
    bool started = false;  // answered lifespan.startup.complete
    bool stopped = false;  // answered lifespan.shutdown.complete
    bool returned = false;
    std::optional<std::string> failure;  // the message of a *.failed answer
    std::exception_ptr error;
    detail::wake_slot child_wait;   // the child, in receive, for the shutdown
    detail::wake_slot parent_wait;  // the parent, for the child's next answer

    task<event> next_event() {
        if (!startup_delivered) {
            startup_delivered = true;
            co_return lifespan::startup{};
        }
        while (!shutdown_requested) co_await child_wait.wait();
        if (!shutdown_delivered) {
            shutdown_delivered = true;
            co_return lifespan::shutdown{};
        }
        // Nothing follows the shutdown: wait until the parent ends the group.
        for (;;) co_await child_wait.wait();
    }

    task<void> on_send(event e) {
        if (std::holds_alternative<lifespan::startup_complete>(e)) {
            started = true;
        } else if (auto* start_failed = std::get_if<lifespan::startup_failed>(&e)) {
            failure = start_failed->message.empty() ? "startup failed" : start_failed->message;
        } else if (std::holds_alternative<lifespan::shutdown_complete>(e)) {
            stopped = true;
        } else if (auto* stop_failed = std::get_if<lifespan::shutdown_failed>(&e)) {
            failure = stop_failed->message.empty() ? "shutdown failed" : stop_failed->message;
        } else {
            // An app that does not speak lifespan (a response app sending HTTP events): raising
            // makes it end, and the parent skips it.
            throw std::logic_error("unexpected event on a lifespan scope: " +
                                   std::string(event_name(e)));
        }
        parent_wait.notify();
        co_return;
    }

    static task<void> run(child* self) {
        try {
            receive_member<child, &child::next_event> receive_impl{self};
            send_member<child, &child::on_send> send_impl{self};
            co_await self->app(self->child_scope, receive(receive_impl), send(send_impl));
        } catch (...) {
            self->error = std::current_exception();
        }
        self->returned = true;
        self->parent_wait.notify();
    }
};

namespace {
std::string describe(const std::exception_ptr& error) {
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        return std::string("the lifespan of a mounted app raised: ") + e.what();
    } catch (...) {
        return "the lifespan of a mounted app raised";
    }
}
}  // namespace

child_lifespans::child_lifespans(std::vector<any_app> children) : apps_(std::move(children)) {}

child_lifespans::~child_lifespans() = default;

std::size_t child_lifespans::started() const noexcept {
    std::size_t count = 0;
    for (const auto& c : children_) count += c->started ? 1 : 0;
    return count;
}

task<void> child_lifespans::startup(scope lifespan_scope) {
    for (std::size_t i = 0; i < apps_.size(); ++i) {
        auto made = std::make_unique<child>();
        made->app = apps_[i];
        made->child_scope = lifespan_scope;
        child& c = *made;
        children_.push_back(std::move(made));
        group_.spawn(child::run(&c));
        while (!c.started && !c.failure && !c.returned) co_await c.parent_wait.wait();
        if (c.failure) {
            const std::string message = *c.failure;
            co_await stop(i, nullptr);
            throw child_lifespan_error(message);
        }
        // Returned (or raised) without answering: it does not do lifespans; skip it.
    }
}

task<void> child_lifespans::shutdown() {
    std::vector<std::string> failures;
    co_await stop(children_.size(), &failures);
    if (!failures.empty()) {
        std::string message;
        for (const auto& failure : failures) {
            if (!message.empty()) message += "; ";
            message += failure;
        }
        throw child_lifespan_error(message);
    }
}

task<void> child_lifespans::stop(std::size_t count, std::vector<std::string>* failures) {
    for (std::size_t i = count; i-- > 0;) {
        child& c = *children_[i];
        if (!c.started) continue;
        if (c.returned) {
            // It ended after its startup; raising then is a failure of its lifespan.
            if (c.error && failures) failures->push_back(describe(c.error));
            continue;
        }
        c.shutdown_requested = true;
        c.child_wait.notify();
        while (!c.stopped && !c.failure && !c.returned) co_await c.parent_wait.wait();
        if (!failures) continue;
        if (c.failure) {
            failures->push_back(*c.failure);
        } else if (!c.stopped && c.error) {
            failures->push_back(describe(c.error));
        }
    }
    // Children still running (waiting after their shutdown, or skipped ones that linger) end.
    group_.cancel();
    co_await group_.join();
}

task<void> serve_child_lifespans(std::vector<any_app> children, scope& s, receive r,
                                 send sd) {
    child_lifespans lifespans(std::move(children));
    for (;;) {
        event next = co_await r();
        std::optional<std::string> failed;
        if (std::holds_alternative<lifespan::startup>(next)) {
            try {
                auto starting = lifespans.startup(s);  // copies the scope outside co_await
                co_await std::move(starting);
            } catch (const child_lifespan_error& failure) {
                failed = failure.what();
            }
            if (failed) {
                event answer{lifespan::startup_failed{*failed}};
                co_await sd(std::move(answer));
                co_return;
            }
            event answer{lifespan::startup_complete{}};
            co_await sd(std::move(answer));
        } else if (std::holds_alternative<lifespan::shutdown>(next)) {
            try {
                co_await lifespans.shutdown();
            } catch (const child_lifespan_error& failure) {
                failed = failure.what();
            }
            event answer = failed ? event{lifespan::shutdown_failed{*failed}}
                                  : event{lifespan::shutdown_complete{}};
            co_await sd(std::move(answer));
            co_return;
        } else {
            co_return;  // not a lifespan conversation
        }
    }
}

}  // namespace tessera
