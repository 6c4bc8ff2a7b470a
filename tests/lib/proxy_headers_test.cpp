// Proxy headers: the trust list (addresses, CIDR ranges, IPv4-mapped peers) and the scope
// rewrite from X-Forwarded-* and Forwarded.
#include <doctest/doctest.h>

#include <tessera/proxy_headers.hpp>

using namespace tessera;

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

TEST_CASE("an address with a NUL inside is no address, in a trust entry or a peer") {
    using namespace std::string_literals;
    // inet_pton reads up to the NUL: without the check, these passed as 127.0.0.1.
    const proxy_trust exact({"127.0.0.1"});
    CHECK_FALSE(exact.trusts("127.0.0.1\0evil"s));
    CHECK_FALSE(exact.trusts("127.0.0.1\0"s));
    CHECK_THROWS_AS(proxy_trust({"127.0.0.1\0/8"s}), std::invalid_argument);
}

TEST_CASE("proxy_trust rejects malformed entries") {
    CHECK_THROWS_AS(proxy_trust({"not-an-ip"}), std::invalid_argument);
    CHECK_THROWS_AS(proxy_trust({"10.0.0.0/33"}), std::invalid_argument);
    CHECK_THROWS_AS(proxy_trust({"10.0.0.0/x"}), std::invalid_argument);
    CHECK_THROWS_AS(proxy_trust({"fd00::/129"}), std::invalid_argument);
    CHECK_THROWS_AS(proxy_trust({"10.0.0.0/"}), std::invalid_argument);
    // Regression (found by tests/fuzz/proxy_headers_fuzz): a signed length passed as /0 and
    // trusted every IPv4 peer.
    CHECK_THROWS_AS(proxy_trust({"10.0.0.0/-0"}), std::invalid_argument);
    CHECK_THROWS_AS(proxy_trust({"10.0.0.0/+8"}), std::invalid_argument);
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

// Regression (found by tests/fuzz/proxy_headers_fuzz): only the first line was read, so a
// client's own X-Forwarded-For line won over the one its proxy appended after it.
TEST_CASE("several X-Forwarded-* lines are one list, as the proxy appended to it") {
    const proxy_trust trust({"127.0.0.1"});
    auto s = from("127.0.0.1", {{"x-forwarded-for", "198.51.100.1"},
                                {"x-forwarded-for", "203.0.113.7"},
                                {"x-forwarded-proto", "http"},
                                {"x-forwarded-proto", "https"},
                                {"x-forwarded-host", "spoofed.example"},
                                {"x-forwarded-host", "example.com"}});
    apply_proxy_headers(trust, s);
    CHECK(s.client->host == "203.0.113.7");
    CHECK(s.scheme == "https");
    CHECK(s.headers.get("host") == std::optional<std::string_view>("example.com"));

    // Trusted hops are skipped across lines too.
    const proxy_trust chain({"127.0.0.1", "10.0.0.0/8"});
    auto hops = from("127.0.0.1", {{"x-forwarded-for", "198.51.100.1, 203.0.113.9"},
                                   {"x-forwarded-for", "10.0.0.5"}});
    apply_proxy_headers(chain, hops);
    CHECK(hops.client->host == "203.0.113.9");
}

// Regression (found by tests/fuzz/proxy_headers_fuzz): ';' and ',' inside a quoted value split
// it, so a client whose Host a proxy quoted into host="..." could set its own for= and proto=.
TEST_CASE("Forwarded delimiters inside a quoted value do not split it") {
    const proxy_trust trust({"127.0.0.1"});
    auto s = from("127.0.0.1",
                  {{"forwarded", "for=203.0.113.7;host=\"a;for=1.2.3.4;proto=https\";proto=http"}});
    apply_proxy_headers(trust, s);
    CHECK(s.client->host == "203.0.113.7");
    CHECK(s.scheme == "http");
    CHECK(s.headers.get("host") == std::optional<std::string_view>("a;for=1.2.3.4;proto=https"));

    auto comma = from("127.0.0.1", {{"forwarded", "for=203.0.113.7;host=\"a,for=1.2.3.4\""}});
    apply_proxy_headers(trust, comma);
    CHECK(comma.client->host == "203.0.113.7");
    CHECK(comma.headers.get("host") == std::optional<std::string_view>("a,for=1.2.3.4"));
}

// Regression (found by tests/fuzz/proxy_headers_fuzz): a quoted host= was written into the
// Host field as it came, spaces, quotes and all, where the HTTP parser answers such a Host 400.
TEST_CASE("a forwarded host that is not a valid Host value leaves the host alone") {
    const proxy_trust trust({"127.0.0.1"});
    for (const char* forwarded : {"for=203.0.113.7;host=\"a b\"", "host=\"a\\\"b\"",
                                  "host=\"a\tb\"", "host=\"caf\xc3\xa9\""}) {
        CAPTURE(forwarded);
        auto s = from("127.0.0.1", {{"forwarded", forwarded}});
        apply_proxy_headers(trust, s);
        CHECK(s.headers.get("host") == std::optional<std::string_view>("internal:8000"));
    }
    auto spaced = from("127.0.0.1", {{"x-forwarded-host", "a b"}});
    apply_proxy_headers(trust, spaced);
    CHECK(spaced.headers.get("host") == std::optional<std::string_view>("internal:8000"));

    // What a Host may hold still passes: an IPv6 literal with a port, percent-encoding.
    auto v6 = from("127.0.0.1", {{"forwarded", "host=\"[2001:db8::1]:8443\""}});
    apply_proxy_headers(trust, v6);
    CHECK(v6.headers.get("host") == std::optional<std::string_view>("[2001:db8::1]:8443"));
    auto encoded = from("127.0.0.1", {{"x-forwarded-host", "ex%41mple.com"}});
    apply_proxy_headers(trust, encoded);
    CHECK(encoded.headers.get("host") == std::optional<std::string_view>("ex%41mple.com"));
}

TEST_CASE("a Forwarded node without a host leaves the peer as the client") {
    const proxy_trust trust({"127.0.0.1"});
    for (const char* node : {"for=\"[]\"", "for=\":80\"", "for=\"\"", "proto=https"}) {
        CAPTURE(node);
        auto s = from("127.0.0.1", {{"forwarded", node}});
        apply_proxy_headers(trust, s);
        REQUIRE(s.client);
        CHECK(s.client->host == "127.0.0.1");
        CHECK(s.client->port == 50000);
    }
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

TEST_CASE("an IPv4-mapped IPv6 peer matches the IPv4 addresses and ranges it carries") {
    const proxy_trust exact({"127.0.0.1"});
    CHECK(exact.trusts("::ffff:127.0.0.1"));
    CHECK(exact.trusts("::FFFF:127.0.0.1"));
    CHECK(exact.trusts("::ffff:7f00:1"));  // the same address written in hex
    CHECK_FALSE(exact.trusts("::ffff:127.0.0.2"));
    CHECK_FALSE(exact.trusts("::1"));

    const proxy_trust range({"10.0.0.0/8"});
    CHECK(range.trusts("::ffff:10.1.2.3"));
    CHECK_FALSE(range.trusts("::ffff:11.0.0.1"));

    // Only the ::ffff:0:0/96 prefix is a mapping: other IPv6 addresses ending in the same four
    // bytes are not the IPv4 address (the IPv4-compatible form ::a.b.c.d is deprecated).
    CHECK_FALSE(exact.trusts("::127.0.0.1"));
    CHECK_FALSE(exact.trusts("64:ff9b::127.0.0.1"));
}

TEST_CASE("an IPv4-mapped trust entry is the IPv4 address or range it carries") {
    const proxy_trust mapped({"::ffff:127.0.0.1", "::ffff:10.0.0.0/104"});
    CHECK(mapped.trusts("127.0.0.1"));
    CHECK(mapped.trusts("::ffff:127.0.0.1"));
    CHECK(mapped.trusts("10.200.0.1"));
    CHECK(mapped.trusts("::ffff:10.200.0.1"));
    CHECK_FALSE(mapped.trusts("11.0.0.1"));
    CHECK_FALSE(mapped.trusts("::1"));

    CHECK_THROWS_AS(proxy_trust({"::ffff:10.0.0.0/80"}), std::invalid_argument);
    CHECK_THROWS_AS(proxy_trust({"::ffff:10.0.0.0/129"}), std::invalid_argument);
}

TEST_CASE("a trusted IPv4-mapped peer's proxy headers are applied") {
    const proxy_trust trust({"127.0.0.1"});
    auto s = from("::ffff:127.0.0.1", {{"x-forwarded-for", "203.0.113.7, ::ffff:127.0.0.1"},
                                       {"x-forwarded-proto", "https"}});
    apply_proxy_headers(trust, s);
    REQUIRE(s.client);
    CHECK(s.client->host == "203.0.113.7");  // the mapped hop is a trusted proxy, skipped
    CHECK(s.scheme == "https");
}

TEST_CASE("a peer without an address is trusted only by everyone") {
    const tessera::headers proxied{{"x-forwarded-for", "203.0.113.7"},
                                   {"x-forwarded-proto", "https"}};
    scope unix_peer;
    unix_peer.type = scope_type::http;
    unix_peer.scheme = "http";
    unix_peer.headers = proxied;
    apply_proxy_headers(proxy_trust({"127.0.0.1"}), unix_peer);
    CHECK_FALSE(unix_peer.client);
    CHECK(unix_peer.scheme == "http");

    apply_proxy_headers(proxy_trust({"*"}), unix_peer);
    REQUIRE(unix_peer.client);
    CHECK(unix_peer.client->host == "203.0.113.7");
    CHECK(unix_peer.scheme == "https");
}
