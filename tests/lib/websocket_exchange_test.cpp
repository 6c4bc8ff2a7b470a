#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/websocket_exchange.hpp"

using namespace tessera;

namespace {
scope make_scope(std::vector<std::string> subprotocols = {}) {
    scope s;
    s.type = scope_type::websocket;
    s.scheme = "ws";
    s.path = "/ws";
    s.subprotocols = std::move(subprotocols);
    return s;
}

event accept_event(std::optional<std::string> protocol = std::nullopt, headers fields = {}) {
    return websocket::accept{std::move(protocol), std::move(fields)};
}

// Accepts on a fresh exchange, as every post-handshake test starts.
void accept(websocket_exchange& exchange) {
    const event a = accept_event();
    (void)exchange.on_send(a);
}
}  // namespace

TEST_CASE("the app's receive yields the connect first, then waits for the client") {
    const scope s = make_scope();
    websocket_exchange exchange(s);
    CHECK(exchange.client_state() == websocket_state::connecting);
    CHECK(exchange.next_receive(false) == websocket_receive_step::connect);
    CHECK(exchange.client_state() == websocket_state::connected);
    CHECK(exchange.next_receive(false) == websocket_receive_step::wait);
}

TEST_CASE("accepting without a subprotocol answers the handshake with the app's headers") {
    const scope s = make_scope({"chat"});
    websocket_exchange exchange(s);
    const event a = accept_event(std::nullopt, {{"x-extra", "yes"}});
    const auto out = exchange.on_send(a);
    CHECK(out.what == websocket_output::kind::accept);
    CHECK(out.subprotocol == nullptr);
    REQUIRE(out.fields != nullptr);
    CHECK(out.fields->get("x-extra") == "yes");
    CHECK(exchange.accepted());
    CHECK(exchange.application_state() == websocket_state::connected);
}

TEST_CASE("an accepted subprotocol must be one the client offered") {
    const scope s = make_scope({"chat.v2", "chat.v1"});
    SUBCASE("offered") {
        websocket_exchange exchange(s);
        const event a = accept_event("chat.v1");
        const auto out = exchange.on_send(a);
        REQUIRE(out.subprotocol != nullptr);
        CHECK(*out.subprotocol == "chat.v1");
    }
    SUBCASE("not offered") {
        websocket_exchange exchange(s);
        const event a = accept_event("chat.v3");
        CHECK_THROWS_WITH_AS((void)exchange.on_send(a),
                             doctest::Contains("did not offer (offered: chat.v2, chat.v1)"),
                             protocol_error);
        CHECK_FALSE(exchange.accepted());
    }
    SUBCASE("nothing offered") {
        const scope bare = make_scope();
        websocket_exchange exchange(bare);
        const event a = accept_event("chat.v1");
        CHECK_THROWS_WITH_AS((void)exchange.on_send(a), doctest::Contains("offered: none"),
                             protocol_error);
    }
}

TEST_CASE("accept headers must be valid and must not be the handshake's own") {
    const scope s = make_scope();
    for (const char* name : {"upgrade", "connection", "sec-websocket-accept",
                             "sec-websocket-protocol", "sec-websocket-extensions",
                             "content-length", "transfer-encoding"}) {
        CAPTURE(name);
        websocket_exchange exchange(s);
        const event a = accept_event(std::nullopt, {{name, "x"}});
        CHECK_THROWS_WITH_AS((void)exchange.on_send(a), doctest::Contains("handshake owns"),
                             protocol_error);
    }
    websocket_exchange bad_name(s);
    const event spaced = accept_event(std::nullopt, {{"x y", "1"}});
    CHECK_THROWS_WITH_AS((void)bad_name.on_send(spaced), doctest::Contains("invalid header name"),
                         protocol_error);
    websocket_exchange bad_value(s);
    const event split = accept_event(std::nullopt, {{"x-a", "1\r\nx-b: 2"}});
    CHECK_THROWS_WITH_AS((void)bad_value.on_send(split), doctest::Contains("control character"),
                         protocol_error);
}

TEST_CASE("a close before the accept refuses the handshake with 403") {
    const scope s = make_scope();
    websocket_exchange exchange(s);
    const event close = websocket::close{1008, "policy"};
    const auto out = exchange.on_send(close);
    CHECK(out.what == websocket_output::kind::reject);
    CHECK(out.status == 403);
    CHECK(exchange.application_state() == websocket_state::disconnected);
    CHECK(exchange.app_close_code() == 1008);
    CHECK_FALSE(exchange.accepted());
    // The app's receive learns the connection is over (1006: no close frame was exchanged).
    CHECK(exchange.next_receive(false) == websocket_receive_step::connect);
    CHECK(exchange.next_receive(false) == websocket_receive_step::disconnect);
    CHECK(exchange.disconnect_event().code == 1006);
    CHECK(exchange.on_app_return(false).what == websocket_ending::kind::nothing);
}

TEST_CASE("a denial response replaces the accept and follows the HTTP framing rules") {
    const scope s = make_scope();
    SUBCASE("with a content-length, in pieces") {
        websocket_exchange exchange(s);
        const event start = websocket::denial_start{401, {{"content-length", "6"}}};
        const auto head = exchange.on_send(start);
        CHECK(head.what == websocket_output::kind::denial);
        CHECK(head.response.what == exchange_output::kind::head);
        CHECK(head.response.status == 401);
        CHECK(head.response.framing == body_framing::content_length);
        CHECK(head.response.fields == &std::get<websocket::denial_start>(start).headers);
        CHECK(exchange.application_state() == websocket_state::response);
        CHECK(exchange.denial_status() == 401);

        const event first = websocket::denial_body{"no ", true};
        const auto piece = exchange.on_send(first);
        CHECK(piece.response.what == exchange_output::kind::body);
        CHECK(piece.response.bytes == "no ");
        CHECK_FALSE(piece.response.last);
        const event last = websocket::denial_body{"way", false};
        CHECK(exchange.on_send(last).response.last);
        CHECK(exchange.application_state() == websocket_state::disconnected);
        const auto ending = exchange.on_app_return(false);
        CHECK(ending.what == websocket_ending::kind::nothing);
        CHECK_FALSE(ending.problem);
    }
    SUBCASE("without a length the body is chunked") {
        websocket_exchange exchange(s);
        const event start = websocket::denial_start{403};
        CHECK(exchange.on_send(start).response.framing == body_framing::chunked);
    }
    SUBCASE("more body than declared is the app's bug") {
        websocket_exchange exchange(s);
        const event start = websocket::denial_start{403, {{"content-length", "2"}}};
        (void)exchange.on_send(start);
        const event body = websocket::denial_body{"too long"};
        CHECK_THROWS_AS((void)exchange.on_send(body), protocol_error);
    }
    SUBCASE("less body than declared is reported when the app returns") {
        websocket_exchange exchange(s);
        const event start = websocket::denial_start{403, {{"content-length", "9"}}};
        (void)exchange.on_send(start);
        const event body = websocket::denial_body{"short"};
        (void)exchange.on_send(body);
        const auto ending = exchange.on_app_return(false);
        CHECK(ending.what == websocket_ending::kind::nothing);
        REQUIRE(ending.problem);
        CHECK(ending.problem->find("declared 9") != std::string::npos);
    }
    SUBCASE("an unfinished denial is dropped when the app returns") {
        websocket_exchange exchange(s);
        const event start = websocket::denial_start{403};
        (void)exchange.on_send(start);
        const auto ending = exchange.on_app_return(false);
        CHECK(ending.what == websocket_ending::kind::drop);
        CHECK(ending.problem);
    }
}

TEST_CASE("events out of order are protocol errors naming the misuse") {
    const scope s = make_scope();
    const event message = websocket::send{"hi", false};
    const event body = websocket::denial_body{"x"};
    const event start = websocket::denial_start{403};
    SUBCASE("a message before the accept") {
        websocket_exchange exchange(s);
        CHECK_THROWS_WITH_AS((void)exchange.on_send(message),
                             "the app sent websocket.send before websocket.accept",
                             protocol_error);
    }
    SUBCASE("a denial body before its start") {
        websocket_exchange exchange(s);
        CHECK_THROWS_WITH_AS((void)exchange.on_send(body), doctest::Contains("before websocket.http"),
                             protocol_error);
    }
    SUBCASE("two accepts") {
        websocket_exchange exchange(s);
        accept(exchange);
        const event again = accept_event();
        CHECK_THROWS_WITH_AS((void)exchange.on_send(again), "the app sent websocket.accept twice",
                             protocol_error);
    }
    SUBCASE("a denial after the accept") {
        websocket_exchange exchange(s);
        accept(exchange);
        CHECK_THROWS_AS((void)exchange.on_send(start), protocol_error);
    }
    SUBCASE("a message during a denial") {
        websocket_exchange exchange(s);
        (void)exchange.on_send(start);
        CHECK_THROWS_WITH_AS((void)exchange.on_send(message),
                             doctest::Contains("while sending a denial response"),
                             protocol_error);
    }
    SUBCASE("anything after the close") {
        websocket_exchange exchange(s);
        accept(exchange);
        const event close = websocket::close{};
        (void)exchange.on_send(close);
        CHECK_THROWS_WITH_AS((void)exchange.on_send(message),
                             doctest::Contains("after the connection was closed"),
                             protocol_error);
        CHECK_THROWS_AS((void)exchange.on_send(close), protocol_error);
    }
    SUBCASE("HTTP events and events only the server sends") {
        websocket_exchange exchange(s);
        const event http_start = http::response_start{200};
        CHECK_THROWS_WITH_AS((void)exchange.on_send(http_start),
                             doctest::Contains("unexpected event on a WebSocket scope"),
                             protocol_error);
        const event receive = websocket::receive{"x", false};
        CHECK_THROWS_AS((void)exchange.on_send(receive), protocol_error);
    }
}

TEST_CASE("messages are forwarded once accepted, and text must be valid UTF-8") {
    const scope s = make_scope();
    websocket_exchange exchange(s);
    accept(exchange);
    const event text = websocket::send{"caf\xC3\xA9", false};
    const auto out = exchange.on_send(text);
    CHECK(out.what == websocket_output::kind::message);
    CHECK(out.data == "caf\xC3\xA9");
    CHECK_FALSE(out.binary);
    const event bytes = websocket::send{std::string_view("\xFF\x00", 2), true};
    CHECK(exchange.on_send(bytes).binary);
    const event invalid = websocket::send{"\xFF", false};
    CHECK_THROWS_WITH_AS((void)exchange.on_send(invalid), doctest::Contains("not valid UTF-8"),
                         protocol_error);
}

TEST_CASE("the app may close with 1000, the other sendable codes and 3000-4999 only") {
    const scope s = make_scope();
    for (int code : {1000, 1001, 1003, 1007, 1008, 1011, 1014, 3000, 4000, 4999}) {
        CAPTURE(code);
        websocket_exchange exchange(s);
        accept(exchange);
        const event close = websocket::close{code, "bye"};
        const auto out = exchange.on_send(close);
        CHECK(out.what == websocket_output::kind::close);
        CHECK(out.code == code);
        CHECK(out.reason == "bye");
        CHECK(exchange.application_state() == websocket_state::disconnected);
    }
    for (int code : {0, 999, 1004, 1005, 1006, 1015, 1016, 2000, 2999, 5000}) {
        CAPTURE(code);
        websocket_exchange exchange(s);
        accept(exchange);
        const event close = websocket::close{code};
        CHECK_THROWS_WITH_AS((void)exchange.on_send(close), doctest::Contains("may not be sent"),
                             protocol_error);
    }
}

TEST_CASE("a close reason must fit a close frame and be UTF-8") {
    const scope s = make_scope();
    websocket_exchange fits(s);
    accept(fits);
    const event longest = websocket::close{1000, std::string(123, 'r')};
    CHECK(fits.on_send(longest).reason.size() == 123);

    websocket_exchange too_long(s);
    accept(too_long);
    const event over = websocket::close{1000, std::string(124, 'r')};
    CHECK_THROWS_WITH_AS((void)too_long.on_send(over), doctest::Contains("at most 123"),
                         protocol_error);

    websocket_exchange not_text(s);
    accept(not_text);
    const event binary = websocket::close{1000, "\xC0\x80"};
    CHECK_THROWS_WITH_AS((void)not_text.on_send(binary), doctest::Contains("not valid UTF-8"),
                         protocol_error);
}

TEST_CASE("client messages are delivered before the client's close, then the disconnect") {
    const scope s = make_scope();
    websocket_exchange exchange(s);
    CHECK(exchange.next_receive(false) == websocket_receive_step::connect);
    accept(exchange);
    exchange.on_client_close(1001, "going away");
    CHECK(exchange.client_gone());
    CHECK(exchange.next_receive(true) == websocket_receive_step::message);
    CHECK(exchange.next_receive(false) == websocket_receive_step::disconnect);
    CHECK(exchange.client_state() == websocket_state::disconnected);
    const auto gone = exchange.disconnect_event();
    CHECK(gone.code == 1001);
    CHECK(gone.reason == "going away");
    // Asking again keeps answering the disconnect rather than waiting forever.
    CHECK(exchange.next_receive(false) == websocket_receive_step::disconnect);
}

TEST_CASE("a lost connection is a disconnect with 1006") {
    const scope s = make_scope();
    websocket_exchange exchange(s);
    (void)exchange.next_receive(false);
    accept(exchange);
    exchange.on_client_gone();
    exchange.on_client_close(1000);  // too late: the first word stands
    CHECK(exchange.next_receive(false) == websocket_receive_step::disconnect);
    CHECK(exchange.disconnect_event().code == 1006);
}

TEST_CASE("once the client has gone sends raise client_disconnected but a close is accepted") {
    const scope s = make_scope();
    SUBCASE("after the accept") {
        websocket_exchange exchange(s);
        accept(exchange);
        exchange.on_client_close(1000);
        const event message = websocket::send{"late", false};
        CHECK_THROWS_AS((void)exchange.on_send(message), client_disconnected);
        const event close = websocket::close{1000};
        CHECK(exchange.on_send(close).what == websocket_output::kind::nothing);
        CHECK(exchange.application_state() == websocket_state::disconnected);
    }
    SUBCASE("before the accept") {
        websocket_exchange exchange(s);
        exchange.on_client_gone();
        const event a = accept_event();
        CHECK_THROWS_AS((void)exchange.on_send(a), client_disconnected);
        const event start = websocket::denial_start{403};
        CHECK_THROWS_AS((void)exchange.on_send(start), client_disconnected);
        const event close = websocket::close{1000};
        CHECK(exchange.on_send(close).what == websocket_output::kind::nothing);
    }
    SUBCASE("misuse is still reported first") {
        websocket_exchange exchange(s);
        exchange.on_client_gone();
        const event message = websocket::send{"early", false};
        CHECK_THROWS_AS((void)exchange.on_send(message), protocol_error);
    }
}

TEST_CASE("the app returning tells the transport what it still owes the client") {
    const scope s = make_scope();
    SUBCASE("nothing answered: 500") {
        websocket_exchange exchange(s);
        const auto ending = exchange.on_app_return(false);
        CHECK(ending.what == websocket_ending::kind::respond_500);
        REQUIRE(ending.problem);
        CHECK(ending.problem->find("without accepting") != std::string::npos);
    }
    SUBCASE("accepted and left open: a normal close") {
        websocket_exchange exchange(s);
        accept(exchange);
        const auto ending = exchange.on_app_return(false);
        CHECK(ending.what == websocket_ending::kind::close);
        CHECK(ending.code == 1000);
        CHECK_FALSE(ending.problem);
        CHECK(exchange.application_state() == websocket_state::disconnected);
        CHECK(exchange.app_close_code() == 1000);
    }
    SUBCASE("accepted and raised: an internal-error close") {
        websocket_exchange exchange(s);
        accept(exchange);
        const auto ending = exchange.on_app_return(true);
        CHECK(ending.what == websocket_ending::kind::close);
        CHECK(ending.code == 1011);
    }
    SUBCASE("closed already, or the client gone: nothing") {
        websocket_exchange closed(s);
        accept(closed);
        const event close = websocket::close{4000};
        (void)closed.on_send(close);
        CHECK(closed.on_app_return(false).what == websocket_ending::kind::nothing);
        websocket_exchange gone(s);
        accept(gone);
        gone.on_client_gone();
        CHECK(gone.on_app_return(true).what == websocket_ending::kind::nothing);
    }
}

TEST_CASE("the application state machine is shared by transports and connections") {
    using enum websocket_state;
    const event a = accept_event();
    const event close = websocket::close{};
    const event message = websocket::send{"x", false};
    const event start = websocket::denial_start{403};
    const event more = websocket::denial_body{"x", true};
    const event last = websocket::denial_body{"x", false};
    CHECK(next_application_state(connecting, a) == connected);
    CHECK(next_application_state(connecting, close) == disconnected);
    CHECK(next_application_state(connecting, start) == response);
    CHECK(next_application_state(connected, message) == connected);
    CHECK(next_application_state(connected, close) == disconnected);
    CHECK(next_application_state(response, more) == response);
    CHECK(next_application_state(response, last) == disconnected);
    CHECK_THROWS_AS((void)next_application_state(disconnected, close), protocol_error);

    const event connect = websocket::connect{};
    const event received = websocket::receive{"x", false};
    const event gone = websocket::disconnect{1000};
    CHECK(next_client_state(connecting, connect) == connected);
    CHECK(next_client_state(connected, received) == connected);
    CHECK(next_client_state(connected, gone) == disconnected);
    CHECK_THROWS_AS((void)next_client_state(connecting, received), protocol_error);
    CHECK_THROWS_AS((void)next_client_state(connected, connect), protocol_error);
    CHECK_THROWS_AS((void)next_client_state(disconnected, gone), protocol_error);
}
