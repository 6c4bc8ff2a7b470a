#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "routing_apps.hpp"
#include "tessera/host.hpp"
#include "tessera/request.hpp"
#include "tessera/route.hpp"
#include "tessera/router.hpp"
#include "tessera/testing/test_client.hpp"

using namespace tessera;
using namespace routing_test;
using tessera::testing::client_options;
using tessera::testing::request_options;
using tessera::testing::test_client;

namespace {
request_options on_host(std::string_view value) {
    return request_options{.headers = headers{{"host", value}}};
}

task<response> home_link(request& req) {
    const path_params params{{"sub", "beta"}};
    co_return plain_text_response(req.url_for("tenant:home", params).str());
}
}  // namespace

TEST_CASE("a host routes on the Host header, ignoring the port") {
    const router app({host("{sub}.example.org", router({route("/", describe_scope)})),
                      route("/", text_app{"fallback"})});
    test_client client(app);
    const auto plain = client.get("/", on_host("api.example.org")).json();
    CHECK(plain["params"]["sub"].as_string() == "api");
    CHECK(plain["path"].as_string() == "/");
    CHECK(plain["root_path"].as_string().empty());
    CHECK(client.get("/", on_host("api.example.org:8443")).json()["params"]["sub"].as_string() ==
          "api");
    CHECK(client.get("/", on_host("example.org")).text() == "fallback");
    CHECK(client.get("/", on_host("api.example.com")).text() == "fallback");
}

TEST_CASE("host names compare case-insensitively") {
    test_client client(router({host("www.Example.org", text_app{"www"})}));
    CHECK(client.get("/", on_host("WWW.EXAMPLE.ORG")).text() == "www");
    CHECK(client.get("/", on_host("other.org")).status == 404);
}

TEST_CASE("a request whose Host header names another host does not match") {
    test_client client(router({host("example.org", text_app{"x"})}),
                       client_options{.base_url = "http://example.org"});
    CHECK(client.get("/").text() == "x");
    CHECK(client.get("/", on_host("")).status == 404);
}

TEST_CASE("host middleware wraps the host's app") {
    test_client client(
        router({host("example.org", text_app{"x"}, {.middleware = {tagged("host")}})}));
    CHECK(client.get("/", on_host("example.org")).headers.get("x-tag") == "host");
}

TEST_CASE("reverse routing through a named host gives the formatted host") {
    const host tenants("{sub}.example.org",
                       router({route("/", describe_scope, {.name = "home"})}), {.name = "tenant"});
    const auto found = tenants.url_path_for("tenant:home", {{"sub", "acme"}});
    CHECK(found.path == "/");
    CHECK(found.host == "acme.example.org");
    CHECK(found.protocol == "http");
    CHECK_THROWS_WITH_AS(tenants.url_path_for("tenant:home"),
                         "No route exists for name \"tenant:home\" and params \"\". Host "
                         "\"tenant\" ({sub}.example.org): param \"sub\" is missing.",
                         no_match_found);
    const auto itself = tenants.url_path_for("tenant", {{"sub", "acme"}, {"path", "/x y"}});
    CHECK(itself.path == "/x%20y");
    CHECK(itself.host == "acme.example.org");
    CHECK_THROWS_AS(tenants.url_path_for("tenant", {{"sub", "acme"}}), no_match_found);
}

TEST_CASE("url_for through a host builds a URL on that host") {
    const router app({host("{sub}.example.org",
                           router({route("/", home_link, {.name = "home"})}), {.name = "tenant"})});
    test_client client(app);
    CHECK(client.get("/", on_host("alpha.example.org")).text() == "http://beta.example.org/");
}

TEST_CASE("bad host patterns are refused at construction") {
    CHECK_THROWS_AS(host("", text_app{"x"}), std::invalid_argument);
    CHECK_THROWS_AS(host("example.org:80", text_app{"x"}), std::invalid_argument);
    CHECK_THROWS_AS(host("/example", text_app{"x"}), std::invalid_argument);
    CHECK_THROWS_AS(host("{a}.{a}.org", text_app{"x"}), std::invalid_argument);
    CHECK_THROWS_AS(host("{a:nope}.org", text_app{"x"}), std::invalid_argument);
}
