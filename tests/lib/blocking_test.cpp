// run_blocking: work on the libuv thread pool or on a thread_affinity's dedicated thread, with
// the awaiting coroutine resumed on its own loop.
#include <doctest/doctest.h>

#include <chrono>
#include <latch>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tessera/blocking.hpp"
#include "tessera/loop.hpp"
#include "tessera/sync_wait.hpp"
#include "tessera/task.hpp"
#include "tessera/task_group.hpp"
#include "tessera/timer.hpp"
#include "tessera/when_all.hpp"

using namespace std::chrono_literals;
using tessera::run_blocking;
using tessera::sync_wait;
using tessera::task;
using tessera::thread_affinity;

namespace {

struct where {
    std::thread::id worker;   // where the function ran
    std::thread::id resumed;  // where the coroutine continued
};

task<where> record_threads() {
    where w;
    w.worker = co_await run_blocking([] { return std::this_thread::get_id(); });
    w.resumed = std::this_thread::get_id();
    co_return w;
}

task<where> record_threads_on(thread_affinity* affinity) {
    where w;
    w.worker = co_await run_blocking([] { return std::this_thread::get_id(); }, *affinity);
    w.resumed = std::this_thread::get_id();
    co_return w;
}

/// Counts live copies of itself, to see that a job's function object is destroyed.
class tracker {
public:
    explicit tracker(std::shared_ptr<int> live) : live_(std::move(live)) { ++*live_; }
    tracker(const tracker& other) : live_(other.live_) { ++*live_; }
    tracker(tracker&& other) noexcept : live_(other.live_) { ++*live_; }
    tracker& operator=(const tracker&) = delete;
    ~tracker() { --*live_; }

private:
    std::shared_ptr<int> live_;
};

}  // namespace

TEST_SUITE_BEGIN("runtime");

TEST_CASE("run_blocking runs the function off the loop thread and resumes on the loop thread") {
    const auto w = sync_wait(record_threads());
    CHECK(w.worker != std::this_thread::get_id());
    CHECK(w.resumed == std::this_thread::get_id());
}

TEST_CASE("run_blocking returns the function's value") {
    CHECK(sync_wait([]() -> task<std::string> {
              co_return co_await run_blocking([] { return std::string(1000, 'x'); });
          }()) == std::string(1000, 'x'));
    bool ran = false;
    sync_wait([](bool* flag) -> task<void> {
        co_await run_blocking([flag] { *flag = true; });
    }(&ran));
    CHECK(ran);
}

TEST_CASE("run_blocking rethrows the function's exception in the awaiting coroutine") {
    CHECK_THROWS_WITH_AS(sync_wait([]() -> task<int> {
                             co_return co_await run_blocking([]() -> int {
                                 throw std::runtime_error("blocking failure");
                             });
                         }()),
                         "blocking failure", std::runtime_error);
}

TEST_CASE("the loop keeps serving other coroutines while a blocking job waits") {
    // The job can only finish once a timer on the loop has fired and counted the latch down: if
    // run_blocking held the loop, this would never complete.
    std::latch released(1);
    auto [job, timer] = sync_wait(tessera::when_all(
        [](std::latch* l) -> task<int> {
            co_return co_await run_blocking([l] {
                l->wait();
                return 1;
            });
        }(&released),
        [](std::latch* l) -> task<int> {
            co_await tessera::sleep_for(1ms);
            l->count_down();
            co_return 2;
        }(&released)));
    CHECK(job == 1);
    CHECK(timer == 2);
}

TEST_CASE("destroying a coroutine suspended in run_blocking lets the job finish and free itself") {
    auto live = std::make_shared<int>(0);
    std::latch release_job(1);
    bool resumed = false;
    {
        auto waiter = [](tracker kept, std::latch* l, bool* flag) -> task<void> {
            // Named, not a temporary inside the co_await: g++ 12 destroys a lambda temporary
            // with non-trivial captures twice when it appears in a co_await expression.
            auto job = [kept, l] { l->wait(); };
            co_await run_blocking(std::move(job));
            *flag = true;
        }(tracker(live), &release_job, &resumed);
        waiter.handle().resume();  // submits the job, then suspends
        REQUIRE_FALSE(waiter.done());
    }  // the coroutine is destroyed while the job is still blocked
    CHECK(*live == 1);  // only the job's own copy of the function remains
    release_job.count_down();
    // The pool's completion callback, on the loop, frees the job (and the function in it).
    auto& loop = tessera::this_thread_loop();
    while (*live != 0) {
        const bool pending = loop.run_once();
        if (*live != 0) REQUIRE(pending);  // nothing left to wait for, yet the job is alive
    }
    CHECK_FALSE(resumed);
}

TEST_CASE("every job given to one thread_affinity runs on its thread, in submission order") {
    thread_affinity affinity("test-affinity");
    CHECK(affinity.thread_id() != std::this_thread::get_id());

    std::mutex mutex;
    std::vector<std::pair<int, std::thread::id>> runs;
    std::vector<task<int>> jobs;
    for (int i = 0; i < 20; ++i) {
        jobs.push_back([](int index, thread_affinity* a, std::mutex* m,
                          std::vector<std::pair<int, std::thread::id>>* out) -> task<int> {
            co_return co_await run_blocking(
                [=] {
                    const std::lock_guard lock(*m);
                    out->emplace_back(index, std::this_thread::get_id());
                    return index * 10;
                },
                *a);
        }(i, &affinity, &mutex, &runs));
    }
    const auto results = sync_wait(tessera::when_all(std::move(jobs)));
    REQUIRE(results.size() == 20);
    REQUIRE(runs.size() == 20);
    for (int i = 0; i < 20; ++i) {
        CHECK(results[static_cast<std::size_t>(i)] == i * 10);
        CHECK(runs[static_cast<std::size_t>(i)].first == i);
        CHECK(runs[static_cast<std::size_t>(i)].second == affinity.thread_id());
    }
}

TEST_CASE("a thread_affinity job resumes its coroutine on the loop thread") {
    thread_affinity affinity;
    const auto w = sync_wait(record_threads_on(&affinity));
    CHECK(w.worker == affinity.thread_id());
    CHECK(w.worker != std::this_thread::get_id());
    CHECK(w.resumed == std::this_thread::get_id());
}

TEST_CASE("a thread_affinity job's exception reaches the awaiting coroutine") {
    thread_affinity affinity;
    CHECK_THROWS_WITH_AS(sync_wait([](thread_affinity* a) -> task<void> {
                             co_await run_blocking(
                                 [] { throw std::runtime_error("affinity failure"); }, *a);
                         }(&affinity)),
                         "affinity failure", std::runtime_error);
    // The affinity still works after a failed job.
    CHECK(sync_wait(record_threads_on(&affinity)).worker == affinity.thread_id());
}

TEST_CASE("two thread_affinity objects use two different threads") {
    thread_affinity first;
    thread_affinity second;
    CHECK(first.thread_id() != second.thread_id());
}

TEST_CASE("destroying a coroutine suspended on a thread_affinity job lets the job finish") {
    auto live = std::make_shared<int>(0);
    std::latch release_job(1);
    thread_affinity affinity;
    {
        auto waiter = [](tracker kept, std::latch* l, thread_affinity* a) -> task<void> {
            auto job = [kept, l] { l->wait(); };  // named: see the g++ 12 note above
            co_await run_blocking(std::move(job), *a);
        }(tracker(live), &release_job, &affinity);
        waiter.handle().resume();
        REQUIRE_FALSE(waiter.done());
    }
    CHECK(*live == 1);
    release_job.count_down();
    // The loop is held until the affinity thread's post has run and freed the job.
    auto& loop = tessera::this_thread_loop();
    while (*live != 0) {
        const bool pending = loop.run_once();
        if (*live != 0) REQUIRE(pending);  // nothing left to wait for, yet the job is alive
    }
}

TEST_CASE("a blocking job is not interrupted by cancellation, the next await is") {
    std::latch release_job(1);
    std::vector<std::string> log;
    sync_wait([](std::latch* l, std::vector<std::string>* out) -> task<void> {
        tessera::task_group group;
        group.spawn([](std::latch* job_latch, std::vector<std::string>* o) -> task<void> {
            const int value = co_await run_blocking([job_latch] {
                job_latch->wait();
                return 5;
            });
            o->push_back("job returned " + std::to_string(value));
            try {
                co_await tessera::sleep_for(10s);
                o->push_back("slept");
            } catch (const tessera::operation_cancelled&) {
                o->push_back("sleep cancelled");
            }
        }(l, out));
        group.cancel();    // while the job is blocked (or not even started)
        l->count_down();   // only now can it return
        co_await group.join();
    }(&release_job, &log));
    CHECK(log == std::vector<std::string>{"job returned 5", "sleep cancelled"});
}

TEST_CASE("destroying a thread_affinity finishes the work already queued on it") {
    auto affinity = std::make_unique<thread_affinity>();
    std::latch release_first(1);
    std::vector<int> results(3, 0);
    tessera::task_group group;
    for (int i = 0; i < 3; ++i) {
        group.spawn([](int index, std::latch* l, thread_affinity* a, std::vector<int>* out)
                        -> task<void> {
            (*out)[static_cast<std::size_t>(index)] = co_await run_blocking(
                [index, l] {
                    if (index == 0) l->wait();  // holds the queue until every job is queued
                    return index + 1;
                },
                *a);
        }(i, &release_first, affinity.get(), &results));
    }
    release_first.count_down();
    affinity.reset();  // joins its thread once the three queued jobs have run
    sync_wait([](tessera::task_group* g) -> task<void> { co_await g->join(); }(&group));
    CHECK(results == std::vector<int>{1, 2, 3});
}

TEST_SUITE_END();
