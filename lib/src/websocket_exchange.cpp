#include "tessera/websocket_exchange.hpp"

#include <cstdint>
#include <cstring>

#include "tessera/app.hpp"  // client_disconnected
#include "tessera/http1_serializer.hpp"

namespace tessera {

std::string_view to_string(websocket_state state) noexcept {
    switch (state) {
        case websocket_state::connecting: return "connecting";
        case websocket_state::connected: return "connected";
        case websocket_state::response: return "response";
        case websocket_state::disconnected: return "disconnected";
    }
    return "unknown";
}

namespace {
[[noreturn]] void misuse(const event& e, std::string_view when) {
    throw protocol_error("the app sent " + std::string(event_name(e)) + " " + std::string(when));
}

bool is_websocket_event(const event& e) noexcept {
    return std::holds_alternative<websocket::connect>(e) ||
           std::holds_alternative<websocket::accept>(e) ||
           std::holds_alternative<websocket::receive>(e) ||
           std::holds_alternative<websocket::send>(e) ||
           std::holds_alternative<websocket::close>(e) ||
           std::holds_alternative<websocket::disconnect>(e) ||
           std::holds_alternative<websocket::denial_start>(e) ||
           std::holds_alternative<websocket::denial_body>(e);
}

// Header names the handshake itself owns: the transport writes them (or, for the subprotocol,
// the accept's own field does), so an app setting them would corrupt the 101 response.
constexpr std::string_view transport_owned_headers[] = {
    "upgrade",
    "connection",
    "sec-websocket-accept",
    "sec-websocket-protocol",
    "sec-websocket-extensions",
    "content-length",
    "transfer-encoding",
};
}  // namespace

websocket_state next_application_state(websocket_state from, const event& e) {
    if (!is_websocket_event(e)) {
        throw protocol_error("unexpected event on a WebSocket scope: " +
                             std::string(event_name(e)));
    }
    const bool is_accept = std::holds_alternative<websocket::accept>(e);
    const bool is_close = std::holds_alternative<websocket::close>(e);
    const bool is_send = std::holds_alternative<websocket::send>(e);
    const bool is_denial_start = std::holds_alternative<websocket::denial_start>(e);
    const auto* denial_body = std::get_if<websocket::denial_body>(&e);
    if (!is_accept && !is_close && !is_send && !is_denial_start && !denial_body) {
        misuse(e, "(an event only the server sends to the app)");
    }
    switch (from) {
        case websocket_state::connecting:
            if (is_accept) return websocket_state::connected;
            if (is_close) return websocket_state::disconnected;
            if (is_denial_start) return websocket_state::response;
            if (is_send) misuse(e, "before websocket.accept");
            misuse(e, "before websocket.http.response.start");
        case websocket_state::connected:
            if (is_send) return websocket_state::connected;
            if (is_close) return websocket_state::disconnected;
            if (is_accept) misuse(e, "twice");
            misuse(e, "after websocket.accept (a denial response must replace the accept)");
        case websocket_state::response:
            if (denial_body) {
                return denial_body->more_body ? websocket_state::response
                                              : websocket_state::disconnected;
            }
            misuse(e, "while sending a denial response");
        case websocket_state::disconnected:
            misuse(e, "after the connection was closed");
    }
    misuse(e, "in an unknown state");
}

websocket_state next_client_state(websocket_state from, const event& e) {
    const auto unexpected = [&]() -> websocket_state {
        throw protocol_error("the app received " + std::string(event_name(e)) +
                             " while the client is " + std::string(to_string(from)));
    };
    switch (from) {
        case websocket_state::connecting:
            if (std::holds_alternative<websocket::connect>(e)) return websocket_state::connected;
            if (std::holds_alternative<websocket::disconnect>(e)) {
                return websocket_state::disconnected;
            }
            return unexpected();
        case websocket_state::connected:
            if (std::holds_alternative<websocket::receive>(e)) return websocket_state::connected;
            if (std::holds_alternative<websocket::disconnect>(e)) {
                return websocket_state::disconnected;
            }
            return unexpected();
        case websocket_state::response:
        case websocket_state::disconnected: return unexpected();
    }
    return unexpected();
}

// ---- the app's events ----------------------------------------------------------------------

websocket_output websocket_exchange::accept(const websocket::accept& a) {
    if (a.subprotocol) {
        bool offered = false;
        for (const auto& name : scope_->subprotocols) offered = offered || name == *a.subprotocol;
        if (!offered) {
            std::string list;
            for (const auto& name : scope_->subprotocols) {
                if (!list.empty()) list += ", ";
                list += name;
            }
            throw protocol_error("the app accepted subprotocol '" + *a.subprotocol +
                                 "', which the client did not offer (offered: " +
                                 (list.empty() ? std::string("none") : list) + ")");
        }
    }
    for (const auto& field : a.headers) {
        if (!http1::is_token(field.name)) {
            throw protocol_error("the app's websocket.accept has an invalid header name '" +
                                 field.name + "'");
        }
        if (!http1::is_field_value(field.value)) {
            throw protocol_error("the app's websocket.accept header '" + field.name +
                                 "' has a control character in its value");
        }
        for (const auto owned : transport_owned_headers) {
            if (iequals(field.name, owned)) {
                throw protocol_error(
                    "the app's websocket.accept sets '" + field.name +
                    "', which the handshake owns (choose a subprotocol with accept's "
                    "subprotocol)");
            }
        }
    }
    websocket_output out;
    out.what = websocket_output::kind::accept;
    out.subprotocol = a.subprotocol ? &*a.subprotocol : nullptr;
    out.fields = &a.headers;
    return out;
}

void websocket_exchange::check_close(const websocket::close& c) const {
    if (!is_sendable_close_code(c.code)) {
        throw protocol_error("the app sent websocket.close with code " + std::to_string(c.code) +
                             ", which may not be sent (use 1000, 1001-1003, 1007-1014 or "
                             "3000-4999)");
    }
    if (c.reason.size() > max_close_reason_bytes) {
        throw protocol_error("the app's close reason is " + std::to_string(c.reason.size()) +
                             " bytes; at most 123 fit in a close frame");
    }
    if (!is_valid_utf8(c.reason)) {
        throw protocol_error("the app's close reason is not valid UTF-8");
    }
}

websocket_output websocket_exchange::on_send(const event& e) {
    const websocket_state after = next_application_state(app_state_, e);
    websocket_output out;
    if (const auto* close = std::get_if<websocket::close>(&e)) {
        check_close(*close);
        const bool before_accept = app_state_ == websocket_state::connecting;
        app_state_ = after;
        app_code_ = close->code;
        // Closing is always allowed: once the client has gone there is nobody to tell.
        if (client_gone()) return out;
        if (before_accept) {
            // ASGI: a close before the accept refuses the handshake with 403.
            out.what = websocket_output::kind::reject;
            out.status = 403;
        } else {
            out.what = websocket_output::kind::close;
            out.code = close->code;
            out.reason = close->reason;
        }
        return out;
    }
    if (const auto* message = std::get_if<websocket::send>(&e)) {
        // A client fails the connection (1007) on a text frame that is not UTF-8; catching it here
        // names the app's bug instead.
        if (!message->binary && !is_valid_utf8(message->data)) {
            throw protocol_error("the app sent a text message that is not valid UTF-8");
        }
        if (client_gone()) throw client_disconnected();
        out.what = websocket_output::kind::message;
        out.data = message->data;
        out.binary = message->binary;
        return out;
    }
    if (const auto* a = std::get_if<websocket::accept>(&e)) {
        out = accept(*a);
        if (client_gone()) throw client_disconnected();
        accepted_ = true;
        app_state_ = after;
        return out;
    }
    if (client_gone()) throw client_disconnected();
    if (const auto* start = std::get_if<websocket::denial_start>(&e)) {
        // The denial is an HTTP response to the handshake request; http_exchange applies the
        // framing and Content-Length rules. Denials are rare, so copying the headers into the
        // HTTP event is fine; the output points at the app's own headers.
        denial_ = std::make_unique<http_exchange>(*scope_);
        const event head = http::response_start{start->status, start->headers};
        out.response = denial_->on_send(head);
        out.response.fields = &start->headers;
    } else {
        const auto& piece = std::get<websocket::denial_body>(e);
        const event body = http::response_body{piece.body, piece.more_body};
        out.response = denial_->on_send(body);
    }
    out.what = websocket_output::kind::denial;
    out.status = denial_->status();
    app_state_ = after;
    return out;
}

websocket_ending websocket_exchange::on_app_return(bool raised) {
    websocket_ending ending;
    const websocket_state was = app_state_;
    app_state_ = websocket_state::disconnected;
    switch (was) {
        case websocket_state::connecting:
            ending.problem = "the app returned without accepting or refusing the connection";
            if (!client_gone()) ending.what = websocket_ending::kind::respond_500;
            break;
        case websocket_state::response:
            ending.problem = "the app returned before completing its denial response";
            if (!client_gone()) ending.what = websocket_ending::kind::drop;
            break;
        case websocket_state::connected:
            // Like uvicorn: an app that returns without closing is closed for it, normally (1000)
            // unless it failed (1011, RFC 6455's "internal error").
            app_code_ = raised ? 1011 : 1000;
            if (!client_gone()) {
                ending.what = websocket_ending::kind::close;
                ending.code = *app_code_;
            }
            break;
        case websocket_state::disconnected:
            if (denial_) ending.problem = denial_->on_app_return();
            break;
    }
    return ending;
}

// ---- the client's side ---------------------------------------------------------------------

void websocket_exchange::on_client_close(int code, std::string reason) {
    if (client_code_) return;
    client_code_ = code;
    client_reason_ = std::move(reason);
}

void websocket_exchange::on_client_gone() {
    if (!client_code_) client_code_ = 1006;
}

websocket_receive_step websocket_exchange::next_receive(bool message_waiting) noexcept {
    if (client_state_ == websocket_state::connecting) {
        client_state_ = websocket_state::connected;
        return websocket_receive_step::connect;
    }
    if (client_state_ == websocket_state::disconnected) return websocket_receive_step::disconnect;
    if (message_waiting) return websocket_receive_step::message;
    // A refused handshake (reject or denial) ends the connection: no message can come.
    const bool refused = !accepted_ && app_state_ != websocket_state::connecting;
    if (client_gone() || refused) {
        client_state_ = websocket_state::disconnected;
        return websocket_receive_step::disconnect;
    }
    return websocket_receive_step::wait;
}

websocket::disconnect websocket_exchange::disconnect_event() const {
    return websocket::disconnect{client_code_.value_or(1006), client_reason_};
}

}  // namespace tessera
