#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "routing_apps.hpp"
#include "tessera/mount.hpp"
#include "tessera/route.hpp"
#include "tessera/router.hpp"
#include "tessera/testing/test_client.hpp"

using namespace tessera;
using namespace routing_test;
using tessera::testing::client_options;
using tessera::testing::test_client;

TEST_CASE("a mounted router sees root_path grown by the prefix and path unchanged") {
    const router app({mount("/users", router({route("/{id:int}", describe_scope)}))});
    test_client client(app);
    const auto seen = client.get("/users/5").json();
    CHECK(seen["path"].as_string() == "/users/5");
    CHECK(seen["root_path"].as_string() == "/users");
    CHECK(seen["params"]["id"].as_int64() == 5);
    CHECK(seen["route"].as_string() == "/{id:int}");
}

TEST_CASE("a router inside a mount inside a mount matches the rest of the path") {
    const router inner({route("/items/{name}", describe_scope)});
    const router app({mount("/api", router({mount("/v1", inner)}))});
    test_client client(app, client_options{.root_path = "/proxy"});
    const auto seen = client.get("/api/v1/items/lamp").json();
    CHECK(seen["path"].as_string() == "/proxy/api/v1/items/lamp");
    CHECK(seen["root_path"].as_string() == "/proxy/api/v1");
    CHECK(seen["params"]["name"].as_string() == "lamp");
    CHECK(client.get("/api/v2/items/lamp").status == 404);
}

TEST_CASE("a mount matches its prefix and what is under it, not longer names") {
    test_client client(router({mount("/static", describe_scope)}, {.redirect_slashes = false}));
    const auto bare = client.get("/static").json();
    CHECK(bare["path"].as_string() == "/static");
    CHECK(bare["root_path"].as_string() == "/static");
    const auto file = client.get("/static/css/site.css").json();
    CHECK(file["path"].as_string() == "/static/css/site.css");
    CHECK(file["root_path"].as_string() == "/static");
    CHECK(client.get("/staticx").status == 404);
}

TEST_CASE("a router mounted at a prefix redirects the bare prefix to the prefix with a slash") {
    test_client client(router({mount("/users", router({route("/", text_app{"list"})}))}),
                       client_options{.follow_redirects = false});
    const auto redirect = client.get("/users?page=2");
    CHECK(redirect.status == 307);
    CHECK(redirect.headers.get("location") == "http://testserver/users/?page=2");
    test_client following(router({mount("/users", router({route("/", text_app{"list"})}))}));
    CHECK(following.get("/users").text() == "list");
}

TEST_CASE("a mount prefix with parameters merges them with the inner route's") {
    const router app({mount("/orgs/{org}", router({route("/repos/{repo}", describe_scope)}))});
    test_client client(app);
    const auto seen = client.get("/orgs/acme/repos/rocket").json();
    CHECK(seen["params"]["org"].as_string() == "acme");
    CHECK(seen["params"]["repo"].as_string() == "rocket");
    CHECK(seen["root_path"].as_string() == "/orgs/acme");
}

TEST_CASE("a mount of a route list builds a router for them") {
    test_client client(router({mount("/admin", {route("/", text_app{"dashboard"}),
                                                route("/users", text_app{"users"})})}));
    CHECK(client.get("/admin/").text() == "dashboard");
    CHECK(client.get("/admin/users").text() == "users");
}

TEST_CASE("mount middleware applies to everything under the prefix and nothing else") {
    const router app({mount("/api", router({route("/a", text_app{"a"})}),
                            {.middleware = {tagged("api")}}),
                      route("/b", text_app{"b"})});
    test_client client(app);
    CHECK(client.get("/api/a").headers.get("x-tag") == "api");
    CHECK(client.get("/api/missing").headers.get("x-tag") == "api");
    CHECK_FALSE(client.get("/b").headers.contains("x-tag"));
}

TEST_CASE("a mount at the root passes every path on") {
    test_client client(router({mount("/", describe_scope)}));
    const auto seen = client.get("/any/thing").json();
    CHECK(seen["root_path"].as_string().empty());
    CHECK(seen["path"].as_string() == "/any/thing");
}

TEST_CASE("a named mount of a router reverses its routes as name:child") {
    const mount api("/api", router({route("/users/{id:int}", describe_scope, {.name = "user"})}),
                    {.name = "api"});
    CHECK(api.url_path_for("api:user", {{"id", 7}}).path == "/api/users/7");
    CHECK_THROWS_AS(api.url_path_for("user", {{"id", 7}}), no_match_found);
    const mount unnamed("/api", {route("/users/{id:int}", describe_scope, {.name = "user"})});
    CHECK(unnamed.url_path_for("user", {{"id", 7}}).path == "/api/users/7");
}

TEST_CASE("a mount of a mount serves and reverses through both prefixes") {
    const router app({mount("/a", mount("/b", {route("/c", describe_scope, {.name = "c"})}),
                            {.name = "outer"})});
    CHECK(app.url_path_for("outer:c").path == "/a/b/c");
    test_client client(app);
    const auto seen = client.get("/a/b/c").json();
    CHECK(seen["root_path"].as_string() == "/a/b");
    CHECK(seen["route"].as_string() == "/c");
}

TEST_CASE("a mounted app that is not a router reverses by the mount name and a path param") {
    const mount files("/static", describe_scope, {.name = "static"});
    const auto found = files.url_path_for("static", {{"path", "/css/a b.css"}});
    CHECK(found.path == "/static/css/a%20b.css");
    CHECK(found.protocol.empty());
    CHECK_THROWS_WITH_AS(files.url_path_for("static"),
                         "No route exists for name \"static\" and params \"\". Mount \"static\" "
                         "(/static) takes params \"path\".",
                         no_match_found);
    CHECK_THROWS_WITH_AS(files.url_path_for("static:css", {{"path", "/a.css"}}),
                         "No route exists for name \"static:css\" and params \"path\". Mount "
                         "\"static\" (/static) holds no routes: name the mount itself, with a "
                         "\"path\" param.",
                         no_match_found);
    CHECK_THROWS_AS(files.url_path_for("static", {{"path", "/a.css"}, {"v", 2}}), no_match_found);
}

TEST_CASE("a mount prefix parameter must be given when reversing through it") {
    const mount orgs("/orgs/{org}", {route("/repos", describe_scope, {.name = "repos"})},
                     {.name = "org"});
    CHECK(orgs.url_path_for("org:repos", {{"org", "acme"}}).path == "/orgs/acme/repos");
    CHECK_THROWS_WITH_AS(orgs.url_path_for("org:repos"),
                         "No route exists for name \"org:repos\" and params \"\". Mount \"org\" "
                         "(/orgs/{org}): param \"org\" is missing.",
                         no_match_found);
}

TEST_CASE("bad mount configurations are refused at construction") {
    CHECK_THROWS_WITH_AS(mount("api", describe_scope),
                         "mount \"api\": routed paths must start with '/'", std::invalid_argument);
    CHECK_THROWS_WITH_AS(mount("/files/{path}", describe_scope),
                         "mount \"/files/{path}\": the param name \"path\" is reserved for the "
                         "rest of the path",
                         std::invalid_argument);
    CHECK_THROWS_AS(mount("/x", any_app{}), std::invalid_argument);
    CHECK_THROWS_AS(mount("/{a}/{a}", describe_scope), std::invalid_argument);
}
