// event_loop: one per thread, cross-thread posts, adoption of a caller's uv_loop_t. Each test
// runs on a fresh std::thread so that it owns that thread's only loop (the test thread may
// already have one from sync_wait).
#include <doctest/doctest.h>

#include <uv.h>

#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tessera/loop.hpp"
#include "tessera/sync_wait.hpp"
#include "tessera/task.hpp"
#include "tessera/timer.hpp"

using namespace std::chrono_literals;
using tessera::event_loop;
using tessera::sync_wait;
using tessera::task;

namespace {

/// Runs `body` on a new thread and waits for it; doctest assertions inside are fine (the main
/// thread is blocked in join meanwhile).
void on_new_thread(const std::function<void()>& body) {
    std::thread thread(body);
    thread.join();
}

/// Suspends the awaiting coroutine and hands its handle to another thread, which posts it back
/// to `loop`. The loop is held meanwhile (hold() on the loop thread, as the contract requires)
/// and released once the coroutine runs again.
class resume_via_other_thread {
public:
    resume_via_other_thread(event_loop& loop, std::thread::id* poster) noexcept
        : loop_(loop), poster_(poster) {}
    [[nodiscard]] bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> self) {
        loop_.hold();
        thread_ = std::thread([this, self] {
            *poster_ = std::this_thread::get_id();
            loop_.post(self);
        });
    }
    void await_resume() {
        thread_.join();
        loop_.release();
    }

private:
    event_loop& loop_;
    std::thread::id* poster_;
    std::thread thread_;
};

task<std::thread::id> resumed_thread(event_loop* loop, std::thread::id* poster) {
    co_await resume_via_other_thread(*loop, poster);
    co_return std::this_thread::get_id();
}

task<int> value_after_sleep(int value) {
    co_await tessera::sleep_for(1ms);
    co_return value;
}

task<void> sleep_then_set(bool* flag) {
    co_await tessera::sleep_for(10s);
    *flag = true;
}

}  // namespace

TEST_SUITE_BEGIN("runtime");

TEST_CASE("a function posted from another thread runs on the loop's thread") {
    on_new_thread([] {
        event_loop loop;
        const auto loop_thread = std::this_thread::get_id();
        std::thread::id ran_on;
        std::thread::id poster_id;
        loop.hold();  // the poster owes the loop a post: run() must wait for it
        std::thread poster([&] {
            poster_id = std::this_thread::get_id();
            loop.post([&] {
                ran_on = std::this_thread::get_id();
                loop.release();
            });
        });
        loop.run();  // returns once the post has run and released the hold
        poster.join();
        CHECK(ran_on == loop_thread);
        CHECK(ran_on != poster_id);
    });
}

TEST_CASE("posts from many threads all run on the loop's thread") {
    on_new_thread([] {
        event_loop loop;
        const auto loop_thread = std::this_thread::get_id();
        constexpr int posters = 4;
        constexpr int per_poster = 50;
        std::vector<std::thread::id> ran_on;
        for (int i = 0; i < posters * per_poster; ++i) loop.hold();
        std::vector<std::thread> threads;
        for (int p = 0; p < posters; ++p) {
            threads.emplace_back([&] {
                for (int i = 0; i < per_poster; ++i) {
                    loop.post([&] {
                        ran_on.push_back(std::this_thread::get_id());  // loop thread only
                        loop.release();
                    });
                }
            });
        }
        loop.run();
        for (auto& t : threads) t.join();
        CHECK(ran_on.size() == posters * per_poster);
        for (const auto& id : ran_on) CHECK(id == loop_thread);
    });
}

TEST_CASE("a coroutine handle posted from another thread resumes on the loop's thread") {
    on_new_thread([] {
        event_loop loop;
        std::thread::id poster;
        const auto resumed_on = sync_wait(resumed_thread(&loop, &poster));
        CHECK(resumed_on == std::this_thread::get_id());
        CHECK(resumed_on != poster);
    });
}

// A foreign thread's label means nothing on this loop, and its owner may be gone by the time the
// coroutine runs: a handle posted from elsewhere resumes without it.
TEST_CASE("a coroutine posted from another thread does not take on that thread's activity label") {
    on_new_thread([] {
        event_loop loop;
        std::string seen = "unset";
        sync_wait([](event_loop* l, std::string* out) -> task<void> {
            class post_from_labelled_thread {
            public:
                explicit post_from_labelled_thread(event_loop* target) noexcept
                    : loop_(target) {}
                [[nodiscard]] bool await_ready() const noexcept { return false; }
                void await_suspend(std::coroutine_handle<> self) {
                    loop_->hold();
                    thread_ = std::thread([this, self] {
                        const std::string label = "foreign request";
                        const tessera::activity_scope scope(label);
                        loop_->post(self);
                    });
                }
                void await_resume() {
                    thread_.join();
                    loop_->release();
                }

            private:
                event_loop* loop_;
                std::thread thread_;
            };
            co_await post_from_labelled_thread(l);
            *out = std::string(tessera::activity_scope::current());
        }(&loop, &seen));
        CHECK(seen.empty());
    });
}

TEST_CASE("a post from the loop's own thread keeps run() going until it has run") {
    on_new_thread([] {
        event_loop loop;
        std::vector<int> order;
        loop.post([&] {
            order.push_back(1);
            loop.post([&] { order.push_back(3); });  // posted while running posts
            order.push_back(2);
        });
        CHECK(order.empty());  // post never runs inline
        loop.run();
        CHECK(order == std::vector<int>{1, 2, 3});
        CHECK_FALSE(loop.run_once());  // and nothing is left holding the loop
    });
}

TEST_CASE("only one event loop may exist per thread") {
    on_new_thread([] {
        CHECK(event_loop::current() == nullptr);
        {
            event_loop first;
            CHECK(event_loop::current() == &first);
            CHECK(&tessera::this_thread_loop() == &first);
            CHECK_THROWS_AS(event_loop{}, std::logic_error);
            CHECK(event_loop::current() == &first);  // the failed one changed nothing
        }
        CHECK(event_loop::current() == nullptr);
        event_loop second;  // the thread is free again
        CHECK(event_loop::current() == &second);
    });
}

TEST_CASE("this_thread_loop creates the thread's loop once and keeps returning it") {
    on_new_thread([] {
        CHECK(event_loop::current() == nullptr);
        auto& loop = tessera::this_thread_loop();
        CHECK(event_loop::current() == &loop);
        CHECK(&tessera::this_thread_loop() == &loop);
        CHECK_THROWS_AS(event_loop{}, std::logic_error);
    });
}

TEST_CASE("each thread has its own loop") {
    event_loop* a = nullptr;
    event_loop* b = nullptr;
    on_new_thread([&] {
        event_loop loop;
        a = &loop;
        on_new_thread([&] {
            event_loop inner;
            b = &inner;
            CHECK(event_loop::current() == &inner);
        });
        CHECK(event_loop::current() == &loop);
    });
    CHECK(a != b);
}

TEST_CASE("adopt wraps a caller-owned uv_loop_t that the caller runs") {
    on_new_thread([] {
        uv_loop_t uv;
        REQUIRE(uv_loop_init(&uv) == 0);
        {
            auto loop = event_loop::adopt(&uv);
            REQUIRE(loop != nullptr);
            CHECK(loop->native_handle() == &uv);
            CHECK(event_loop::current() == loop.get());
            CHECK(&tessera::this_thread_loop() == loop.get());

            // tessera's timers land on the caller's loop.
            CHECK(sync_wait(value_after_sleep(9)) == 9);

            // A post from another thread is delivered when the caller runs its own loop.
            bool ran = false;
            loop->hold();
            std::thread poster([&] {
                loop->post([&] {
                    ran = true;
                    loop->release();
                });
            });
            uv_run(&uv, UV_RUN_DEFAULT);
            poster.join();
            CHECK(ran);
        }
        CHECK(event_loop::current() == nullptr);
        // The wrapper closed its handles; the caller's loop can now be closed cleanly.
        uv_run(&uv, UV_RUN_NOWAIT);
        CHECK(uv_loop_close(&uv) == 0);
    });
}

TEST_CASE("adopt rejects a null uv_loop_t") {
    on_new_thread([] {
        CHECK_THROWS_AS(static_cast<void>(event_loop::adopt(nullptr)), std::invalid_argument);
        CHECK(event_loop::current() == nullptr);
    });
}

TEST_CASE("stop makes run return while work is still pending") {
    on_new_thread([] {
        event_loop loop;
        bool woke = false;
        auto sleeper = sleep_then_set(&woke);
        sleeper.handle().resume();  // now waiting on a 10 s timer
        loop.post([&] { loop.stop(); });
        loop.run();
        CHECK_FALSE(woke);
        CHECK_FALSE(sleeper.done());
    });  // destroying the suspended task stops its timer before the loop goes
}

TEST_CASE("run_once reports whether anything is left to wait for") {
    on_new_thread([] {
        event_loop loop;
        CHECK_FALSE(loop.run_once());  // the wake-up handle alone keeps nothing alive
        bool ran = false;
        loop.post([&] { ran = true; });
        loop.run_once();
        CHECK(ran);
        CHECK_FALSE(loop.run_once());
    });
}

TEST_CASE("options are kept as given") {
    on_new_thread([] {
        int records = 0;
        event_loop loop(tessera::event_loop_options{
            .watchdog = false,
            .watchdog_threshold = 250ms,
            .sink = [&](const tessera::log_record&) { ++records; },
        });
        CHECK_FALSE(loop.options().watchdog);
        CHECK(loop.options().watchdog_threshold == 250ms);
        REQUIRE(loop.options().sink);
        tessera::emit(loop.options().sink, tessera::log_level::info, "test", "hello");
        CHECK(records == 1);
    });
}

TEST_SUITE_END();
