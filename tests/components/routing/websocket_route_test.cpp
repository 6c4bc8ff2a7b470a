#include <doctest/doctest.h>

#include <cstdint>
#include <stdexcept>
#include <string>

#include "routing_apps.hpp"
#include "tessera/route.hpp"
#include "tessera/router.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/websocket_route.hpp"

using namespace tessera;
using namespace routing_test;
using tessera::testing::test_client;

namespace {
// Accepts, then closes with the room name as the reason.
task<void> room_app(scope& s, receive r, send sd) {
    event first = co_await r();
    CHECK(std::holds_alternative<websocket::connect>(first));
    event accepted{websocket::accept{std::nullopt}};
    co_await sd(std::move(accepted));
    event closed{websocket::close{1000, s.path_params.get<std::string>("room")}};
    co_await sd(std::move(closed));
}
}  // namespace

TEST_CASE("a websocket route hands matching WebSocket scopes to its app") {
    const router app({websocket_route("/ws/{room}", room_app)});
    const auto run = run_websocket(app, "/ws/lobby");
    REQUIRE(run.sent.size() == 2);
    CHECK(std::holds_alternative<websocket::accept>(run.sent[0]));
    CHECK(std::get<websocket::close>(run.sent[1]).reason == "lobby");
    CHECK(run.seen.extensions.get<matched_route>().route->path() == "/ws/{room}");
}

TEST_CASE("a websocket route does not serve HTTP requests to its path") {
    test_client client(router({websocket_route("/ws/{room}", room_app)}));
    CHECK(client.get("/ws/lobby").status == 404);
}

TEST_CASE("a websocket route reverses to a websocket path") {
    const websocket_route r("/ws/{room}", room_app, {.name = "chat"});
    const auto found = r.url_path_for("chat", {{"room", "lobby"}});
    CHECK(found.path == "/ws/lobby");
    CHECK(found.protocol == "websocket");
    CHECK_THROWS_AS(r.url_path_for("chat"), no_match_found);
}

TEST_CASE("websocket route middleware wraps its app") {
    bool wrapped = false;
    bool* flag = &wrapped;
    const middleware marker([flag](any_app inner) {
        return [flag, inner](scope& s, receive r, send sd) -> task<void> {
            *flag = true;
            return inner(s, r, sd);
        };
    });
    const router app({websocket_route("/ws/{room}", room_app, {.middleware = {marker}})});
    const auto run = run_websocket(app, "/ws/x");
    CHECK(wrapped);
    CHECK(run.sent.size() == 2);
}

TEST_CASE("a websocket route's path must start with a slash") {
    CHECK_THROWS_WITH_AS(websocket_route("ws", room_app),
                         "websocket_route \"ws\": routed paths must start with '/'",
                         std::invalid_argument);
}

// ---- handlers: task<void>(websocket_connection&) ----

namespace {
using tessera::testing::websocket_denied;

// Echoes each message in its own kind until the client leaves.
task<void> echo_handler(websocket_connection& ws) {
    co_await ws.accept();
    while (true) {
        event next = co_await ws.receive();
        const auto* message = std::get_if<websocket::receive>(&next);
        if (message == nullptr) co_return;
        if (message->binary) {
            co_await ws.send_bytes(message->data);
        } else {
            co_await ws.send_text(message->data);
        }
    }
}

// A class handler: greets with its prefix and the room from the path.
struct room_greeter {
    std::string prefix;
    task<void> operator()(websocket_connection& ws) const {
        co_await ws.accept();
        const std::string room = ws.path_params().get<std::string>("room");
        const int seat = static_cast<int>(ws.path_params().get<std::int64_t>("seat"));
        co_await ws.send_text(prefix + room + "#" + std::to_string(seat));
    }
};

// Fails on the first message with an exception that is not a websocket_error.
task<void> failing_handler(websocket_connection& ws) {
    co_await ws.accept();
    (void)co_await ws.receive_text();
    throw std::runtime_error("boom");
}

// Refuses without a token (before the accept), closes 4400 on an empty name (after it).
task<void> guarded(websocket_connection& ws) {
    if (!ws.cookie("token")) throw websocket_error(4401, "login first");
    co_await ws.accept();
    const std::string name = co_await ws.receive_text();
    if (name.empty()) throw websocket_error(4400, "empty name");
    co_await ws.send_text("hello " + name);
}
}  // namespace

TEST_CASE("a websocket route handler echoes text and binary messages in their own kind") {
    test_client client(router({websocket_route("/echo", echo_handler)}));
    auto ws = client.websocket_connect("/echo");
    ws.send_text("héllo");
    CHECK(ws.receive_text() == "héllo");
    const std::string bytes("\x00\xff\x01", 3);
    ws.send_bytes(bytes);
    CHECK(ws.receive_bytes() == bytes);
    ws.send_json(json{{"n", 1}});
    CHECK(ws.receive_json()["n"].as_int64() == 1);
    ws.close();
}

TEST_CASE("a websocket route hands path params to a class handler") {
    test_client client(router(
        {websocket_route("/rooms/{room}/{seat:int}", room_greeter{"welcome to "})}));
    auto ws = client.websocket_connect("/rooms/lobby/7");
    CHECK(ws.receive_text() == "welcome to lobby#7");
    CHECK_THROWS_AS((void)ws.receive_text(), websocket_disconnect);
}

TEST_CASE("a lambda handler's websocket_error after the accept closes with its code and reason") {
    const auto handler = [](websocket_connection& ws) -> task<void> { return guarded(ws); };
    test_client client(router({websocket_route("/guarded", handler)}));
    auto ws = client.websocket_connect("/guarded", {.cookies = {{"token", "t"}}});
    ws.send_text("");
    const event closed = ws.receive();
    REQUIRE(std::holds_alternative<websocket::close>(closed));
    CHECK(std::get<websocket::close>(closed).code == 4400);
    CHECK(std::get<websocket::close>(closed).reason == "empty name");
}

TEST_CASE("a handler's websocket_error before the accept refuses the handshake with 403") {
    test_client client(router({websocket_route("/guarded", guarded)}));
    try {
        auto ws = client.websocket_connect("/guarded");
        FAIL("the handshake was accepted");
    } catch (const websocket_denied& denied) {
        CHECK(denied.response().status == 403);
        CHECK(denied.close_code() == 4401);
    }
    auto ws = client.websocket_connect("/guarded", {.cookies = {{"token", "t"}}});
    ws.send_text("ada");
    CHECK(ws.receive_text() == "hello ada");
}

TEST_CASE("a handler's other exceptions propagate and the client sees 1011") {
    const auto failing = failing_handler;
    test_client quiet(router({websocket_route("/f", failing)}), {.raise_server_exceptions = false});
    auto ws = quiet.websocket_connect("/f");
    ws.send_text("x");
    const event closed = ws.receive();
    REQUIRE(std::holds_alternative<websocket::close>(closed));
    CHECK(std::get<websocket::close>(closed).code == 1011);

    test_client loud(router({websocket_route("/f", failing)}));
    auto ws2 = loud.websocket_connect("/f");
    ws2.send_text("x");
    CHECK_THROWS_WITH_AS(ws2.close(), "boom", std::runtime_error);
}

TEST_CASE("a websocket route still takes an app, and an unrouted connection is refused") {
    test_client client(router({websocket_route("/ws/{room}", room_app),
                               websocket_route("/echo", echo_handler)}));
    auto ws = client.websocket_connect("/ws/hall");
    const event closed = ws.receive();
    REQUIRE(std::holds_alternative<websocket::close>(closed));
    CHECK(std::get<websocket::close>(closed).reason == "hall");
    CHECK_THROWS_AS((void)client.websocket_connect("/nowhere"), websocket_denied);
}

namespace {
// Leaves the user in scope.state for whatever it wraps, HTTP or WebSocket alike.
struct user_layer {
    any_app inner;
    task<void> operator()(scope& s, receive r, send sd) const {
        if (s.type == scope_type::http || s.type == scope_type::websocket) {
            s.state.set("user", std::string("ada"));
        }
        return inner(s, r, sd);
    }
};

task<response> whoami_http(request& req) {
    co_return plain_text_response("http " + req.state().get<std::string>("user"));
}

task<void> whoami_ws(websocket_connection& ws) {
    co_await ws.accept();
    co_await ws.send_text("ws " + ws.state().get<std::string>("user"));
}
}  // namespace

TEST_CASE("middleware that adds to scope.state serves an HTTP and a WebSocket route alike") {
    const router routes({route("/me", whoami_http), websocket_route("/me", whoami_ws)});
    test_client client(user_layer{routes});
    CHECK(client.get("/me").text() == "http ada");
    auto ws = client.websocket_connect("/me");
    CHECK(ws.receive_text() == "ws ada");
}
