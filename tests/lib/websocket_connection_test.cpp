#include <doctest/doctest.h>

#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "tessera/sync_wait.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/websocket_connection.hpp"
#include "send_delivery.hpp"

using namespace tessera;
using tessera::testing::test_client;
using tessera::testing::websocket_denied;

namespace {

// A scripted transport for driving a connection directly: `receive` hands out the queued
// events, `send` records what the app sent (copying the views) and raises client_disconnected
// once `gone` is set.
struct scripted {
    std::deque<event> incoming;
    std::vector<std::string> sent;  // event names, with a message's text
    bool gone = false;

    task<event> next() {
        if (incoming.empty()) co_return websocket::disconnect{1006};
        event e = std::move(incoming.front());
        incoming.pop_front();
        co_return e;
    }
    // How `emit` delivers (lazy: as the test client's send).
    using delivery = test_support::delivery;
    delivery mode = delivery::lazy;

    task<void> emit(event e) {
        return test_support::deliver(mode, std::move(e),
                                     [this](const event& delivered) { record(delivered); });
    }
    void record(const event& e) {
        if (gone && !std::holds_alternative<websocket::close>(e)) throw client_disconnected();
        std::string entry(event_name(e));
        if (const auto* message = std::get_if<websocket::send>(&e)) {
            entry += message->binary ? " bytes " : " text ";
            entry += message->data;
        }
        sent.push_back(std::move(entry));
    }
};

scope ws_scope() {
    scope s;
    s.type = scope_type::websocket;
    s.scheme = "ws";
    s.path = "/ws";
    s.raw_path = "/ws";
    s.headers = headers{{"host", "example.com"}};
    return s;
}

// Runs `body` over a connection on the scripted transport.
template <class Body>
void with_connection(scripted& script, scope& s, Body body) {
    receive_member<scripted, &scripted::next> r{&script};
    send_member<scripted, &scripted::emit> sd{&script};
    websocket_connection ws(s, receive(r), send(sd));
    sync_wait(body(ws));
}

// The message of the E that awaiting `work` raised; nothing when it raised nothing. (Awaiting
// inside doctest's assertion macros is avoided.)
template <class E, class T>
task<std::optional<std::string>> error_of(task<T> work) {
    try {
        (void)co_await std::move(work);
    } catch (const E& error) {
        co_return std::string(error.what());
    }
    co_return std::nullopt;
}

// What the echo apps below saw, shared with the test.
struct transcript {
    std::vector<std::string> seen;
    std::optional<int> disconnect_code;
    bool finished = false;
};

// Echoes each kind with the matching typed calls; JSON messages come back wrapped.
task<void> typed_echo(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept();
    const std::string text = co_await ws.receive_text();
    co_await ws.send_text("text: " + text);
    const std::string bytes = co_await ws.receive_bytes();
    co_await ws.send_bytes(bytes + "!");
    json value = co_await ws.receive_json();
    json reply;
    reply["got"] = std::move(value);
    co_await ws.send_json(reply);
    co_await ws.close();
}

struct iterating_app {
    std::shared_ptr<transcript> log = std::make_shared<transcript>();
    task<void> operator()(scope& s, receive r, send sd) const {
        websocket_connection ws(s, r, sd);
        co_await ws.accept();
        auto messages = ws.iter_text();
        while (auto text = co_await messages.next()) log->seen.push_back(*text);
        log->finished = ws.client_state() == websocket_state::disconnected;
    }
};

struct json_iterating_app {
    std::shared_ptr<transcript> log = std::make_shared<transcript>();
    task<void> operator()(scope& s, receive r, send sd) const {
        websocket_connection ws(s, r, sd);
        co_await ws.accept();
        auto values = ws.iter_json();
        while (auto value = co_await values.next()) log->seen.push_back(value->dump());
        log->finished = ws.client_state() == websocket_state::disconnected;
    }
};

task<void> wants_text(websocket_connection& ws) {
    co_await ws.accept();
    const std::string text = co_await ws.receive_text();
    co_await ws.send_text(text);
}

task<void> wants_json(websocket_connection& ws) {
    co_await ws.accept();
    const json value = co_await ws.receive_json();
    co_await ws.send_json(value);
}

task<void> rejects_late(websocket_connection& ws) {
    co_await ws.accept();
    const std::string text = co_await ws.receive_text();
    throw websocket_error(4400, "rejected: " + text);
}

task<void> rejects_early(websocket_connection&) {
    throw websocket_error(4403, "rejected early");
    co_return;
}

template <task<void> (*Handler)(websocket_connection&)>
task<void> guarded(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await run_websocket_handler(ws, Handler(ws));
}

}  // namespace

TEST_CASE("a websocket_connection needs a WebSocket scope") {
    scope http;
    scripted script;
    receive_member<scripted, &scripted::next> r{&script};
    send_member<scripted, &scripted::emit> sd{&script};
    CHECK_THROWS_AS(websocket_connection(http, receive(r), send(sd)), std::invalid_argument);
}

TEST_CASE("text, bytes and JSON round-trip through the typed calls") {
    test_client client(&typed_echo);
    auto session = client.websocket_connect("/ws");
    session.send_text("hello");
    CHECK(session.receive_text() == "text: hello");
    session.send_bytes(std::string_view("\x00\x01", 2));
    CHECK(session.receive_bytes() == std::string_view("\x00\x01!", 3));
    const json value = {{"n", 1}};
    session.send_json(value);
    CHECK(session.receive_json()["got"]["n"].as_int64() == 1);
    const auto closed = session.receive();
    REQUIRE(std::holds_alternative<websocket::close>(closed));
    CHECK(std::get<websocket::close>(closed).code == 1000);
}

TEST_CASE("iterating messages ends quietly when the client disconnects") {
    iterating_app app;
    test_client client(app);
    {
        auto session = client.websocket_connect("/ws");
        session.send_text("a");
        session.send_text("b");
        session.close(1001);
    }
    CHECK(app.log->seen == std::vector<std::string>{"a", "b"});
    CHECK(app.log->finished);
}

TEST_CASE("iterating JSON parses every message, text or binary") {
    json_iterating_app app;
    test_client client(app);
    {
        auto session = client.websocket_connect("/ws");
        session.send_text("[1, 2]");
        session.send_bytes("{\"a\":true}");
    }
    CHECK(app.log->seen == std::vector<std::string>{"[1,2]", "{\"a\":true}"});
    CHECK(app.log->finished);
}

TEST_CASE("a message of the wrong kind closes the connection with 1003") {
    test_client client(&guarded<&wants_text>);
    auto session = client.websocket_connect("/ws");
    session.send_bytes("binary");
    try {
        (void)session.receive_text();
        FAIL("expected the app to close");
    } catch (const websocket_disconnect& closed) {
        CHECK(closed.code() == 1003);
        CHECK(closed.reason() == "expected a text message, received a binary one");
    }
}

TEST_CASE("a message that is not JSON closes the connection with 1003") {
    test_client client(&guarded<&wants_json>);
    auto session = client.websocket_connect("/ws");
    session.send_text("{not json");
    const auto closed = session.receive();
    REQUIRE(std::holds_alternative<websocket::close>(closed));
    CHECK(std::get<websocket::close>(closed).code == 1003);
}

TEST_CASE("run_websocket_handler closes with the code of a websocket_error after the accept") {
    test_client client(&guarded<&rejects_late>);
    auto session = client.websocket_connect("/ws");
    session.send_text("T");
    try {
        (void)session.receive_text();
        FAIL("expected the app to close");
    } catch (const websocket_disconnect& closed) {
        CHECK(closed.code() == 4400);
        CHECK(closed.reason() == "rejected: T");
    }
}

TEST_CASE("run_websocket_handler refuses the handshake for a websocket_error before the accept") {
    test_client client(&guarded<&rejects_early>);
    try {
        (void)client.websocket_connect("/ws");
        FAIL("expected a denial");
    } catch (const websocket_denied& denied) {
        CHECK(denied.response().status == 403);
        CHECK(denied.close_code() == 4403);
    }
}

TEST_CASE("run_websocket_handler ends quietly when the client has left") {
    scripted script;
    script.incoming.push_back(websocket::connect{});
    script.incoming.push_back(websocket::disconnect{1001});
    scope s = ws_scope();
    with_connection(script, s, [](websocket_connection& ws) -> task<void> {
        co_await run_websocket_handler(ws, wants_text(ws));
        CHECK(ws.client_state() == websocket_state::disconnected);
    });
    CHECK(script.sent == std::vector<std::string>{"websocket.accept"});
}

TEST_CASE("a websocket_error needs a sendable code and a short UTF-8 reason") {
    CHECK(websocket_error(4000, "ok").code() == 4000);
    CHECK(std::string(websocket_error(4001, "why").what()) == "websocket error 4001: why");
    CHECK_THROWS_AS(websocket_error(1006), std::invalid_argument);
    CHECK_THROWS_AS(websocket_error(5000), std::invalid_argument);
    CHECK_THROWS_AS(websocket_error(1000, std::string(124, 'x')), std::invalid_argument);
    CHECK_THROWS_AS(websocket_error(1000, "\xFF"), std::invalid_argument);
    const websocket_unsupported_data wrong("expected text");
    CHECK(wrong.code() == 1003);
}

TEST_CASE("both sides' states follow the connection's life") {
    scripted script;
    script.incoming.push_back(websocket::connect{});
    script.incoming.push_back(websocket::receive{"hi", false});
    script.incoming.push_back(websocket::disconnect{1000, "done"});
    scope s = ws_scope();
    with_connection(script, s, [](websocket_connection& ws) -> task<void> {
        using enum websocket_state;
        CHECK(ws.client_state() == connecting);
        CHECK(ws.application_state() == connecting);
        co_await ws.accept();  // receives the connect first
        CHECK(ws.client_state() == connected);
        CHECK(ws.application_state() == connected);
        const std::string text = co_await ws.receive_text();
        CHECK(text == "hi");
        try {
            (void)co_await ws.receive_text();
            FAIL("expected the disconnect");
        } catch (const websocket_disconnect& gone) {
            CHECK(gone.code() == 1000);
            CHECK(gone.reason() == "done");
        }
        CHECK(ws.client_state() == disconnected);
        // Refused before the transport is asked again, by receive and the typed receives alike.
        const std::string refused =
            "websocket_connection: cannot receive once the disconnect has been received";
        const auto again = co_await error_of<std::logic_error>(ws.receive());
        CHECK(again == refused);
        const auto again_text = co_await error_of<std::logic_error>(ws.receive_text());
        CHECK(again_text == refused);
        co_await ws.close();  // after the client left: not an error
        CHECK(ws.application_state() == disconnected);
    });
    CHECK(script.sent == std::vector<std::string>{"websocket.accept", "websocket.close"});
}

TEST_CASE("receiving before the accept and sending after the close are refused") {
    scripted script;
    script.incoming.push_back(websocket::connect{});
    scope s = ws_scope();
    with_connection(script, s, [](websocket_connection& ws) -> task<void> {
        const auto unaccepted = co_await error_of<std::logic_error>(ws.receive_text());
        CHECK(unaccepted);
        const auto early = co_await error_of<protocol_error>(ws.send_text("early"));
        CHECK(early == "the app sent websocket.send before websocket.accept");
        co_await ws.accept();
        co_await ws.close(4000, "bye");
        const auto late = co_await error_of<protocol_error>(ws.send_text("late"));
        CHECK(late);
    });
    CHECK(script.sent == std::vector<std::string>{"websocket.accept", "websocket.close"});
}

TEST_CASE("a send the transport cannot deliver raises websocket_disconnect with 1006") {
    using delivery = scripted::delivery;
    for (const auto mode : {delivery::lazy, delivery::eager, delivery::at_call}) {
        CAPTURE(static_cast<int>(mode));
        scripted script;
        script.mode = mode;
        script.incoming.push_back(websocket::connect{});
        scope s = ws_scope();
        with_connection(script, s, [&script](websocket_connection& ws) -> task<void> {
            co_await ws.accept();
            script.gone = true;
            try {
                co_await ws.send_text("anyone?");
                FAIL("expected the disconnect");
            } catch (const websocket_disconnect& gone) {
                CHECK(gone.code() == 1006);
            }
            CHECK(ws.application_state() == websocket_state::disconnected);
        });
    }
}

TEST_CASE("over a send that finishes at once, as the server's, states and refusals are the same") {
    scripted script;
    script.mode = scripted::delivery::eager;
    script.incoming.push_back(websocket::connect{});
    scope s = ws_scope();
    with_connection(script, s, [&script](websocket_connection& ws) -> task<void> {
        const auto early = co_await error_of<protocol_error>(ws.send_text("early"));
        CHECK(early == "the app sent websocket.send before websocket.accept");
        CHECK(ws.application_state() == websocket_state::connecting);
        co_await ws.accept();
        CHECK(ws.application_state() == websocket_state::connected);
        co_await ws.send_text("one");
        co_await ws.send_bytes("two");
        CHECK(ws.application_state() == websocket_state::connected);
    });
    CHECK(script.sent ==
          std::vector<std::string>{"websocket.accept", "websocket.send text one",
                                   "websocket.send bytes two"});
}

TEST_CASE("a denial response is sent through the raw send") {
    scripted script;
    scope s = ws_scope();
    with_connection(script, s, [](websocket_connection& ws) -> task<void> {
        const websocket::denial_start start(401);
        co_await ws.send(start);
        CHECK(ws.application_state() == websocket_state::response);
        const websocket::denial_body body("no");
        co_await ws.send(body);
        CHECK(ws.application_state() == websocket_state::disconnected);
    });
    CHECK(script.sent == std::vector<std::string>{"websocket.http.response.start",
                                                  "websocket.http.response.body"});
}

TEST_CASE("the connection exposes the scope's URL, query, cookies, headers and state") {
    scripted script;
    scope s = ws_scope();
    s.raw_path = "/rooms/lobby";
    s.path = "/rooms/lobby";
    s.query_string = "token=abc&x=1";
    s.headers.append("cookie", "theme=dark");
    s.subprotocols = {"chat.v2", "chat.v1"};
    s.client = address{"10.0.0.1", 5000};
    s.path_params.set("room", std::string("lobby"));
    s.app_state = std::make_shared<state>();
    s.app_state->set("greeting", std::string("hi"));
    with_connection(script, s, [](websocket_connection& ws) -> task<void> {
        CHECK(ws.url().str() == "ws://example.com/rooms/lobby?token=abc&x=1");
        CHECK(ws.base_url().str() == "ws://example.com/");
        CHECK(ws.query_params().get("token") == "abc");
        CHECK(ws.cookie("theme") == "dark");
        CHECK(ws.headers().get("host") == "example.com");
        CHECK(ws.subprotocols() == std::vector<std::string>{"chat.v2", "chat.v1"});
        CHECK(ws.client()->host == "10.0.0.1");
        CHECK(ws.path_params().get<std::string>("room") == "lobby");
        CHECK(ws.app_state().get<std::string>("greeting") == "hi");
        ws.state().set("user", std::string("ada"));
        CHECK(ws.scope().state.get<std::string>("user") == "ada");
        co_return;
    });
}

namespace {
// The handler of the WebSocket guide (docs/websocket.md), as written there.
task<void> guarded_chat(websocket_connection& ws) {
    if (!ws.cookie("token")) throw websocket_error(4401, "login first");  // before accept: 403
    co_await ws.accept();
    const std::string name = co_await ws.receive_text();  // bytes here: close 1003
    if (name.empty()) throw websocket_error(4400, "empty name");          // after: close 4400
    co_await ws.send_text("hello " + name);
}

task<void> guide_app(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await run_websocket_handler(ws, guarded_chat(ws));
}
}  // namespace

TEST_CASE("the WebSocket guide's guarded handler behaves as the guide says") {
    test_client client(&guide_app);
    SUBCASE("no token: refused with 403") {
        CHECK_THROWS_AS((void)client.websocket_connect("/chat"), websocket_denied);
    }
    SUBCASE("a name: greeted") {
        client.cookies().emplace_back("token", "t");
        auto ws = client.websocket_connect("/chat");
        ws.send_text("ada");
        CHECK(ws.receive_text() == "hello ada");
    }
    SUBCASE("an empty name: closed with 4400") {
        client.cookies().emplace_back("token", "t");
        auto ws = client.websocket_connect("/chat");
        ws.send_text("");
        const event closed = ws.receive();
        CHECK(std::get<websocket::close>(closed).code == 4400);
        CHECK(std::get<websocket::close>(closed).reason == "empty name");
    }
    SUBCASE("bytes: closed with 1003") {
        client.cookies().emplace_back("token", "t");
        auto ws = client.websocket_connect("/chat");
        ws.send_bytes("ada");
        const event closed = ws.receive();
        CHECK(std::get<websocket::close>(closed).code == 1003);
    }
}

namespace {
// The first example of the WebSocket guide (docs/websocket.md), as written there.
task<void> chat(scope& s, receive r, send sd) {
    websocket_connection ws(s, r, sd);
    co_await ws.accept();                       // or ws.accept("chat.v2", extra_headers)
    auto messages = ws.iter_text();             // ends when the client leaves
    while (auto text = co_await messages.next()) {
        co_await ws.send_text("echo: " + *text);
    }
}
}  // namespace

TEST_CASE("the WebSocket guide's chat example echoes until the client leaves") {
    test_client client(&chat);
    auto ws = client.websocket_connect("/chat");
    ws.send_text("one");
    ws.send_text("two");
    CHECK(ws.receive_text() == "echo: one");
    CHECK(ws.receive_text() == "echo: two");
    CHECK_NOTHROW(ws.close());
}
