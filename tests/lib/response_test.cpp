#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/cancellation.hpp"
#include "tessera/log.hpp"
#include "tessera/loop.hpp"
#include "tessera/response.hpp"
#include "tessera/sync_wait.hpp"
#include "tessera/testing/test_client.hpp"
#include "logging_loop.hpp"
#include "send_delivery.hpp"

using namespace tessera;
using tessera::testing::client_options;
using tessera::testing::test_client;
using tessera::testing::test_response;

namespace {
std::size_t count_fields(const headers& h, std::string_view name) { return h.get_all(name).size(); }

task<void> record(std::vector<std::string>& log, std::string entry) {
    log.push_back(std::move(entry));
    co_return;
}

// Wraps an app's `send` to log what the transport accepted: an entry is written only once the
// transport's send call has returned.
struct transport_spy {
    any_app inner;
    std::vector<std::string>* log;

    struct spying_send {
        send downstream;
        std::vector<std::string>* log;
        task<void> operator()(event e) const { return forward(downstream, std::move(e), log); }
        static task<void> forward(send downstream, event e, std::vector<std::string>* log) {
            std::string entry;
            if (std::holds_alternative<http::response_start>(e)) {
                entry = "transport took the start";
            } else if (const auto* b = std::get_if<http::response_body>(&e)) {
                entry =
                    b->more_body ? "transport took a body chunk" : "transport took the final body";
            }
            co_await downstream(std::move(e));
            log->push_back(entry);
        }
    };

    task<void> operator()(scope& s, receive r, send sd) const {
        spying_send spy{sd, log};
        co_await inner(s, r, send(spy));
        log->push_back("app returned");
    }
};
}  // namespace

TEST_CASE("a fixed body gets a content-length and the media type as content-type") {
    const response resp("abc", 201, {}, "application/octet-stream");
    CHECK(resp.status() == 201);
    CHECK(resp.body() == "abc");
    CHECK(resp.headers().get("content-length") == "3");
    CHECK(resp.headers().get("content-type") == "application/octet-stream");

    test_client client{resp};
    const auto r = client.get("/");
    CHECK(r.status == 201);
    CHECK(r.content == "abc");
    CHECK(r.headers.get("content-length") == "3");
    CHECK(r.headers.get("content-type") == "application/octet-stream");
}

TEST_CASE("an empty default response still declares a zero content-length and no content-type") {
    test_client client{response{}};
    const auto r = client.get("/");
    CHECK(r.status == 200);
    CHECK(r.content.empty());
    CHECK(r.headers.get("content-length") == "0");
    CHECK_FALSE(r.headers.contains("content-type"));
}

TEST_CASE("text media types get charset utf-8 unless they name a charset") {
    CHECK(response("x", 200, {}, "text/csv").headers().get("content-type") ==
          "text/csv; charset=utf-8");
    CHECK(response("x", 200, {}, "text/csv; charset=latin-1").headers().get("content-type") ==
          "text/csv; charset=latin-1");
    CHECK(response("x", 200, {}, "text/csv; Charset=ascii").headers().get("content-type") ==
          "text/csv; Charset=ascii");
    CHECK(response("x", 200, {}, "text/x;CHARSET=").headers().get("content-type") ==
          "text/x;CHARSET=");
    CHECK(response("x", 200, {}, "text/charset").headers().get("content-type") ==
          "text/charset; charset=utf-8");
    CHECK(response("x", 200, {}, "application/xml").headers().get("content-type") ==
          "application/xml");
    // The type is matched case-insensitively, and only as a whole `text/` prefix.
    CHECK(response("x", 200, {}, "TEXT/Plain").headers().get("content-type") ==
          "TEXT/Plain; charset=utf-8");
    CHECK(response("x", 200, {}, "text:plain").headers().get("content-type") == "text:plain");
    CHECK(response("x", 200, {}, "textual/x").headers().get("content-type") == "textual/x");
}

TEST_CASE("a response sent as an rvalue gives the client the same head as one sent as const") {
    // `std::move(answer)(...)` moves the headers into the start event instead of copying them;
    // the const form leaves the response whole, so it can be sent again.
    const auto moved = [](scope& s, receive r, send sd) -> task<void> {
        plain_text_response answer("hi", 201, {{"x-extra", "1"}});
        co_await std::move(answer)(s, r, sd);
    };
    static const plain_text_response shared("hi", 201, {{"x-extra", "1"}});
    const auto twice = [](scope& s, receive r, send sd) -> task<void> {
        co_await shared(s, r, sd);
    };
    test_client by_move{moved};
    test_client by_const{twice};
    const auto a = by_move.get("/");
    CHECK(a.status == 201);
    CHECK(a.text() == "hi");
    CHECK(a.headers.get("x-extra") == "1");
    CHECK(a.headers.get("content-length") == "2");
    CHECK(a.headers.get("content-type") == "text/plain; charset=utf-8");
    for (int i = 0; i < 2; ++i) {
        const auto b = by_const.get("/");
        CHECK(b.headers.fields() == a.headers.fields());
        CHECK(b.text() == "hi");
    }
    CHECK(shared.headers().size() == 3);
}

TEST_CASE("statuses without a body get no content-length") {
    for (const int status : {100, 101, 204, 304}) {
        CAPTURE(status);
        const response resp("", status);
        CHECK_FALSE(resp.headers().contains("content-length"));
    }
    // 205 and 4xx/5xx statuses carry content.
    CHECK(response("", 205).headers().get("content-length") == "0");
    CHECK(response("gone", 410).headers().get("content-length") == "4");

    test_client client{response("", 204)};
    const auto r = client.get("/");
    CHECK(r.status == 204);
    CHECK(r.content.empty());
    CHECK_FALSE(r.headers.contains("content-length"));
}

TEST_CASE("a content-length set by the caller is kept and not duplicated") {
    const response resp("abc", 200, {{"Content-Length", "3"}});
    CHECK(count_fields(resp.headers(), "content-length") == 1);
    CHECK(resp.headers().get("content-length") == "3");
}

TEST_CASE("the caller's content-type wins over the media type, untouched") {
    const plain_text_response resp("# title", 200, {{"Content-Type", "text/markdown"}});
    CHECK(count_fields(resp.headers(), "content-type") == 1);
    CHECK(resp.headers().get("content-type") == "text/markdown");
}

TEST_CASE("the caller's headers come first, in order, then the computed ones") {
    const plain_text_response resp("hi", 200, {{"X-One", "1"}, {"x-two", "2"}, {"x-one", "3"}});
    const std::vector<header_field> expected{{"x-one", "1"},
                                             {"x-two", "2"},
                                             {"x-one", "3"},
                                             {"content-length", "2"},
                                             {"content-type", "text/plain; charset=utf-8"}};
    CHECK(resp.headers().fields() == expected);
}

TEST_CASE("plain text and HTML responses carry their media type with charset utf-8") {
    test_client text{plain_text_response("hi")};
    const auto t = text.get("/");
    CHECK(t.text() == "hi");
    CHECK(t.headers.get("content-type") == "text/plain; charset=utf-8");
    CHECK(t.headers.get("content-length") == "2");

    test_client html{html_response("<p>h\xC3\xA9</p>", 404)};
    const auto h = html.get("/");
    CHECK(h.status == 404);
    CHECK(h.text() == "<p>h\xC3\xA9</p>");
    CHECK(h.headers.get("content-type") == "text/html; charset=utf-8");
    CHECK(h.headers.get("content-length") == "10");
}

TEST_CASE("a JSON response is compact, raw UTF-8, and application/json without a charset") {
    const json content = {{"message", "h\xC3\xA9llo \xE2\x9C\x93"},
                          {"list", json::array({1, 2.5, nullptr, true})},
                          {"nested", {{"a", "\"q\""}}}};
    test_client client{json_response(content)};
    const auto r = client.get("/");
    const std::string expected =
        "{\"message\":\"h\xC3\xA9llo \xE2\x9C\x93\",\"list\":[1,2.5,null,true],"
        "\"nested\":{\"a\":\"\\\"q\\\"\"}}";
    CHECK(r.content == expected);
    CHECK(r.headers.get("content-type") == "application/json");
    CHECK(r.headers.get("content-length") == std::to_string(expected.size()));
    CHECK(r.json() == content);
}

TEST_CASE("a JSON response rejects NaN and infinities at construction") {
    CHECK_THROWS_AS(json_response(json(std::nan(""))), json_value_error);
    CHECK_THROWS_AS(json_response(json{{"x", std::numeric_limits<double>::infinity()}}),
                    json_value_error);
    CHECK_THROWS_AS(json_response(json::array({1, -std::numeric_limits<double>::infinity()})),
                    json_value_error);
}

TEST_CASE("a JSON response can wrap text that is already serialised") {
    const auto resp = json_response::from_serialised("[1,2]", 202);
    CHECK(resp.status() == 202);
    CHECK(resp.body() == "[1,2]");
    CHECK(resp.headers().get("content-type") == "application/json");
    CHECK(resp.headers().get("content-length") == "5");
}

TEST_CASE("a redirect is a 307 with a location and an empty body by default") {
    test_client client{redirect_response("/elsewhere"), client_options{.follow_redirects = false}};
    const auto r = client.get("/");
    CHECK(r.status == 307);
    CHECK(r.headers.get("location") == "/elsewhere");
    CHECK(r.headers.get("content-length") == "0");
    CHECK(r.content.empty());
    CHECK(r.is_redirect());
}

TEST_CASE("a redirect takes a custom status and extra headers") {
    const redirect_response resp("https://example.org/", 301, {{"cache-control", "no-store"}});
    CHECK(resp.status() == 301);
    CHECK(resp.headers().get("location") == "https://example.org/");
    CHECK(resp.headers().get("cache-control") == "no-store");
}

TEST_CASE("a redirect location quotes spaces and non-ASCII but keeps URL delimiters") {
    CHECK(redirect_response("/a b/caf\xC3\xA9?q=x y").headers().get("location") ==
          "/a%20b/caf%C3%A9?q=x%20y");
    const std::string kept = "https://u:p@h:8/p;a,b+c*(d)!$'&e=%41[x]?k=v#frag";
    CHECK(redirect_response(kept).headers().get("location") == kept);
    CHECK(redirect_response("/x\"<y>{z}|^`\\").headers().get("location") ==
          "/x%22%3Cy%3E%7Bz%7D%7C%5E%60%5C");
}

TEST_CASE("set_cookie writes every attribute in the exact header value") {
    response resp("ok");
    resp.set_cookie(
        "session", "abc123",
        {.max_age = 600,
         .expires = std::chrono::sys_days{std::chrono::year{2037} / std::chrono::January / 22},
         .path = "/app",
         .domain = "example.org",
         .secure = true,
         .httponly = true,
         .samesite = "strict",
         .partitioned = true});
    resp.set_cookie("plain", "v");
    test_client client{resp};
    const auto r = client.get("/");
    const auto values = r.headers.get_all("set-cookie");
    REQUIRE(values.size() == 2);
    CHECK(values[0] ==
          "session=abc123; Domain=example.org; expires=Thu, 22 Jan 2037 00:00:00 GMT; "
          "HttpOnly; Max-Age=600; Partitioned; Path=/app; SameSite=strict; Secure");
    CHECK(values[1] == "plain=v; Path=/; SameSite=lax");
}

TEST_CASE("delete_cookie writes an expired, empty cookie matching the given attributes") {
    response resp("ok");
    resp.delete_cookie("session");
    resp.delete_cookie("other", "/app", "example.org", true, true, std::nullopt);
    const auto values = resp.headers().get_all("set-cookie");
    REQUIRE(values.size() == 2);
    CHECK(values[0] ==
          "session=\"\"; expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; Path=/; SameSite=lax");
    CHECK(values[1] ==
          "other=\"\"; Domain=example.org; expires=Thu, 01 Jan 1970 00:00:00 GMT; HttpOnly; "
          "Max-Age=0; Path=/app; Secure");
}

TEST_CASE("set_cookie rejects a name that would break the header") {
    response resp("ok");
    CHECK_THROWS_AS(resp.set_cookie("bad name", "v"), std::invalid_argument);
    CHECK_THROWS_AS(resp.set_cookie("a", "v", {.path = "/;evil"}), std::invalid_argument);
    CHECK_FALSE(resp.headers().contains("set-cookie"));
}

TEST_CASE("background tasks run in order after the transport took the final body") {
    std::vector<std::string> log;
    plain_text_response resp("done");
    resp.add_background([&log] { return record(log, "first background task"); })
        .add_background([&log] { return record(log, "second background task"); });
    CHECK(resp.background().size() == 2);

    test_client client{transport_spy{resp, &log}};
    const auto r = client.get("/");
    CHECK(r.content == "done");
    const std::vector<std::string> expected{
        "transport took the start", "transport took the final body", "first background task",
        "second background task", "app returned"};
    CHECK(log == expected);
}

using tessera::test_support::logged_line;
using tessera::test_support::with_logging_loop;

TEST_CASE("a failing background task reaches the log sink, never the client") {
    std::vector<logged_line> logged;
    std::vector<std::string> ran;
    test_response got;
    with_logging_loop(logged, [&] {
        plain_text_response resp("sent");
        resp.add_background([&ran] { return record(ran, "first"); })
            .add_background([]() -> task<void> {
                throw std::runtime_error("background failed");
                co_return;
            })
            .add_background([&ran] { return record(ran, "third"); });
        test_client raising{resp};  // raise_server_exceptions: nothing is raised
        got = raising.get("/tasks");
    });
    CHECK(got.status == 200);
    CHECK(got.content == "sent");
    // As Starlette's BackgroundTasks: the run stops at the first failure.
    CHECK(ran == std::vector<std::string>{"first"});
    REQUIRE(logged.size() == 1);
    CHECK(logged[0].level == log_level::error);
    CHECK(logged[0].category == "background");
    CHECK(logged[0].message ==
          "background task 2 of 3 after GET /tasks failed: std::runtime_error: background "
          "failed; 1 later task skipped");
}

TEST_CASE("a failing background task is dropped quietly when the loop has no sink") {
    plain_text_response resp("sent");
    resp.add_background([]() -> task<void> {
        throw 42;  // not even a std::exception
        co_return;
    });
    test_client client{resp};
    const auto r = client.get("/");
    CHECK(r.status == 200);
    CHECK(r.content == "sent");
}

TEST_CASE("a cancelled background task propagates the cancellation, which is no failure") {
    std::vector<logged_line> logged;
    bool raised = false;
    with_logging_loop(logged, [&] {
        plain_text_response resp("sent");
        resp.add_background([]() -> task<void> {
            throw operation_cancelled{};
            co_return;
        });
        test_client client{resp};
        try {
            (void)client.get("/");
        } catch (const operation_cancelled&) {
            raised = true;
        }
    });
    CHECK(raised);
    CHECK(logged.empty());
}

TEST_CASE("a HEAD request gets the headers with content-length but no body") {
    test_client client{plain_text_response("hello")};
    const auto r = client.head("/");
    CHECK(r.status == 200);
    CHECK(r.content.empty());
    CHECK(r.headers.get("content-length") == "5");
    CHECK(r.headers.get("content-type") == "text/plain; charset=utf-8");
}

TEST_CASE("a response can be sent any number of times, and copies are independent") {
    plain_text_response original("again");
    test_client client{original};
    CHECK(client.get("/").content == "again");
    CHECK(client.get("/").content == "again");

    response copy = original;
    copy.set_cookie("k", "v");
    copy.set_status(202);
    CHECK_FALSE(original.headers().contains("set-cookie"));
    CHECK(original.status() == 200);
    test_client other{copy};
    const auto r = other.get("/");
    CHECK(r.status == 202);
    CHECK(r.content == "again");
    CHECK(r.cookies() == cookie_list{{"k", "v"}});
}

namespace denial_example {
// Answers every scope, a WebSocket handshake included, with an ordinary response.
task<void> refuse(scope& s, receive r, send sd) {
    const plain_text_response answer("Invalid host header", 400, {{"x-why", "host"}});
    co_await answer(s, r, sd);
}
}  // namespace denial_example

TEST_CASE("a response on a WebSocket scope goes out as the handshake's denial response") {
    test_client client(&denial_example::refuse);
    CHECK(client.get("/").status == 400);
    try {
        (void)client.websocket_connect("/ws");
        FAIL("expected a denial");
    } catch (const tessera::testing::websocket_denied& denied) {
        CHECK(denied.response().status == 400);
        CHECK(denied.response().headers.get("x-why") == "host");
        CHECK(denied.response().headers.get("content-type") == "text/plain; charset=utf-8");
        CHECK(denied.response().text() == "Invalid host header");
    }
}

TEST_CASE("a long text media type still gets its charset") {
    const std::string long_type = "text/x-" + std::string(200, 'a');
    CHECK(response("x", 200, {}, long_type).headers().get("content-type") ==
          long_type + "; charset=utf-8");
    const std::string edge = "text/" + std::string(128 - 5 - 15, 'b');  // exactly fills 128
    CHECK(response("x", 200, {}, edge).headers().get("content-type") == edge + "; charset=utf-8");
}

namespace eager_example {
// A transport whose sends deliver as chosen (test_support::delivery: eager, as the server's;
// lazy, as the test client's; or throwing at the call, as a hand-written plain function may).
struct transport {
    using delivery = test_support::delivery;
    delivery mode = delivery::eager;
    bool fail_body = false;  // the body's send fails (at the co_await, or at the call)
    std::vector<std::string> sent;

    task<event> next() { co_return http::disconnect{}; }
    task<void> emit(event e) {
        return test_support::deliver(mode, std::move(e),
                                     [this](const event& delivered) { record(delivered); });
    }
    void record(const event& e) {
        if (fail_body && std::holds_alternative<http::response_body>(e)) {
            throw client_disconnected();
        }
        std::string entry(event_name(e));
        if (const auto* body = std::get_if<http::response_body>(&e)) {
            entry.append(" ").append(body->body);
        }
        sent.push_back(std::move(entry));
    }
};

task<bool> disconnect_raised(task<void> work) {
    try {
        co_await std::move(work);
    } catch (const client_disconnected&) {
        co_return true;
    }
    co_return false;
}
}  // namespace eager_example

TEST_CASE("a fixed response over sends that finish at once is sent, and done, when called") {
    using eager_example::transport;
    transport t;
    receive_member<transport, &transport::next> r{&t};
    send_member<transport, &transport::emit> sd{&t};
    scope s;
    s.type = scope_type::http;
    plain_text_response answer("hello");
    task<void> sending = std::move(answer)(s, receive(r), send(sd));
    CHECK(sending.is_ready());
    CHECK(t.sent == std::vector<std::string>{"http.response.start", "http.response.body hello"});
    sync_wait(std::move(sending));
    CHECK(t.sent.size() == 2);
}

TEST_CASE("a fixed response sends its body only once a head send that waits has completed") {
    using eager_example::transport;
    transport t;
    t.mode = transport::delivery::lazy;
    receive_member<transport, &transport::next> r{&t};
    send_member<transport, &transport::emit> sd{&t};
    scope s;
    s.type = scope_type::http;
    const plain_text_response answer("hello");
    task<void> sending = answer(s, receive(r), send(sd));
    CHECK_FALSE(sending.is_ready());
    sync_wait(std::move(sending));
    CHECK(t.sent == std::vector<std::string>{"http.response.start", "http.response.body hello"});
}

TEST_CASE("a fixed response's failing send fails its task at the co_await, however it fails") {
    using eager_example::transport;
    for (const auto mode : {transport::delivery::eager, transport::delivery::lazy,
                            transport::delivery::at_call}) {
        CAPTURE(static_cast<int>(mode));
        transport t;
        t.mode = mode;
        t.fail_body = true;
        receive_member<transport, &transport::next> r{&t};
        send_member<transport, &transport::emit> sd{&t};
        scope s;
        s.type = scope_type::http;
        const plain_text_response answer("hello");
        task<void> sending = answer(s, receive(r), send(sd));  // never throws here
        CHECK(sync_wait(eager_example::disconnect_raised(std::move(sending))));
        CHECK(t.sent == std::vector<std::string>{"http.response.start"});
    }
}
