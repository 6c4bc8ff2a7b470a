// Symmetric transfer keeps the stack constant only when the compiler turns the resumption of the
// next coroutine into a tail call, which GCC guarantees when optimising without ASan
// instrumentation. So these tests are their own executable, built at -O2 without sanitizers
// (see tests/meson.build), and drive the outermost task by hand: no loop, no sync_wait.
#include <doctest/doctest.h>

#include <cstdint>

#include "tessera/task.hpp"

using tessera::task;

namespace {
constexpr int depth = 1'000'000;

task<std::int64_t> nested(int remaining) {
    if (remaining == 0) co_return 0;
    co_return 1 + co_await nested(remaining - 1);
}

task<void> nested_void(int remaining, int* reached) {
    if (remaining == 0) {
        *reached = 1;
        co_return;
    }
    co_await nested_void(remaining - 1, reached);
    ++*reached;
}

task<int> one() { co_return 1; }

task<std::int64_t> many_sequential_awaits(int count) {
    std::int64_t sum = 0;
    for (int i = 0; i < count; ++i) sum += co_await one();
    co_return sum;
}

// Runs `t` until it first suspends; for these tasks that is completion.
template <class T>
void drive(task<T>& t) {
    REQUIRE(t.valid());
    CHECK_FALSE(t.done());
    t.handle().resume();
}
}  // namespace

TEST_CASE("a chain of a million nested co_awaits completes without overflowing the stack") {
    auto t = nested(depth);
    drive(t);
    REQUIRE(t.done());
    CHECK(t.handle().promise().take_result() == depth);
}

TEST_CASE("a chain of a million nested void co_awaits completes and unwinds in order") {
    int reached = 0;
    auto t = nested_void(depth, &reached);
    drive(t);
    REQUIRE(t.done());
    t.handle().promise().take_result();  // no exception stored
    CHECK(reached == depth + 1);
}

TEST_CASE("a million sequential awaits of synchronously completing tasks use constant stack") {
    auto t = many_sequential_awaits(depth);
    drive(t);
    REQUIRE(t.done());
    CHECK(t.handle().promise().take_result() == depth);
}
