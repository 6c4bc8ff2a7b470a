// The server-error layer: an exception before the response started becomes a 500 (plain,
// handler or debug page) and is rethrown; after the start it is only rethrown; disconnects and
// other scopes pass through.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "error_test_apps.hpp"
#include "tessera/server_error_middleware.hpp"
#include "tessera/sync_wait.hpp"
#include "tessera/testing/test_client.hpp"

using namespace tessera;
using namespace tessera::test_apps;
using tessera::testing::client_options;
using tessera::testing::test_client;

namespace {
const throws_before_start<std::runtime_error> boom{std::runtime_error("boom")};

bool contains(std::string_view text, std::string_view part) {
    return text.find(part) != std::string_view::npos;
}

struct null_transport {
    std::vector<std::string>* sent;
    task<event> next() { co_return http::disconnect{}; }
    task<void> emit(event e) {
        sent->emplace_back(event_name(e));
        co_return;
    }
};
}  // namespace

TEST_CASE("an exception before the response started becomes a plain 500, then is rethrown") {
    std::vector<std::string> seen;
    const recorder app{server_error_middleware(boom), &seen};

    test_client raising{app};
    CHECK_THROWS_WITH_AS(raising.get("/"), "boom", std::runtime_error);
    // The 500 went out before the exception was re-raised.
    CHECK(seen == std::vector<std::string>{"http.response.start 500", "http.response.body"});

    test_client lenient{app, client_options{.raise_server_exceptions = false}};
    const auto r = lenient.get("/");
    CHECK(r.status == 500);
    CHECK(r.text() == "Internal Server Error");
    CHECK(r.headers.get("content-type") == "text/plain; charset=utf-8");
}

TEST_CASE("without debug the 500 reveals nothing about the exception") {
    test_client client{server_error_middleware(boom),
                       client_options{.raise_server_exceptions = false}};
    const auto r = client.get("/", {.headers = {{"accept", "text/html"}}});
    CHECK(r.text() == "Internal Server Error");
    CHECK_FALSE(contains(r.text(), "boom"));
}

TEST_CASE("with debug the 500 is the debug page, HTML or text by the Accept header") {
    const server_error_middleware app(
        throws_before_start<std::invalid_argument>{std::invalid_argument("bad <input>")},
        server_error_options{.debug = true});
    test_client client{app, client_options{.raise_server_exceptions = false}};

    const auto html = client.get("/where?x=1", {.headers = {{"accept", "text/html"}}});
    CHECK(html.status == 500);
    CHECK(html.headers.get("content-type") == "text/html; charset=utf-8");
    CHECK(contains(html.text(), "std::invalid_argument"));
    CHECK(contains(html.text(), "bad &lt;input&gt;"));
    CHECK(contains(html.text(), "GET /where?x=1 HTTP/1.1"));

    const auto text = client.get("/where");
    CHECK(text.headers.get("content-type") == "text/plain; charset=utf-8");
    CHECK(contains(text.text(), "std::invalid_argument: bad <input>"));
    CHECK(contains(text.text(), "user-agent: testclient"));
}

TEST_CASE("the handler answers the 500 when not debugging") {
    const server_error_middleware app(
        boom, server_error_options{
                  .handler = [](request& req, const std::exception& e) -> task<json_response> {
                      const std::string path(req.url().path());
                      co_return json_response(json{{"error", e.what()}, {"path", path}}, 500);
                  }});
    test_client client{app, client_options{.raise_server_exceptions = false}};
    const auto r = client.get("/orders");
    CHECK(r.status == 500);
    CHECK(r.json() == json{{"error", "boom"}, {"path", "/orders"}});
}

TEST_CASE("after the response started the exception is only rethrown, nothing more is sent") {
    std::vector<std::string> seen;
    const recorder app{server_error_middleware(throws_after_start{}), &seen};

    test_client raising{app};
    CHECK_THROWS_WITH_AS(raising.get("/"), "failed mid-stream", std::runtime_error);
    CHECK(seen == std::vector<std::string>{"http.response.start 200", "http.response.body"});

    // Without raising, the test client hands back what arrived: the start and the partial body.
    seen.clear();
    test_client lenient{app, client_options{.raise_server_exceptions = false}};
    const auto r = lenient.get("/");
    CHECK(r.status == 200);
    CHECK(r.content == "partial");
    CHECK(seen.size() == 2);
}

TEST_CASE("client_disconnected passes through without an answer") {
    std::vector<std::string> seen;
    const recorder app{server_error_middleware(throws_before_start<client_disconnected>{}), &seen};
    test_client client{app};
    CHECK_THROWS_AS(client.get("/"), client_disconnected);
    CHECK(seen.empty());
}

TEST_CASE("scopes other than HTTP go to the inner app untouched") {
    std::vector<std::string> sent;
    null_transport transport{&sent};
    receive_member<null_transport, &null_transport::next> r{&transport};
    send_member<null_transport, &null_transport::emit> sd{&transport};
    const server_error_middleware app(boom);
    scope s;
    s.type = scope_type::websocket;
    CHECK_THROWS_WITH_AS(sync_wait(app(s, receive(r), send(sd))), "boom", std::runtime_error);
    CHECK(sent.empty());
}

TEST_CASE("a missing inner app is refused at construction") {
    CHECK_THROWS_AS(server_error_middleware(any_app{}), std::invalid_argument);
}
