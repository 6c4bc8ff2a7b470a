#include "tessera/websocket_connection.hpp"

#include <utility>

namespace tessera {

namespace {
std::string disconnect_message(int code, const std::string& reason) {
    std::string out = "the client disconnected (code " + std::to_string(code);
    if (!reason.empty()) out += ": " + reason;
    out += ")";
    return out;
}

std::string error_message(int code, const std::string& reason) {
    if (!is_sendable_close_code(code)) {
        throw std::invalid_argument("websocket_error: close code " + std::to_string(code) +
                                    " may not be sent (use 1000, 1001-1003, 1007-1014 or "
                                    "3000-4999)");
    }
    if (reason.size() > max_close_reason_bytes || !is_valid_utf8(reason)) {
        throw std::invalid_argument(
            "websocket_error: the reason must be at most 123 bytes of UTF-8");
    }
    std::string out = "websocket error " + std::to_string(code);
    if (!reason.empty()) out += ": " + reason;
    return out;
}
}  // namespace

websocket_disconnect::websocket_disconnect(int code, std::string reason)
    : client_disconnected(disconnect_message(code, reason)), code_(code),
      reason_(std::make_shared<const std::string>(std::move(reason))) {}

websocket_error::websocket_error(int code, std::string reason)
    : std::runtime_error(error_message(code, reason)), code_(code),
      reason_(std::make_shared<const std::string>(std::move(reason))) {}

websocket_connection::websocket_connection(tessera::scope& s, tessera::receive r,
                                           tessera::send sd)
    : http_connection(s), receive_(r), send_(sd) {
    if (s.type != scope_type::websocket) {
        throw std::invalid_argument(std::string("websocket_connection: the scope is ") +
                                    to_string(s.type) + ", not websocket");
    }
}

void websocket_connection::check_can_receive() const {
    if (client_state_ == websocket_state::disconnected) {
        throw std::logic_error(
            "websocket_connection: cannot receive once the disconnect has been received");
    }
}

task<event> websocket_connection::receive() {
    check_can_receive();
    event e = co_await receive_();
    client_state_ = next_client_state(client_state_, e);
    co_return e;
}

// Not a coroutine while the transport's send finishes at once (the server's does whenever the
// client keeps up): the state moves on and the caller gets a ready task, with no frame. A send
// that has to wait, or a transport whose send is a coroutine, is awaited in finish_send.
// Misuse still raises at the caller's co_await.
task<void> websocket_connection::send(event e) {
    websocket_state after{};
    try {
        after = next_application_state(app_state_, e);
    } catch (...) {
        return failed_task(std::current_exception());
    }
    task<void> sending;
    try {
        sending = send_(std::move(e));
    } catch (...) {
        // A transport that fails where it is called gets the same translation (1006) as one
        // that fails when awaited.
        sending = failed_task(std::current_exception());
    }
    if (sending.is_ready()) {
        app_state_ = after;
        return sending;
    }
    return finish_send(std::move(sending), after);
}

task<void> websocket_connection::finish_send(task<void> sending, websocket_state after) {
    try {
        co_await std::move(sending);
    } catch (const websocket_disconnect&) {
        app_state_ = websocket_state::disconnected;
        throw;
    } catch (const client_disconnected&) {
        // As Starlette: a send the transport could not deliver is the client's abnormal
        // departure (1006), raised as the same exception the receives raise.
        app_state_ = websocket_state::disconnected;
        throw websocket_disconnect(1006);
    }
    app_state_ = after;
}

task<void> websocket_connection::accept(std::optional<std::string> subprotocol,
                                        tessera::headers headers) {
    if (client_state_ == websocket_state::connecting) {
        // The connect is the first event; handlers that accept straight away never see it.
        const event first = co_await receive();
        if (!std::holds_alternative<websocket::connect>(first)) {
            throw websocket_disconnect(std::get<websocket::disconnect>(first).code,
                                       std::get<websocket::disconnect>(first).reason);
        }
    }
    const websocket::accept message(std::move(subprotocol), std::move(headers));
    co_await send(message);
}

task<websocket::receive> websocket_connection::receive_message() {
    if (app_state_ != websocket_state::connected) {
        throw std::logic_error("websocket_connection: not connected (call accept first; " +
                               std::string("the application side is ") +
                               std::string(to_string(app_state_)) + ")");
    }
    // The transport's receive, awaited here rather than through receive(): a handler waiting
    // for a message holds one coroutine frame fewer (256 bytes per idle WebSocket), and each
    // message costs one frame fewer.
    check_can_receive();
    event e = co_await receive_();
    client_state_ = next_client_state(client_state_, e);
    if (auto* message = std::get_if<websocket::receive>(&e)) co_return std::move(*message);
    // next_client_state admits only a disconnect besides a message once connected.
    auto& gone = std::get<websocket::disconnect>(e);
    throw websocket_disconnect(gone.code, std::move(gone.reason));
}

task<std::string> websocket_connection::receive_text() {
    websocket::receive message = co_await receive_message();
    if (message.binary) {
        throw websocket_unsupported_data("expected a text message, received a binary one");
    }
    co_return std::move(message.data);
}

task<std::string> websocket_connection::receive_bytes() {
    websocket::receive message = co_await receive_message();
    if (!message.binary) {
        throw websocket_unsupported_data("expected a binary message, received a text one");
    }
    co_return std::move(message.data);
}

task<json> websocket_connection::receive_json() {
    const websocket::receive message = co_await receive_message();
    try {
        co_return parse_json(message.data);
    } catch (const json_parse_error&) {
        throw websocket_unsupported_data("the message is not valid JSON");
    }
}

// The iter_* generators: `next` until the client leaves, which ends the sequence quietly.
template <class T>
async_generator<T> websocket_connection::iterate(task<T> (websocket_connection::*next)()) {
    for (;;) {
        std::optional<T> value;
        try {
            value.emplace(co_await (this->*next)());
        } catch (const websocket_disconnect&) {
            co_return;
        }
        co_yield std::move(*value);
    }
}

async_generator<std::string> websocket_connection::iter_text() {
    return iterate(&websocket_connection::receive_text);
}

async_generator<std::string> websocket_connection::iter_bytes() {
    return iterate(&websocket_connection::receive_bytes);
}

async_generator<json> websocket_connection::iter_json() {
    return iterate(&websocket_connection::receive_json);
}

// Not coroutines: the event only carries the caller's view, and `send` finishes at once when
// it can (a frame per message otherwise).
task<void> websocket_connection::send_text(std::string_view text) {
    return send(websocket::send(text, false));
}

task<void> websocket_connection::send_bytes(std::string_view bytes) {
    return send(websocket::send(bytes, true));
}

// Not a coroutine: the value is serialised now, so the caller's json may be a temporary.
task<void> websocket_connection::send_json(const json& value) {
    return send_serialized(value.dump());
}

task<void> websocket_connection::send_serialized(std::string text) {
    const websocket::send message(text, false);
    co_await send(message);
}

task<void> websocket_connection::close(int code, std::string reason) {
    const websocket::close message(code, std::move(reason));
    try {
        co_await send(message);
    } catch (const websocket_disconnect&) {
        // The client left first: the connection is closed either way.
    }
}

task<void> run_websocket_handler(websocket_connection& ws, task<void> handler) {
    std::optional<websocket_error> failure;
    try {
        co_await std::move(handler);
    } catch (const websocket_error& error) {
        failure = error;
    } catch (const client_disconnected&) {
        co_return;  // the client left; nothing is owed to it
    }
    if (!failure) co_return;
    switch (ws.application_state()) {
        case websocket_state::connecting:
        case websocket_state::connected:
            co_await ws.close(failure->code(), failure->reason());
            break;
        case websocket_state::response:
            // Half a denial response cannot become a close; the transport drops the connection.
            throw *failure;
        case websocket_state::disconnected: break;  // the handler had closed already
    }
}

}  // namespace tessera
