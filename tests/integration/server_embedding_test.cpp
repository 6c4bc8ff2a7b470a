// A server embedded in a program that owns its libuv loop: it runs on that loop (lifespan
// included, no threads of its own), start() does not block, the shutdown proceeds as the loop
// runs and is reported to on_stopped, and afterwards nothing of the server is left on the loop
// (uv_loop_close succeeds).
#include <doctest/doctest.h>

#include <uv.h>

#include <tessera/loop.hpp>

#include "socket_client.hpp"

using namespace tessera;
using namespace itest;

namespace {

// What happened on the host thread, read by the test's thread once it is finished.
struct embedded_run {
    std::atomic<bool> ready{false};      // start() returned or threw
    std::atomic<bool> finished{false};   // the loop was closed (or not)
    std::atomic<server*> srv{nullptr};   // while start() succeeded and the loop runs
    std::uint16_t port = 0;
    std::exception_ptr start_error;
    bool stopped_called = false;
    std::exception_ptr stopped_error;
    std::thread::id loop_thread;
    bool timed_out = false;
    bool loop_closed = false;
};

struct hooks {
    std::function<void(server&)> after_start;  // on the loop's thread, before it runs
    std::function<void()> after_run;           // when uv_run returned, before ~server
    bool destroy_from_app = false;             // ~server on the loop, right after start()
};

// Hosts an embedded server on a thread that owns a uv loop and runs it, as a program with its
// own loop would; the test's thread is the client. A guard timer ends a run that hangs (20 s).
void host(any_app app, server_options o, embedded_run& run, hooks h = {}) {
    uv_loop_t uv;
    if (uv_loop_init(&uv) != 0) {
        run.finished = true;  // loop_closed stays false: the test fails
        return;
    }
    run.loop_thread = std::this_thread::get_id();
    o.host = "127.0.0.1";
    o.port = 0;
    {
        auto loop = event_loop::adopt(&uv);
        uv_timer_t guard;
        uv_timer_init(&uv, &guard);
        guard.data = &run;
        uv_timer_start(
            &guard,
            [](uv_timer_t* t) {
                static_cast<embedded_run*>(t->data)->timed_out = true;
                uv_stop(t->loop);
            },
            20000, 0);
        uv_unref(reinterpret_cast<uv_handle_t*>(&guard));
        {
            o.loop = loop.get();
            auto srv = std::make_unique<server>(std::move(app), o);
            srv->on_stopped([&run](std::exception_ptr error) {
                run.stopped_called = true;
                run.stopped_error = std::move(error);
            });
            try {
                srv->start();
                run.port = srv->port();
                if (h.after_start) h.after_start(*srv);
                run.srv = srv.get();
            } catch (...) {
                run.start_error = std::current_exception();
            }
            run.ready = true;
            if (h.destroy_from_app) {
                // Destroyed from a callback of its running loop, as a program would.
                loop->post([&srv] { srv.reset(); });
            }
            uv_run(&uv, UV_RUN_DEFAULT);
            run.srv = nullptr;
            if (h.after_run) h.after_run();
        }
        uv_close(reinterpret_cast<uv_handle_t*>(&guard), nullptr);
        loop.reset();  // closes the adopted loop's own wake-up handle
        uv_run(&uv, UV_RUN_DEFAULT);
    }
    run.loop_closed = uv_loop_close(&uv) == 0;
    run.finished = true;
}

// Lifespan and requests, recording the threads they ran on.
struct recorder {
    std::mutex mutex;
    std::vector<std::thread::id> threads;
    std::atomic<int> startups{0}, shutdowns{0}, requests{0};
    std::atomic<bool> startup_before_request{true};
    void saw() {
        std::lock_guard lock(mutex);
        threads.push_back(std::this_thread::get_id());
    }
    bool all_on(std::thread::id id) {
        std::lock_guard lock(mutex);
        return !threads.empty() &&
               std::all_of(threads.begin(), threads.end(), [&](auto t) { return t == id; });
    }
};

struct lifespan_app {
    recorder* rec;
    const gate* startup_gate = nullptr;  // startup waits for it when set
    bool fail_startup = false;
    task<void> operator()(scope& s, receive r, tessera::send sd) const {
        rec->saw();
        if (s.type == scope_type::lifespan) {
            for (;;) {
                event e = co_await r();
                if (std::holds_alternative<lifespan::startup>(e)) {
                    if (startup_gate) co_await wait_for(*startup_gate);
                    if (fail_startup) {
                        co_await sd(lifespan::startup_failed{"no database"});
                        co_return;
                    }
                    s.app_state->set("db", std::string("connected"));
                    ++rec->startups;
                    co_await sd(lifespan::startup_complete{});
                } else if (std::holds_alternative<lifespan::shutdown>(e)) {
                    ++rec->shutdowns;
                    co_await sd(lifespan::shutdown_complete{});
                    co_return;
                }
            }
        }
        if (rec->startups.load() != 1) rec->startup_before_request = false;
        ++rec->requests;
        const std::string* db = s.app_state ? s.app_state->find<std::string>("db") : nullptr;
        const plain_text_response answer((db ? *db : std::string("none")) + " " + s.path);
        co_await answer(s, r, sd);
    }
};

bool finished(embedded_run& run) {
    return eventually([&] { return run.finished.load(); }, 30000ms);
}

}  // namespace

TEST_CASE("an embedded server runs on the caller's loop and leaves nothing on it") {
    recorder rec;
    embedded_run run;
    std::thread loop_thread(host, lifespan_app{&rec}, quiet(), std::ref(run), hooks{});
    REQUIRE(eventually([&] { return run.ready.load(); }));
    REQUIRE_FALSE(run.start_error);
    REQUIRE(run.port != 0);
    CHECK(rec.startups == 1);
    {
        auto c = client(run.port);
        for (int i = 0; i < 3; ++i) {
            auto r = c.roundtrip(get("/e" + std::to_string(i)));
            REQUIRE(r);
            CHECK(r->status == 200);
            CHECK(r->body == "connected /e" + std::to_string(i));
        }
        auto other = client(run.port);
        auto r = other.roundtrip(get("/other"));
        REQUIRE(r);
        CHECK(r->body == "connected /other");
    }
    run.srv.load()->request_stop();  // from this thread, not the loop's
    REQUIRE(finished(run));
    loop_thread.join();
    CHECK_FALSE(run.timed_out);
    CHECK(run.stopped_called);
    CHECK_FALSE(run.stopped_error);
    CHECK(run.loop_closed);
    CHECK(rec.shutdowns == 1);
    CHECK(rec.requests == 4);
    CHECK(rec.all_on(run.loop_thread));  // lifespan and requests alike
    CHECK_THROWS(client(run.port));
}

TEST_CASE("an embedded server drains a request in flight when asked to stop") {
    gate go;
    std::atomic<bool> entered{false};
    auto app = [&](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        entered = true;
        co_await wait_for(go);
        co_await path_echo(s, r, sd);
    };
    embedded_run run;
    auto o = quiet();
    o.lifespan = lifespan_mode::off;
    std::thread loop_thread(host, app, o, std::ref(run), hooks{});
    REQUIRE(eventually([&] { return run.ready.load(); }));
    REQUIRE_FALSE(run.start_error);
    auto c = client(run.port);
    REQUIRE(c.send(get("/slow")));
    REQUIRE(eventually([&] { return entered.load(); }));
    run.srv.load()->request_stop();
    go.release();
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "/slow");
    CHECK(lower(r->header("connection").value_or("")) == "close");
    CHECK(c.wait_closed());
    REQUIRE(finished(run));
    loop_thread.join();
    CHECK(run.stopped_called);
    CHECK(run.loop_closed);
}

TEST_CASE("an embedded server accepts connections once an asynchronous startup completed") {
    recorder rec;
    gate startup;
    embedded_run run;
    std::thread loop_thread(host, lifespan_app{&rec, &startup}, quiet(), std::ref(run),
                            hooks{});
    REQUIRE(eventually([&] { return run.ready.load(); }));
    REQUIRE_FALSE(run.start_error);
    CHECK(rec.startups == 0);  // start() returned while the startup waits
    auto c = client(run.port);  // waits in the listen backlog
    REQUIRE(c.send(get("/early")));
    startup.release();
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->body == "connected /early");
    CHECK(rec.startup_before_request);
    run.srv.load()->request_stop();
    REQUIRE(finished(run));
    loop_thread.join();
    CHECK(run.loop_closed);
    CHECK(rec.shutdowns == 1);
}

TEST_CASE("a startup that fails at once makes start() throw and leaves the loop closable") {
    recorder rec;
    embedded_run run;
    lifespan_app app{&rec};
    app.fail_startup = true;
    std::thread loop_thread(host, app, quiet(), std::ref(run), hooks{});
    REQUIRE(finished(run));
    loop_thread.join();
    REQUIRE(run.start_error);
    CHECK_THROWS_AS(std::rethrow_exception(run.start_error), lifespan_failure);
    CHECK_FALSE(run.stopped_called);  // start() threw: nobody else is told
    CHECK(run.loop_closed);
    CHECK_FALSE(run.timed_out);
}

TEST_CASE("a startup that fails later stops the server and is reported to on_stopped") {
    recorder rec;
    gate startup;
    embedded_run run;
    lifespan_app app{&rec, &startup};
    app.fail_startup = true;
    std::thread loop_thread(host, app, quiet(), std::ref(run), hooks{});
    REQUIRE(eventually([&] { return run.ready.load(); }));
    REQUIRE_FALSE(run.start_error);
    startup.release();
    REQUIRE(finished(run));
    loop_thread.join();
    CHECK(run.stopped_called);
    REQUIRE(run.stopped_error);
    CHECK_THROWS_AS(std::rethrow_exception(run.stopped_error), lifespan_failure);
    CHECK(run.loop_closed);
    CHECK(rec.requests == 0);
}

TEST_CASE("stop() and wait() refuse to block an embedded server's own loop") {
    embedded_run run;
    bool stop_refused = false, wait_refused = false;
    hooks h;
    h.after_start = [&](server& srv) {
        try {
            srv.stop();
        } catch (const std::logic_error&) {
            stop_refused = true;
        }
        try {
            srv.wait();
        } catch (const std::logic_error&) {
            wait_refused = true;
        }
        srv.request_stop();
    };
    std::thread loop_thread(host, path_echo, quiet(), std::ref(run), h);
    REQUIRE(finished(run));
    loop_thread.join();
    CHECK(stop_refused);
    CHECK(wait_refused);
    CHECK(run.stopped_called);
    CHECK(run.loop_closed);
}

TEST_CASE("stop() from another thread waits for an embedded server to stop") {
    embedded_run run;
    std::atomic<bool> stop_returned{false};
    hooks h;
    // The server must outlive the stop() call made on the test's thread.
    h.after_run = [&] { (void)eventually([&] { return stop_returned.load(); }); };
    std::thread loop_thread(host, path_echo, quiet(), std::ref(run), h);
    REQUIRE(eventually([&] { return run.ready.load(); }));
    REQUIRE_FALSE(run.start_error);
    {
        auto c = client(run.port);
        auto r = c.roundtrip(get("/x"));
        REQUIRE(r);
        CHECK(r->body == "/x");
    }
    run.srv.load()->stop();
    CHECK(run.stopped_called);  // the handler ran before stop() returned
    stop_returned = true;
    REQUIRE(finished(run));
    loop_thread.join();
    CHECK(run.loop_closed);
}

TEST_CASE("destroying a running embedded server shuts it down on its loop") {
    embedded_run run;
    hooks h;
    h.destroy_from_app = true;
    std::thread loop_thread(host, path_echo, quiet(), std::ref(run), h);
    REQUIRE(finished(run));
    loop_thread.join();
    CHECK_FALSE(run.start_error);
    CHECK_FALSE(run.stopped_called);  // nobody left to tell
    CHECK(run.loop_closed);
    CHECK_FALSE(run.timed_out);
}

TEST_CASE("limit_max_requests stops an embedded server") {
    embedded_run run;
    auto o = quiet();
    o.limit_max_requests = 2;
    std::thread loop_thread(host, path_echo, o, std::ref(run), hooks{});
    REQUIRE(eventually([&] { return run.ready.load(); }));
    REQUIRE_FALSE(run.start_error);
    {
        auto c = client(run.port);
        for (int i = 0; i < 2; ++i) {
            auto r = c.roundtrip(get("/n"));
            REQUIRE(r);
            CHECK(r->status == 200);
        }
        CHECK(c.wait_closed());
    }
    REQUIRE(finished(run));
    loop_thread.join();
    CHECK(run.stopped_called);
    CHECK(run.loop_closed);
}

TEST_CASE("an embedded server on a Unix socket removes its socket when it stops") {
    temp_dir dir;
    const auto path = dir.file("e.sock");
    embedded_run run;
    auto o = quiet();
    o.unix_socket = path;
    std::thread loop_thread(host, path_echo, o, std::ref(run), hooks{});
    REQUIRE(eventually([&] { return run.ready.load(); }));
    REQUIRE_FALSE(run.start_error);
    {
        auto c = client::unix_socket(path);
        auto r = c.roundtrip(get("/unix"));
        REQUIRE(r);
        CHECK(r->body == "/unix");
    }
    run.srv.load()->request_stop();
    REQUIRE(finished(run));
    loop_thread.join();
    CHECK(run.loop_closed);
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("a server_name that could inject a header is a configuration error") {
    // The serializer trusts the server's own `server` value on every response; this is where
    // it is checked.
    auto o = quiet();
    o.port = 0;
    o.server_name = "tessera\r\nset-cookie: a=b";
    CHECK_THROWS_AS(server(path_echo, o), std::invalid_argument);
    o.server_name = "tessera\tbeta";  // a tab is a valid field-value byte
    CHECK_NOTHROW(server(path_echo, o));
}

TEST_CASE("an embedded server needs one worker and start() on its loop's thread") {
    uv_loop_t uv;
    REQUIRE(uv_loop_init(&uv) == 0);
    std::thread other([&] {
        auto loop = event_loop::adopt(&uv);
        auto o = quiet();
        o.loop = loop.get();
        o.workers = 2;
        CHECK_THROWS_AS(server(path_echo, o), std::invalid_argument);
        o.workers = 1;
        o.port = 0;
        server srv(path_echo, o);
        std::thread elsewhere([&] { CHECK_THROWS_AS(srv.start(), std::logic_error); });
        elsewhere.join();
        loop.reset();
        uv_run(&uv, UV_RUN_DEFAULT);
    });
    other.join();
    CHECK(uv_loop_close(&uv) == 0);
}
