#pragma once
/// `child_lifespans`: runs the lifespans of mounted apps beside their parent's own lifespan.

#include <cstddef>
#include <memory>
#include <stdexcept>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/task_group.hpp"

namespace tessera {

/// A child's lifespan failed: it sent `lifespan.startup.failed` or `lifespan.shutdown.failed`
/// (the message is its message), or raised after a successful startup. (The server's own
/// `lifespan_failure` is another thing: the top-level app's startup failed.)
class child_lifespan_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The lifespans of child apps (a router's mounts and hosts, an application's mounted apps),
/// run while their parent holds its own lifespan conversation with the server — something
/// Starlette never does. Each child gets a copy of the parent's lifespan scope (sharing its
/// `app_state`) and its own in-memory receive/send pair, and runs concurrently in a task group
/// owned by this object: between `startup()` and `shutdown()` the children wait in their
/// `receive` for the shutdown while the parent waits in its own.
///
/// A child that does not speak lifespan (it returns or raises before answering startup, e.g.
/// a plain response app) is skipped, as servers tolerate it. Startup goes in order, each child
/// answering before the next starts; shutdown in reverse order. Bounded under cancellation:
/// cancelling the awaiting coroutine cancels the wait and the children; destroying this object
/// destroys any child still running where it is suspended.
///
/// Lives in the parent's coroutine frame for the whole lifespan (it is neither copyable nor
/// movable); `startup` and `shutdown` are each called once, in that order, on one loop.
///
///     child_lifespans children(apps);
///     auto starting = children.startup(s);  // copies the scope outside the co_await
///     co_await std::move(starting);         // child_lifespan_error: answer startup.failed
///     ... the parent's own startup, answer, wait for shutdown ...
///     co_await children.shutdown();         // child_lifespan_error: answer shutdown.failed
class child_lifespans {
public:
    explicit child_lifespans(std::vector<any_app> children);
    child_lifespans(const child_lifespans&) = delete;
    child_lifespans& operator=(const child_lifespans&) = delete;
    ~child_lifespans();

    /// Starts every child, in order. On a child's failure the children already started are
    /// shut down (in reverse order, their own failures ignored) and `child_lifespan_error`
    /// carrying the failed child's message is thrown.
    [[nodiscard]] task<void> startup(scope lifespan_scope);
    /// Shuts the started children down in reverse order, then ends every child still running.
    /// Throws `child_lifespan_error` with the failures' messages (joined by "; ") once all are
    /// done.
    [[nodiscard]] task<void> shutdown();

    /// How many children answered startup and take part in the lifespan.
    [[nodiscard]] std::size_t started() const noexcept;

    struct child;

private:
    task<void> stop(std::size_t count, std::vector<std::string>* failures);

    std::vector<any_app> apps_;
    std::vector<std::unique_ptr<child>> children_;
    task_group group_;  // declared last: destroyed first, while the children's channels live
};

/// Serves a lifespan scope for a parent that has no lifespan work of its own (a router): the
/// children's startup before `lifespan.startup.complete`, their shutdown before
/// `lifespan.shutdown.complete`, and a child's failure reported as `lifespan.startup.failed`
/// or `lifespan.shutdown.failed` with its message.
[[nodiscard]] task<void> serve_child_lifespans(std::vector<any_app> children, scope& s,
                                               receive r, send sd);

}  // namespace tessera
