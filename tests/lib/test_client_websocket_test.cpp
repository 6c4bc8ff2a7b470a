#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/testing/test_client.hpp"
#include "tessera/websocket_connection.hpp"

using namespace tessera;
using namespace std::chrono_literals;
using tessera::testing::client_options;
using tessera::testing::test_client;
using tessera::testing::test_timeout;
using tessera::testing::websocket_denied;
using tessera::testing::websocket_options;

namespace {

// Echoes every message with its kind, through the raw events, until the client leaves.
task<void> raw_echo(scope&, receive r, send sd) {
    event first = co_await r();
    REQUIRE(std::holds_alternative<websocket::connect>(first));
    const websocket::accept yes;
    co_await sd(yes);
    for (;;) {
        event e = co_await r();
        auto* message = std::get_if<websocket::receive>(&e);
        if (!message) break;
        const websocket::send reply(message->data, message->binary);
        co_await sd(reply);
    }
}

// What an app saw, shared with the test (apps are copied into the client).
struct transcript {
    std::vector<std::string> seen;
    std::optional<int> disconnect_code;
    std::string disconnect_reason;
    bool returned = false;
};

// Iterates until the disconnect and records its code.
struct recording_app {
    std::shared_ptr<transcript> log = std::make_shared<transcript>();
    task<void> operator()(scope& s, receive r, send sd) const {
        websocket_connection ws(s, r, sd);
        co_await ws.accept();
        for (;;) {
            event e = co_await ws.receive();
            if (auto* message = std::get_if<websocket::receive>(&e)) {
                log->seen.push_back(message->data);
                continue;
            }
            const auto& gone = std::get<websocket::disconnect>(e);
            log->disconnect_code = gone.code;
            log->disconnect_reason = gone.reason;
            break;
        }
        log->returned = true;
    }
};

// Picks chat.v2, else chat.v1, and reports what it was offered.
task<void> negotiating(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    std::optional<std::string> chosen;
    for (const char* preferred : {"chat.v2", "chat.v1"}) {
        for (const auto& offered : ws.subprotocols()) {
            if (!chosen && offered == preferred) chosen = offered;
        }
    }
    const headers extra{{"x-ws-extra", "accepted"}};
    co_await ws.accept(chosen, extra);
    json offered = json::array();
    for (const auto& name : ws.subprotocols()) offered.push_back(name);
    json report;
    report["offered"] = offered;
    report["header"] = std::string(ws.headers().get_or("sec-websocket-protocol"));
    co_await ws.send_json(report);
    co_await ws.close();
}

// Reports the scope as the app sees it.
task<void> describing(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept();
    json cookies = json::object();
    for (const auto& [name, value] : ws.cookies()) cookies[name] = value;
    json fields = json::object();
    for (const auto& field : ws.headers()) fields[field.name] = field.value;
    json report;
    report["type"] = std::string(to_string(s.type));
    report["scheme"] = s.scheme;
    report["path"] = s.path;
    report["raw_path"] = s.raw_path;
    report["root_path"] = s.root_path;
    report["query"] = s.query_string;
    report["token"] = std::string(ws.query_params().get_or("token"));
    report["url"] = ws.url().str();
    report["cookies"] = cookies;
    report["headers"] = fields;
    report["client"] = ws.client()->to_string();
    report["shared"] = s.app_state && s.app_state->contains("greeting");
    co_await ws.send_json(report);
    co_await ws.close();
}

task<void> denying(scope&, receive r, send sd) {
    (void)co_await r();
    const websocket::denial_start start(
        401, headers{{"content-type", "text/plain"}, {"content-length", "6"}, {"x-why", "token"}});
    co_await sd(start);
    const websocket::denial_body first("den", true);
    co_await sd(first);
    const websocket::denial_body last("ied", false);
    co_await sd(last);
}

task<void> closing_early(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.close(1008);
}

task<void> closing_with_reason(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept();
    co_await ws.send_text("closing soon");
    co_await ws.close(4001, "custom close reason");
}

task<void> failing_after_accept(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept();
    const std::string text = co_await ws.receive_text();
    throw std::runtime_error("boom: " + text);
}

task<void> failing_before_accept(scope&, receive, send) {
    throw std::runtime_error("no handshake for you");
    co_return;
}

task<void> returning_silently(scope&, receive r, send) {
    (void)co_await r();
}

task<void> silent(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept();
    (void)co_await ws.receive();  // waits for the client to leave
}

task<void> never_answering(scope&, receive r, send) {
    (void)co_await r();  // the connect
    (void)co_await r();  // waits until the client gives up
}

task<void> invalid_text(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept();
    co_await ws.send_text("\xC3");
}

// Sends 100 messages of 4 KiB, more than the transport buffers, then closes.
task<void> flooding(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept();
    for (int i = 0; i < 100; ++i) {
        const std::string chunk = std::to_string(i) + std::string(4096, '.');
        co_await ws.send_bytes(chunk);
    }
    co_await ws.close();
}

}  // namespace

TEST_CASE("an echo app round-trips text, binary and JSON messages") {
    test_client client(&raw_echo);
    auto session = client.websocket_connect("/ws");
    session.send_text("h\xC3\xA9llo");
    CHECK(session.receive_text() == "h\xC3\xA9llo");
    session.send_bytes(std::string_view("\x00\xFF", 2));
    CHECK(session.receive_bytes() == std::string_view("\x00\xFF", 2));
    session.send_text("");
    CHECK(session.receive_text().empty());
    const json value = {{"list", json::array({1, 2})}};
    session.send_json(value);
    CHECK(session.receive_json() == value);
    session.send_bytes("raw");
    const event raw = session.receive();
    REQUIRE(std::holds_alternative<websocket::receive>(raw));
    CHECK(std::get<websocket::receive>(raw).binary);
    CHECK(std::get<websocket::receive>(raw).data == "raw");
}

TEST_CASE("receiving the other kind of message than the app sent is an error") {
    test_client client(&raw_echo);
    auto session = client.websocket_connect("/ws");
    session.send_bytes("b");
    CHECK_THROWS_AS((void)session.receive_text(), std::runtime_error);
    session.send_text("t");
    CHECK_THROWS_AS((void)session.receive_bytes(), std::runtime_error);
}

TEST_CASE("the app chooses among the offered subprotocols and adds headers to its accept") {
    test_client client(&negotiating);
    SUBCASE("both offered") {
        auto session = client.websocket_connect(
            "/ws", {.subprotocols = {"chat.v1", "chat.v2"}});
        CHECK(session.accepted_subprotocol() == "chat.v2");
        CHECK(session.headers().get("x-ws-extra") == "accepted");
        const json report = session.receive_json();
        CHECK(report["offered"] == json::array({"chat.v1", "chat.v2"}));
        CHECK(report["header"].as_string() == "chat.v1, chat.v2");
    }
    SUBCASE("none offered") {
        auto session = client.websocket_connect("/ws");
        CHECK_FALSE(session.accepted_subprotocol());
        CHECK(session.receive_json()["offered"] == json::array());
    }
}

TEST_CASE("a denial response is surfaced with its status, headers and body") {
    test_client client(&denying);
    try {
        (void)client.websocket_connect("/ws");
        FAIL("expected a denial");
    } catch (const websocket_denied& denied) {
        const auto& response = denied.response();
        CHECK(response.status == 401);
        CHECK(response.headers.get("x-why") == "token");
        CHECK(response.text() == "denied");
        CHECK(response.url.str() == "ws://testserver/ws");
        CHECK_FALSE(denied.close_code());
    }
}

TEST_CASE("closing before the accept is a 403 denial carrying the close code") {
    test_client client(&closing_early);
    try {
        (void)client.websocket_connect("/ws");
        FAIL("expected a denial");
    } catch (const websocket_denied& denied) {
        CHECK(denied.response().status == 403);
        CHECK(denied.response().content.empty());
        CHECK(denied.close_code() == 1008);
    }
}

TEST_CASE("the app's close code and reason reach the test after its last message") {
    test_client client(&closing_with_reason);
    auto session = client.websocket_connect("/ws");
    CHECK(session.receive_text() == "closing soon");
    try {
        (void)session.receive_text();
        FAIL("expected the close");
    } catch (const websocket_disconnect& closed) {
        CHECK(closed.code() == 4001);
        CHECK(closed.reason() == "custom close reason");
    }
    // The close stays observable, and sending to a closed connection fails the same way.
    const event again = session.receive();
    CHECK(std::get<websocket::close>(again).code == 4001);
    CHECK_THROWS_AS(session.send_text("late"), websocket_disconnect);
}

TEST_CASE("the test's close code and reason reach the app") {
    recording_app app;
    test_client client(app);
    auto session = client.websocket_connect("/ws");
    session.send_text("one");
    session.close(4002, "client reason");
    CHECK(app.log->seen == std::vector<std::string>{"one"});
    CHECK(app.log->disconnect_code == 4002);
    CHECK(app.log->disconnect_reason == "client reason");
    CHECK(app.log->returned);
    CHECK_THROWS_AS(session.send_text("after"), std::logic_error);
    CHECK_NOTHROW(session.close());  // closing twice is harmless
}

TEST_CASE("destroying the session closes with 1000 and lets the app finish") {
    recording_app app;
    test_client client(app);
    {
        auto session = client.websocket_connect("/ws");
        session.send_text("last words");
    }
    CHECK(app.log->seen == std::vector<std::string>{"last words"});
    CHECK(app.log->disconnect_code == 1000);
    CHECK(app.log->returned);
}

TEST_CASE("an exception the app raises after accepting is rethrown by the call observing it") {
    test_client client(&failing_after_accept);
    auto session = client.websocket_connect("/ws");
    session.send_text("x");
    CHECK_THROWS_WITH_AS((void)session.receive_text(), "boom: x", std::runtime_error);
    // Reported once; the connection is then seen closed with 1011.
    try {
        (void)session.receive_text();
        FAIL("expected the close");
    } catch (const websocket_disconnect& closed) {
        CHECK(closed.code() == 1011);
    }
}

TEST_CASE("without raise_server_exceptions an app failure is a close with 1011") {
    test_client client(&failing_after_accept, client_options{.raise_server_exceptions = false});
    auto session = client.websocket_connect("/ws");
    session.send_text("x");
    const event closed = session.receive();
    CHECK(std::get<websocket::close>(closed).code == 1011);
}

TEST_CASE("an app failing before the accept raises from websocket_connect, or answers 500") {
    SUBCASE("raised") {
        test_client client(&failing_before_accept);
        CHECK_THROWS_WITH_AS((void)client.websocket_connect("/ws"), "no handshake for you",
                             std::runtime_error);
    }
    SUBCASE("answered") {
        test_client client(&failing_before_accept,
                           client_options{.raise_server_exceptions = false});
        try {
            (void)client.websocket_connect("/ws");
            FAIL("expected a denial");
        } catch (const websocket_denied& denied) {
            CHECK(denied.response().status == 500);
            CHECK(denied.response().text() == "Internal Server Error");
        }
    }
}

TEST_CASE("an app returning without answering the handshake is a protocol error") {
    test_client client(&returning_silently);
    CHECK_THROWS_WITH_AS((void)client.websocket_connect("/ws"),
                         doctest::Contains("without accepting"), protocol_error);
}

TEST_CASE("an app sending text that is not UTF-8 fails with a protocol error") {
    test_client client(&invalid_text);
    auto session = client.websocket_connect("/ws");
    CHECK_THROWS_AS((void)session.receive_text(), protocol_error);
}

TEST_CASE("the test cannot send text that is not UTF-8") {
    test_client client(&raw_echo);
    auto session = client.websocket_connect("/ws");
    CHECK_THROWS_AS(session.send_text("\xFF"), std::invalid_argument);
}

TEST_CASE("waits are bounded: an app that never sends raises test_timeout") {
    test_client client(&silent);
    auto session = client.websocket_connect("/ws");
    CHECK_THROWS_AS((void)session.receive_text(20ms), test_timeout);
    // The session is still usable and closes cleanly.
    CHECK_NOTHROW(session.close());
}

TEST_CASE("a handshake the app never answers raises test_timeout") {
    test_client client(&never_answering);
    CHECK_THROWS_AS((void)client.websocket_connect("/ws", {.timeout = 20ms}), test_timeout);
}

TEST_CASE("an app sending more than the transport buffers waits for the test to read") {
    test_client client(&flooding);
    auto session = client.websocket_connect("/ws");
    for (int i = 0; i < 100; ++i) {
        const std::string chunk = session.receive_bytes();
        REQUIRE(chunk == std::to_string(i) + std::string(4096, '.'));
    }
    CHECK_THROWS_AS((void)session.receive_bytes(), websocket_disconnect);
}

TEST_CASE("the scope carries the path, query, cookies, handshake headers and app state") {
    test_client client(&describing,
                       client_options{.root_path = "/api", .headers = {{"x-client", "1"}}});
    client.cookies().emplace_back("session", "abc");
    client.app_state()->set("greeting", std::string("hi"));
    auto session = client.websocket_connect(
        "/rooms/a%20b?token=t1",
        {.headers = {{"x-parity", "yes"}}, .params = {{"x", "1"}}, .cookies = {{"extra", "2"}}});
    const json report = session.receive_json();
    CHECK(report["type"].as_string() == "websocket");
    CHECK(report["scheme"].as_string() == "ws");
    CHECK(report["path"].as_string() == "/api/rooms/a b");
    CHECK(report["raw_path"].as_string() == "/api/rooms/a%20b");
    CHECK(report["root_path"].as_string() == "/api");
    CHECK(report["query"].as_string() == "token=t1&x=1");
    CHECK(report["token"].as_string() == "t1");
    CHECK(report["url"].as_string() == "ws://testserver/api/rooms/a%20b?token=t1&x=1");
    CHECK(report["cookies"] == json{{"session", "abc"}, {"extra", "2"}});
    const json& fields = report["headers"];
    CHECK(fields["host"].as_string() == "testserver");
    CHECK(fields["connection"].as_string() == "upgrade");
    CHECK(fields["upgrade"].as_string() == "websocket");
    CHECK(fields["sec-websocket-version"].as_string() == "13");
    CHECK(fields["sec-websocket-key"].as_string().size() == 24);
    CHECK(fields["x-client"].as_string() == "1");
    CHECK(fields["x-parity"].as_string() == "yes");
    CHECK_FALSE(fields.contains("sec-websocket-protocol"));
    CHECK(report["client"].as_string() == "testclient:50000");
    CHECK(report["shared"].as_bool());
}

TEST_CASE("a secure base URL gives the wss scheme") {
    test_client client(&describing, client_options{.base_url = "https://example.com:8443"});
    auto session = client.websocket_connect("/ws");
    const json report = session.receive_json();
    CHECK(report["scheme"].as_string() == "wss");
    CHECK(report["url"].as_string() == "wss://example.com:8443/ws");
}

namespace {
// The app of the testing guide's example (docs/testing.md).
task<void> guide_chat(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept("chat.v2");
    const std::string text = co_await ws.receive_text();
    co_await ws.send_text("echo: " + text);
    const json value = co_await ws.receive_json();
    co_await ws.send_json(value);
    json room;
    room["room"] = std::string(ws.query_params().get_or("room"));
    co_await ws.send_json(room);
}
}  // namespace

TEST_CASE("the testing guide's WebSocket example runs as written") {
    const any_app app(&guide_chat);
    testing::test_client client(app);
    auto ws = client.websocket_connect("/chat", {.subprotocols = {"chat.v2", "chat.v1"},
                                                 .params = {{"room", "lobby"}}});
    CHECK(ws.accepted_subprotocol() == "chat.v2");
    ws.send_text("hello");
    CHECK(ws.receive_text() == "echo: hello");
    ws.send_json(json{{"n", 1}});
    CHECK(ws.receive_json()["n"].as_int64() == 1);
    CHECK(ws.receive_json()["room"].as_string() == "lobby");
    ws.close(1000);
}
