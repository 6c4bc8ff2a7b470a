// Lifespan and graceful shutdown over real sockets.
#include <doctest/doctest.h>

#include "socket_client.hpp"

using namespace tessera;
using namespace itest;

namespace {


// Shared between a test and its app (the app captures a pointer: apps are copied).
struct lifespan_record {
    std::atomic<int> startups{0};
    std::atomic<int> shutdowns{0};
    std::atomic<int> lifespan_calls{0};
    std::atomic<bool> startup_before_request{false};
    std::atomic<int> requests{0};
};

// Speaks lifespan: startup stores "db" in the app state, shutdown counts.
task<void> lifespan_part(scope& s, receive r, tessera::send sd, lifespan_record* rec) {
    ++rec->lifespan_calls;
    for (;;) {
        event e = co_await r();
        if (std::holds_alternative<lifespan::startup>(e)) {
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

// The app most lifespan tests serve: lifespan_part on lifespan scopes, path_echo otherwise.
struct lifespan_echo {
    lifespan_record* record;
    task<void> operator()(scope& s, receive r, tessera::send sd) const {
        if (s.type == scope_type::lifespan) {
            co_await lifespan_part(s, r, sd, record);
            co_return;
        }
        co_await path_echo(s, r, sd);
    }
};

}  // namespace

TEST_CASE("lifespan startup runs before the first request and its state reaches requests") {
    lifespan_record rec;
    auto app = [p = &rec](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type == scope_type::lifespan) {
            co_await lifespan_part(s, r, sd, p);
            co_return;
        }
        p->startup_before_request = p->startups.load() == 1;
        ++p->requests;
        const std::string* db = s.app_state ? s.app_state->find<std::string>("db") : nullptr;
        const plain_text_response answer(db ? *db : std::string("none"));
        co_await answer(s, r, sd);
    };
    {
        running_server s(app, quiet());
        CHECK(rec.startups == 1);
        CHECK(rec.shutdowns == 0);
        auto c = s.connect();
        auto r = c.roundtrip(get("/"));
        REQUIRE(r);
        CHECK(r->body == "connected");
        CHECK(rec.startup_before_request);
        s.srv.stop();
        CHECK(rec.shutdowns == 1);
    }
    CHECK(rec.lifespan_calls == 1);
    CHECK(rec.shutdowns == 1);
}

TEST_CASE("lifespan runs once for all workers") {
    lifespan_record rec;
    const lifespan_echo app{&rec};
    auto o = quiet();
    o.workers = 2;
    {
        running_server s(app, o);
        for (int i = 0; i < 4; ++i) {
            auto c = s.connect();
            CHECK(c.roundtrip(get("/")));
        }
    }
    CHECK(rec.lifespan_calls == 1);
    CHECK(rec.startups == 1);
    CHECK(rec.shutdowns == 1);
}

TEST_CASE("a failed lifespan startup makes start() throw lifespan_failure") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::lifespan) co_return;
        (void)co_await r();
        co_await sd(lifespan::startup_failed{"database unreachable"});
    };
    server srv(app, running_server::with_defaults(quiet()));
    try {
        srv.start();
        FAIL("start() did not throw");
    } catch (const lifespan_failure& e) {
        CHECK(std::string(e.what()).find("database unreachable") != std::string::npos);
    }
}

TEST_CASE("an exception in lifespan startup with lifespan on makes start() throw") {
    auto app = [](scope& s, receive r, tessera::send) -> task<void> {
        if (s.type != scope_type::lifespan) co_return;
        (void)co_await r();
        throw std::runtime_error("config missing");
    };
    auto o = running_server::with_defaults(quiet());
    o.lifespan = lifespan_mode::on;
    server srv(app, o);
    CHECK_THROWS_AS(srv.start(), lifespan_failure);
}

TEST_CASE("an app that does not speak lifespan is tolerated in automatic mode only") {
    auto app = [](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        co_await path_echo(s, r, sd);
    };
    {
        running_server s(app, quiet());
        auto c = s.connect();
        CHECK(c.roundtrip(get("/auto")));
    }
    auto o = running_server::with_defaults(quiet());
    o.lifespan = lifespan_mode::on;
    server srv(app, o);
    CHECK_THROWS_AS(srv.start(), lifespan_failure);
}

TEST_CASE("lifespan_mode::off never calls the app with a lifespan scope") {
    lifespan_record rec;
    const lifespan_echo app{&rec};
    auto o = quiet();
    o.lifespan = lifespan_mode::off;
    {
        running_server s(app, o);
        auto c = s.connect();
        CHECK(c.roundtrip(get("/")));
    }
    CHECK(rec.lifespan_calls == 0);
}

// ---- graceful shutdown -----------------------------------------------------------------

TEST_CASE("stop() lets a request in flight finish while new connections are refused") {
    lifespan_record rec;
    gate go;
    std::atomic<bool> entered{false};
    auto app = [p = &rec, &go, &entered](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type == scope_type::lifespan) {
            co_await lifespan_part(s, r, sd, p);
            co_return;
        }
        entered = true;
        co_await wait_for(go);
        // Lifespan shutdown comes after the drain, so it has not run yet.
        const plain_text_response answer("finished, shutdowns=" +
                                         std::to_string(p->shutdowns.load()));
        co_await answer(s, r, sd);
    };
    auto o = quiet();
    o.graceful_timeout = 10000ms;
    running_server s(app, o);
    const auto port = s.port();
    auto c = s.connect(10000ms);
    auto idle = s.connect(10000ms);  // an idle keep-alive connection closes at once
    REQUIRE(c.send(get("/busy")));
    REQUIRE(eventually([&] { return entered.load(); }));
    std::atomic<bool> stopped{false};
    std::thread stopper([&] {
        s.srv.stop();
        stopped = true;
    });
    // New connections are refused once the listener is closed.
    CHECK(eventually([&] {
        try {
            client probe(port, 1000ms);
            // Accepted just before the listener closed: the server closes it; try again.
            CHECK(probe.wait_closed());
            return false;
        } catch (const std::exception&) {
            return true;
        }
    }));
    CHECK(idle.wait_closed());
    CHECK_FALSE(stopped.load());
    go.release();
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->complete);
    CHECK(r->body == "finished, shutdowns=0");
    CHECK(lower(r->header("connection").value_or("")) == "close");
    CHECK(c.wait_closed());
    stopper.join();
    CHECK(stopped.load());
    CHECK(rec.shutdowns == 1);
}

namespace {
async_generator<std::string> endless(std::atomic<int>* chunks, std::atomic<bool>* ended) {
    struct on_exit {
        std::atomic<bool>* flag;
        ~on_exit() { *flag = true; }
    } guard{ended};
    for (;;) {
        ++*chunks;
        co_yield std::string("tick\n");
        co_await sleep_for(10ms);
    }
}
}  // namespace

TEST_CASE("stop() ends an endless streaming response within graceful_timeout") {
    std::atomic<int> chunks{0};
    std::atomic<bool> ended{false};
    auto app = [&chunks, &ended](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        const streaming_response answer(endless(&chunks, &ended), 200, {}, "text/plain");
        co_await answer(s, r, sd);
    };
    auto o = quiet();
    o.graceful_timeout = 20000ms;
    running_server s(app, o);
    auto c = s.connect(20000ms);
    REQUIRE(c.send(get("/events")));
    REQUIRE(eventually([&] { return chunks.load() >= 3; }));
    const auto before = std::chrono::steady_clock::now();
    s.srv.stop();
    const auto took = std::chrono::steady_clock::now() - before;
    CHECK(took < 10s);  // told the client is going, not cut at the graceful timeout
    CHECK(ended.load());
    CHECK(c.wait_closed());
    CHECK(c.buffer().find("tick") != std::string::npos);
}

TEST_CASE("stop() with nothing in flight returns promptly and closes idle connections") {
    auto o = quiet();
    o.graceful_timeout = 20000ms;
    running_server s(path_echo, o);
    auto c = s.connect(20000ms);
    REQUIRE(c.roundtrip(get("/")));
    const auto before = std::chrono::steady_clock::now();
    s.srv.stop();
    CHECK(std::chrono::steady_clock::now() - before < 10s);
    CHECK(c.wait_closed());
    s.srv.stop();  // twice is fine
}

TEST_CASE("stop() drops a request that outlives graceful_timeout") {
    gate go;
    std::atomic<bool> entered{false};
    std::atomic<bool> unwound{false};
    auto app = [&](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        struct on_exit {
            std::atomic<bool>* flag;
            ~on_exit() { *flag = true; }
        } guard{&unwound};
        entered = true;
        co_await wait_for(go);  // ignores the shutdown
        co_await path_echo(s, r, sd);
    };
    auto o = quiet();
    o.graceful_timeout = 300ms;
    running_server s(app, o);
    auto c = s.connect(20000ms);
    REQUIRE(c.send(get("/stubborn")));
    REQUIRE(eventually([&] { return entered.load(); }));
    s.srv.stop();
    CHECK(c.wait_closed());
    CHECK(c.buffer().empty());
    CHECK(unwound.load());  // the request's coroutine did not outlive the server
    go.release();
}

TEST_CASE("stop() waits for or cancels a request whose client already left") {
    std::atomic<bool> client_gone{false};
    std::atomic<bool> unwound{false};
    auto app = [&](scope& s, receive r, tessera::send) -> task<void> {
        if (s.type != scope_type::http) co_return;
        struct on_exit {
            std::atomic<bool>* flag;
            ~on_exit() { *flag = true; }
        } guard{&unwound};
        for (;;) {  // the body, then the wait for the client to go
            event e = co_await r();
            if (std::holds_alternative<http::disconnect>(e)) break;
        }
        client_gone = true;
        co_await sleep_for(60s);  // slow work the app does not abandon on its own
    };
    auto o = quiet();
    o.graceful_timeout = 300ms;
    running_server s(app, o);
    {
        auto c = s.connect();
        REQUIRE(c.send(get("/gone")));
    }
    REQUIRE(eventually([&] { return client_gone.load(); }));
    s.srv.stop();
    // Regression: with no connection left open the loop stopped at once and the request's
    // coroutine stayed suspended on a timer of a loop that no longer ran (leaked).
    CHECK(unwound.load());
}
