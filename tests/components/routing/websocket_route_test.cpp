#include <doctest/doctest.h>

#include "routing_apps.hpp"
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
