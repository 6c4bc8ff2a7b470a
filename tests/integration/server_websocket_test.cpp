// WebSockets over the libuv server: real loopback sockets, a client built on the codec's own
// client-role protocol (ws_client.hpp). Every wait is a bounded read, never a sleep.
#include <doctest/doctest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include <tessera/events.hpp>
#include <tessera/ws/frame.hpp>

#include "ws_client.hpp"

using namespace tessera;
using namespace itest;

namespace {

// What the app saw, for the test thread.
struct ws_probe {
    std::atomic<int> disconnect_code{0};
    std::atomic<int> disconnects_1001{0};  // apps that saw disconnect(1001)
    std::atomic<bool> accepted{false};
    std::atomic<bool> scope_ok{false};  // scheme ws, path, query and subprotocols as sent
    gate go;  // /slow waits for it before receiving
};

// One app for every case, chosen by path:
//   /ws     accepts (choosing "chat.v2" when offered, with an extra `x-ws: yes` header) and
//           echoes; the text "raise" throws, the text "close" closes with 4000 "bye"
//   /reject closes before accepting (403)   /deny answers 401 "login first"
//   /silent returns without answering (500)
//   /slow   accepts, waits for the probe's gate, then echoes
//   /flood  accepts, sends 40 binary messages of 256 KiB numbered in their first byte, closes
//   /later-flood  the same once a first message arrived (the WebSocket was idle meanwhile)
//   /push   accepts, waits for the probe's gate (on a timer), sends "pushed", then echoes
// HTTP requests get "http ok".
task<void> ws_app(scope& s, receive r, tessera::send sd, ws_probe* probe) {
    if (s.type != scope_type::websocket) {
        const http::response_start start(200, headers{{"content-length", "7"}});
        co_await sd(start);
        const http::response_body body("http ok");
        co_await sd(body);
        co_return;
    }
    const event connect = co_await r();
    CHECK(std::holds_alternative<websocket::connect>(connect));
    if (s.path == "/reject") {
        const websocket::close refuse(1000);
        co_await sd(refuse);
        co_return;
    }
    if (s.path == "/deny") {
        const websocket::denial_start start(
            401, headers{{"content-type", "text/plain"}, {"content-length", "11"}});
        co_await sd(start);
        const websocket::denial_body body("login first");
        co_await sd(body);
        co_return;
    }
    if (s.path == "/silent") co_return;
    probe->scope_ok = s.scheme == "ws" && s.path == "/ws" && s.query_string == "room=1" &&
                      s.subprotocols == std::vector<std::string>{"chat.v1", "chat.v2"} &&
                      s.client.has_value() && s.headers.get("upgrade") == "websocket";
    std::optional<std::string> chosen;
    for (const auto& offered : s.subprotocols) {
        if (offered == "chat.v2") chosen = offered;
    }
    const websocket::accept accept(chosen, headers{{"x-ws", "yes"}});
    co_await sd(accept);
    probe->accepted = true;
    if (s.path == "/slow") co_await wait_for(probe->go);
    if (s.path == "/push") {
        co_await wait_for(probe->go);
        const websocket::send pushed(std::string_view("pushed"), false);
        co_await sd(pushed);
    }
    if (s.path == "/later-flood") {
        const event first = co_await r();
        CHECK(std::holds_alternative<websocket::receive>(first));
    }
    if (s.path == "/flood" || s.path == "/later-flood") {
        std::string payload(256 * 1024, 'f');
        for (int i = 0; i < 40; ++i) {
            payload[0] = static_cast<char>(i);
            const websocket::send piece(payload, true);
            co_await sd(piece);  // waits while the client has not read enough
        }
        const websocket::close done(1000);
        co_await sd(done);
    }
    for (;;) {
        const event e = co_await r();
        if (const auto* gone = std::get_if<websocket::disconnect>(&e)) {
            probe->disconnect_code = gone->code;
            if (gone->code == 1001) ++probe->disconnects_1001;
            co_return;
        }
        const auto& message = std::get<websocket::receive>(e);
        if (!message.binary && message.data == "raise") throw std::runtime_error("app failure");
        if (!message.binary && message.data == "close") {
            const websocket::close bye(4000, "bye");
            co_await sd(bye);
            continue;  // the client's answer arrives as the disconnect
        }
        const websocket::send echo(message.data, message.binary);
        co_await sd(echo);
    }
}

struct fixture {
    ws_probe probe;
    std::function<task<void>(scope&, receive, tessera::send)> app;
    running_server server;

    explicit fixture(server_options options = quiet())
        : app([this](scope& s, receive r, tessera::send sd) {
              return ws_app(s, std::move(r), std::move(sd), &probe);
          }),
          server(any_app(app), std::move(options)) {}

    ws_client open(std::string_view target = "/ws", std::string_view extra = {},
                   bool deflate = false) {
        ws_client c(server.port());
        const auto response = c.handshake(target, extra, deflate);
        REQUIRE(response);
        REQUIRE(response->status == 101);
        REQUIRE(c.accepted);
        return c;
    }
};

std::string masked(ws::opcode op, bool fin, std::string_view payload) {
    std::string frame;
    ws::append_masked_frame(frame, op, fin, false, payload, ws::mask_key{1, 2, 3, 4});
    return frame;
}

}  // namespace

TEST_CASE("a WebSocket handshake is accepted with the right key, the app's subprotocol and extra headers") {
    fixture f;
    ws_client c(f.server.port());
    const auto response =
        c.handshake("/ws?room=1", "Sec-WebSocket-Protocol: chat.v1, chat.v2\r\n");
    REQUIRE(response);
    CHECK(f.probe.scope_ok);
    CHECK(response->status == 101);
    CHECK(response->header("sec-websocket-accept") == ws::accept_key(c.key));
    CHECK(c.accepted);
    CHECK(response->header("sec-websocket-protocol") == "chat.v2");
    CHECK(response->header("x-ws") == "yes");
    CHECK(response->count("sec-websocket-extensions") == 0);
}

TEST_CASE("default_headers reach the handshake's 101 and a denial, and yield to the app's fields") {
    auto options = quiet();
    options.default_headers = {{"x-frame-options", "DENY"}, {"x-ws", "default"}};
    fixture f(options);
    ws_client c(f.server.port());
    const auto accepted = c.handshake("/ws");
    REQUIRE(accepted);
    CHECK(accepted->status == 101);
    CHECK(c.accepted);
    CHECK(accepted->header("x-frame-options") == "DENY");
    CHECK(accepted->count("x-ws") == 1);
    CHECK(accepted->header("x-ws") == "yes");  // the app's accept header wins
    c.send_text("still a WebSocket");
    const auto echo = c.next_skipping_control();
    CHECK(echo.what == ws_event::kind::message);
    CHECK(echo.data == "still a WebSocket");
    ws_client denied(f.server.port());
    const auto denial = denied.handshake("/deny");
    REQUIRE(denial);
    CHECK(denial->status == 401);
    CHECK(denial->header("x-frame-options") == "DENY");
    CHECK(denial->body == "login first");
}

TEST_CASE("text and binary messages round-trip, fragmented and large ones included") {
    fixture f;
    ws_client c = f.open();
    c.send_text("hello");
    auto e = c.next_skipping_control();
    CHECK(e.what == ws_event::kind::message);
    CHECK(e.data == "hello");
    CHECK_FALSE(e.binary);

    c.send_binary(std::string("\x00\x01\xff", 3));
    e = c.next_skipping_control();
    CHECK(e.data == std::string("\x00\x01\xff", 3));
    CHECK(e.binary);

    // A text message in three fragments, the middle one cutting a UTF-8 sequence.
    const std::string text = "caf\xc3\xa9 au lait";
    c.send_raw(masked(ws::opcode::text, false, text.substr(0, 4)) +
               masked(ws::opcode::continuation, false, text.substr(4, 3)) +
               masked(ws::opcode::continuation, true, text.substr(7)));
    e = c.next_skipping_control();
    CHECK(e.data == text);

    std::string big(1024 * 1024, 'x');
    for (std::size_t i = 0; i < big.size(); i += 97) big[i] = static_cast<char>('a' + i % 26);
    c.send_binary(big);
    e = c.next_skipping_control();
    CHECK(e.what == ws_event::kind::message);
    CHECK(e.data == big);

    c.send_close(1000, "done");
    e = c.next_skipping_control();
    CHECK(e.what == ws_event::kind::close);
    CHECK(e.code == 1000);
    CHECK(c.wait_closed());
    CHECK(eventually([&] { return f.probe.disconnect_code.load() == 1000; }));
}

TEST_CASE("a client ping is answered with a pong carrying its payload") {
    fixture f;
    ws_client c = f.open();
    c.send_ping("are you there");
    const auto e = c.next();
    CHECK(e.what == ws_event::kind::pong);
    CHECK(e.data == "are you there");
}

TEST_CASE("a malformed handshake is answered 400, an unknown version 426 with the version spoken") {
    fixture f;
    client c = f.server.connect();
    auto r = c.roundtrip(get("/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                    "Sec-WebSocket-Version: 13\r\n"));
    REQUIRE(r);
    CHECK(r->status == 400);

    client c2 = f.server.connect();
    r = c2.roundtrip(get("/ws", "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                "Sec-WebSocket-Version: 8\r\n"));
    REQUIRE(r);
    CHECK(r->status == 426);
    CHECK(r->header("sec-websocket-version") == "13");
    CHECK_FALSE(f.probe.accepted);
}

TEST_CASE("closing before accepting answers 403, a denial is the app's response, silence is 500") {
    fixture f;
    {
        ws_client c(f.server.port());
        const auto r = c.handshake("/reject");
        REQUIRE(r);
        CHECK(r->status == 403);
        CHECK(c.conn.wait_closed());
    }
    {
        ws_client c(f.server.port());
        const auto r = c.handshake("/deny");
        REQUIRE(r);
        CHECK(r->status == 401);
        CHECK(r->body == "login first");
        CHECK(r->header("connection") == "close");
        CHECK(c.conn.wait_closed());
    }
    {
        ws_client c(f.server.port());
        const auto r = c.handshake("/silent");
        REQUIRE(r);
        CHECK(r->status == 500);
    }
}

TEST_CASE("the server's keepalive pings, answered, keep the connection open") {
    auto options = quiet();
    options.ws_ping_interval = std::chrono::milliseconds(20);
    options.ws_ping_timeout = std::chrono::milliseconds(2000);
    fixture f(options);
    ws_client c = f.open();
    for (int i = 0; i < 3; ++i) {
        const auto e = c.next();
        REQUIRE(e.what == ws_event::kind::ping);
    }
    c.send_text("still here");
    const auto e = c.next_skipping_control();
    CHECK(e.what == ws_event::kind::message);
    CHECK(e.data == "still here");
}

TEST_CASE("a client that ignores pings is closed with 1011 and the app sees 1006") {
    auto options = quiet();
    options.ws_ping_interval = std::chrono::milliseconds(20);
    options.ws_ping_timeout = std::chrono::milliseconds(40);
    fixture f(options);
    ws_client c = f.open();
    c.answer_pings = false;
    CHECK(c.next().what == ws_event::kind::ping);
    const auto e = c.next_skipping_control();
    CHECK(e.what == ws_event::kind::close);
    CHECK(e.code == 1011);
    CHECK(c.conn.wait_closed());
    CHECK(eventually([&] { return f.probe.disconnect_code.load() == 1006; }));
}

TEST_CASE("protocol violations close with their codes: 1009 too big, 1007 bad UTF-8, 1002 unmasked") {
    auto options = quiet();
    options.ws_max_message_size = 1024;
    fixture f(options);
    {
        ws_client c = f.open();
        c.send_binary(std::string(2000, 'b'));
        const auto e = c.next_skipping_control();
        CHECK(e.what == ws_event::kind::close);
        CHECK(e.code == 1009);
        CHECK(c.wait_closed());
        CHECK(eventually([&] { return f.probe.disconnect_code.load() == 1009; }));
    }
    {
        ws_client c = f.open();
        c.send_raw(masked(ws::opcode::text, true, "ok \xff"));
        const auto e = c.next_skipping_control();
        CHECK(e.what == ws_event::kind::close);
        CHECK(e.code == 1007);
        CHECK(c.wait_closed());
    }
    {
        ws_client c = f.open();
        std::string frame;
        ws::append_frame(frame, ws::opcode::text, true, false, "unmasked");
        c.send_raw(frame);
        const auto e = c.next_skipping_control();
        CHECK(e.what == ws_event::kind::close);
        CHECK(e.code == 1002);
        CHECK(c.wait_closed());
    }
}

TEST_CASE("the app closing, or raising after accepting, reaches the client as 4000 or 1011") {
    fixture f;
    {
        ws_client c = f.open();
        c.send_text("close");
        const auto e = c.next_skipping_control();
        CHECK(e.what == ws_event::kind::close);
        CHECK(e.code == 4000);
        CHECK(e.reason == "bye");
        CHECK(c.wait_closed());
        CHECK(eventually([&] { return f.probe.disconnect_code.load() == 4000; }));
    }
    {
        ws_client c = f.open();
        c.send_text("raise");
        const auto e = c.next_skipping_control();
        CHECK(e.what == ws_event::kind::close);
        CHECK(e.code == 1011);
        CHECK(c.wait_closed());
    }
}

TEST_CASE("a client that disappears is a disconnect with 1006 for the app") {
    fixture f;
    {
        ws_client c = f.open();
        c.send_text("x");
        CHECK(c.next_skipping_control().data == "x");
        c.conn.reset();
    }
    CHECK(eventually([&] { return f.probe.disconnect_code.load() == 1006; }));
}

TEST_CASE("a graceful shutdown closes open WebSockets with 1001 and the server stops") {
    fixture f;
    ws_client c = f.open();
    c.send_text("x");
    CHECK(c.next_skipping_control().data == "x");
    std::thread stopper([&] { f.server.srv.stop(); });
    const auto e = c.next_skipping_control();
    CHECK(e.what == ws_event::kind::close);
    CHECK(e.code == 1001);
    CHECK(c.wait_closed());
    stopper.join();
    CHECK(f.probe.disconnect_code.load() == 1001);
}

TEST_CASE("permessage-deflate is negotiated when offered and compressed messages round-trip") {
    fixture f;
    ws_client c = f.open("/ws", {}, true);
    REQUIRE(c.proto->options().deflate.has_value());
    std::string text;
    for (int i = 0; i < 500; ++i) text += "compress me please " + std::to_string(i % 7) + " ";
    c.send_text(text);
    const auto e = c.next_skipping_control();
    CHECK(e.what == ws_event::kind::message);
    CHECK(e.data == text);
}

TEST_CASE("permessage-deflate is declined when the server turns it off") {
    auto options = quiet();
    options.ws_per_message_deflate = false;
    fixture f(options);
    ws_client c = f.open("/ws", {}, true);
    CHECK_FALSE(c.proto->options().deflate.has_value());
    c.send_text("plain");
    CHECK(c.next_skipping_control().data == "plain");
}

TEST_CASE("HTTP keep-alive connections are served while a WebSocket is open") {
    fixture f;
    ws_client ws = f.open();
    client http = f.server.connect();
    for (int i = 0; i < 2; ++i) {
        const auto r = http.roundtrip(get("/plain"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == "http ok");
    }
    ws.send_text("still open");
    CHECK(ws.next_skipping_control().data == "still open");
}

TEST_CASE("a server refuses WebSocket options that cannot work") {
    auto options = quiet();
    options.ws_max_message_size = 0;
    CHECK_THROWS_AS(server(any_app(path_echo), options), std::invalid_argument);
    options = quiet();
    options.ws_close_timeout = std::chrono::milliseconds(0);
    CHECK_THROWS_AS(server(any_app(path_echo), options), std::invalid_argument);
    options = quiet();
    options.ws_ping_interval = std::chrono::milliseconds(-1);
    CHECK_THROWS_AS(server(any_app(path_echo), options), std::invalid_argument);
}

TEST_CASE("messages sent before the app receives wait for it, in order, and none is lost") {
    fixture f;
    ws_client c = f.open("/slow");
    std::string burst;
    for (int i = 0; i < 200; ++i) {
        burst += masked(ws::opcode::text, true, "message " + std::to_string(i) + std::string(900, '.'));
    }
    c.send_raw(burst);  // more than the server queues for the app: it stops reading
    f.probe.go.release();
    for (int i = 0; i < 200; ++i) {
        const auto e = c.next_skipping_control();
        REQUIRE(e.what == ws_event::kind::message);
        CHECK(e.data == "message " + std::to_string(i) + std::string(900, '.'));
    }
}

// The /flood and /later-flood apps send 40 messages of 256 KiB, the i-th starting with byte
// i, then close with 1000: every one must arrive, in order, then the close.
void expect_flood_then_close(ws_client& c) {
    for (int i = 0; i < 40; ++i) {
        const auto e = c.next_skipping_control();
        REQUIRE(e.what == ws_event::kind::message);
        CHECK(e.data.size() == 256 * 1024);
        CHECK(static_cast<int>(e.data[0]) == i);
    }
    const auto e = c.next_skipping_control();
    CHECK(e.what == ws_event::kind::close);
    CHECK(e.code == 1000);
    CHECK(c.wait_closed());
}

TEST_CASE("an app sending more than the client reads is held back and every message arrives") {
    fixture f;
    ws_client c = f.open("/flood");
    expect_flood_then_close(c);
}

// An idle WebSocket (nothing to parse, queue or write) gives its I/O state back to the worker's
// pool and takes one again for the next bytes: these cover each way back from idle.

TEST_CASE("a WebSocket idle between messages goes on: messages and pings, again and again") {
    fixture f;
    ws_client c = f.open();
    for (int i = 0; i < 3; ++i) {
        c.send_text("round " + std::to_string(i));
        CHECK(c.next_skipping_control().data == "round " + std::to_string(i));
        c.send_ping("idle ping " + std::to_string(i));
        const auto pong = c.next();
        CHECK(pong.what == ws_event::kind::pong);
        CHECK(pong.data == "idle ping " + std::to_string(i));
    }
    c.send_binary(std::string(100 * 1024, 'b'));  // more than one read
    const auto e = c.next_skipping_control();
    CHECK(e.binary);
    CHECK(e.data == std::string(100 * 1024, 'b'));
}

TEST_CASE("a fragmented message and a frame split across idle periods are put back together") {
    fixture f;
    ws_client c = f.open();
    c.send_raw(masked(ws::opcode::text, false, "first half, "));
    c.send_ping("between");
    // The pong says the fragment was parsed: the WebSocket waits, idle, inside a message.
    const auto pong = c.next();
    CHECK(pong.what == ws_event::kind::pong);
    CHECK(pong.data == "between");
    const std::string last = masked(ws::opcode::continuation, true, "second half");
    c.send_raw(last.substr(0, 3));  // the frame's header, cut: the protocol keeps the part
    c.send_raw(last.substr(3));
    const auto e = c.next_skipping_control();
    CHECK(e.what == ws_event::kind::message);
    CHECK(e.data == "first half, second half");
}

TEST_CASE("an app woken by its own timer sends to its idle WebSocket, which then receives again") {
    fixture f;
    ws_client c = f.open("/push");
    f.probe.go.release();
    const auto pushed = c.next_skipping_control();
    CHECK(pushed.what == ws_event::kind::message);
    CHECK(pushed.data == "pushed");
    c.send_text("after the push");
    CHECK(c.next_skipping_control().data == "after the push");
}

TEST_CASE("an app that sends after its WebSocket went idle is held back and every message arrives") {
    fixture f;
    ws_client c = f.open("/later-flood");
    c.send_text("go");
    expect_flood_then_close(c);
}

TEST_CASE("a client's close to an idle WebSocket is echoed and the app sees its code") {
    fixture f;
    ws_client c = f.open();
    c.send_text("before");
    CHECK(c.next_skipping_control().data == "before");
    c.send_close(1000, "done");
    const auto e = c.next_skipping_control();
    CHECK(e.what == ws_event::kind::close);
    CHECK(e.code == 1000);
    CHECK(c.wait_closed());
    CHECK(eventually([&] { return f.probe.disconnect_code.load() == 1000; }));
}

TEST_CASE("a graceful shutdown closes every idle WebSocket with 1001 and each app sees it") {
    fixture f;
    std::vector<ws_client> clients;
    for (int i = 0; i < 3; ++i) {
        clients.push_back(f.open());
        clients.back().send_text("idle " + std::to_string(i));
        CHECK(clients.back().next_skipping_control().data == "idle " + std::to_string(i));
    }
    std::thread stopper([&] { f.server.srv.stop(); });
    for (auto& c : clients) {
        const auto e = c.next_skipping_control();
        CHECK(e.what == ws_event::kind::close);
        CHECK(e.code == 1001);
        CHECK(c.wait_closed());
    }
    stopper.join();
    CHECK(f.probe.disconnects_1001.load() == 3);
}

TEST_CASE("WebSocket handshakes are access-logged: accepted, 403, the denial's status, 500") {
    log_capture logs;
    auto options = quiet();
    options.access_log = true;
    options.sink = logs.sink();
    fixture f(options);
    ws_client c = f.open("/ws?room=1");
    for (const char* path : {"/reject", "/deny", "/silent"}) {
        ws_client refused(f.server.port());
        REQUIRE(refused.handshake(path));
    }
    const auto has = [&](std::string_view ending) {
        for (const auto& line : logs.of("access")) {
            if (line.size() >= ending.size() && line.starts_with("127.0.0.1:") &&
                line.ends_with(ending)) {
                return true;
            }
        }
        return false;
    };
    CHECK(eventually([&] { return has(R"( - "WebSocket /ws?room=1" [accepted])"); }));
    CHECK(eventually([&] { return has(R"( - "WebSocket /reject" 403)"); }));
    CHECK(eventually([&] { return has(R"( - "WebSocket /deny" 401)"); }));
    CHECK(eventually([&] { return has(R"( - "WebSocket /silent" 500)"); }));
}

TEST_CASE("no WebSocket access-log line is written when the access log is off") {
    log_capture logs;
    auto options = quiet();
    options.sink = logs.sink();
    fixture f(options);
    ws_client c = f.open();
    c.send_text("x");
    CHECK(c.next_skipping_control().data == "x");
    CHECK(logs.of("access").empty());
}
