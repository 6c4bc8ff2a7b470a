// The exception layer through the test client: handlers by status and type, http_error's
// default responses, what passes through, errors after the response started, and the
// catch_unhandled mode whose 500 travels out through the user middleware.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "error_test_apps.hpp"
#include "tessera/exception_middleware.hpp"
#include "tessera/http_endpoint.hpp"
#include "tessera/router.hpp"
#include "tessera/server_error_middleware.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/websocket_connection.hpp"
#include "tessera/websocket_route.hpp"

using namespace tessera;
using namespace tessera::test_apps;
using tessera::testing::client_options;
using tessera::testing::test_client;

namespace {

struct app_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct db_error : app_error {
    using app_error::app_error;
};

template <class E>
throws_before_start<E> raising(E error) {
    return throws_before_start<E>{std::move(error)};
}

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

// Answers whether the scope carries the marker.
task<void> reports_marker(scope& s, receive r, send sd) {
    const plain_text_response answer(s.extensions.contains<http_errors_handled>() ? "marked"
                                                                                  : "unmarked");
    co_await answer(s, r, sd);
}

struct get_only {
    task<response> get(request&) const { co_return plain_text_response("got"); }
};

auto named(std::string name, int status) {
    return [name, status](request&, const std::exception&) -> task<plain_text_response> {
        co_return plain_text_response(name, status);
    };
}

const client_options lenient{.raise_server_exceptions = false};

}  // namespace

TEST_CASE("the exception layer marks HTTP scopes for components that throw their errors") {
    test_client client{exception_middleware(&reports_marker)};
    CHECK(client.get("/").text() == "marked");
    test_client bare{&reports_marker};
    CHECK(bare.get("/").text() == "unmarked");
}

TEST_CASE("an http_error becomes plain text with its status, detail and extra headers") {
    test_client client{exception_middleware(raising(
        http_error(401, "token expired", headers{{"WWW-Authenticate", "Bearer"}})))};
    const auto r = client.get("/");
    CHECK(r.status == 401);
    CHECK(r.text() == "token expired");
    CHECK(r.headers.get("www-authenticate") == "Bearer");
    CHECK(r.headers.get("content-type") == "text/plain; charset=utf-8");

    test_client plain{exception_middleware(raising(http_error(404)))};
    CHECK(plain.get("/").text() == "Not Found");
}

TEST_CASE("an http_error with 204 or 304 answers with an empty body and keeps its headers") {
    for (const int status : {204, 304}) {
        CAPTURE(status);
        test_client client{
            exception_middleware(raising(http_error(status, {}, headers{{"etag", "\"v2\""}})))};
        const auto r = client.get("/");
        CHECK(r.status == status);
        CHECK(r.content.empty());
        CHECK(r.headers.get("etag") == "\"v2\"");
        CHECK_FALSE(r.headers.contains("content-type"));
        CHECK_FALSE(r.headers.contains("content-length"));
    }
}

TEST_CASE("a status handler answers http_errors of its status, others keep the default") {
    const auto handlers = exception_handlers{}.on(
        404, [](request& req, const http_error& e) -> task<html_response> {
            co_return html_response("<h1>nothing at " + std::string(req.url().path()) + "</h1>",
                                    e.status());
        });
    test_client missing{exception_middleware(raising(http_error(404)), {.handlers = handlers})};
    const auto r = missing.get("/lost");
    CHECK(r.status == 404);
    CHECK(r.text() == "<h1>nothing at /lost</h1>");
    CHECK(r.headers.get("content-type") == "text/html; charset=utf-8");

    test_client forbidden{exception_middleware(raising(http_error(403)), {.handlers = handlers})};
    CHECK(forbidden.get("/").text() == "Forbidden");
}

TEST_CASE("type handlers answer their exceptions, the most derived type whatever the order") {
    const auto handlers = exception_handlers{}
                              .on<std::exception>(named("anything", 500))
                              .on<db_error>(named("database", 503))
                              .on<app_error>(named("application", 422));
    const exception_options options{.handlers = handlers};
    test_client db{exception_middleware(raising(db_error("down")), options)};
    const auto r = db.get("/");
    CHECK(r.status == 503);
    CHECK(r.text() == "database");
    test_client app{exception_middleware(raising(app_error("bad")), options)};
    CHECK(app.get("/").text() == "application");
    test_client other{exception_middleware(raising(std::out_of_range("idx")), options)};
    CHECK(other.get("/").text() == "anything");
}

TEST_CASE("a 500 handler answers http_error(500) and a std::exception handler other errors") {
    const auto handlers =
        exception_handlers{}
            .on(500, [](request&, const http_error& e) -> task<response> {
                co_return plain_text_response("500 handler: " + e.detail(), 500);
            })
            .on<std::exception>([](request&, const std::exception& e) -> task<json_response> {
                co_return json_response(json{{"error", e.what()}}, 500);
            });
    test_client explicit_500{
        exception_middleware(raising(http_error(500, "upstream")), {.handlers = handlers})};
    CHECK(explicit_500.get("/").text() == "500 handler: upstream");
    test_client crash{
        exception_middleware(raising(std::runtime_error("crash")), {.handlers = handlers})};
    const auto r = crash.get("/");
    CHECK(r.status == 500);
    CHECK(r.json() == json{{"error", "crash"}});
    // Handled: nothing is re-raised, even with raise_server_exceptions.
}

TEST_CASE("an endpoint's 405 goes through the exception layer's handlers") {
    const auto handlers = exception_handlers{}.on(
        405, [](request&, const http_error& e) -> task<json_response> {
            co_return json_response(json{{"allowed", std::string(*e.headers().get("allow"))}}, 405,
                                    e.headers());
        });
    test_client client{exception_middleware(http_endpoint<get_only>{}, {.handlers = handlers})};
    const auto r = client.post("/");
    CHECK(r.status == 405);
    CHECK(r.json() == json{{"allowed", "GET, HEAD"}});
    CHECK(r.headers.get("allow") == "GET, HEAD");
    CHECK(client.get("/").text() == "got");
}

TEST_CASE("an exception no handler takes is rethrown untouched, with nothing sent") {
    std::vector<std::string> seen;
    const recorder app{exception_middleware(raising(std::runtime_error("unhandled"))), &seen};
    test_client client{app};
    CHECK_THROWS_WITH_AS(client.get("/"), "unhandled", std::runtime_error);
    CHECK(seen.empty());
}

TEST_CASE("an exception after the response started is rethrown and no handler runs") {
    int handled = 0;
    const auto handlers = exception_handlers{}.on<std::exception>(
        [&handled](request&, const std::exception&) -> task<response> {
            ++handled;
            co_return response("handled");
        });
    std::vector<std::string> seen;
    const recorder app{exception_middleware(throws_after_start{}, {.handlers = handlers}), &seen};

    test_client raising_client{app};
    CHECK_THROWS_WITH_AS(raising_client.get("/"), "failed mid-stream", std::runtime_error);
    CHECK(seen == std::vector<std::string>{"http.response.start 200", "http.response.body"});

    test_client lenient_client{app, lenient};
    const auto r = lenient_client.get("/");
    CHECK(r.status == 200);
    CHECK(r.content == "partial");  // incomplete: the transport ends the connection
    CHECK(handled == 0);
}

TEST_CASE("client_disconnected passes through even a std::exception handler") {
    int handled = 0;
    const auto handlers = exception_handlers{}.on<std::exception>(
        [&handled](request&, const std::exception&) -> task<response> {
            ++handled;
            co_return response("handled");
        });
    std::vector<std::string> seen;
    const recorder app{
        exception_middleware(throws_before_start<client_disconnected>{}, {.handlers = handlers}),
        &seen};
    test_client client{app};
    CHECK_THROWS_AS(client.get("/"), client_disconnected);
    CHECK(handled == 0);
    CHECK(seen.empty());
}

TEST_CASE("a handler that throws leaves an unhandled error of its own") {
    const auto handlers = exception_handlers{}.on<app_error>(
        [](request&, const app_error&) -> task<response> {
            throw std::logic_error("handler bug");
            co_return response();
        });
    test_client client{exception_middleware(raising(app_error("first")), {.handlers = handlers})};
    CHECK_THROWS_WITH_AS(client.get("/"), "handler bug", std::logic_error);

    test_client caught{exception_middleware(raising(app_error("first")),
                                            {.handlers = handlers, .catch_unhandled = true}),
                       lenient};
    CHECK(caught.get("/").text() == "Internal Server Error");
}

TEST_CASE("catch_unhandled: the 500 travels out through the user middleware, sent once") {
    // The application's stack: server-error layer, user middleware, exception layer, app.
    std::vector<std::string> seen;
    const recorder app{
        server_error_middleware(adds_header{exception_middleware(
            raising(std::runtime_error("deep failure")), {.catch_unhandled = true})}),
        &seen};

    test_client raising_client{app};
    CHECK_THROWS_WITH_AS(raising_client.get("/"), "deep failure", std::runtime_error);
    CHECK(seen == std::vector<std::string>{"http.response.start 500", "http.response.body"});

    test_client lenient_client{app, lenient};
    const auto r = lenient_client.get("/");
    CHECK(r.status == 500);
    CHECK(r.text() == "Internal Server Error");
    CHECK(r.headers.get("x-user-middleware") == "seen");

    // Without it the server-error layer answers, outside the user middleware: no header.
    const server_error_middleware outside(
        adds_header{exception_middleware(raising(std::runtime_error("deep failure")))});
    test_client plain_client{outside, lenient};
    const auto without = plain_client.get("/");
    CHECK(without.status == 500);
    CHECK_FALSE(without.headers.contains("x-user-middleware"));
}

TEST_CASE("catch_unhandled answers with the debug page or the application's 500 handler") {
    test_client debug{exception_middleware(raising(db_error("pool exhausted")),
                                           {.debug = true, .catch_unhandled = true}),
                      lenient};
    const auto page = debug.get("/", {.headers = {{"accept", "text/html"}}});
    CHECK(page.status == 500);
    CHECK(contains(page.text(), "db_error"));
    CHECK(contains(page.text(), "pool exhausted"));

    const exception_options with_handler{
        .catch_unhandled = true,
        .server_error = [](request&, const std::exception& e) -> task<response> {
            co_return plain_text_response(std::string("custom 500: ") + e.what(), 500);
        }};
    test_client custom{exception_middleware(raising(db_error("pool exhausted")), with_handler),
                       lenient};
    CHECK(custom.get("/").text() == "custom 500: pool exhausted");
    // http_errors still get their own responses in this mode.
    test_client http{exception_middleware(raising(http_error(409)), with_handler)};
    CHECK(http.get("/").status == 409);
}

TEST_CASE("inconsistent options and a missing app are refused at construction") {
    CHECK_THROWS_AS(exception_middleware(any_app{}), std::invalid_argument);
    const exception_options handler_without_catch{
        .server_error = [](request&, std::exception_ptr) -> task<response> {
            co_return response();
        }};
    CHECK_THROWS_AS(exception_middleware(&reports_marker, handler_without_catch),
                    std::invalid_argument);
}

// ---- WebSocket scopes ----

namespace {
using tessera::testing::websocket_denied;

// A raw WebSocket app (no run_websocket_handler): lets its websocket_error escape. On "close"
// it closes itself first; on "boom" it raises a runtime_error; before the accept without the
// token cookie it raises 4401.
task<void> raw_ws_app(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    if (!ws.cookie("token")) throw websocket_error(4401, "login first");
    co_await ws.accept();
    const std::string text = co_await ws.receive_text();
    if (text == "boom") throw std::runtime_error("boom");
    if (text == "close") co_await ws.close(4000, "closed by app");
    throw websocket_error(4002, "rejected " + text);
}

// Says whether the scope carries the HTTP marker.
task<void> ws_reports_marker(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept();
    co_await ws.send_text(s.extensions.contains<http_errors_handled>() ? "marked" : "unmarked");
}

int closed_with(testing::websocket_session& ws, std::string* reason = nullptr) {
    const event next = ws.receive();
    REQUIRE(std::holds_alternative<websocket::close>(next));
    if (reason != nullptr) *reason = std::get<websocket::close>(next).reason;
    return std::get<websocket::close>(next).code;
}

const std::vector<std::pair<std::string, std::string>> token{{"token", "t"}};
}  // namespace

TEST_CASE("on a WebSocket scope a websocket_error closes with its code and reason") {
    test_client client{exception_middleware(&raw_ws_app)};
    auto ws = client.websocket_connect("/", {.cookies = token});
    ws.send_text("x");
    std::string reason;
    CHECK(closed_with(ws, &reason) == 4002);
    CHECK(reason == "rejected x");
}

TEST_CASE("on a WebSocket scope a websocket_error before the accept refuses with 403") {
    test_client client{exception_middleware(&raw_ws_app)};
    try {
        auto ws = client.websocket_connect("/");
        FAIL("the handshake was accepted");
    } catch (const websocket_denied& denied) {
        CHECK(denied.response().status == 403);
        CHECK(denied.close_code() == 4401);
    }
}

TEST_CASE("a websocket_error after the app closed changes nothing") {
    test_client client{exception_middleware(&raw_ws_app)};
    auto ws = client.websocket_connect("/", {.cookies = token});
    ws.send_text("close");
    CHECK(closed_with(ws) == 4000);
    ws.close();  // the app's websocket_error was handled: nothing rethrown
}

TEST_CASE("on a WebSocket scope other exceptions pass by the handlers and are rethrown") {
    const exception_options options{
        .handlers = exception_handlers{}.on<std::exception>(named("handled", 500)),
        .catch_unhandled = true,
    };
    test_client loud{exception_middleware(&raw_ws_app, options)};
    auto ws = loud.websocket_connect("/", {.cookies = token});
    ws.send_text("boom");
    CHECK_THROWS_WITH_AS(ws.close(), "boom", std::runtime_error);

    test_client quiet{exception_middleware(&raw_ws_app, options), lenient};
    auto ws2 = quiet.websocket_connect("/", {.cookies = token});
    ws2.send_text("boom");
    CHECK(closed_with(ws2) == 1011);
}

TEST_CASE("the exception layer leaves WebSocket scopes unmarked and routers still refuse them") {
    test_client client{exception_middleware(&ws_reports_marker)};
    auto ws = client.websocket_connect("/");
    CHECK(ws.receive_text() == "unmarked");
    ws.close();

    test_client routed{exception_middleware(router({websocket_route("/ws", &ws_reports_marker)}))};
    CHECK_THROWS_AS((void)routed.websocket_connect("/elsewhere"), websocket_denied);
    CHECK(routed.get("/ws").status == 404);
}
