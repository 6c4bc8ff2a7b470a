#include "tessera/websocket_endpoint.hpp"

#include "tessera/http_error.hpp"
#include "tessera/response.hpp"
#include "tessera/status.hpp"

namespace tessera::detail {

void check_websocket_message(const websocket::receive& message, websocket_encoding encoding) {
    // The same words as websocket_connection's receive_text / receive_bytes, so a client sees
    // one vocabulary whichever API the server used.
    if (encoding == websocket_encoding::text && message.binary) {
        throw websocket_unsupported_data("expected a text message, received a binary one");
    }
    if (encoding == websocket_encoding::bytes && !message.binary) {
        throw websocket_unsupported_data("expected a binary message, received a text one");
    }
}

json parse_websocket_json(const websocket::receive& message) {
    // Text or binary alike, as Starlette decodes bytes as UTF-8 for its json encoding;
    // simdjson rejects invalid UTF-8 along with malformed JSON.
    try {
        return parse_json(std::string_view(message.data));
    } catch (const json_parse_error&) {
        throw websocket_unsupported_data("the message is not valid JSON");
    }
}

task<void> websocket_endpoint_not_found(scope& s, receive r, send sd) {
    // Starlette's WebSocketEndpoint only takes WebSocket scopes; an HTTP request that reaches
    // one (through a mount or a plain route) is answered as if nothing routed it.
    if (s.extensions.contains<http_errors_handled>()) throw http_error(status::not_found);
    plain_text_response answer("Not Found", status::not_found);
    co_await std::move(answer)(s, r, sd);
}

task<void> close_after_failure(websocket_connection& ws) {
    if (ws.application_state() != websocket_state::connected) co_return;
    try {
        co_await ws.close(1011);
    } catch (...) {
        // The client left meanwhile: the handler's own exception is the one to report.
    }
}

}  // namespace tessera::detail
