// websocket_endpoint: on_connect / on_receive / on_disconnect found at compile time, messages
// decoded by T::encoding (1003 for the wrong kind), the disconnect code reaching on_disconnect,
// exceptions closing with 1011 and propagating, HTTP scopes answered 404.
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/exception_middleware.hpp"
#include "tessera/router.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/websocket_endpoint.hpp"
#include "tessera/websocket_route.hpp"

using namespace tessera;
using tessera::testing::test_client;
using tessera::testing::websocket_denied;

namespace {

// What the endpoints saw, shared with the test through a pointer (each connection copies T).
struct journal {
    std::vector<std::string> entries;
    std::vector<int> disconnect_codes;
};

// Echoes text with a per-connection counter: state in T's fields, one copy per connection.
struct text_echo {
    static constexpr auto encoding = websocket_encoding::text;
    std::shared_ptr<journal> log;
    int count = 0;
    task<void> on_receive(websocket_connection& ws, std::string text) {
        ++count;
        co_await ws.send_text(std::to_string(count) + ":" + text);
    }
    task<void> on_disconnect(websocket_connection&, int code) {
        log->disconnect_codes.push_back(code);
        co_return;
    }
};

struct bytes_echo {
    static constexpr auto encoding = websocket_encoding::bytes;
    std::shared_ptr<journal> log;
    task<void> on_receive(websocket_connection& ws, std::string bytes) const {
        co_await ws.send_bytes(bytes);
    }
    task<void> on_disconnect(websocket_connection&, int code) const {
        log->disconnect_codes.push_back(code);
        co_return;
    }
};

// Answers {"double": 2n} to {"n": n}.
struct json_doubler {
    static constexpr auto encoding = websocket_encoding::json;
    std::shared_ptr<journal> log;
    task<void> on_receive(websocket_connection& ws, json value) const {
        json out;
        out["double"] = value["n"].as_int64() * 2;
        co_await ws.send_json(out);
    }
    task<void> on_disconnect(websocket_connection&, int code) const {
        log->disconnect_codes.push_back(code);
        co_return;
    }
};

// No encoding: text and binary payloads both arrive as std::string.
struct any_kind {
    task<void> on_receive(websocket_connection& ws, std::string data) const {
        co_await ws.send_text("got " + std::to_string(data.size()));
    }
};

// Accepts with a subprotocol when the token cookie is there, refuses otherwise.
struct gatekeeper {
    std::shared_ptr<journal> log;
    task<void> on_connect(websocket_connection& ws) const {
        if (!ws.cookie("token")) {
            co_await ws.close(4403);
            co_return;
        }
        co_await ws.accept("chat.v1");
        log->entries.push_back("connected");
    }
    task<void> on_disconnect(websocket_connection&, int code) const {
        log->disconnect_codes.push_back(code);
        co_return;
    }
};

// Raises on "fail" (runtime_error) and "quit" (websocket_error 4000).
struct fragile {
    static constexpr auto encoding = websocket_encoding::text;
    std::shared_ptr<journal> log;
    task<void> on_receive(websocket_connection& ws, std::string text) const {
        if (text == "fail") throw std::runtime_error("on_receive failed");
        if (text == "quit") throw websocket_error(4000, "bye");
        co_await ws.send_text(text);
    }
    task<void> on_disconnect(websocket_connection&, int code) const {
        log->disconnect_codes.push_back(code);
        co_return;
    }
};

// on_connect that forgets to accept or close.
struct undecided {
    task<void> on_connect(websocket_connection&) const { co_return; }
};

struct empty_endpoint {};

int close_code_of(testing::websocket_session& ws) {
    const event next = ws.receive();
    REQUIRE(std::holds_alternative<websocket::close>(next));
    return std::get<websocket::close>(next).code;
}

}  // namespace

TEST_CASE("a text endpoint echoes text with per-connection state and closes 1003 on bytes") {
    auto log = std::make_shared<journal>();
    test_client client(websocket_endpoint(text_echo{log}));
    {
        auto ws = client.websocket_connect("/");
        ws.send_text("a");
        ws.send_text("b");
        CHECK(ws.receive_text() == "1:a");
        CHECK(ws.receive_text() == "2:b");
        ws.close(4001);
    }
    auto ws = client.websocket_connect("/");
    ws.send_text("c");
    CHECK(ws.receive_text() == "1:c");  // a fresh copy of T
    ws.send_bytes("x");
    CHECK(close_code_of(ws) == 1003);
    CHECK(log->disconnect_codes == std::vector<int>{4001, 1003});
}

TEST_CASE("a bytes endpoint echoes binary messages and closes 1003 on text") {
    auto log = std::make_shared<journal>();
    test_client client(websocket_endpoint(bytes_echo{log}));
    auto ws = client.websocket_connect("/");
    const std::string payload("\x00\x01\xfe", 3);
    ws.send_bytes(payload);
    CHECK(ws.receive_bytes() == payload);
    ws.send_text("text");
    CHECK(close_code_of(ws) == 1003);
    CHECK(log->disconnect_codes == std::vector<int>{1003});
}

TEST_CASE("a json endpoint parses text and binary JSON and closes 1003 on malformed JSON") {
    auto log = std::make_shared<journal>();
    test_client client(websocket_endpoint(json_doubler{log}));
    auto ws = client.websocket_connect("/");
    ws.send_json(json{{"n", 21}});
    CHECK(ws.receive_json()["double"].as_int64() == 42);
    ws.send_bytes(R"({"n": 2})");
    CHECK(ws.receive_json()["double"].as_int64() == 4);
    ws.send_text("{not json");
    CHECK(close_code_of(ws) == 1003);
    CHECK(log->disconnect_codes == std::vector<int>{1003});
}

TEST_CASE("without an encoding both kinds reach on_receive as strings") {
    static_assert(websocket_endpoint<any_kind>::encoding == websocket_encoding::any);
    test_client client(websocket_endpoint<any_kind>{});
    auto ws = client.websocket_connect("/");
    ws.send_text("abc");
    CHECK(ws.receive_text() == "got 3");
    ws.send_bytes("ab");
    CHECK(ws.receive_text() == "got 2");
}

TEST_CASE("an endpoint without members accepts and ends when the client leaves") {
    test_client client(websocket_endpoint<empty_endpoint>{});
    auto ws = client.websocket_connect("/");
    ws.send_text("ignored");
    ws.close();
}

TEST_CASE("on_connect closing refuses the handshake; accepting takes a subprotocol") {
    auto log = std::make_shared<journal>();
    test_client client(websocket_endpoint(gatekeeper{log}));
    try {
        auto ws = client.websocket_connect("/", {.subprotocols = {"chat.v1"}});
        FAIL("the handshake was accepted");
    } catch (const websocket_denied& denied) {
        CHECK(denied.response().status == 403);
        CHECK(denied.close_code() == 4403);
    }
    CHECK(log->disconnect_codes.empty());  // on_disconnect runs for accepted connections only

    auto ws = client.websocket_connect("/", {.subprotocols = {"chat.v1"},
                                             .cookies = {{"token", "t"}}});
    CHECK(ws.accepted_subprotocol() == "chat.v1");
    ws.close(1001, "going away");
    CHECK(log->entries == std::vector<std::string>{"connected"});
    CHECK(log->disconnect_codes == std::vector<int>{1001});
}

TEST_CASE("on_receive raising closes 1011, reaches on_disconnect and propagates") {
    auto log = std::make_shared<journal>();
    test_client loud(websocket_endpoint(fragile{log}));
    auto ws = loud.websocket_connect("/");
    ws.send_text("fail");
    CHECK_THROWS_WITH_AS(ws.close(), "on_receive failed", std::runtime_error);
    CHECK(log->disconnect_codes == std::vector<int>{1011});

    test_client quiet(websocket_endpoint(fragile{log}), {.raise_server_exceptions = false});
    auto ws2 = quiet.websocket_connect("/");
    ws2.send_text("fail");
    CHECK(close_code_of(ws2) == 1011);
}

TEST_CASE("on_receive's websocket_error closes with its code and reason, quietly") {
    auto log = std::make_shared<journal>();
    test_client client(websocket_endpoint(fragile{log}));
    auto ws = client.websocket_connect("/");
    ws.send_text("echo");
    CHECK(ws.receive_text() == "echo");
    ws.send_text("quit");
    const event next = ws.receive();
    REQUIRE(std::holds_alternative<websocket::close>(next));
    CHECK(std::get<websocket::close>(next).code == 4000);
    CHECK(std::get<websocket::close>(next).reason == "bye");
    CHECK(log->disconnect_codes == std::vector<int>{4000});
}

TEST_CASE("on_connect returning without accepting or closing is a logic error") {
    test_client client(websocket_endpoint<undecided>{});
    CHECK_THROWS_AS((void)client.websocket_connect("/"), std::logic_error);
}

TEST_CASE("a websocket endpoint answers HTTP requests 404, thrown inside an exception layer") {
    const websocket_endpoint<empty_endpoint> endpoint;
    test_client plain(endpoint);
    const auto answer = plain.get("/");
    CHECK(answer.status == 404);
    CHECK(answer.text() == "Not Found");
    test_client layered{exception_middleware(endpoint)};
    CHECK(layered.get("/").status == 404);
}

TEST_CASE("a websocket endpoint serves a websocket route with its path params") {
    struct room_endpoint {
        task<void> on_connect(websocket_connection& ws) const {
            co_await ws.accept();
            co_await ws.send_text(ws.path_params().get<std::string>("room"));
        }
    };
    test_client client(router({websocket_route("/ws/{room}", websocket_endpoint<room_endpoint>{})}));
    auto ws = client.websocket_connect("/ws/lobby");
    CHECK(ws.receive_text() == "lobby");
}
