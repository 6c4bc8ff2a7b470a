// The loop watchdog: callbacks holding the loop longer than the threshold are reported through
// the loop's sink, naming the activity (request) whose code ran. Each test runs on a new thread
// with its own event_loop, since a thread has only one loop and its options are fixed.
#include <doctest/doctest.h>

#include <chrono>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "tessera/blocking.hpp"
#include "tessera/log.hpp"
#include "tessera/loop.hpp"
#include "tessera/sync_wait.hpp"
#include "tessera/task.hpp"
#include "tessera/task_group.hpp"
#include "tessera/timer.hpp"

using namespace std::chrono_literals;
using std::chrono::milliseconds;
using tessera::activity_scope;
using tessera::event_loop;
using tessera::event_loop_options;
using tessera::log_level;
using tessera::log_record;
using tessera::sync_wait;
using tessera::task;

namespace {

struct captured {
    log_level level;
    std::string category;
    std::string message;
};

/// Runs `body` on a new thread that owns an event loop with `options`; the sink is called on
/// that thread only, and the results are read after the join.
void with_loop(event_loop_options options, const std::function<void(event_loop&)>& body) {
    std::thread thread([&] {
        event_loop loop(std::move(options));
        body(loop);
    });
    thread.join();
}

event_loop_options watched(std::vector<captured>* out, milliseconds threshold) {
    return event_loop_options{
        .watchdog = true,
        .watchdog_threshold = threshold,
        .sink =
            [out](const log_record& record) {
                out->push_back({record.level, std::string(record.category),
                                std::string(record.message)});
            },
    };
}

/// Busy-waits without yielding to the loop, like a handler doing CPU work.
void hold_thread_for(milliseconds duration) {
    const auto until = std::chrono::steady_clock::now() + duration;
    while (std::chrono::steady_clock::now() < until) {
    }
}

/// A request whose code, resumed by a timer, holds the loop for `busy`.
task<void> request(std::string_view label, milliseconds busy) {
    const activity_scope activity(label);
    co_await tessera::sleep_for(1ms);
    hold_thread_for(busy);
}

bool mentions(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

}  // namespace

TEST_SUITE_BEGIN("runtime");

TEST_CASE("a timer-resumed callback holding the loop past the threshold is reported once") {
    std::vector<captured> records;
    with_loop(watched(&records, 20ms), [](event_loop&) { sync_wait(request("GET /slow", 60ms)); });
    REQUIRE(records.size() == 1);
    CHECK(records[0].level == log_level::warning);
    CHECK(records[0].category == "watchdog");
    CHECK(mentions(records[0].message, "GET /slow"));
    CHECK(mentions(records[0].message, "threshold 20 ms"));
}

TEST_CASE("a fast callback is not reported") {
    std::vector<captured> records;
    with_loop(watched(&records, 10s), [](event_loop&) {
        sync_wait(request("GET /fast", 0ms));
        sync_wait(request("GET /fast", 0ms));
    });
    CHECK(records.empty());
}

TEST_CASE("with the watchdog off nothing is reported however long a callback takes") {
    std::vector<captured> records;
    auto options = watched(&records, 20ms);
    options.watchdog = false;
    with_loop(std::move(options), [](event_loop&) { sync_wait(request("GET /slow", 60ms)); });
    CHECK(records.empty());
}

TEST_CASE("a slow posted callback without an activity is reported as unnamed") {
    std::vector<captured> records;
    with_loop(watched(&records, 20ms), [](event_loop& loop) {
        loop.post([] { hold_thread_for(60ms); });
        loop.run();
    });
    REQUIRE(records.size() == 1);
    CHECK(records[0].category == "watchdog");
    CHECK(mentions(records[0].message, "unnamed activity"));
}

TEST_CASE("each slow callback is reported on its own") {
    std::vector<captured> records;
    with_loop(watched(&records, 20ms), [](event_loop&) {
        sync_wait(request("GET /one", 60ms));
        sync_wait(request("GET /two", 60ms));
    });
    REQUIRE(records.size() == 2);
    CHECK(mentions(records[0].message, "GET /one"));
    CHECK(mentions(records[1].message, "GET /two"));
}

TEST_CASE("a throwing sink does not break the loop") {
    int calls = 0;
    event_loop_options options{
        .watchdog = true,
        .watchdog_threshold = 20ms,
        .sink =
            [&calls](const log_record&) {
                ++calls;
                throw std::runtime_error("sink failure");
            },
    };
    int value = 0;
    with_loop(std::move(options), [&value](event_loop&) {
        sync_wait(request("GET /slow", 60ms));
        value = sync_wait([]() -> task<int> {
            co_await request("GET /slow", 60ms);
            co_return 7;
        }());
    });
    CHECK(calls == 2);
    CHECK(value == 7);
}

TEST_CASE("the activity label is restored when a coroutine resumes after a timer or a job") {
    std::vector<std::string> seen;
    with_loop(watched(nullptr, 10s), [&seen](event_loop&) {
        sync_wait([](std::vector<std::string>* out) -> task<void> {
            const activity_scope activity("POST /upload");
            co_await tessera::sleep_for(1ms);
            out->emplace_back(activity_scope::current());
            co_await tessera::run_blocking([] { return 1; });
            out->emplace_back(activity_scope::current());
        }(&seen));
        seen.emplace_back(activity_scope::current());
    });
    CHECK(seen == std::vector<std::string>{"POST /upload", "POST /upload", ""});
}

// Regression: a coroutine that opened an activity_scope and suspended left its label in force on
// the thread after it had gone back to whoever started it, so the label outlived the request and
// later callbacks were reported under it (through a dangling view once the request's frame was
// freed: a heap-use-after-free under ASan).
TEST_CASE("a request's activity label does not stay in force after it suspends or ends") {
    std::vector<std::string> seen;
    with_loop(watched(nullptr, 10s), [&seen](event_loop&) {
        auto request = [](std::vector<std::string>* out) -> task<void> {
            const activity_scope activity("GET /first");
            co_await tessera::sleep_for(1ms);
            out->emplace_back(activity_scope::current());
        };
        tessera::task_group group;
        group.spawn(request(&seen));  // runs until the sleep
        seen.emplace_back(activity_scope::current());
        sync_wait([](tessera::task_group* g) -> task<void> { co_await g->join(); }(&group));
        seen.emplace_back(activity_scope::current());
        sync_wait(request(&seen));
        seen.emplace_back(activity_scope::current());
    });
    CHECK(seen == std::vector<std::string>{"", "GET /first", "", "GET /first", ""});
}

TEST_CASE("a slow callback after a request has ended is not reported under that request's label") {
    std::vector<captured> records;
    with_loop(watched(&records, 20ms), [](event_loop& loop) {
        sync_wait([]() -> task<void> {
            // Owned by the frame (too long for the small-string buffer), so a label left behind
            // would point into freed memory.
            const std::string label = "GET /a-request-whose-label-lives-in-its-frame";
            const activity_scope activity(label);
            co_await tessera::sleep_for(1ms);
        }());
        loop.post([] { hold_thread_for(60ms); });
        loop.run();
    });
    // The posted callback runs last, so its report is the last one (the request's own callback
    // is fast, but this does not rely on it never being preempted past the threshold).
    REQUIRE_FALSE(records.empty());
    CHECK(mentions(records.back().message, "unnamed activity"));
}

TEST_CASE("spawning a child that sets its own label leaves the spawner's label in force") {
    std::vector<std::string> seen;
    with_loop(watched(nullptr, 10s), [&seen](event_loop&) {
        sync_wait([](std::vector<std::string>* out) -> task<void> {
            const activity_scope activity("GET /parent");
            tessera::task_group group;
            group.spawn([](std::vector<std::string>* o) -> task<void> {
                const activity_scope child("background job");
                co_await tessera::sleep_for(1ms);
                o->emplace_back(activity_scope::current());
            }(out));
            out->emplace_back(activity_scope::current());
            co_await group.join();
            out->emplace_back(activity_scope::current());
        }(&seen));
    });
    CHECK(seen == std::vector<std::string>{"GET /parent", "background job", "GET /parent"});
}

TEST_CASE("destroying a suspended request does not change the running code's label") {
    std::vector<std::string> seen;
    with_loop(watched(nullptr, 10s), [&seen](event_loop&) {
        auto suspended = []() -> task<void> {
            const activity_scope activity("GET /abandoned");
            co_await tessera::sleep_for(10s);
        }();
        suspended.handle().resume();
        const activity_scope running("GET /running");
        suspended = task<void>{};  // destroyed while suspended, out of LIFO order
        seen.emplace_back(activity_scope::current());
    });
    CHECK(seen == std::vector<std::string>{"GET /running"});
}

TEST_CASE("a slow resumption after run_blocking names the request that awaited it") {
    std::vector<captured> records;
    with_loop(watched(&records, 20ms), [](event_loop&) {
        sync_wait([]() -> task<void> {
            const activity_scope activity("POST /report");
            co_await tessera::run_blocking([] { return 0; });
            hold_thread_for(60ms);
        }());
    });
    REQUIRE(records.size() == 1);
    CHECK(mentions(records[0].message, "POST /report"));
}

TEST_CASE("log levels have their usual names and emit skips an empty sink") {
    CHECK(tessera::to_string(log_level::debug) == "debug");
    CHECK(tessera::to_string(log_level::info) == "info");
    CHECK(tessera::to_string(log_level::warning) == "warning");
    CHECK(tessera::to_string(log_level::error) == "error");
    CHECK_NOTHROW(tessera::emit(tessera::log_sink{}, log_level::error, "test", "dropped"));
}

TEST_SUITE_END();
