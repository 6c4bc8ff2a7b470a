#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "routing_apps.hpp"
#include "tessera/request.hpp"
#include "tessera/route.hpp"
// Regression: route.hpp and the endpoints' response_task.hpp (through exception_handlers.hpp)
// each defined detail::is_response_task, so no file could include both.
#include "tessera/exception_handlers.hpp"
#include "tessera/testing/test_client.hpp"

using namespace tessera;
using namespace routing_test;
using tessera::testing::test_client;

namespace {
task<response> hello(request& req) {
    co_return plain_text_response("hello " + std::string(req.method()));
}

task<json_response> user_json(request& req) {
    const json body{{"id", req.path_params().get<std::int64_t>("id")}};
    co_return json_response(body);
}

// A handler class: its const operator() is the handler.
struct greeter {
    std::string greeting;
    task<plain_text_response> operator()(request& req) const {
        co_return plain_text_response(greeting + ", " + req.path_params().get<std::string>("name"));
    }
};

async_generator<std::string> counting() {
    co_yield std::string("1,");
    co_yield std::string("2");
}
task<streaming_response> streamed(request&) { co_return streaming_response(counting()); }
}  // namespace

TEST_CASE("a request handler returning response serves GET and, implied, HEAD") {
    const route r("/hello", hello);
    CHECK(r.methods() == std::vector<std::string>{"GET", "HEAD"});
    test_client client(r);
    const auto got = client.get("/hello");
    CHECK(got.status == 200);
    CHECK(got.text() == "hello GET");
    const auto head = client.head("/hello");
    CHECK(head.status == 200);
    CHECK(head.content.empty());
    CHECK(head.headers.get("content-length") == "10");  // "hello HEAD", body stripped
}

TEST_CASE("handlers may return any response type, or be classes with such an operator()") {
    test_client users(route("/users/{id:int}", user_json));
    const auto user = users.get("/users/12");
    CHECK(user.headers.get("content-type") == "application/json");
    CHECK(user.json()["id"].as_int64() == 12);

    test_client greetings(route("/greet/{name}", greeter{"Hi"}));
    CHECK(greetings.get("/greet/ada").text() == "Hi, ada");

    test_client stream(route("/count", streamed));
    CHECK(stream.get("/count").text() == "1,2");
}

TEST_CASE("an app route serves every method unless methods are given") {
    test_client any(route("/any", text_app{"any"}));
    CHECK(any.post("/any").text() == "any");
    CHECK(any.delete_("/any").text() == "any");

    test_client only_put(route("/put", text_app{"put"}, {.methods = {"put"}}));
    CHECK(only_put.put("/put").status == 200);
    CHECK(only_put.get("/put").status == 405);
}

TEST_CASE("a method the route does not serve gets 405 with Allow listing its methods") {
    test_client client(route("/items", hello, {.methods = {"GET", "POST"}}));
    const auto refused = client.delete_("/items");
    CHECK(refused.status == 405);
    CHECK(refused.text() == "Method Not Allowed");
    CHECK(refused.headers.get("allow") == "GET, HEAD, POST");
    CHECK(client.post("/items").text() == "hello POST");
}

TEST_CASE("with an exception layer the 405 is thrown as http_error carrying Allow") {
    const route r("/items", hello, {.methods = {"POST"}});
    test_client client(error_layer{r});
    const auto refused = client.get("/items");
    CHECK(refused.status == 405);
    CHECK(refused.text() == "thrown: 405");
    CHECK(refused.headers.get("allow") == "POST");
}

TEST_CASE("route middleware wraps the handler but not the method check") {
    const route r("/tagged", hello,
                  {.methods = {"GET"}, .middleware = {tagged("outer"), tagged("inner")}});
    test_client client(r);
    const auto served = client.get("/tagged");
    CHECK(served.headers.get_all("x-tag") == std::vector<std::string_view>{"inner", "outer"});
    CHECK_FALSE(client.post("/tagged").headers.contains("x-tag"));
}

TEST_CASE("a route used on its own answers 404 for other paths") {
    test_client client(route("/only", hello));
    const auto missing = client.get("/other");
    CHECK(missing.status == 404);
    CHECK(missing.text() == "Not Found");
}

TEST_CASE("routes match HTTP scopes only") {
    const auto run = run_websocket(route("/ws", text_app{"x"}), "/ws");
    REQUIRE(run.sent.size() == 1);
    CHECK(std::holds_alternative<websocket::close>(run.sent[0]));
}

TEST_CASE("bad route configurations are refused at construction") {
    CHECK_THROWS_WITH_AS(route("users", hello), "route \"users\": routed paths must start with '/'",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(route("/x", hello, {.methods = std::vector<std::string>{}}),
                         "route \"/x\": an empty method list serves nothing (leave `methods` out "
                         "for the default)",
                         std::invalid_argument);
    CHECK_THROWS_WITH_AS(route("/x", hello, {.methods = {"GET POST"}}),
                         "route \"/x\": \"GET POST\" is not an HTTP method",
                         std::invalid_argument);
    CHECK_THROWS_AS(route("/x/{id}/{id}", hello), std::invalid_argument);
    CHECK_THROWS_AS(route("/x/{id:nope}", hello), std::invalid_argument);
}

TEST_CASE("a route reverses to its path with exactly its params") {
    const route r("/users/{id:int}", user_json, {.name = "user"});
    CHECK(r.url_path_for("user", {{"id", 3}}).path == "/users/3");
    CHECK(r.url_path_for("user", {{"id", 3}}).protocol == "http");
    CHECK_THROWS_WITH_AS(r.url_path_for("user"),
                         "No route exists for name \"user\" and params \"\". Route \"user\" "
                         "(/users/{id:int}) takes params \"id\".",
                         no_match_found);
    CHECK_THROWS_AS(r.url_path_for("user", {{"id", 3}, {"extra", 1}}), no_match_found);
    CHECK_THROWS_AS(r.url_path_for("other", {{"id", 3}}), no_match_found);
}

TEST_CASE("route.hpp and exception_handlers.hpp agree on what a handler returns") {
    using handler = task<json_response> (*)(request&);
    static_assert(detail::request_handler<handler>);
    static_assert(response_task<task<json_response>>);
    static_assert(!detail::request_handler<task<int> (*)(request&)>);
    test_client client(route("/", [](request&) -> task<json_response> {
        co_return json_response(json{{"ok", true}});
    }));
    CHECK(client.get("/").json()["ok"].as_bool());
}
