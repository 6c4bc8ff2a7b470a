// Proxy headers applied by the server over real sockets (the trust list and the scope rewrite
// themselves are tested in tests/lib/proxy_headers_test.cpp).
#include <doctest/doctest.h>

#include <tessera/proxy_headers.hpp>

#include "socket_client.hpp"

using namespace tessera;
using namespace itest;

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

// ---- IPv6 and IPv4-mapped peers ----------------------------------------------------------

namespace {
bool ipv6_loopback_available() {
    const int fd = ::socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return false;
    sockaddr_in6 address{};
    address.sin6_family = AF_INET6;
    address.sin6_addr = in6addr_loopback;
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
    ::close(fd);
    return ok;
}

server_options on_host(std::string host, std::vector<std::string> trusted) {
    auto o = quiet();
    o.host = std::move(host);
    o.port = 0;
    o.forwarded_allow_ips = std::move(trusted);
    return o;
}
}  // namespace

TEST_CASE("an IPv4 client of a dual-stack listener matches IPv4 trust entries") {
    if (!ipv6_loopback_available()) {
        MESSAGE("skipped: this machine has no IPv6 loopback");
        return;
    }
    // An IPv6 socket taking IPv4 connections (IPV6_V6ONLY off), bound to the IPv4-mapped
    // loopback address so that nothing outside this machine can reach it. Its peers are
    // reported as ::ffff:127.0.0.1.
    const std::vector<std::vector<std::string>> lists{{"127.0.0.1"}, {"127.0.0.0/8"}};
    for (const auto& trusted : lists) {
        CAPTURE(trusted.front());
        server srv(who, on_host("::ffff:127.0.0.1", trusted));
        srv.start();
        auto c = client(srv.port());
        auto r = c.roundtrip(get("/"));
        REQUIRE(r);
        CHECK(r->body == "::ffff:127.0.0.1|http|test");
        r = c.roundtrip(proxied);
        REQUIRE(r);
        CHECK(r->body == "203.0.113.7|https|example.com");
    }
    server untrusting(who, on_host("::ffff:127.0.0.1", {"10.0.0.0/8"}));
    untrusting.start();
    auto c = client(untrusting.port());
    auto r = c.roundtrip(proxied);
    REQUIRE(r);
    CHECK(r->body == "::ffff:127.0.0.1|http|test");
}

TEST_CASE("an IPv6 loopback client matches ::1 and not 127.0.0.1") {
    if (!ipv6_loopback_available()) {
        MESSAGE("skipped: this machine has no IPv6 loopback");
        return;
    }
    {
        server srv(who, on_host("::1", {"127.0.0.1"}));
        srv.start();
        auto c = client::ipv6_loopback(srv.port());
        auto r = c.roundtrip(proxied);
        REQUIRE(r);
        CHECK(r->body == "::1|http|test");
    }
    server srv(who, on_host("::1", {"::1"}));
    srv.start();
    auto c = client::ipv6_loopback(srv.port());
    auto r = c.roundtrip(proxied);
    REQUIRE(r);
    CHECK(r->body == "203.0.113.7|https|example.com");
}
