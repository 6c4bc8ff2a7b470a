// Proxy headers: the trust list, the scope rewrite, and the server applying it over a socket.
#include <doctest/doctest.h>

#include <tessera/proxy_headers.hpp>

#include "socket_client.hpp"

using namespace tessera;
using namespace itest;

namespace {

scope from(std::string peer, tessera::headers fields, scope_type type = scope_type::http) {
    scope s;
    s.type = type;
    s.scheme = type == scope_type::websocket ? "ws" : "http";
    s.client = address{std::move(peer), 50000};
    s.headers = std::move(fields);
    s.headers.append("host", "internal:8000");
    return s;
}

}  // namespace

TEST_CASE("proxy_trust matches exact addresses, CIDR ranges and everyone") {
    const proxy_trust exact({"127.0.0.1", "::1"});
    CHECK(exact.trusts("127.0.0.1"));
    CHECK(exact.trusts("::1"));
    CHECK_FALSE(exact.trusts("127.0.0.2"));
    CHECK_FALSE(exact.trusts("::2"));
    CHECK_FALSE(exact.trusts("localhost"));
    CHECK_FALSE(exact.trusts(""));

    const proxy_trust ranges({"10.0.0.0/8", "192.168.1.128/25", "fd00::/8", "172.16.0.0/12"});
    CHECK(ranges.trusts("10.255.1.2"));
    CHECK_FALSE(ranges.trusts("11.0.0.1"));
    CHECK(ranges.trusts("192.168.1.200"));
    CHECK_FALSE(ranges.trusts("192.168.1.100"));
    CHECK(ranges.trusts("fd12:3456::1"));
    CHECK_FALSE(ranges.trusts("fe80::1"));
    CHECK(ranges.trusts("172.31.255.255"));
    CHECK_FALSE(ranges.trusts("172.32.0.0"));

    const proxy_trust all_v4({"0.0.0.0/0"});
    CHECK(all_v4.trusts("8.8.8.8"));
    CHECK_FALSE(all_v4.trusts("::1"));

    const proxy_trust everyone({"*"});
    CHECK(everyone.trusts("8.8.8.8"));
    CHECK(everyone.trusts("2001:db8::1"));
    CHECK(everyone.trusts("anything"));

    const proxy_trust nobody;
    CHECK_FALSE(nobody.trusts("127.0.0.1"));
}

TEST_CASE("proxy_trust rejects malformed entries") {
    CHECK_THROWS_AS(proxy_trust({"not-an-ip"}), std::invalid_argument);
    CHECK_THROWS_AS(proxy_trust({"10.0.0.0/33"}), std::invalid_argument);
    CHECK_THROWS_AS(proxy_trust({"10.0.0.0/x"}), std::invalid_argument);
    CHECK_THROWS_AS(proxy_trust({"fd00::/129"}), std::invalid_argument);
    CHECK_THROWS_AS(proxy_trust({"10.0.0.0/"}), std::invalid_argument);
}

TEST_CASE("a trusted peer's X-Forwarded-For, -Proto and -Host are applied") {
    const proxy_trust trust({"127.0.0.1"});
    auto s = from("127.0.0.1", {{"x-forwarded-for", "203.0.113.7"},
                                {"x-forwarded-proto", "https"},
                                {"x-forwarded-host", "example.com"}});
    apply_proxy_headers(trust, s);
    REQUIRE(s.client);
    CHECK(s.client->host == "203.0.113.7");
    CHECK(s.scheme == "https");
    CHECK(s.headers.get("host") == std::optional<std::string_view>("example.com"));
    CHECK(s.headers.get_all("host").size() == 1);
}

TEST_CASE("X-Forwarded-For picks the nearest untrusted hop, or the leftmost when all are trusted") {
    const proxy_trust trust({"127.0.0.1", "10.0.0.0/8"});
    auto s = from("127.0.0.1", {{"x-forwarded-for", "198.51.100.1, 203.0.113.7, 10.0.0.2"}});
    apply_proxy_headers(trust, s);
    CHECK(s.client->host == "203.0.113.7");

    auto all = from("127.0.0.1", {{"x-forwarded-for", "10.0.0.9, 10.0.0.2"}});
    apply_proxy_headers(trust, all);
    CHECK(all.client->host == "10.0.0.9");

    const proxy_trust only_local({"127.0.0.1"});
    auto near = from("127.0.0.1", {{"x-forwarded-for", "198.51.100.1, 10.0.0.2"}});
    apply_proxy_headers(only_local, near);
    CHECK(near.client->host == "10.0.0.2");
}

TEST_CASE("an untrusted peer's proxy headers are ignored") {
    const proxy_trust trust({"127.0.0.1"});
    auto s = from("198.51.100.9", {{"x-forwarded-for", "203.0.113.7"},
                                   {"x-forwarded-proto", "https"},
                                   {"x-forwarded-host", "evil.example"},
                                   {"forwarded", "for=1.2.3.4;proto=https;host=evil"}});
    apply_proxy_headers(trust, s);
    CHECK(s.client->host == "198.51.100.9");
    CHECK(s.client->port == 50000);
    CHECK(s.scheme == "http");
    CHECK(s.headers.get("host") == std::optional<std::string_view>("internal:8000"));

    scope no_client;
    no_client.headers = {{"x-forwarded-for", "203.0.113.7"}};
    apply_proxy_headers(trust, no_client);
    CHECK_FALSE(no_client.client);
}

TEST_CASE("Forwarded for, proto and host are applied and win over X-Forwarded-*") {
    const proxy_trust trust({"127.0.0.1"});
    auto s = from("127.0.0.1", {{"x-forwarded-for", "198.51.100.1"},
                                {"x-forwarded-proto", "http"},
                                {"Forwarded", "For=192.0.2.60;Proto=HTTPS;host=\"example.com\""}});
    apply_proxy_headers(trust, s);
    CHECK(s.client->host == "192.0.2.60");
    CHECK(s.client->port == 0);
    CHECK(s.scheme == "https");
    CHECK(s.headers.get("host") == std::optional<std::string_view>("example.com"));
}

TEST_CASE("Forwarded takes a quoted IPv6 node with a port") {
    const proxy_trust trust({"127.0.0.1"});
    auto s = from("127.0.0.1", {{"forwarded", "for=\"[2001:db8:cafe::17]:4711\";proto=https"}});
    apply_proxy_headers(trust, s);
    CHECK(s.client->host == "2001:db8:cafe::17");
    CHECK(s.client->port == 4711);
    CHECK(s.scheme == "https");

    auto v4 = from("127.0.0.1", {{"forwarded", "for=192.0.2.43:8080"}});
    apply_proxy_headers(trust, v4);
    CHECK(v4.client->host == "192.0.2.43");
    CHECK(v4.client->port == 8080);
}

TEST_CASE("Forwarded with several hops picks the nearest untrusted one") {
    const proxy_trust trust({"127.0.0.1", "10.0.0.0/8"});
    auto s = from("127.0.0.1", {{"forwarded", "for=198.51.100.1;proto=https, for=10.0.0.5"},
                                {"forwarded", "for=10.0.0.6"}});
    apply_proxy_headers(trust, s);
    CHECK(s.client->host == "198.51.100.1");
    CHECK(s.scheme == "https");
}

TEST_CASE("proxy proto maps to ws/wss for WebSockets and unknown protos are ignored") {
    const proxy_trust trust({"*"});
    auto ws = from("8.8.8.8", {{"x-forwarded-proto", "https"}}, scope_type::websocket);
    apply_proxy_headers(trust, ws);
    CHECK(ws.scheme == "wss");

    auto odd = from("8.8.8.8", {{"x-forwarded-proto", "ftp"}});
    apply_proxy_headers(trust, odd);
    CHECK(odd.scheme == "http");
}

// ---- over a socket ---------------------------------------------------------------------

namespace {
task<void> who(scope& s, receive r, tessera::send sd) {
    if (s.type != scope_type::http) co_return;
    const std::string text = (s.client ? s.client->host : std::string("-")) + "|" + s.scheme +
                             "|" + std::string(s.headers.get("host").value_or(""));
    const plain_text_response answer(text);
    co_await answer(s, r, sd);
}

const std::string proxied = get("/", "X-Forwarded-For: 203.0.113.7\r\n"
                                     "X-Forwarded-Proto: https\r\n"
                                     "X-Forwarded-Host: example.com\r\n");
}  // namespace

TEST_CASE("the server applies proxy headers from a trusted peer only") {
    server_options o;
    o.access_log = false;
    SUBCASE("loopback is trusted by default") {
        running_server s(who, o);
        auto c = s.connect();
        auto r = c.roundtrip(proxied);
        REQUIRE(r);
        CHECK(r->body == "203.0.113.7|https|example.com");
        r = c.roundtrip(get("/"));  // the next request on the connection starts afresh
        REQUIRE(r);
        CHECK(r->body == "127.0.0.1|http|test");
    }
    SUBCASE("a peer outside the trust list is ignored") {
        o.forwarded_allow_ips = {"10.0.0.0/8"};
        running_server s(who, o);
        auto c = s.connect();
        auto r = c.roundtrip(proxied);
        REQUIRE(r);
        CHECK(r->body == "127.0.0.1|http|test");
    }
    SUBCASE("a CIDR range covering the peer is trusted") {
        o.forwarded_allow_ips = {"127.0.0.0/8"};
        running_server s(who, o);
        auto c = s.connect();
        auto r = c.roundtrip(get("/", "Forwarded: for=\"[2001:db8::1]:443\";proto=https\r\n"));
        REQUIRE(r);
        CHECK(r->body == "2001:db8::1|https|test");
    }
    SUBCASE("proxy_headers = false ignores them") {
        o.proxy_headers = false;
        running_server s(who, o);
        auto c = s.connect();
        auto r = c.roundtrip(proxied);
        REQUIRE(r);
        CHECK(r->body == "127.0.0.1|http|test");
    }
}
