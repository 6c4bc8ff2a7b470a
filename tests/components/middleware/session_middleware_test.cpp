// The session layer through the test client: a session written, read back, refreshed and
// cleared through the cookie jar; the cookie's attributes; Vary; every malformed cookie (garbage,
// tampered, foreign secret, expired, from the future, not JSON, not an object, oversized) giving
// an empty session; WebSocket scopes reading the session; configuration errors.
#include <doctest/doctest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <utility>

#include "tessera/request.hpp"
#include "tessera/response.hpp"
#include "tessera/session.hpp"
#include "tessera/session_middleware.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/timestamp_signer.hpp"
#include "tessera/websocket_connection.hpp"

using namespace tessera;
using tessera::testing::test_client;

namespace {

constexpr std::string_view secret = "a test secret, long enough to mean it";

// HTTP: `/set?k=v` sets k, `/erase?key=k` erases k, `/clear` clears, `/touch` only reads, `/` answers the session as
// JSON, `/none` ignores it. WebSocket: accepts and sends the session as JSON.
task<void> session_app(scope& s, receive r, send sd) {
    if (s.type == scope_type::websocket) {
        websocket_connection ws(s, r, sd);
        co_await ws.accept();
        session(ws).set("seen_by_websocket", true);  // in memory only
        co_await ws.send_json(session(ws).data());
        co_return;
    }
    const request req(s, r);
    std::optional<response> answer;
    if (s.path == "/set") {
        for (const auto& [key, value] : req.query_params()) session(req).set(key, value);
        answer.emplace(plain_text_response("set"));
    } else if (s.path == "/erase") {
        (void)session(req).erase(req.query_params().get_or("key"));
        answer.emplace(plain_text_response("erased"));
    } else if (s.path == "/clear") {
        session(req).clear();
        answer.emplace(plain_text_response("cleared"));
    } else if (s.path == "/touch") {
        answer.emplace(plain_text_response(session(req).contains("user") ? "yes" : "no"));
    } else if (s.path == "/none") {
        answer.emplace(plain_text_response("none"));
    } else {
        answer.emplace(json_response(session(req).data()));
    }
    co_await (*answer)(s, r, sd);
}

session_middleware with_sessions(session_options options = {.secret_key = std::string(secret)}) {
    return session_middleware(&session_app, std::move(options));
}

std::string session_cookie_value(const testing::test_response& r) {
    for (const auto& [name, value] : r.cookies()) {
        if (name == "session") return value;
    }
    return {};
}

testing::test_response get_with_cookie(test_client& client, std::string_view target,
                                       std::string value) {
    return client.get(target, {.cookies = {{"session", std::move(value)}}});
}

}  // namespace

TEST_CASE("a value set in the session comes back on the next request through the cookie") {
    test_client client{with_sessions()};
    const auto set = client.get("/set?user=alice&role=admin");
    const auto header = set.headers.get("set-cookie");
    REQUIRE(header);
    CHECK(header->starts_with("session="));
    CHECK(header->find("; HttpOnly") != std::string_view::npos);
    CHECK(header->find("; Max-Age=1209600") != std::string_view::npos);
    CHECK(header->find("; Path=/") != std::string_view::npos);
    CHECK(header->find("; SameSite=lax") != std::string_view::npos);
    CHECK(header->find("Secure") == std::string_view::npos);
    CHECK(client.get("/").json() == json{{"user", "alice"}, {"role", "admin"}});
}

TEST_CASE("an untouched empty session sets no cookie and no Vary") {
    test_client client{with_sessions()};
    const auto r = client.get("/none");
    CHECK_FALSE(r.headers.contains("set-cookie"));
    CHECK_FALSE(r.headers.contains("vary"));
}

TEST_CASE("reading the session makes the response vary by Cookie") {
    test_client client{with_sessions()};
    const auto r = client.get("/touch");
    CHECK(r.text() == "no");
    CHECK(r.headers.get("vary") == "Cookie");
    CHECK_FALSE(r.headers.contains("set-cookie"));  // empty, never loaded: nothing to write
}

TEST_CASE("a loaded session that is not changed sets no cookie, and the browser's one keeps working") {
    test_client client{with_sessions()};
    const auto set = client.get("/set?user=alice");
    const std::string first = session_cookie_value(set);
    REQUIRE_FALSE(first.empty());
    const auto untouched = client.get("/none");
    CHECK_FALSE(untouched.headers.contains("set-cookie"));
    const auto read = client.get("/touch");
    CHECK(read.text() == "yes");
    CHECK_FALSE(read.headers.contains("set-cookie"));
    CHECK(read.headers.get("vary") == "Cookie");
    CHECK(session_cookie_value(client.get("/set?role=admin")) != first);  // a change re-signs
    CHECK(client.get("/").json() == json{{"user", "alice"}, {"role", "admin"}});
}

TEST_CASE("a loaded session emptied by erasing its last key deletes the cookie") {
    test_client client{with_sessions()};
    (void)client.get("/set?user=alice");
    const auto r = client.get("/erase?key=user");
    const auto header = r.headers.get("set-cookie");
    REQUIRE(header);
    CHECK(header->find("Max-Age=0") != std::string_view::npos);
    CHECK(client.cookies().empty());
    // Erasing a key that is not there changes nothing: no cookie either way.
    (void)client.get("/set?user=alice");
    CHECK_FALSE(client.get("/erase?key=other").headers.contains("set-cookie"));
}

TEST_CASE("clearing a loaded session deletes the cookie") {
    test_client client{with_sessions()};
    (void)client.get("/set?user=alice");
    const auto r = client.get("/clear");
    const auto header = r.headers.get("set-cookie");
    REQUIRE(header);
    CHECK(header->starts_with("session=\"\"; "));
    CHECK(header->find("Max-Age=0") != std::string_view::npos);
    CHECK(header->find("01 Jan 1970") != std::string_view::npos);
    CHECK(client.cookies().empty());
    CHECK(client.get("/").json() == json::object());
    // Clearing a session nobody had: nothing to delete.
    test_client fresh{with_sessions()};
    CHECK_FALSE(fresh.get("/clear").headers.contains("set-cookie"));
}

TEST_CASE("the cookie's attributes follow the options") {
    test_client client{with_sessions({.secret_key = std::string(secret),
                                      .session_cookie = "sid",
                                      .max_age = std::nullopt,
                                      .path = "/app",
                                      .same_site = "strict",
                                      .https_only = true,
                                      .domain = "example.com"})};
    const auto r = client.get("/set?a=1");
    const auto header = r.headers.get("set-cookie");
    REQUIRE(header);
    CHECK(header->starts_with("sid="));
    CHECK(header->find("Max-Age") == std::string_view::npos);
    CHECK(header->find("; Domain=example.com") != std::string_view::npos);
    CHECK(header->find("; Path=/app") != std::string_view::npos);
    CHECK(header->find("; SameSite=strict") != std::string_view::npos);
    CHECK(header->find("; Secure") != std::string_view::npos);
    CHECK(header->find("; HttpOnly") != std::string_view::npos);
}

TEST_CASE("without max_age an old signature is still accepted") {
    const timestamp_signer signer(secret);
    const auto old = encode_session_cookie(json{{"a", 1}}, signer, 1'000'000);
    test_client client{with_sessions({.secret_key = std::string(secret), .max_age = std::nullopt})};
    CHECK(get_with_cookie(client, "/", old).json() == json{{"a", 1}});
}

// JSON cannot carry invalid UTF-8: written as it was, the cookie failed to parse on the next
// request and the whole session was silently gone (found by tests/fuzz/signed_cookie_fuzz).
TEST_CASE("a session holding invalid UTF-8 is refused when written, not lost when read") {
    const timestamp_signer signer(secret);
    CHECK_THROWS_AS((void)encode_session_cookie(json{{"v", "caf\xe9"}}, signer, 1),
                    std::invalid_argument);
    CHECK_THROWS_AS((void)encode_session_cookie(json{{"k\xff", 1}}, signer, 1),
                    std::invalid_argument);
    const auto cafe = encode_session_cookie(json{{"v", "caf\xc3\xa9"}}, signer, 1);
    CHECK(decode_session_cookie(cafe, signer, std::nullopt, 1) == json{{"v", "caf\xc3\xa9"}});

    // Through the middleware: the response fails where the bytes were stored.
    test_client client{with_sessions()};
    CHECK_THROWS_AS((void)client.get("/set?v=caf%E9"), std::invalid_argument);
    test_client lenient{with_sessions(), testing::client_options{.raise_server_exceptions = false}};
    CHECK(lenient.get("/set?v=caf%E9").status == 500);
}

TEST_CASE("malformed session cookies give an empty session, never an error") {
    test_client client{with_sessions()};
    const timestamp_signer signer(secret);
    const auto now = timestamp_signer::now();
    const auto good = encode_session_cookie(json{{"user", "alice"}}, signer, now);
    CHECK(get_with_cookie(client, "/", good).json() == json{{"user", "alice"}});

    SUBCASE("garbage") {
        CHECK(get_with_cookie(client, "/", "garbage").json() == json::object());
        CHECK(get_with_cookie(client, "/", "a.b.c").json() == json::object());
        CHECK(get_with_cookie(client, "/", "..").json() == json::object());
        CHECK(get_with_cookie(client, "/", "").json() == json::object());
    }
    SUBCASE("a tampered payload") {
        const auto forged =
            base64url_encode(R"({"user":"admin"})") + good.substr(good.find('.'));
        CHECK(get_with_cookie(client, "/", forged).json() == json::object());
    }
    SUBCASE("a tampered signature") {
        std::string tampered = good;
        tampered[tampered.size() - 5] = tampered[tampered.size() - 5] == 'A' ? 'B' : 'A';
        CHECK(get_with_cookie(client, "/", tampered).json() == json::object());
        CHECK(get_with_cookie(client, "/", good.substr(0, good.size() - 1)).json() ==
              json::object());
    }
    SUBCASE("a signature made with another secret") {
        const timestamp_signer other("another secret");
        const auto foreign = encode_session_cookie(json{{"user", "alice"}}, other, now);
        CHECK(get_with_cookie(client, "/", foreign).json() == json::object());
    }
    SUBCASE("an expired timestamp") {
        const auto expired =
            encode_session_cookie(json{{"user", "alice"}}, signer, now - 14 * 24 * 3600 - 60);
        CHECK(get_with_cookie(client, "/", expired).json() == json::object());
        const auto young = encode_session_cookie(json{{"user", "alice"}}, signer, now - 3600);
        CHECK(get_with_cookie(client, "/", young).json() == json{{"user", "alice"}});
    }
    SUBCASE("a timestamp from the future") {
        const auto future = encode_session_cookie(json{{"user", "alice"}}, signer, now + 3600);
        CHECK(get_with_cookie(client, "/", future).json() == json::object());
    }
    SUBCASE("a signed payload that is not JSON, or not an object") {
        const auto not_json = signer.sign(base64url_encode("{not json"), now);
        CHECK(get_with_cookie(client, "/", not_json).json() == json::object());
        const auto array = signer.sign(base64url_encode("[1,2]"), now);
        CHECK(get_with_cookie(client, "/", array).json() == json::object());
        const auto not_base64 = signer.sign("!!!", now);
        CHECK(get_with_cookie(client, "/", not_base64).json() == json::object());
    }
    SUBCASE("an oversized cookie") {
        const auto huge = encode_session_cookie(
            json{{"blob", std::string(session_middleware::max_cookie_value_size, 'x')}}, signer,
            now);
        CHECK(get_with_cookie(client, "/", huge).json() == json::object());
    }
}

TEST_CASE("a bad cookie is not deleted, and a later write replaces it") {
    test_client client{with_sessions()};
    const auto r = get_with_cookie(client, "/set?user=bob", "garbage");
    CHECK(session_cookie_value(r).starts_with(base64url_encode(R"({"user":"bob"})")));
}

TEST_CASE("a WebSocket connection reads the session but sets no cookie") {
    test_client client{with_sessions()};
    (void)client.get("/set?user=alice");
    auto ws = client.websocket_connect("/ws");
    CHECK(ws.receive_json() == json{{"user", "alice"}, {"seen_by_websocket", true}});
    CHECK(ws.headers().empty());
    // The change lived only in the connection's memory.
    CHECK(client.get("/").json() == json{{"user", "alice"}});

    test_client bad{with_sessions()};
    auto anonymous = bad.websocket_connect("/ws", {.cookies = {{"session", "garbage"}}});
    CHECK(anonymous.receive_json() == json{{"seen_by_websocket", true}});
}

TEST_CASE("session options are validated") {
    CHECK_THROWS_AS(with_sessions({}), std::invalid_argument);
    CHECK_THROWS_AS(with_sessions({.secret_key = "k", .max_age = std::chrono::seconds(0)}),
                    std::invalid_argument);
    CHECK_THROWS_AS(with_sessions({.secret_key = "k", .same_site = "sometimes"}),
                    std::invalid_argument);
    CHECK_THROWS_AS(with_sessions({.secret_key = "k", .session_cookie = "bad name"}),
                    std::invalid_argument);
    CHECK_THROWS_AS(with_sessions({.secret_key = "k", .session_cookie = "path"}),
                    std::invalid_argument);
    CHECK_THROWS_AS(with_sessions({.secret_key = "k", .path = "/; Domain=evil"}),
                    std::invalid_argument);
    CHECK_THROWS_AS(session_middleware(any_app{}, {.secret_key = "k"}), std::invalid_argument);
    CHECK_NOTHROW(with_sessions({.secret_key = "k", .same_site = "None"}));
}
