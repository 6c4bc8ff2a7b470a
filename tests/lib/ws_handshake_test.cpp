#include <doctest/doctest.h>

#include <string>

#include "tessera/ws/handshake.hpp"

using tessera::headers;
using tessera::ws::handshake_status;
using tessera::ws::validate_handshake;

namespace {

headers upgrade_request() {
    return headers{{"Host", "example.com"},
                   {"Upgrade", "websocket"},
                   {"Connection", "Upgrade"},
                   {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
                   {"Sec-WebSocket-Version", "13"}};
}

headers with(headers h, std::string_view name, std::string_view value) {
    h.set(name, value);
    return h;
}

headers without(headers h, std::string_view name) {
    h.remove(name);
    return h;
}

}  // namespace

TEST_CASE("the RFC 6455 sample key has the RFC's accept value") {
    CHECK(tessera::ws::accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST_CASE("a valid upgrade request is accepted with its key, subprotocols and extensions") {
    headers h = upgrade_request();
    h.append("Sec-WebSocket-Protocol", "chat, superchat");
    h.append("Sec-WebSocket-Protocol", " v2.json ,, ");
    h.append("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits");
    h.append("Sec-WebSocket-Extensions", "x-custom");
    const auto r = validate_handshake("GET", "1.1", h);
    REQUIRE(r.status == handshake_status::ok);
    CHECK(r.http_status() == 0);
    CHECK(r.key == "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(r.subprotocols == std::vector<std::string>{"chat", "superchat", "v2.json"});
    REQUIRE(r.extensions.size() == 2);
    CHECK(r.extensions[0] == "permessage-deflate; client_max_window_bits");
    CHECK(r.extensions[1] == "x-custom");
}

TEST_CASE("Upgrade and Connection tokens match case-insensitively inside lists") {
    headers h = with(upgrade_request(), "Upgrade", "h2c, WebSocket");
    h = with(h, "Connection", "keep-alive, UPGRADE");
    CHECK(validate_handshake("GET", "1.1", h).status == handshake_status::ok);
    CHECK(validate_handshake("GET", "2", h).status == handshake_status::ok);
}

TEST_CASE("a request without Upgrade: websocket is not a WebSocket request") {
    CHECK(validate_handshake("GET", "1.1", without(upgrade_request(), "upgrade")).status ==
          handshake_status::not_websocket);
    CHECK(validate_handshake("GET", "1.1", with(upgrade_request(), "upgrade", "h2c")).status ==
          handshake_status::not_websocket);
    CHECK(validate_handshake("GET", "1.1", headers{{"host", "x"}}).http_status() == 0);
}

TEST_CASE("malformed WebSocket requests are answered 400") {
    const auto status = [](std::string_view method, std::string_view version, const headers& h) {
        const auto r = validate_handshake(method, version, h);
        CHECK(r.status == handshake_status::bad_request);
        CHECK_FALSE(r.reason.empty());
        return r.http_status();
    };
    CHECK(status("POST", "1.1", upgrade_request()) == 400);
    CHECK(status("GET", "1.0", upgrade_request()) == 400);
    CHECK(status("GET", "1.1", without(upgrade_request(), "connection")) == 400);
    CHECK(status("GET", "1.1", with(upgrade_request(), "connection", "keep-alive")) == 400);
    CHECK(status("GET", "1.1", without(upgrade_request(), "sec-websocket-key")) == 400);
    headers two_keys = upgrade_request();
    two_keys.append("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(status("GET", "1.1", two_keys) == 400);
    // 15 and 17 bytes, bad characters, missing padding.
    for (std::string_view key : {"dGhlIHNhbXBsZSBub25j", "dGhlIHNhbXBsZSBub25jZQ==QQ==",
                                 "dGhlIHNhbXBsZSBub25jZQ", "dGhlIHNhbXBsZSBub25jZ!==",
                                 "not a key", ""}) {
        CAPTURE(key);
        CHECK(status("GET", "1.1", with(upgrade_request(), "sec-websocket-key", key)) == 400);
    }
}

TEST_CASE("a missing or unsupported version is answered 426") {
    const auto r = validate_handshake("GET", "1.1", without(upgrade_request(),
                                                            "sec-websocket-version"));
    CHECK(r.status == handshake_status::upgrade_required);
    CHECK(r.http_status() == 426);
    for (std::string_view v : {"8", "12", "14", "13, 8", ""}) {
        CAPTURE(v);
        CHECK(validate_handshake("GET", "1.1", with(upgrade_request(), "sec-websocket-version", v))
                  .http_status() == 426);
    }
    headers twice = upgrade_request();
    twice.append("Sec-WebSocket-Version", "13");
    CHECK(validate_handshake("GET", "1.1", twice).http_status() == 426);
    CHECK(tessera::ws::supported_version == "13");
}

TEST_CASE("the 101 answer's fields carry the accept value, the choices and the app's extras") {
    const headers extra{{"Set-Cookie", "a=1"}, {"Sec-WebSocket-Protocol", "sneaky"},
                        {"Upgrade", "h2c"}};
    const headers h = tessera::ws::accept_headers("dGhlIHNhbXBsZSBub25jZQ==", "chat",
                                                  "permessage-deflate", extra);
    const headers expected{{"upgrade", "websocket"},
                           {"connection", "Upgrade"},
                           {"sec-websocket-accept", "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="},
                           {"sec-websocket-protocol", "chat"},
                           {"sec-websocket-extensions", "permessage-deflate"},
                           {"set-cookie", "a=1"}};
    CHECK(h == expected);
    const headers bare = tessera::ws::accept_headers("dGhlIHNhbXBsZSBub25jZQ==");
    CHECK(bare.size() == 3);
    CHECK_FALSE(bare.contains("sec-websocket-protocol"));
}

TEST_CASE("base64 matches the RFC 4648 test vectors both ways") {
    const std::pair<std::string_view, std::string_view> vectors[] = {
        {"", ""},         {"f", "Zg=="},        {"fo", "Zm8="},        {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        CHECK(tessera::ws::base64_encode(plain) == encoded);
        CHECK(tessera::ws::base64_decode(encoded) == std::string(plain));
    }
    CHECK(tessera::ws::base64_encode(std::string("\xff\xfe\x00", 3)) == "//4A");
    for (std::string_view bad : {"Zg=", "Zg", "Z===", "====", "Zm9v!A==", "Zg==Zg==", "Z=g="}) {
        CAPTURE(bad);
        CHECK_FALSE(tessera::ws::base64_decode(bad).has_value());
    }
}

TEST_CASE("a generated client key is fresh, valid, and checks against the server's answer") {
    const std::string a = tessera::ws::generate_key();
    const std::string b = tessera::ws::generate_key();
    CHECK(a != b);
    CHECK(a.size() == 24);
    CHECK(tessera::ws::base64_decode(a)->size() == 16);
    headers request = with(upgrade_request(), "sec-websocket-key", a);
    const auto r = validate_handshake("GET", "1.1", request);
    REQUIRE(r.status == handshake_status::ok);

    const headers answer = tessera::ws::accept_headers(r.key);
    CHECK(tessera::ws::check_accept_response(101, answer, a));
    CHECK_FALSE(tessera::ws::check_accept_response(101, answer, b));
    CHECK_FALSE(tessera::ws::check_accept_response(200, answer, a));
    CHECK_FALSE(tessera::ws::check_accept_response(101, without(answer, "upgrade"), a));
    CHECK_FALSE(tessera::ws::check_accept_response(101, without(answer, "connection"), a));
}
