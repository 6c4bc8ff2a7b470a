#pragma once
// A test helper: the ways a transport's `send` may deliver an event, for checking that code
// over a send behaves the same whichever way it is given.

#include <exception>
#include <utility>

#include "tessera/events.hpp"
#include "tessera/task.hpp"

namespace tessera::test_support {

/// lazy: a coroutine that does the work when awaited (as the test client's send); eager: the
/// work is done when called and the task handed back is ready, or fails at the co_await (as
/// the server's); at_call: a plain function that throws where it is called (as a hand-written
/// transport may).
enum class delivery { lazy, eager, at_call };

template <class Record>
task<void> deliver_lazily(event e, Record record) {
    record(e);
    co_return;
}

/// Delivers `e` to `record(const event&)`, which records it or throws, the way `mode` says.
template <class Record>
task<void> deliver(delivery mode, event e, Record record) {
    if (mode == delivery::lazy) return deliver_lazily(std::move(e), std::move(record));
    if (mode == delivery::at_call) {
        record(e);
        return task<>::ready();
    }
    try {
        record(e);
    } catch (...) {
        return failed_task(std::current_exception());
    }
    return task<>::ready();
}

}  // namespace tessera::test_support
