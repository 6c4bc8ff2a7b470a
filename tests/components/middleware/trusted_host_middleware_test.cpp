// The trusted-host layer through the test client: exact, wildcard and any-host patterns, the
// port and IPv6 brackets stripped, the www redirect, malformed and missing Host headers, and the
// same answers on WebSocket scopes as denial responses.
#include <doctest/doctest.h>

#include <optional>
#include <stdexcept>
#include <string>
#include <utility>

#include "tessera/response.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/trusted_host_middleware.hpp"
#include "tessera/websocket_connection.hpp"

using namespace tessera;
using tessera::testing::test_client;
using tessera::testing::websocket_denied;

namespace {

// Answers "OK" over HTTP; over WebSocket accepts and sends "OK".
task<void> ok_app(scope& s, receive r, send sd) {
    if (s.type == scope_type::websocket) {
        websocket_connection ws(s, r, sd);
        co_await ws.accept();
        co_await ws.send_text("OK");
        co_return;
    }
    const plain_text_response answer("OK");
    co_await answer(s, r, sd);
}

// Removes the Host header before the trusted-host layer sees the scope (the test client always
// sends one).
struct without_host {
    any_app inner;
    task<void> operator()(scope& s, receive r, send sd) const {
        s.headers.remove("host");
        co_await inner(s, r, sd);
    }
};

trusted_host_middleware guarded(std::vector<std::string> hosts, bool www_redirect = true) {
    return trusted_host_middleware(&ok_app, trusted_host_options{.allowed_hosts = std::move(hosts),
                                                                 .www_redirect = www_redirect});
}

testing::test_response get_with_host(test_client& client, std::string_view host,
                                     std::string_view target = "/") {
    return client.get(target, {.headers = {{"host", host}}});
}

}  // namespace

TEST_CASE("an allowed host reaches the app and any other gets 400 Invalid host header") {
    test_client client{guarded({"testserver", "*.testserver"})};
    CHECK(client.get("/").text() == "OK");
    CHECK(get_with_host(client, "api.testserver").text() == "OK");

    const auto bad = get_with_host(client, "evil.example");
    CHECK(bad.status == 400);
    CHECK(bad.text() == "Invalid host header");
    CHECK(bad.headers.get("content-type") == "text/plain; charset=utf-8");
}

TEST_CASE("a wildcard pattern matches subdomains but not the domain itself") {
    test_client client{guarded({"*.example.com"})};
    CHECK(get_with_host(client, "a.example.com").status == 200);
    CHECK(get_with_host(client, "a.b.example.com").status == 200);
    CHECK(get_with_host(client, "example.com").status == 400);
    CHECK(get_with_host(client, "badexample.com").status == 400);
}

TEST_CASE("the port is stripped and hosts compare ignoring case") {
    test_client client{guarded({"Example.com"})};
    CHECK(get_with_host(client, "example.com:8000").status == 200);
    CHECK(get_with_host(client, "EXAMPLE.COM").status == 200);
    CHECK(get_with_host(client, "example.com:").status == 200);  // empty port: RFC 3986 allows it
}

TEST_CASE("IPv6 literal hosts match with or without brackets in the pattern") {
    test_client client{guarded({"::1", "[2001:db8::1]"})};
    CHECK(get_with_host(client, "[::1]:8000").status == 200);
    CHECK(get_with_host(client, "[::1]").status == 200);
    CHECK(get_with_host(client, "[2001:db8::1]:443").status == 200);
    CHECK(get_with_host(client, "[::2]:8000").status == 400);
}

TEST_CASE("host_without_port strips the port and brackets and refuses malformed values") {
    CHECK(host_without_port("example.com:80") == "example.com");
    CHECK(host_without_port("example.com") == "example.com");
    CHECK(host_without_port("[::1]:8000") == "::1");
    CHECK(host_without_port("[::1") == std::nullopt);
    CHECK(host_without_port("[::1]x") == std::nullopt);
    CHECK(host_without_port("example.com:http") == std::nullopt);
    CHECK(host_without_port("example.com:123456") == std::nullopt);
    CHECK(host_without_port("a:b:c") == std::nullopt);
}

TEST_CASE("malformed Host headers are rejected, never crash") {
    test_client client{guarded({"example.com", "www.example.com"})};
    CHECK(get_with_host(client, "example.com:abc").status == 400);
    CHECK(get_with_host(client, "[example.com").status == 400);
    CHECK(get_with_host(client, "").status == 400);
    // Digits, but no port: the redirect cannot be built, so it is a bad host too.
    test_client www_only{guarded({"www.example.com"})};
    CHECK(get_with_host(www_only, "example.com:99999").status == 400);
}

TEST_CASE("a request without a Host header is rejected unless any host is allowed") {
    test_client client{without_host{any_app(guarded({"testserver"}))}};
    CHECK(client.get("/").status == 400);
    test_client any{without_host{any_app(guarded({"*"}))}};
    CHECK(any.get("/").text() == "OK");
}

TEST_CASE("* alone allows every host") {
    test_client client{trusted_host_middleware(&ok_app)};
    CHECK(get_with_host(client, "whatever.invalid").status == 200);
}

TEST_CASE("the bare host redirects to the www host when only that is allowed") {
    test_client client{guarded({"www.example.com"}), {.follow_redirects = false}};
    const auto r = client.get("http://example.com:8000/path/x?q=1&r=2");
    CHECK(r.status == 307);
    CHECK(r.headers.get("location") == "http://www.example.com:8000/path/x?q=1&r=2");

    test_client no_redirect{guarded({"www.example.com"}, false), {.follow_redirects = false}};
    CHECK(no_redirect.get("http://example.com/").status == 400);
    // A wildcard offers no redirect.
    test_client wildcard{guarded({"*.example.com"}), {.follow_redirects = false}};
    CHECK(wildcard.get("http://example.com/").status == 400);
}

TEST_CASE("invalid patterns are configuration errors") {
    CHECK_THROWS_AS(guarded({"*example.com"}), std::invalid_argument);
    CHECK_THROWS_AS(guarded({"example.*"}), std::invalid_argument);
    CHECK_THROWS_AS(guarded({"*.*.example.com"}), std::invalid_argument);
    CHECK_THROWS_AS(guarded({"**"}), std::invalid_argument);
    CHECK_THROWS_AS(guarded({"*."}), std::invalid_argument);
    CHECK_THROWS_AS(guarded({""}), std::invalid_argument);
    CHECK_NOTHROW(guarded({"*", "*.example.com", "example.com"}));
    CHECK_THROWS_AS(trusted_host_middleware(any_app{}), std::invalid_argument);
}

TEST_CASE("an allowed host opens a WebSocket connection") {
    test_client client{guarded({"testserver"})};
    auto ws = client.websocket_connect("/ws");
    CHECK(ws.receive_text() == "OK");
}

TEST_CASE("an unknown host is refused on a WebSocket with a 400 denial response") {
    test_client client{guarded({"example.com"})};
    try {
        auto ws = client.websocket_connect("/ws");
        FAIL("the handshake was accepted");
    } catch (const websocket_denied& denied) {
        CHECK(denied.response().status == 400);
        CHECK(denied.response().text() == "Invalid host header");
        CHECK(denied.close_code() == std::nullopt);
    }
}

TEST_CASE("the bare host of a WebSocket gets the www redirect as a denial response") {
    test_client client{guarded({"www.example.com"})};
    try {
        auto ws = client.websocket_connect("ws://example.com/chat?room=1");
        FAIL("the handshake was accepted");
    } catch (const websocket_denied& denied) {
        CHECK(denied.response().status == 307);
        CHECK(denied.response().headers.get("location") == "ws://www.example.com/chat?room=1");
    }
}

TEST_CASE("check reports the verdict for a Host header value") {
    const auto layer = guarded({"www.example.com", "api.example.org"});
    using verdict = trusted_host_middleware::verdict;
    CHECK(layer.check("api.example.org:443") == verdict::allow);
    CHECK(layer.check("example.com") == verdict::redirect_to_www);
    CHECK(layer.check("other.org") == verdict::reject);
    CHECK(layer.check(std::nullopt) == verdict::reject);
}
