#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "routing_apps.hpp"
#include "tessera/host.hpp"
#include "tessera/mount.hpp"
#include "tessera/request.hpp"
#include "tessera/route.hpp"
#include "tessera/router.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/websocket_route.hpp"

using namespace tessera;
using namespace routing_test;
using tessera::testing::client_options;
using tessera::testing::test_client;

namespace {
task<response> ok(request&) { co_return plain_text_response("ok"); }

// Answers with the URL of the route named by the `name` query param (params from `id`).
task<response> link_to(request& req) {
    const std::string name(req.query_params().get("name").value_or(""));
    path_params params;
    if (auto id = req.query_params().get("id")) params.set("id", std::string(*id));
    co_return plain_text_response(req.url_for(name, params).str());
}

client_options no_redirects() { return client_options{.follow_redirects = false}; }
}  // namespace

TEST_CASE("the first route that matches fully wins") {
    test_client client(router({route("/users/me", text_app{"me"}),
                               route("/users/{name}", text_app{"someone"}),
                               route("/users/me", text_app{"never"})}));
    CHECK(client.get("/users/me").text() == "me");
    CHECK(client.get("/users/ada").text() == "someone");
}

TEST_CASE("a path nothing matches gets 404 in plain text") {
    test_client client(router({route("/", ok)}));
    const auto missing = client.get("/missing");
    CHECK(missing.status == 404);
    CHECK(missing.text() == "Not Found");
    CHECK(missing.headers.get("content-type") == "text/plain; charset=utf-8");
}

TEST_CASE("a parameter its convertor refuses does not match, so the request gets 404") {
    test_client client(router({route("/items/{id:int}", describe_scope)}));
    CHECK(client.get("/items/12").status == 200);
    CHECK(client.get("/items/12abc").status == 404);
}

TEST_CASE("405 answers a method mismatch only when no other route matches fully") {
    test_client client(router({route("/things", text_app{"read"}, {.methods = {"GET"}}),
                               route("/things", text_app{"made"}, {.methods = {"POST"}}),
                               route("/other", text_app{"x"}, {.methods = {"PUT", "PATCH"}})}));
    CHECK(client.get("/things").text() == "read");
    CHECK(client.post("/things").text() == "made");
    const auto refused = client.delete_("/things");
    CHECK(refused.status == 405);
    CHECK(refused.headers.get("allow") == "GET, HEAD");
    CHECK(client.get("/other").headers.get("allow") == "PUT, PATCH");
}

TEST_CASE("with an exception layer the router throws its 404 and 405 as http_error") {
    test_client client(error_layer{router({route("/only-post", ok, {.methods = {"POST"}})})});
    const auto missing = client.get("/missing");
    CHECK(missing.status == 404);
    CHECK(missing.text() == "thrown: 404");
    const auto refused = client.get("/only-post");
    CHECK(refused.status == 405);
    CHECK(refused.text() == "thrown: 405");
    CHECK(refused.headers.get("allow") == "POST");
}

TEST_CASE("a trailing slash is removed by redirect when the path without it matches") {
    test_client client(router({route("/about", ok)}), no_redirects());
    const auto redirect = client.get("/about/?lang=en&x=1");
    CHECK(redirect.status == 307);
    CHECK(redirect.headers.get("location") == "http://testserver/about?lang=en&x=1");
    CHECK(test_client(router({route("/about", ok)})).get("/about/").text() == "ok");
}

TEST_CASE("a trailing slash is added by redirect when the path with it matches") {
    test_client client(router({route("/docs/", ok)}), no_redirects());
    const auto redirect = client.get("/docs");
    CHECK(redirect.status == 307);
    CHECK(redirect.headers.get("location") == "http://testserver/docs/");
}

TEST_CASE("the slash redirect keeps root_path, query and an encoded path") {
    test_client client(router({route("/caf\xc3\xa9 menu", ok)}),
                       client_options{.root_path = "/app", .follow_redirects = false});
    const auto redirect = client.get("/caf%C3%A9%20menu/?q=a%20b");
    CHECK(redirect.status == 307);
    CHECK(redirect.headers.get("location") == "http://testserver/app/caf%C3%A9%20menu?q=a%20b");
}

TEST_CASE("the slash redirect is not made when it is off, for the root, or for a miss") {
    test_client off(router({route("/about", ok)}, {.redirect_slashes = false}), no_redirects());
    CHECK(off.get("/about/").status == 404);
    test_client on(router({route("/about", ok)}), no_redirects());
    CHECK(on.get("/").status == 404);
    CHECK(on.get("/contact/").status == 404);
}

TEST_CASE("the default app answers what no route matches") {
    test_client client(router({route("/", ok)}, {.default_app = text_app{"custom 404"}}));
    CHECK(client.get("/nope").text() == "custom 404");
    CHECK(client.get("/").text() == "ok");
}

TEST_CASE("router middleware wraps every answer, the 404 included") {
    test_client client(router({route("/", ok)}, {.middleware = {tagged("router")}}));
    CHECK(client.get("/").headers.get("x-tag") == "router");
    CHECK(client.get("/nope").headers.get("x-tag") == "router");
}

TEST_CASE("a WebSocket that no route matches is closed before accept") {
    const router app({route("/ws", ok), websocket_route("/chat", text_app{"x"})});
    const auto run = run_websocket(app, "/ws");
    REQUIRE(run.sent.size() == 1);
    const auto* close = std::get_if<websocket::close>(&run.sent[0]);
    REQUIRE(close != nullptr);
    CHECK(close->code == 1000);
    CHECK(run_websocket(app, "/ws/").sent.size() == 1);  // no slash redirect for WebSockets
}

TEST_CASE("the router records the innermost route it entered") {
    test_client client(router({mount("/api", router({route("/users/{id}", describe_scope)}))}));
    CHECK(client.get("/api/users/1").json()["route"].as_string() == "/users/{id}");
}

TEST_CASE("url_path_for finds routes across nested mounts and hosts") {
    const router users({route("/", ok, {.name = "list"}),
                        route("/{id:int}", ok, {.name = "detail"}),
                        websocket_route("/{id:int}/live", text_app{"x"}, {.name = "live"})});
    const router app({route("/", ok, {.name = "home"}),
                      mount("/api", router({mount("/users", users, {.name = "users"})}),
                            {.name = "api"}),
                      mount("/static", describe_scope, {.name = "static"}),
                      host("{region}.example.org",
                           router({route("/status", ok, {.name = "status"})}),
                           {.name = "regional"})});
    CHECK(app.url_path_for("home").path == "/");
    CHECK(app.url_path_for("api:users:list").path == "/api/users/");
    CHECK(app.url_path_for("api:users:detail", {{"id", 42}}).path == "/api/users/42");
    const auto live = app.url_path_for("api:users:live", {{"id", 1}});
    CHECK(live.path == "/api/users/1/live");
    CHECK(live.protocol == "websocket");
    CHECK(app.url_path_for("static", {{"path", "img/logo.png"}}).path == "/static/img/logo.png");
    const auto status = app.url_path_for("regional:status", {{"region", "eu"}});
    CHECK(status.path == "/status");
    CHECK(status.host == "eu.example.org");
}

TEST_CASE("url_path_for errors name the route, the params and what came close") {
    const router app({mount("/api", router({route("/users/{id:int}", ok, {.name = "user"})}),
                            {.name = "api"})});
    CHECK_THROWS_WITH_AS(app.url_path_for("nope"),
                         "No route exists for name \"nope\" and params \"\". No route or mount "
                         "has that name.",
                         no_match_found);
    CHECK_THROWS_WITH_AS(app.url_path_for("api:user"),
                         "No route exists for name \"api:user\" and params \"\". Route \"user\" "
                         "(/users/{id:int}) takes params \"id\".",
                         no_match_found);
    CHECK_THROWS_WITH_AS(app.url_path_for("api:user", {{"id", 1}, {"tab", "x"}}),
                         "No route exists for name \"api:user\" and params \"id, tab\". Route "
                         "\"user\" (/users/{id:int}) takes params \"id\".",
                         no_match_found);
    CHECK_THROWS_WITH_AS(app.url_path_for("api:user", {{"id", "seven"}}),
                         "No route exists for name \"api:user\" and params \"id\". Route "
                         "\"user\" (/users/{id:int}): param \"id\" = \"seven\" is not a valid "
                         "int.",
                         no_match_found);
    CHECK_THROWS_AS(app.url_path_for("user", {{"id", 1}}), no_match_found);
    try {
        (void)app.url_path_for("api:user");
        FAIL("no exception");
    } catch (const no_match_found& error) {
        CHECK(error.name() == "api:user");
        CHECK(error.params().empty());
    }
}

TEST_CASE("request.url_for gives absolute URLs under the root path the router was reached at") {
    const router users({route("/{id}", link_to, {.name = "detail"}),
                        websocket_route("/{id}/live", text_app{"x"}, {.name = "live"})});
    const router app({mount("/users", users, {.name = "users"}),
                      route("/", link_to, {.name = "home"})});
    test_client client(app, client_options{.base_url = "https://example.org", .root_path = "/app"});
    // From inside the mount the names are still the outermost router's.
    CHECK(client.get("/users/5?name=users:detail&id=9").text() ==
          "https://example.org/app/users/9");
    CHECK(client.get("/users/5?name=users:live&id=9").text() ==
          "wss://example.org/app/users/9/live");
    CHECK(client.get("/?name=home").text() == "https://example.org/app/");
    CHECK_THROWS_AS(client.get("/?name=missing"), no_match_found);
}

// The example of docs/routing.md, compiled as written there (only the two apps it declares
// are defined here).
namespace docs_example {
using namespace tessera;

task<response> home(request&) { co_return plain_text_response("home"); }

task<json_response> get_user(request& req) {
    const auto id = req.path_params().get<std::int64_t>("id");
    const json body{{"id", id}, {"self", req.url_for("users:detail", {{"id", id}}).str()}};
    co_return json_response(body);
}

task<void> files(scope& s, receive r, send sd) { return routing_test::describe_scope(s, r, sd); }
task<void> chat(scope& s, receive r, send sd) { return routing_test::describe_scope(s, r, sd); }

const router users({
    route("/", home, {.name = "list"}),
    route("/{id:int}", get_user, {.methods = {"GET", "DELETE"}, .name = "detail"}),
});

const router app({
    route("/", home, {.name = "home"}),
    mount("/users", users, {.name = "users"}),
    mount("/static", files, {.name = "static"}),
    websocket_route("/ws/{room}", chat, {.name = "chat"}),
    host("{tenant}.example.org", router({route("/", home, {.name = "home"})}),
         {.name = "tenant"}),
});
}  // namespace docs_example

TEST_CASE("the example of the routing page serves and reverses as documented") {
    using docs_example::app;
    test_client client(app);
    CHECK(client.get("/").text() == "home");
    const auto user = client.get("/users/42").json();
    CHECK(user["id"].as_int64() == 42);
    CHECK(user["self"].as_string() == "http://testserver/users/42");
    CHECK(client.post("/users/42").headers.get("allow") == "GET, HEAD, DELETE");
    CHECK(app.url_path_for("home").path == "/");
    CHECK(app.url_path_for("users:detail", {{"id", 42}}).path == "/users/42");
    CHECK(app.url_path_for("static", {{"path", "css/site.css"}}).path == "/static/css/site.css");
    CHECK(app.url_path_for("chat", {{"room", "lobby"}}).protocol == "websocket");
    CHECK(app.url_path_for("tenant:home", {{"tenant", "acme"}}).host == "acme.example.org");
    CHECK_THROWS_WITH_AS(app.url_path_for("users:detail"),
                         "No route exists for name \"users:detail\" and params \"\". Route "
                         "\"detail\" (/{id:int}) takes params \"id\".",
                         no_match_found);
}
