#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tessera/middleware.hpp"
#include "tessera/request.hpp"
#include "tessera/response.hpp"
#include "tessera/testing/test_client.hpp"

using namespace tessera;
using tessera::testing::test_client;

namespace {
// A middleware as users write them: it holds the inner app and wraps `send` with a local lambda
// that rewrites the response start (adds `x-middleware`, replaces `server`) and counts the body
// events it forwards. The lambda lives in this coroutine's frame for the whole inner call, so
// its coroutine may capture.
struct header_rewriter {
    any_app inner;
    int* body_events = nullptr;
    task<void> operator()(scope& s, receive r, send sd) const {
        int* counter = body_events;
        auto rewrite = [sd, counter](event e) -> task<void> {
            if (auto* start = std::get_if<http::response_start>(&e)) {
                start->headers.append("x-middleware", "1");
                start->headers.set("server", "tessera-test");
            } else if (std::holds_alternative<http::response_body>(e) && counter != nullptr) {
                ++*counter;
            }
            co_await sd(std::move(e));
        };
        co_await inner(s, r, send(rewrite));
    }
};

// Reads the whole body before the inner app runs, and rejects a forbidden one on its own.
struct body_inspector {
    any_app inner;
    bool pass_replay = false;
    task<void> operator()(scope& s, receive r, send sd) const {
        request req(s, r);
        const std::string_view body = co_await req.body();
        if (body.find("forbidden") != std::string_view::npos) {
            const plain_text_response rejected("rejected by middleware", 403);
            co_await rejected(s, r, sd);
            co_return;
        }
        s.state.set("inspected_bytes", body.size());
        co_await inner(s, pass_replay ? req.receive() : r, sd);
    }
};

task<void> json_app(scope& s, receive r, send sd) {
    const json_response resp(json{{"ok", true}}, 200, {{"server", "inner"}});
    co_await resp(s, r, sd);
}

async_generator<std::string> three_chunks() {
    co_yield std::string("one,");
    co_yield std::string("two,");
    co_yield std::string("three");
}

struct streaming_app {
    task<void> operator()(scope& s, receive r, send sd) const {
        const streaming_response resp(three_chunks(), 200, {{"server", "inner"}}, "text/plain");
        co_await resp(s, r, sd);
    }
};

// Reads the body through a request of its own (a new one over the same scope).
task<void> body_echo(scope& s, receive r, send sd) {
    request req(s, r);
    const std::string body(co_await req.body());
    const auto* inspected = s.state.find<std::size_t>("inspected_bytes");
    const json_response resp(
        json{{"body", body}, {"inspected_bytes", inspected ? json(*inspected) : json(nullptr)}});
    co_await resp(s, r, sd);
}

// Reads the body from the raw receive.
task<void> raw_body_echo(scope& s, receive r, send sd) {
    std::string body;
    for (;;) {
        event e = co_await r();
        const auto* piece = std::get_if<http::request>(&e);
        if (piece == nullptr) break;
        body += piece->body;
        if (!piece->more_body) break;
    }
    const plain_text_response resp(body);
    co_await resp(s, r, sd);
}
}  // namespace

TEST_CASE("a middleware rewrites the response headers of a JSON response") {
    int body_events = 0;
    test_client client{header_rewriter{&json_app, &body_events}};
    const auto r = client.get("/");
    CHECK(r.status == 200);
    CHECK(r.headers.get("x-middleware") == "1");
    CHECK(r.headers.get_all("server") == std::vector<std::string_view>{"tessera-test"});
    CHECK(r.headers.get("content-type") == "application/json");
    CHECK(r.headers.get("content-length") == "11");
    CHECK(r.json() == json{{"ok", true}});
    CHECK(body_events == 1);
}

TEST_CASE("a middleware rewrites the headers of a streaming response and passes every chunk") {
    int body_events = 0;
    test_client client{header_rewriter{streaming_app{}, &body_events}};
    const auto r = client.get("/");
    CHECK(r.headers.get("x-middleware") == "1");
    CHECK(r.headers.get_all("server") == std::vector<std::string_view>{"tessera-test"});
    CHECK_FALSE(r.headers.contains("content-length"));
    CHECK(r.content == "one,two,three");
    CHECK(body_events == 4);  // three chunks and the closing empty body
}

TEST_CASE("middlewares nest: the outer one sees what the inner one rewrote") {
    struct tagger {
        any_app inner;
        task<void> operator()(scope& s, receive r, send sd) const {
            auto tag = [sd](event e) -> task<void> {
                if (auto* start = std::get_if<http::response_start>(&e)) {
                    const auto seen = start->headers.get_or("x-middleware", "absent");
                    start->headers.set("x-outer-saw", seen);
                }
                co_await sd(std::move(e));
            };
            co_await inner(s, r, send(tag));
        }
    };
    test_client client{tagger{header_rewriter{&json_app}}};
    const auto r = client.get("/");
    CHECK(r.headers.get("x-outer-saw") == "1");
    CHECK(r.headers.get("x-middleware") == "1");
}

TEST_CASE("a middleware that read the body leaves it for the inner app's own request") {
    test_client client{body_inspector{&body_echo}};
    const auto j = client.post("/", {.content = "hello body", .body_chunk_size = 3}).json();
    CHECK(j["body"] == "hello body");
    CHECK(j["inspected_bytes"] == 10);
}

TEST_CASE("a middleware that read the body replays it to an inner app using raw receive") {
    test_client client{body_inspector{&raw_body_echo, true}};
    CHECK(client.post("/", {.content = "hello raw", .body_chunk_size = 2}).text() == "hello raw");
}

TEST_CASE("a middleware that read the body can answer without calling the inner app") {
    test_client client{body_inspector{&body_echo}};
    const auto r = client.post("/", {.content = "this is forbidden"});
    CHECK(r.status == 403);
    CHECK(r.text() == "rejected by middleware");
}

TEST_CASE("a header rewriter outside a body reader sees the inner response") {
    test_client client{header_rewriter{body_inspector{&body_echo}}};
    const auto r = client.post("/", {.content = "abc"});
    CHECK(r.headers.get("x-middleware") == "1");
    CHECK(r.json()["body"] == "abc");
}

namespace {
// A middleware with options, built by a recipe: it appends its tag to `x-trail`.
struct trail_options {
    std::string tag;
};
struct trail_middleware {
    any_app inner;
    trail_options options;
    trail_middleware(any_app app, trail_options opts)
        : inner(std::move(app)), options(std::move(opts)) {}
    task<void> operator()(scope& s, receive r, send sd) const {
        const std::string tag = options.tag;
        auto add_tag = [sd, tag](event e) -> task<void> {
            if (auto* start = std::get_if<http::response_start>(&e)) {
                start->headers.append("x-trail", tag);
            }
            co_await sd(std::move(e));
        };
        co_await inner(s, r, send(add_tag));
    }
};

task<void> ok(scope& s, receive r, send sd) {
    const plain_text_response answer("ok");
    co_await answer(s, r, sd);
}
task<void> also_ok(scope& s, receive r, send sd) {
    const plain_text_response answer("also ok");
    co_await answer(s, r, sd);
}
}  // namespace

TEST_CASE("middleware::of builds the middleware around the inner app with its options") {
    const auto recipe = middleware::of<trail_middleware>(trail_options{"a"});
    test_client client{recipe.wrap(ok)};
    const auto r = client.get("/");
    CHECK(r.text() == "ok");
    CHECK(r.headers.get("x-trail") == "a");
}

TEST_CASE("wrap_all puts the first recipe outermost") {
    const std::vector<middleware> stack{middleware::of<trail_middleware>(trail_options{"outer"}),
                                        middleware::of<trail_middleware>(trail_options{"inner"})};
    test_client client{wrap_all(stack, ok)};
    // The inner middleware sees the response first and appends first; the outer one appends last.
    CHECK(client.get("/").headers.get_all("x-trail") ==
          std::vector<std::string_view>{"inner", "outer"});
}

TEST_CASE("one recipe wraps two different apps independently") {
    const middleware recipe([](any_app inner) { return trail_middleware(std::move(inner), {"x"}); });
    test_client first{recipe.wrap(ok)};
    test_client second{recipe.wrap(also_ok)};
    CHECK(first.get("/").text() == "ok");
    CHECK(second.get("/").text() == "also ok");
    CHECK(second.get("/").headers.get("x-trail") == "x");
}

TEST_CASE("an empty stack leaves the app as it is") {
    test_client client{wrap_all({}, ok)};
    const auto r = client.get("/");
    CHECK(r.text() == "ok");
    CHECK_FALSE(r.headers.contains("x-trail"));
}
