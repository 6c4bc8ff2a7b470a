// The trusted-host, session and authentication layers stacked in an application, as issue 5
// asks: each keeps working on HTTP and WebSocket scopes, and the authentication backend reads
// the user from the session the layer outside it loaded.
#include <doctest/doctest.h>

#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "tessera/application.hpp"
#include "tessera/authentication.hpp"
#include "tessera/authentication_middleware.hpp"
#include "tessera/middleware.hpp"
#include "tessera/request.hpp"
#include "tessera/requires_scopes.hpp"
#include "tessera/response.hpp"
#include "tessera/route.hpp"
#include "tessera/session.hpp"
#include "tessera/session_middleware.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/trusted_host_middleware.hpp"
#include "tessera/websocket_connection.hpp"
#include "tessera/websocket_route.hpp"

using namespace tessera;
using tessera::testing::test_client;
using tessera::testing::websocket_denied;

namespace stack_example {

// Who is logged in is whatever `/login` left in the session; "root" is an admin.
struct session_backend final : authentication_backend {
    task<std::optional<auth_result>> authenticate(http_connection& conn) const override {
        const json* name = session(conn).get("user");
        if (name == nullptr) co_return std::nullopt;
        if (!name->is_string()) throw auth_error("corrupt session");
        auth_credentials credentials({"authenticated"});
        if (name->as_string() == "root") credentials.scopes.emplace_back("admin");
        co_return auth_result(std::move(credentials),
                              std::make_shared<const simple_user>(name->as_string()));
    }
};

task<plain_text_response> login(request& req) {
    const auto name = req.query_params().get("user");
    session(req).set("user", std::string(name.value_or("")));
    co_return plain_text_response("logged in");
}

task<plain_text_response> home(request& req) {
    co_return plain_text_response(user(req).is_authenticated() ? "hello " + user(req).display_name()
                                                               : "hello stranger");
}

task<plain_text_response> admin(request& req) {
    co_return plain_text_response("admin area for " + user(req).display_name());
}

task<void> chat(websocket_connection& ws) {
    co_await ws.accept();
    co_await ws.send_text("chat as " + user(ws).display_name());
}

application make_app() {
    return application({
        .routes = {route("/", &home), route("/login", &login),
                   route("/admin", requires_scopes(&admin, {.scopes = {"admin"}})),
                   websocket_route("/chat", requires_scopes(&chat, {.scopes = {"authenticated"}}))},
        .middleware = {middleware::of<trusted_host_middleware>(
                           trusted_host_options{.allowed_hosts = {"testserver", "*.testserver"}}),
                       middleware::of<session_middleware>(
                           session_options{.secret_key = "stack test secret"}),
                       middleware::of<authentication_middleware>(
                           authentication_options{.backend = std::make_shared<session_backend>()})},
    });
}

}  // namespace stack_example

TEST_CASE("host, session and authentication layers work together on HTTP and WebSocket") {
    test_client client{stack_example::make_app()};

    // HTTP: anonymous, then logged in through the session, then guarded by scope.
    CHECK(client.get("/").text() == "hello stranger");
    CHECK(client.get("/admin").status == 403);  // the exception layer's 403 for http_error
    CHECK(client.get("/login?user=alice").text() == "logged in");
    CHECK(client.get("/").text() == "hello alice");
    CHECK(client.get("/admin").status == 403);
    (void)client.get("/login?user=root");
    CHECK(client.get("/admin").text() == "admin area for root");
    CHECK(client.get("http://api.testserver/").text() == "hello root");

    // WebSocket: the same session cookie authenticates the connection.
    auto ws = client.websocket_connect("/chat");
    CHECK(ws.receive_text() == "chat as root");
    ws.close();

    // Outermost, the host check refuses before anything else runs.
    const auto bad_host = client.get("http://evil.example/");
    CHECK(bad_host.status == 400);
    CHECK_FALSE(bad_host.headers.contains("set-cookie"));
    try {
        auto refused = client.websocket_connect("ws://evil.example/chat");
        FAIL("the handshake was accepted");
    } catch (const websocket_denied& denied) {
        CHECK(denied.response().status == 400);
    }

    // Without the session cookie the guard closes the WebSocket before accepting.
    test_client stranger{stack_example::make_app()};
    try {
        auto refused = stranger.websocket_connect("/chat");
        FAIL("the handshake was accepted");
    } catch (const websocket_denied& denied) {
        CHECK(denied.close_code() == 1000);
        CHECK(denied.response().status == 403);
    }
    // A tampered session cookie is just no session.
    CHECK(stranger.get("/", {.cookies = {{"session", "tampered.1.x"}}}).text() == "hello stranger");
}
