#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <stdexcept>
#include <string>

#include "tessera/http_error.hpp"
#include "tessera/request.hpp"
#include "tessera/response.hpp"
#include "tessera/testing/test_client.hpp"

using namespace tessera;
using namespace std::chrono_literals;
using tessera::testing::client_options;
using tessera::testing::test_client;

namespace {
// Callers build the JSON in a named variable first: GCC 12 rejects ("array used as
// initializer") a braced list holding string literals as an argument inside a coroutine.
task<void> reply(scope& s, receive r, send sd, json content) {
    const json_response resp(content);
    co_await resp(s, r, sd);
}

// A receive for requests built directly over a scope in tests that never read the body.
struct no_body_receive {
    task<event> operator()() const { co_return http::disconnect{}; }
};

task<void> describe(scope& s, receive r, send sd) {
    request req(s, r);
    json out;
    out["method"] = req.method();
    out["url"] = req.url().str();
    out["base_url"] = req.base_url().str();
    out["path"] = s.path;
    out["root_path"] = s.root_path;
    out["client"] = req.client() ? json(req.client()->to_string()) : json(nullptr);
    co_await reply(s, r, sd, std::move(out));
}

task<void> echo_header_values(scope& s, receive r, send sd) {
    request req(s, r);
    json values = json::array();
    for (const auto value : req.headers().get_all("x-multi")) values.push_back(value);
    json reply_body = {{"x-multi", values}};
    co_await reply(s, r, sd, std::move(reply_body));
}

task<void> echo_query(scope& s, receive r, send sd) {
    request req(s, r);
    json items = json::array();
    for (const auto& [key, value] : req.query_params()) items.push_back(json::array({key, value}));
    json all_a = json::array();
    for (const auto value : req.query_params().get_all("a")) all_a.push_back(value);
    json reply_body = {{"items", items}, {"a", all_a}, {"last_a", req.query_params().get_or("a")}};
    co_await reply(s, r, sd, std::move(reply_body));
}

struct with_path_params {
    any_app inner;
    task<void> operator()(scope& s, receive r, send sd) const {
        s.path_params.set("id", std::int64_t{42});
        s.path_params.set("name", std::string("ada"));
        co_await inner(s, r, sd);
    }
};

task<void> echo_path_params(scope& s, receive r, send sd) {
    request req(s, r);
    json reply_body = {{"id", req.path_params().get<std::int64_t>("id")},
                       {"name", req.path_params().get<std::string>("name")},
                       {"count", req.path_params().size()}};
    co_await reply(s, r, sd, std::move(reply_body));
}

task<void> echo_cookies(scope& s, receive r, send sd) {
    request req(s, r);
    json out = json::object();
    for (const auto& [name, value] : req.cookies()) out[name] = value;
    out["__missing_found"] = req.cookie("missing").has_value();
    co_await reply(s, r, sd, std::move(out));
}

struct sets_user {
    any_app inner;
    task<void> operator()(scope& s, receive r, send sd) const {
        s.state.set("user", std::string("ada"));
        co_await inner(s, r, sd);
    }
};

task<void> echo_user(scope& s, receive r, send sd) {
    request req(s, r);
    const auto* user = req.state().find<std::string>("user");
    json reply_body = {{"user", user ? json(*user) : json(nullptr)}};
    co_await reply(s, r, sd, std::move(reply_body));
}

task<void> read_body_twice(scope& s, receive r, send sd) {
    request req(s, r);
    const std::string_view first = co_await req.body();
    const std::string_view second = co_await req.body();
    json reply_body = {
        {"first", first}, {"second", second}, {"same_storage", first.data() == second.data()}};
    co_await reply(s, r, sd, std::move(reply_body));
}

task<void> echo_body(scope& s, receive r, send sd) {
    request req(s, r);
    const std::string body(co_await req.body());
    json reply_body = {{"body", body}};
    co_await reply(s, r, sd, std::move(reply_body));
}

// An app that uses the raw interface: collects the body events itself.
task<void> raw_echo_body(scope& s, receive r, send sd) {
    std::string body;
    int events = 0;
    for (;;) {
        event e = co_await r();
        auto* piece = std::get_if<http::request>(&e);
        REQUIRE(piece != nullptr);
        ++events;
        body += piece->body;
        if (!piece->more_body) break;
    }
    json reply_body = {{"body", body}, {"events", events}};
    co_await reply(s, r, sd, std::move(reply_body));
}

// Reads the body in a request of its own, then calls the inner app with either the original
// receive or the request's replaying one.
struct body_reader {
    any_app inner;
    bool pass_replay = false;
    task<void> operator()(scope& s, receive r, send sd) const {
        request req(s, r);
        const std::string_view body = co_await req.body();
        s.state.set("read_by_middleware", std::string(body));
        if (pass_replay) {
            co_await inner(s, req.receive(), sd);
        } else {
            co_await inner(s, r, sd);
        }
    }
};

// A raw app that answers with the body it received, then records what `receive` yields once the
// response is complete (the interface says: http.disconnect).
struct raw_echo_then_listen {
    std::string* after;
    task<void> operator()(scope& s, receive r, send sd) const {
        std::string body;
        for (;;) {
            event e = co_await r();
            auto* piece = std::get_if<http::request>(&e);
            if (piece == nullptr) {
                *after = "unexpected " + std::string(event_name(e));
                co_return;
            }
            body += piece->body;
            if (!piece->more_body) break;
        }
        json reply_body = {{"body", body}};
        co_await reply(s, r, sd, std::move(reply_body));
        const event next = co_await r();
        *after = event_name(next);
    }
};

// Checks for a disconnect first (which pulls the body chunk that is ready), then hands the
// request's replaying receive to the inner app.
struct disconnect_checker {
    any_app inner;
    task<void> operator()(scope& s, receive r, send sd) const {
        request req(s, r);
        const bool gone = co_await req.is_disconnected();
        s.state.set("gone", gone);
        co_await inner(s, req.receive(), sd);
    }
};

task<void> collect_stream(scope& s, receive r, send sd) {
    request req(s, r);
    json chunks = json::array();
    auto chunk_stream = req.stream();
    while (auto chunk = co_await chunk_stream.next()) chunks.push_back(*chunk);
    json reply_body = {{"chunks", chunks}};
    co_await reply(s, r, sd, std::move(reply_body));
}

task<void> body_then_stream(scope& s, receive r, send sd) {
    request req(s, r);
    const std::string body(co_await req.body());
    json chunks = json::array();
    auto chunk_stream = req.stream();
    while (auto chunk = co_await chunk_stream.next()) chunks.push_back(*chunk);
    json reply_body = {{"body", body}, {"chunks", chunks}};
    co_await reply(s, r, sd, std::move(reply_body));
}

task<void> stream_then_body(scope& s, receive r, send sd) {
    request req(s, r);
    auto chunk_stream = req.stream();
    while (co_await chunk_stream.next()) {
    }
    (void)co_await req.body();  // throws std::logic_error
    co_await reply(s, r, sd, nullptr);
}

task<void> stream_twice(scope& s, receive r, send sd) {
    request req(s, r);
    {
        auto chunk_stream = req.stream();
        while (co_await chunk_stream.next()) {
        }
    }
    auto again = req.stream();
    (void)co_await again.next();  // throws std::logic_error
    co_await reply(s, r, sd, nullptr);
}

task<void> echo_json(scope& s, receive r, send sd) {
    request req(s, r);
    json body = co_await req.json();
    json reply_body = {{"received", body}};
    co_await reply(s, r, sd, std::move(reply_body));
}

task<void> check_disconnected_then_read(scope& s, receive r, send sd) {
    request req(s, r);
    const bool before = co_await req.is_disconnected();
    const std::string body(co_await req.body());
    const bool after = co_await req.is_disconnected();
    json reply_body = {{"before", before}, {"after", after}, {"body", body}};
    co_await reply(s, r, sd, std::move(reply_body));
}

// Starts a response, waits on the raw receive for the client to leave, then asks the request.
struct reports_disconnect {
    bool* seen;
    task<void> operator()(scope& s, receive r, send sd) const {
        request req(s, r);
        (void)co_await req.body();
        co_await sd(http::response_start{200, {}});
        co_await sd(http::response_body{"hello", true});
        (void)co_await r();
        *seen = co_await req.is_disconnected();
    }
};
}  // namespace

TEST_CASE("the request URL comes from the scheme, the Host header, the raw path and the query") {
    test_client client{&describe};
    const auto r = client.get("/items/a%20b?x=1&y=%2F");
    const auto j = r.json();
    CHECK(j["method"].as_string() == "GET");
    CHECK(j["url"].as_string() == "http://testserver/items/a%20b?x=1&y=%2F");
    CHECK(j["base_url"].as_string() == "http://testserver/");
    CHECK(j["path"].as_string() == "/items/a b");
    CHECK(j["client"].as_string() == "testclient:50000");
}

TEST_CASE("the request URL follows the client's base URL and an explicit Host header") {
    test_client secure{&describe, client_options{.base_url = "https://example.com:8443"}};
    const auto j = secure.post("/p").json();
    CHECK(j["method"].as_string() == "POST");
    CHECK(j["url"].as_string() == "https://example.com:8443/p");
    CHECK(j["base_url"].as_string() == "https://example.com:8443/");

    test_client client{&describe};
    const auto other = client.get("/", {.headers = {{"Host", "other.org:81"}}}).json();
    CHECK(other["url"].as_string() == "http://other.org:81/");
}

TEST_CASE("the request URL and base URL include the root path") {
    test_client client{&describe, client_options{.root_path = "/api"}};
    const auto j = client.get("/items?q=1").json();
    CHECK(j["url"].as_string() == "http://testserver/api/items?q=1");
    CHECK(j["base_url"].as_string() == "http://testserver/api/");
    CHECK(j["path"].as_string() == "/api/items");
    CHECK(j["root_path"].as_string() == "/api");
}

TEST_CASE("without a Host header the URL uses the server address, omitting a default port") {
    no_body_receive nothing;
    scope s;
    s.path = "/a b";
    s.query_string = "q=1";
    s.server = address{"10.0.0.1", 8080};
    {
        const request req(s, receive(nothing));
        CHECK(req.url().str() == "http://10.0.0.1:8080/a%20b?q=1");
        CHECK(req.base_url().str() == "http://10.0.0.1:8080/");
    }
    s.server = address{"10.0.0.1", 443};
    s.scheme = "https";
    {
        const request req(s, receive(nothing));
        CHECK(req.url().str() == "https://10.0.0.1/a%20b?q=1");
    }
    s.server.reset();
    {
        const request req(s, receive(nothing));
        CHECK(req.url().str() == "/a%20b?q=1");
    }
}

TEST_CASE("repeated request headers reach the app in order") {
    test_client client{&echo_header_values};
    const auto j = client.get("/", {.headers = {{"X-Multi", "1"}, {"x-multi", "2"}}}).json();
    CHECK(j["x-multi"] == json::array({"1", "2"}));
}

TEST_CASE("query parameters keep repeated keys and blank values") {
    test_client client{&echo_query};
    const auto j = client.get("/?a=1&b=&a=2&c&d=x+y%26").json();
    CHECK(j["items"] ==
          json::array({json::array({"a", "1"}), json::array({"b", ""}), json::array({"a", "2"}),
                       json::array({"c", ""}), json::array({"d", "x y&"})}));
    CHECK(j["a"] == json::array({"1", "2"}));
    CHECK(j["last_a"].as_string() == "2");
}

TEST_CASE("path parameters set in the scope by an outer app are visible to the request") {
    test_client client{with_path_params{&echo_path_params}};
    const auto j = client.get("/").json();
    CHECK(j["id"].as_int64() == 42);
    CHECK(j["name"].as_string() == "ada");
    CHECK(j["count"].as_int64() == 2);
}

TEST_CASE("cookies are parsed from every Cookie header, later values winning") {
    test_client client{&echo_cookies};
    const auto j =
        client.get("/", {.headers = {{"cookie", "a=1; b=2"}, {"cookie", "c=3; a=4"}}}).json();
    CHECK(j == json{{"a", "4"}, {"b", "2"}, {"c", "3"}, {"__missing_found", false}});
}

TEST_CASE("per-request state is set by an outer app and is fresh for every request") {
    test_client with_user{sets_user{&echo_user}};
    CHECK(with_user.get("/").json()["user"].as_string() == "ada");
    test_client plain{&echo_user};
    CHECK(plain.get("/").json()["user"].is_null());
    CHECK(plain.get("/").json()["user"].is_null());
}

TEST_CASE("app_state throws without lifespan state and exposes it when there is one") {
    no_body_receive nothing;
    scope s;
    const request req(s, receive(nothing));
    CHECK_THROWS_AS((void)req.app_state(), std::logic_error);
    s.app_state = std::make_shared<state>();
    s.app_state->set("db", std::string("sqlite"));
    CHECK(req.app_state().get<std::string>("db") == "sqlite");
}

TEST_CASE("the body is read once and cached: reading it again gives the same bytes") {
    test_client client{&read_body_twice};
    const auto j = client.post("/", {.content = "payload", .body_chunk_size = 2}).json();
    CHECK(j["first"].as_string() == "payload");
    CHECK(j["second"].as_string() == "payload");
    CHECK(j["same_storage"].as_bool());
}

TEST_CASE("a body read by a middleware is read again by the inner app through a new request") {
    test_client client{body_reader{&echo_body, false}};
    CHECK(client.post("/", {.content = "abcdef", .body_chunk_size = 4}).json()["body"] == "abcdef");
}

TEST_CASE("a body read by a middleware is replayed to a raw inner app through request::receive") {
    test_client client{body_reader{&raw_echo_body, true}};
    const auto j = client.post("/", {.content = "abcdef", .body_chunk_size = 4}).json();
    CHECK(j["body"].as_string() == "abcdef");
    CHECK(j["events"].as_int64() == 1);
}

// Regression: a request that had not read the body itself replayed the scope's cached body, so
// with two body-reading middlewares the inner app received the body twice instead of the
// disconnect that follows a complete response.
TEST_CASE("nested body readers replay the body exactly once") {
    std::string after;
    test_client client{body_reader{body_reader{raw_echo_then_listen{&after}, true}, true}};
    CHECK(client.post("/", {.content = "once"}).json()["body"] == "once");
    CHECK(after == "http.disconnect");
}

// Regression: a body chunk pulled by is_disconnected() was not replayed by request::receive(), so
// the inner app waited for a body that had already been taken.
TEST_CASE("a body chunk seen by is_disconnected is replayed to the inner app") {
    test_client client{disconnect_checker{&raw_echo_body}, client_options{.timeout = 2s}};
    const auto j = client.post("/", {.content = "abcdef", .body_chunk_size = 4}).json();
    CHECK(j["body"].as_string() == "abcdef");
    CHECK(j["events"].as_int64() == 2);
}

TEST_CASE("stream yields the body in the pieces the transport delivers") {
    test_client client{&collect_stream};
    const auto j = client.post("/", {.content = "abcdefgh", .body_chunk_size = 3}).json();
    CHECK(j["chunks"] == json::array({"abc", "def", "gh"}));
    CHECK(client.post("/").json()["chunks"] == json::array());
}

TEST_CASE("stream after body yields the cached body in one piece") {
    test_client client{&body_then_stream};
    const auto j = client.post("/", {.content = "abcdefgh", .body_chunk_size = 3}).json();
    CHECK(j["body"].as_string() == "abcdefgh");
    CHECK(j["chunks"] == json::array({"abcdefgh"}));
}

TEST_CASE("body after the stream was consumed is a logic error") {
    test_client client{&stream_then_body};
    CHECK_THROWS_AS(client.post("/", {.content = "abc"}), std::logic_error);
}

TEST_CASE("streaming the body twice is a logic error") {
    test_client client{&stream_twice};
    CHECK_THROWS_AS(client.post("/", {.content = "abc"}), std::logic_error);
}

TEST_CASE("json parses the body") {
    test_client client{&echo_json};
    const auto j = client.post("/", {.json = json{{"a", 1}, {"b", json::array({true})}}}).json();
    CHECK(j["received"] == json{{"a", 1}, {"b", json::array({true})}});
}

TEST_CASE("malformed JSON in the body raises http_error 400") {
    test_client client{&echo_json};
    try {
        (void)client.post("/", {.content = "{\"a\": "});
        FAIL("expected http_error");
    } catch (const http_error& error) {
        CHECK(error.status() == 400);
        CHECK(error.detail().starts_with("Malformed JSON body"));
    }
    CHECK_THROWS_AS(client.post("/"), http_error);  // an empty body is not JSON either
}

TEST_CASE("is_disconnected is false during a normal request and leaves the body intact") {
    test_client client{&check_disconnected_then_read};
    const auto j = client.post("/", {.content = "payload"}).json();
    CHECK_FALSE(j["before"].as_bool());
    CHECK_FALSE(j["after"].as_bool());
    CHECK(j["body"].as_string() == "payload");
}

TEST_CASE("is_disconnected is true once the client has gone") {
    bool seen = false;
    test_client client{reports_disconnect{&seen}};
    auto stream = client.stream("GET", "/");
    CHECK(stream.next_chunk() == "hello");
    stream.close();
    CHECK(seen);
}
