#pragma once
/// `websocket_exchange`: the sans-IO rules of one WebSocket connection's events, shared by every
/// transport (the in-memory test client now, the libuv server next), as `http_exchange` is for
/// HTTP.

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tessera/events.hpp"
#include "tessera/http_exchange.hpp"
#include "tessera/scope.hpp"
#include "tessera/ws/utf8.hpp"

namespace tessera {

/// Where one side of a WebSocket connection stands (Starlette's `WebSocketState`).
enum class websocket_state {
    connecting,  ///< app: the handshake is not answered yet; client: `websocket.connect` not yet
                 ///< received by the app
    connected,   ///< app: accepted; client: connected (its `websocket.connect` was received)
    response,    ///< app only: sending a denial response (`websocket.http.response.*`)
    disconnected ///< app: closed, rejected or denied; client: `websocket.disconnect` received
};
[[nodiscard]] std::string_view to_string(websocket_state state) noexcept;

/// The application side's state after it sends `e` in state `from`. Throws `protocol_error`
/// naming the misuse when `e` is not allowed there: before accepting the app may send
/// `websocket.accept`, `websocket.close` or `websocket.http.response.start`; during a denial only
/// its body; once accepted `websocket.send` and `websocket.close`; after closing nothing.
/// Shared by `websocket_exchange` (transports) and `websocket_connection` (apps).
[[nodiscard]] websocket_state next_application_state(websocket_state from, const event& e);

/// The client side, as the app sees it, after the app received `e` in state `from`: first
/// `websocket.connect`, then `websocket.receive` until `websocket.disconnect`. Throws
/// `protocol_error` for anything else (a transport's bug).
[[nodiscard]] websocket_state next_client_state(websocket_state from, const event& e);

/// Close codes an endpoint may send (RFC 6455 §7.4 and the IANA registry): 1000–1003,
/// 1007–1014 and the application range 3000–4999. 1004 is reserved; 1005, 1006 and 1015 only
/// ever describe a close locally and are never sent; 1016–2999 are unassigned.
[[nodiscard]] constexpr bool is_sendable_close_code(int code) noexcept {
    return (code >= 1000 && code <= 1003) || (code >= 1007 && code <= 1014) ||
           (code >= 3000 && code <= 4999);
}

/// The longest close reason: a close frame's payload is at most 125 bytes, two of them the code.
inline constexpr std::size_t max_close_reason_bytes = 123;

/// Whether `text` is well-formed UTF-8, as the payload of a text frame must be (the codec's
/// validator, shared by every transport).
using ws::is_valid_utf8;

/// What the transport should do for one event the app sent. Pointers and views refer into that
/// event and stay valid during the `send` call that carried it.
struct websocket_output {
    enum class kind {
        nothing,  ///< nothing to write (the app closed after the client had gone)
        accept,   ///< answer the handshake with 101: `subprotocol` (null for none) and `fields`,
                  ///< the app's extra headers
        reject,   ///< the app closed before accepting: answer the handshake with `status` (403)
                  ///< and an empty body, then close the connection
        denial,   ///< write `response` (the head or a body piece of the app's HTTP response, as
                  ///< `http_exchange` says); close the connection after its `last` piece
        message,  ///< send one data frame: `data`, text or `binary`
        close     ///< send a close frame with `code` and `reason`, then await the client's close
    } what = kind::nothing;
    const std::string* subprotocol = nullptr;
    const headers* fields = nullptr;
    int status = 0;
    exchange_output response;
    std::string_view data;
    bool binary = false;
    int code = 0;
    std::string_view reason;
};

/// What the transport's `receive` hands the app next (`websocket_exchange::next_receive`).
enum class websocket_receive_step {
    connect,     ///< yield `websocket::connect` (always first)
    message,     ///< yield the oldest message the transport holds, as `websocket::receive`
    disconnect,  ///< yield `disconnect_event()` (again on every later call)
    wait         ///< nothing yet: wait until the transport feeds something, then ask again
};

/// What the transport does when the app has returned (`websocket_exchange::on_app_return`).
struct websocket_ending {
    enum class kind {
        nothing,      ///< the connection is finished already (closed, rejected, denied, gone)
        respond_500,  ///< the handshake was never answered: answer 500 and close the connection
        close,        ///< accepted and never closed: send a close frame with `code`
        drop          ///< a denial response is unfinished: close the connection as it stands
    } what = kind::nothing;
    int code = 0;  ///< for `close`: 1000, or 1011 (internal error) when the app raised
    /// The app's mistake, for the transport's log (the test client raises it as a
    /// `protocol_error`); empty when the app did nothing wrong.
    std::optional<std::string> problem;
};

/// The per-connection rules every transport applies to a WebSocket app: which events the app may
/// send when (`next_application_state`), that an accepted subprotocol is one the client offered
/// and the accept's extra headers are valid and not the handshake's own, that text is UTF-8,
/// close codes and reasons are sendable, a denial response obeys the HTTP rules (through an
/// `http_exchange`), and what the app's `receive` yields as the client connects, sends and goes.
/// Closing is always allowed; anything else sent after the client has gone raises
/// `client_disconnected`. It owns no buffers and never blocks: transports keep the messages,
/// feed it what happens and act on its answers. The scope must outlive it.
class websocket_exchange {
public:
    explicit websocket_exchange(const scope& s) noexcept : scope_(&s) {}

    // ---- the app's events ------------------------------------------------------------------

    /// Checks one event the app sent and says what to write. Throws `protocol_error` on misuse
    /// and `client_disconnected` for anything but a close once the client has gone.
    [[nodiscard]] websocket_output on_send(const event& e);

    /// Call when the app returned (`raised`: by an exception). Leaves the application side
    /// disconnected and says what the transport still owes the client.
    [[nodiscard]] websocket_ending on_app_return(bool raised);

    // ---- the client's side -----------------------------------------------------------------

    /// The client sent a close frame (`code` 1005 when it carried none). Messages the transport
    /// still holds are delivered before the disconnect.
    void on_client_close(int code, std::string reason = {});
    /// The connection was lost without a close frame (the app sees code 1006).
    void on_client_gone();

    /// What the app's `receive` yields now: `message_waiting` says whether the transport holds a
    /// client message. Records that the connect (or the disconnect) was delivered.
    [[nodiscard]] websocket_receive_step next_receive(bool message_waiting) noexcept;
    /// The disconnect to deliver: the client's close code and reason; 1006 when the connection
    /// was lost or the app refused the handshake.
    [[nodiscard]] websocket::disconnect disconnect_event() const;

    // ---- state -----------------------------------------------------------------------------

    [[nodiscard]] websocket_state application_state() const noexcept { return app_state_; }
    [[nodiscard]] websocket_state client_state() const noexcept { return client_state_; }
    /// True once the client closed or the connection was lost (whether or not the app has
    /// received the disconnect yet).
    [[nodiscard]] bool client_gone() const noexcept { return client_code_.has_value(); }
    [[nodiscard]] bool accepted() const noexcept { return accepted_; }
    /// The close code the app sent (or the transport owes for it, see `on_app_return`), if any.
    [[nodiscard]] std::optional<int> app_close_code() const noexcept { return app_code_; }
    /// The denial response's status, once the app started one.
    [[nodiscard]] int denial_status() const noexcept { return denial_ ? denial_->status() : 0; }

private:
    websocket_output accept(const websocket::accept& a);
    void check_close(const websocket::close& c) const;

    const scope* scope_;
    websocket_state app_state_ = websocket_state::connecting;
    websocket_state client_state_ = websocket_state::connecting;
    bool accepted_ = false;
    std::optional<int> client_code_;  // set when the client closed or went
    std::string client_reason_;
    std::optional<int> app_code_;
    // The denial response's HTTP rules, once started: on the heap, as few apps deny and every
    // open WebSocket holds its exchange.
    std::unique_ptr<http_exchange> denial_;
};

}  // namespace tessera
