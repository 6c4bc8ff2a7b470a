// The requires_scopes guard through the test client: requests with every scope go through;
// others get 403 (or the configured status), the redirect, an http_error for the exception
// layer, or — on a WebSocket — a close before the accept.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <utility>

#include "auth_test_backend.hpp"
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

using namespace tessera;
using namespace tessera::test_auth;
using tessera::testing::test_client;
using tessera::testing::websocket_denied;

namespace {
task<plain_text_response> admin_page(request& req) {
    co_return plain_text_response("hello " + user(req).display_name());
}
task<plain_text_response> login_page(request&) { co_return plain_text_response("login"); }
task<void> feed(websocket_connection& ws) {
    co_await ws.accept();
    co_await ws.send_text("feed for " + user(ws).display_name());
}

router guarded_router(requires_options admin) {
    return router({
        route("/admin", requires_scopes(&admin_page, std::move(admin))),
        route("/login", &login_page, {.name = "login"}),
        route("/mw", &admin_page,
              {.middleware = {middleware::of<requires_scopes>(
                   requires_options{.scopes = {"admin"}})}}),
        websocket_route("/feed", requires_scopes(&feed, {.scopes = {"chat"}})),
    });
}
}  // namespace

TEST_CASE("requires_scopes lets a request with every scope through and answers 403 otherwise") {
    test_client client{
        authentication_middleware(guarded_router({.scopes = {"admin", "authenticated"}}),
                                  token_auth())};
    CHECK(get_as(client, "Bearer ann:admin", "/admin").text() == "hello ann");
    const auto denied = get_as(client, "Bearer bob:chat", "/admin");
    CHECK(denied.status == 403);
    CHECK(denied.text() == "Forbidden");
    CHECK(client.get("/admin").status == 403);
}

TEST_CASE("requires_scopes works as a route's middleware recipe") {
    test_client client{authentication_middleware(guarded_router({}), token_auth())};
    CHECK(get_as(client, "Bearer ann:admin", "/mw").text() == "hello ann");
    CHECK(client.get("/mw").status == 403);
}

TEST_CASE("requires_scopes answers the configured status") {
    test_client client{authentication_middleware(
        guarded_router({.scopes = {"admin"}, .status_code = 404}), token_auth())};
    const auto r = client.get("/admin");
    CHECK(r.status == 404);
    CHECK(r.text() == "Not Found");
}

TEST_CASE("requires_scopes redirects with 303 and the original URL in next") {
    test_client client{
        authentication_middleware(guarded_router({.scopes = {"admin"}, .redirect = "login"}),
                                  token_auth()),
        {.follow_redirects = false}};
    const auto r = client.get("/admin?x=1");
    CHECK(r.status == 303);
    CHECK(r.headers.get("location") ==
          "http://testserver/login?next=http%3A%2F%2Ftestserver%2Fadmin%3Fx%3D1");
}

TEST_CASE("inside an exception layer requires_scopes raises an http_error for its handlers") {
    const auto handlers = exception_handlers{}.on(
        403, [](request&, const http_error& e) -> task<plain_text_response> {
            co_return plain_text_response("custom " + e.detail(), 403);
        });
    test_client client{authentication_middleware(
        exception_middleware(guarded_router({.scopes = {"admin"}}),
                             exception_options{.handlers = handlers}),
        token_auth())};
    const auto r = client.get("/admin");
    CHECK(r.status == 403);
    CHECK(r.text() == "custom Forbidden");
}

TEST_CASE("requires_scopes closes a WebSocket lacking a scope before the accept") {
    test_client client{authentication_middleware(guarded_router({}), token_auth())};
    auto ws = client.websocket_connect("/feed?token=carol:chat");
    CHECK(ws.receive_text() == "feed for carol");
    try {
        auto refused = client.websocket_connect("/feed?token=dave");
        FAIL("the handshake was accepted");
    } catch (const websocket_denied& denied) {
        CHECK(denied.close_code() == 1000);
        CHECK(denied.response().status == 403);
    }
}

TEST_CASE("requires_scopes without an authentication middleware is a logic_error") {
    test_client client{guarded_router({.scopes = {"admin"}})};
    CHECK_THROWS_AS(client.get("/admin"), std::logic_error);
}

TEST_CASE("requires_scopes refuses a status that is not an error") {
    CHECK_THROWS_AS(requires_scopes(&whoami, {.status_code = 200}), std::invalid_argument);
    CHECK_THROWS_AS(requires_scopes(any_app{}, {}), std::invalid_argument);
}
