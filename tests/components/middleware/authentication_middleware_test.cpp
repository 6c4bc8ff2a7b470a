// The authentication layer and the requires_scopes guard through the test client: anonymous and
// authenticated connections on HTTP and WebSocket scopes, auth_error answered (HTTP) or closed
// (WebSocket), the accessors, and the guard's 403, redirect, http_error and WebSocket close.
#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tessera/authentication.hpp"
#include "tessera/authentication_middleware.hpp"
#include "tessera/exception_middleware.hpp"
#include "tessera/middleware.hpp"
#include "tessera/request.hpp"
#include "tessera/requires_scopes.hpp"
#include "tessera/response.hpp"
#include "tessera/route.hpp"
#include "tessera/router.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/websocket_connection.hpp"
#include "tessera/websocket_route.hpp"
#include "auth_test_backend.hpp"

using namespace tessera;
using tessera::testing::test_client;
using tessera::testing::websocket_denied;
using namespace tessera::test_auth;


TEST_CASE("a request without credentials reaches the app as the unauthenticated user") {
    test_client client{authentication_middleware(&whoami, token_auth())};
    CHECK(client.get("/").text() == "no||");
}

TEST_CASE("the backend's user and scopes are what the app reads") {
    test_client client{authentication_middleware(&whoami, token_auth())};
    CHECK(get_as(client, "Bearer alice:admin").text() == "yes|alice|authenticated,admin,");
}

TEST_CASE("an auth_error is answered with 400 and its message by default") {
    test_client client{authentication_middleware(&whoami, token_auth())};
    const auto r = get_as(client, "Basic Zm9vOmJhcg==");
    CHECK(r.status == 400);
    CHECK(r.text() == "Invalid basic auth credentials");
    CHECK(r.headers.get("content-type") == "text/plain; charset=utf-8");
    CHECK(get_as(client, "Bearer ").status == 400);  // malformed: no token at all
    CHECK(get_as(client, "Bearer forged").text() == "forged token");
}

TEST_CASE("on_error shapes the answer to an auth_error") {
    auto options = token_auth();
    options.on_error = [](http_connection& conn, const auth_error& error) -> response {
        return json_response({{"error", error.what()}, {"path", conn.url().path()}}, 401,
                             headers{{"www-authenticate", "Bearer"}});
    };
    test_client client{authentication_middleware(&whoami, std::move(options))};
    const auto r = get_as(client, "Bearer forged", "/x");
    CHECK(r.status == 401);
    CHECK(r.json() == json{{"error", "forged token"}, {"path", "/x"}});
    CHECK(r.headers.get("www-authenticate") == "Bearer");
}

TEST_CASE("a WebSocket connection is authenticated and reads its user") {
    test_client client{authentication_middleware(&whoami, token_auth())};
    auto ws = client.websocket_connect("/ws?token=bob:chat");
    CHECK(ws.receive_text() == "yes|bob|authenticated,chat,");
    auto anonymous = client.websocket_connect("/ws");
    CHECK(anonymous.receive_text() == "no||");
}

TEST_CASE("an auth_error on a WebSocket closes with 1000 before the accept") {
    test_client client{authentication_middleware(&whoami, token_auth())};
    try {
        auto ws = client.websocket_connect("/ws?token=forged");
        FAIL("the handshake was accepted");
    } catch (const websocket_denied& denied) {
        CHECK(denied.close_code() == 1000);
        CHECK(denied.response().status == 403);
    }
}

TEST_CASE("user_as reads the application's own user type") {
    const auto app = [](scope& s, receive r, send sd) -> task<void> {
        const request req(s, r);
        const auto* staff = user_as<staff_user>(req);
        const plain_text_response answer(staff ? staff->identity() : "not staff");
        co_await answer(s, r, sd);
    };
    test_client client{authentication_middleware(app, token_auth())};
    CHECK(get_as(client, "Bearer staff").text() == "42");
    CHECK(get_as(client, "Bearer alice").text() == "not staff");
    CHECK(client.get("/").text() == "not staff");
}

TEST_CASE("the authentication layer needs an app and a backend") {
    CHECK_THROWS_AS(authentication_middleware(&whoami, authentication_options{}),
                    std::invalid_argument);
    CHECK_THROWS_AS(authentication_middleware(any_app{}, token_auth()), std::invalid_argument);
}

