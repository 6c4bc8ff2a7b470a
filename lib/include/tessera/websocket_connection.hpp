#pragma once
/// `websocket_connection`: what a WebSocket handler talks through (Starlette's `WebSocket`),
/// and the exceptions that end a connection.
///
/// The class is not called `websocket` because `tessera::websocket` is the namespace of the
/// WebSocket events (`websocket::accept`, `websocket::send`, …).

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/async_generator.hpp"
#include "tessera/http_connection.hpp"
#include "tessera/json.hpp"
#include "tessera/task.hpp"
#include "tessera/websocket_exchange.hpp"

namespace tessera {

/// The client has gone (Starlette's `WebSocketDisconnect`): raised by the `receive_*` calls when
/// the app receives `websocket.disconnect`, with the client's close code (1005 when its close
/// frame had none, 1006 when the connection was lost) and reason; and by the sends with 1006
/// when the transport reports the client gone. A `client_disconnected`, so transports and code
/// written for HTTP treat it alike. Copying never throws.
class websocket_disconnect : public client_disconnected {
public:
    explicit websocket_disconnect(int code = 1000, std::string reason = {});
    [[nodiscard]] int code() const noexcept { return code_; }
    [[nodiscard]] const std::string& reason() const noexcept { return *reason_; }

private:
    int code_;
    std::shared_ptr<const std::string> reason_;
};

/// Thrown by a WebSocket handler to close the connection with `code` and `reason` (Starlette's
/// `WebSocketException`). `run_websocket_handler` — and the WebSocket route and endpoint built on
/// it — catch it and close: before the accept that refuses the handshake (HTTP 403), after it
/// the client gets a close frame with the code. Copying never throws.
///
///     if (!ws.cookie("token")) throw websocket_error(4401, "login first");
class websocket_error : public std::runtime_error {
public:
    /// `code` must be one an endpoint may send (`is_sendable_close_code`) and `reason` at most
    /// 123 bytes of UTF-8; std::invalid_argument otherwise, so a typo never reaches the wire.
    explicit websocket_error(int code, std::string reason = {});
    [[nodiscard]] int code() const noexcept { return code_; }
    [[nodiscard]] const std::string& reason() const noexcept { return *reason_; }

private:
    int code_;
    std::shared_ptr<const std::string> reason_;
};

/// A message was not what the handler asked for: bytes for `receive_text`, text for
/// `receive_bytes`, or not JSON for `receive_json`. A `websocket_error` with code 1003
/// (Unsupported Data), so unless the handler catches it the connection closes with 1003 — what
/// Starlette's WebSocket endpoint answers in that case.
class websocket_unsupported_data : public websocket_error {
public:
    explicit websocket_unsupported_data(std::string reason)
        : websocket_error(1003, std::move(reason)) {}
};

/// A WebSocket connection as a handler sees it: the scope's fields (from `http_connection`: url,
/// headers, query_params, path_params, cookies, client, state, app_state), accepting, typed
/// sends and receives, iteration until the client leaves, and closing. It tracks both sides'
/// states as Starlette does (`client_state`, `application_state`) and raises on misuse before
/// the transport would. Made per call over the scope, receive and send the app was given; it
/// refers to them, so it must not outlive the app call. Not thread-safe.
///
///     websocket_connection ws(s, r, sd);
///     co_await ws.accept();
///     auto messages = ws.iter_text();
///     while (auto text = co_await messages.next()) co_await ws.send_text(*text);
class websocket_connection : public http_connection {
public:
    /// Throws std::invalid_argument unless `s` is a WebSocket scope.
    websocket_connection(tessera::scope& s, tessera::receive r, tessera::send sd);

    /// The subprotocols the client offered, in its order of preference.
    [[nodiscard]] const std::vector<std::string>& subprotocols() const noexcept {
        return scope().subprotocols;
    }
    /// The client's side: `connecting` until the app received `websocket.connect`, `connected`,
    /// then `disconnected` once it received `websocket.disconnect`.
    [[nodiscard]] websocket_state client_state() const noexcept { return client_state_; }
    /// The app's side: `connecting`, `connected` after `accept`, `response` during a denial,
    /// `disconnected` after `close` (or a refused handshake, or a failed send).
    [[nodiscard]] websocket_state application_state() const noexcept { return app_state_; }

    /// Accepts the connection, receiving `websocket.connect` first if nobody has. `subprotocol`
    /// must be one the client offered; `headers` are extra response headers. (Two parameters
    /// rather than an options struct: g++ 12 cannot compile a braced list inside `co_await`.)
    [[nodiscard]] task<void> accept(std::optional<std::string> subprotocol = std::nullopt,
                                    tessera::headers headers = {});

    /// The next message, which must be text (else `websocket_unsupported_data`). Throws
    /// `websocket_disconnect` when the client has gone, std::logic_error before `accept` or
    /// after the disconnect was received.
    [[nodiscard]] task<std::string> receive_text();
    /// The next message, which must be binary; otherwise as `receive_text`.
    [[nodiscard]] task<std::string> receive_bytes();
    /// The next message (text, or binary holding UTF-8) parsed as JSON; malformed JSON raises
    /// `websocket_unsupported_data`. Otherwise as `receive_text`.
    [[nodiscard]] task<tessera::json> receive_json();

    /// Messages until the client leaves (the generator then ends; no exception). A message of
    /// the other kind, or not JSON, raises as the `receive_*` calls do.
    [[nodiscard]] async_generator<std::string> iter_text();
    [[nodiscard]] async_generator<std::string> iter_bytes();
    [[nodiscard]] async_generator<tessera::json> iter_json();

    /// Sends a text message; it must be valid UTF-8 (the transport raises `protocol_error`
    /// otherwise). `text` must stay valid until the send completes, as with any awaited call.
    /// Throws `websocket_disconnect` (1006) when the client has gone.
    [[nodiscard]] task<void> send_text(std::string_view text);
    /// Sends a binary message; otherwise as `send_text`.
    [[nodiscard]] task<void> send_bytes(std::string_view bytes);
    /// Sends `value` serialised compactly as a text message. Serialises when called, so `value`
    /// need not outlive the call.
    [[nodiscard]] task<void> send_json(const tessera::json& value);

    /// Closes with `code` (1000, 1001–1003, 1007–1014 or 3000–4999) and `reason` (at most 123
    /// bytes of UTF-8). Before `accept` this refuses the handshake (the client gets HTTP 403).
    /// Closing a connection the client already left is not an error.
    [[nodiscard]] task<void> close(int code = 1000, std::string reason = {});

    /// The next raw event (`websocket::connect`, `websocket::receive`, `websocket::disconnect`),
    /// with the client state updated. Throws std::logic_error after the disconnect.
    [[nodiscard]] task<event> receive();
    /// Sends a raw event, checked against the application state first (`protocol_error` on
    /// misuse); a denial response is sent this way (`websocket::denial_start`, `denial_body`).
    [[nodiscard]] task<void> send(event e);

private:
    void check_can_receive() const;
    task<websocket::receive> receive_message();
    template <class T>
    async_generator<T> iterate(task<T> (websocket_connection::*next)());
    task<void> send_serialized(std::string text);
    task<void> finish_send(task<void> sending, websocket_state after);

    tessera::receive receive_;
    tessera::send send_;
    websocket_state client_state_ = websocket_state::connecting;
    websocket_state app_state_ = websocket_state::connecting;
};

/// Awaits `handler` (typically `my_handler(ws)`) and turns its `websocket_error` into a close
/// with that code and reason — a refused handshake (403) if it was thrown before the accept.
/// The client leaving (`websocket_disconnect`, `client_disconnected`) ends it quietly. Any other
/// exception propagates (the transport then closes with 1011). For WebSocket routes and
/// endpoints:
///
///     websocket_connection ws(s, r, sd);
///     co_await run_websocket_handler(ws, chat(ws));
[[nodiscard]] task<void> run_websocket_handler(websocket_connection& ws, task<void> handler);

}  // namespace tessera
