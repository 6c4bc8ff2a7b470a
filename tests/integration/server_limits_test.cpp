// The server's defences over real sockets: malformed input, size limits, timeouts, read and
// write backpressure, the concurrency limit and the request limit.
#include <doctest/doctest.h>

#include <future>

#include "socket_client.hpp"

using namespace tessera;
using namespace itest;

namespace {


// Sends `request` on a fresh connection while another connection, opened before, waits; the
// bad one must be answered `status` and closed, the other still served.
void expect_rejected(running_server& s, const std::string& request, int status) {
    auto bystander = s.connect();
    auto c = s.connect();
    REQUIRE(c.send(request));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == status);
    CHECK(lower(r->header("connection").value_or("")) == "close");
    CHECK(c.wait_closed());
    CHECK(c.last_status() != read_status::timeout);
    auto ok = bystander.roundtrip(get("/still-here"));
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(ok->body == "/still-here");
}

}  // namespace

TEST_CASE("malformed requests are answered 400, closed, and other connections go on") {
    running_server s(path_echo, quiet());
    SUBCASE("Content-Length with Transfer-Encoding (request smuggling)") {
        expect_rejected(s,
                        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                        "Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                        400);
    }
    SUBCASE("two different Content-Length values") {
        expect_rejected(s,
                        "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 5\r\n"
                        "Content-Length: 6\r\n\r\nhello!",
                        400);
    }
    SUBCASE("obs-fold") {
        expect_rejected(s, "GET / HTTP/1.1\r\nHost: t\r\nX-A: b\r\n c\r\n\r\n", 400);
    }
    SUBCASE("bare LF line endings") { expect_rejected(s, "GET / HTTP/1.1\nHost: t\n\n", 400); }
    SUBCASE("whitespace before the colon") {
        expect_rejected(s, "GET / HTTP/1.1\r\nHost : t\r\n\r\n", 400);
    }
    SUBCASE("HTTP/1.1 without Host") { expect_rejected(s, "GET / HTTP/1.1\r\n\r\n", 400); }
}

namespace {
// Answers the request body's size for POST and the path otherwise.
task<void> body_size(scope& s, receive r, tessera::send sd) {
    if (s.type != scope_type::http) co_return;
    if (s.method != "POST") {
        co_await path_echo(s, r, sd);
        co_return;
    }
    const std::string body = co_await read_body(r);
    const plain_text_response answer(std::to_string(body.size()));
    co_await answer(s, r, sd);
}
}  // namespace

TEST_CASE("a malformed chunked body read by the app is answered 400 and closed") {
    running_server s(body_size, quiet());
    SUBCASE("a bad chunk size") {
        expect_rejected(s,
                        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "zz\r\n",
                        400);
    }
    SUBCASE("chunk data without its CRLF") {
        expect_rejected(s,
                        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "3\r\nabcX\r\n0\r\n\r\n",
                        400);
    }
}

TEST_CASE("a malformed request after a good one on the same connection is answered 400") {
    running_server s(path_echo, quiet());
    auto c = s.connect();
    REQUIRE(c.send(get("/good") + "GET / HTTP/1.1\r\nHost : t\r\n\r\n"));
    auto first = c.read_response();
    REQUIRE(first);
    CHECK(first->body == "/good");
    auto second = c.read_response();
    REQUIRE(second);
    CHECK(second->status == 400);
    CHECK(c.wait_closed());
}

TEST_CASE("size limits answer 414, 431 and 413") {
    auto o = quiet();
    o.limits.max_request_line = 200;
    o.limits.max_headers = 10;
    o.limits.max_header_bytes = 1024;
    o.limits.max_body = 100;
    running_server s(body_size, o);
    SUBCASE("a long request line") {
        expect_rejected(s, get("/" + std::string(300, 'a')), 414);
    }
    SUBCASE("too many header fields") {
        std::string extra;
        for (int i = 0; i < 20; ++i) extra += "X-H" + std::to_string(i) + ": v\r\n";
        expect_rejected(s, get("/", extra), 431);
    }
    SUBCASE("a header section too large") {
        expect_rejected(s, get("/", "X-Big: " + std::string(2000, 'b') + "\r\n"), 431);
    }
    SUBCASE("a declared body over the limit") {
        expect_rejected(s, "POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 1000\r\n\r\n", 413);
    }
    SUBCASE("a chunked body that grows over the limit") {
        expect_rejected(s,
                        "POST / HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "60\r\n" + std::string(96, 'x') + "\r\n60\r\n" + std::string(96, 'y') +
                            "\r\n0\r\n\r\n",
                        413);
    }
    SUBCASE("a body at the limit is fine") {
        auto c = s.connect();
        auto r = c.roundtrip("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n" +
                             std::string(100, 'k'));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "100");
    }
}

// ---- timeouts ----------------------------------------------------------------------------

TEST_CASE("a client that sends half a head and stalls is dropped after header_timeout") {
    auto o = quiet();
    o.header_timeout = 200ms;
    o.keep_alive_timeout = 60000ms;  // so only the header timeout can close it
    running_server s(path_echo, o);
    auto stalled = s.connect(10000ms);
    REQUIRE(stalled.send("GET /slow HTTP/1.1\r\nHo"));
    // Meanwhile another client is served.
    auto other = s.connect();
    auto r = other.roundtrip(get("/other"));
    REQUIRE(r);
    CHECK(r->body == "/other");
    CHECK(stalled.wait_closed());
    CHECK(stalled.buffer().empty());
    // The other connection is untouched by the header timeout.
    r = other.roundtrip(get("/again"));
    REQUIRE(r);
    CHECK(r->body == "/again");
}

TEST_CASE("a head trickled byte by byte does not extend header_timeout (slowloris)") {
    auto o = quiet();
    o.header_timeout = 300ms;
    o.keep_alive_timeout = 60000ms;
    running_server s(path_echo, o);
    auto c = s.connect(10000ms);
    const std::string head = get("/" + std::string(400, 'a'));
    bool dropped = false;
    // Pacing, not synchronisation: one byte per 20 ms would take 8 s for the whole head.
    for (char ch : head) {
        if (!c.send(std::string_view(&ch, 1))) {
            dropped = true;
            break;
        }
        pollfd p{c.fd(), POLLIN, 0};
        if (::poll(&p, 1, 20) > 0) {
            dropped = c.wait_closed();
            break;
        }
    }
    CHECK(dropped);
    CHECK(c.buffer().empty());
}

TEST_CASE("an idle keep-alive connection is closed after keep_alive_timeout") {
    auto o = quiet();
    o.keep_alive_timeout = 200ms;
    running_server s(path_echo, o);
    auto c = s.connect(10000ms);
    auto r = c.roundtrip(get("/once"));
    REQUIRE(r);
    CHECK(r->body == "/once");
    CHECK(c.wait_closed());
    CHECK(c.buffer().empty());
    // A connection that never sends anything is closed too.
    auto silent = s.connect(10000ms);
    CHECK(silent.wait_closed());
    auto fresh = s.connect();
    CHECK(fresh.roundtrip(get("/new")));
}

TEST_CASE("a body that stalls mid-way is dropped after body_timeout") {
    std::atomic<bool> app_saw_disconnect{false};
    auto app = [&](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        try {
            const std::string body = co_await read_body(r);
            const plain_text_response answer(std::to_string(body.size()));
            co_await answer(s, r, sd);
        } catch (const client_disconnected&) {
            app_saw_disconnect = true;
            throw;
        }
    };
    auto o = quiet();
    o.body_timeout = 200ms;
    o.keep_alive_timeout = 60000ms;
    o.header_timeout = 60000ms;
    running_server s(app, o);
    auto c = s.connect(10000ms);
    REQUIRE(c.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\n\r\n0123456789"));
    auto other = s.connect();
    auto r = other.roundtrip("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    REQUIRE(r);
    CHECK(r->body == "3");
    CHECK(c.wait_closed());
    CHECK(c.buffer().empty());
    CHECK(eventually([&] { return app_saw_disconnect.load(); }));
}

TEST_CASE("a client that stops reading is dropped after write_timeout") {
    std::atomic<bool> app_saw_disconnect{false};
    auto app = [&](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        if (s.path != "/flood") {
            co_await path_echo(s, r, sd);
            co_return;
        }
        const std::string chunk(64 * 1024, 'w');
        try {
            co_await sd(http::response_start{200, {}});
            for (int i = 0; i < 1000; ++i) co_await sd(http::response_body{chunk, true});
            co_await sd(http::response_body{{}, false});
        } catch (const client_disconnected&) {
            app_saw_disconnect = true;
            throw;
        }
    };
    auto o = quiet();
    o.write_timeout = 300ms;
    running_server s(app, o);
    auto c = s.connect(10000ms);
    c.set_receive_buffer(16 * 1024);
    REQUIRE(c.send(get("/flood")));
    CHECK(eventually([&] { return app_saw_disconnect.load(); }));
    auto other = s.connect();
    CHECK(other.roundtrip(get("/x")));
}

// ---- backpressure ------------------------------------------------------------------------

TEST_CASE("a streaming app writing to a client that never reads is held back by send") {
    constexpr std::size_t chunk_size = 64 * 1024;
    constexpr std::size_t total = 50u * 1024 * 1024;
    std::atomic<std::size_t> sent{0};
    std::atomic<bool> app_saw_disconnect{false};
    auto app = [&](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        if (s.path != "/flood") {
            const plain_text_response answer("small");
            co_await answer(s, r, sd);
            co_return;
        }
        const std::string chunk(chunk_size, 'f');
        try {
            const tessera::headers fields{{"content-type", "application/octet-stream"}};
            co_await sd(http::response_start{200, fields});
            while (sent < total) {
                co_await sd(http::response_body{chunk, true});
                sent += chunk_size;
            }
            co_await sd(http::response_body{{}, false});
        } catch (const client_disconnected&) {
            app_saw_disconnect = true;
            throw;
        }
    };
    auto o = quiet();
    o.write_high_water = 256 * 1024;
    running_server s(app, o);
    auto c = s.connect(10000ms);
    c.set_receive_buffer(64 * 1024);
    REQUIRE(c.send(get("/flood")));
    // Wait until the app's progress stops (it is parked in send), bounded.
    std::size_t last = 0;
    int unchanged = 0;
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (unchanged < 30 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
        const auto now = sent.load();
        unchanged = now == last && now > 0 ? unchanged + 1 : 0;
        last = now;
    }
    MESSAGE("bytes the app managed to send: " << last);
    CHECK(last > 0);
    CHECK(last < 12u * 1024 * 1024);  // write_high_water + kernel socket buffers, not 50 MB
    CHECK_FALSE(app_saw_disconnect.load());
    // Meanwhile other clients are served.
    {
        auto other = s.connect();
        auto r = other.roundtrip(get("/small"));
        REQUIRE(r);
        CHECK(r->body == "small");
    }
    c.reset();
    CHECK(eventually([&] { return app_saw_disconnect.load(); }));
    CHECK(sent.load() < total);
    auto after = s.connect();
    auto r = after.roundtrip(get("/small"));
    REQUIRE(r);
    CHECK(r->body == "small");
}

TEST_CASE("a large body sent to an app that does not read it yet is held back by the server") {
    constexpr std::size_t total = 64u * 1024 * 1024;
    gate go;
    std::atomic<bool> entered{false};
    auto app = [&](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        entered = true;
        co_await wait_for(go);
        std::size_t received = 0;
        for (;;) {
            event e = co_await r();
            auto* piece = std::get_if<http::request>(&e);
            if (!piece) co_return;
            received += piece->body.size();
            if (!piece->more_body) break;
        }
        const plain_text_response answer(std::to_string(received));
        co_await answer(s, r, sd);
    };
    running_server s(app, quiet());
    auto c = s.connect(20000ms);
    REQUIRE(c.send("POST /big HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(total) +
                   "\r\n\r\n"));
    REQUIRE(eventually([&] { return entered.load(); }));
    const std::string body(total, 'b');
    std::size_t pushed = 0;
    bool stalled = false;
    while (pushed < total) {
        pushed += c.send_nonblocking(std::string_view(body).substr(pushed));
        pollfd p{c.fd(), POLLOUT, 0};
        if (::poll(&p, 1, 300) == 0) {
            stalled = true;
            break;
        }
    }
    MESSAGE("body bytes the client could push before the server pushed back: " << pushed);
    CHECK(stalled);
    CHECK(pushed < 16u * 1024 * 1024);
    go.release();
    REQUIRE(c.send(std::string_view(body).substr(pushed)));
    auto r = c.read_response();
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == std::to_string(total));
}

// ---- concurrency and request limits -------------------------------------------------------

TEST_CASE("limit_concurrency answers 503 while the limit is reached") {
    gate go;
    std::atomic<bool> entered{false};
    auto app = [&](scope& s, receive r, tessera::send sd) -> task<void> {
        if (s.type != scope_type::http) co_return;
        if (s.path == "/hold") {
            entered = true;
            co_await wait_for(go);
        }
        co_await path_echo(s, r, sd);
    };
    auto o = quiet();
    o.limit_concurrency = 1;
    running_server s(app, o);
    auto held = s.connect();
    REQUIRE(held.send(get("/hold", "Connection: close\r\n")));
    REQUIRE(eventually([&] { return entered.load(); }));
    {
        auto second = s.connect();
        auto r = second.roundtrip(get("/second"));
        REQUIRE(r);
        CHECK(r->status == 503);
        CHECK(second.wait_closed());
    }
    go.release();
    auto r = held.read_response();
    REQUIRE(r);
    CHECK(r->body == "/hold");
    CHECK(held.wait_closed());  // the server closed it, so its slot is free
    auto third = s.connect();
    r = third.roundtrip(get("/third"));
    REQUIRE(r);
    CHECK(r->status == 200);
}

TEST_CASE("limit_max_requests stops the server after that many requests") {
    auto o = quiet();
    o.limit_max_requests = 3;
    running_server s(path_echo, o);
    std::atomic<bool> waited{false};
    std::thread waiter([&] {
        s.srv.wait();
        waited = true;
    });
    {
        auto c = s.connect();
        for (int i = 0; i < 3; ++i) {
            auto r = c.roundtrip(get("/n" + std::to_string(i)));
            REQUIRE(r);
            CHECK(r->status == 200);
        }
    }
    CHECK(eventually([&] { return waited.load(); }));
    if (!waited) s.srv.stop();
    waiter.join();
    CHECK_THROWS(client(s.port()));
}
