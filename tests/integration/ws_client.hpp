#pragma once
// A minimal blocking WebSocket client for the integration tests: the handshake over the socket
// client, then the codec's own `ws::protocol` in the client role (masking, parsing, automatic
// pongs and close echoes), so no second frame writer exists. Every read is bounded by the
// socket client's receive timeout.

#include <optional>
#include <span>
#include <string>
#include <string_view>

#include <tessera/http1_serializer.hpp>
#include <tessera/ws/deflate.hpp>
#include <tessera/ws/handshake.hpp>
#include <tessera/ws/protocol.hpp>

#include "socket_client.hpp"

namespace itest {

/// What the server sent next, as the client saw it.
struct ws_event {
    enum class kind { message, ping, pong, close, fail, eof, timeout } what = kind::eof;
    std::string data;  ///< message bytes, or a ping/pong payload
    bool binary = false;
    int code = 0;  ///< close: the server's code (1005 for none); fail: the client's own
    std::string reason;
};

/// A WebSocket client connection to 127.0.0.1:`port`.
class ws_client {
public:
    explicit ws_client(std::uint16_t port, std::chrono::milliseconds timeout = 5000ms)
        : conn(port, timeout) {}

    /// Sends the upgrade request for `target` with `extra` header lines ("Name: value\r\n"…)
    /// and reads the answer. On a valid 101 the protocol starts (with permessage-deflate when
    /// `offer_deflate` and the server agreed). Returns the response (nullopt: none came).
    std::optional<http_response> handshake(std::string_view target, std::string_view extra = {},
                                           bool offer_deflate = false) {
        key = tessera::ws::generate_key();
        std::string request = "GET ";
        request.append(target).append(" HTTP/1.1\r\nHost: test\r\nUpgrade: websocket\r\n"
                                      "Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n");
        request.append("Sec-WebSocket-Key: ").append(key).append("\r\n");
        if (offer_deflate) {
            request.append("Sec-WebSocket-Extensions: ")
                .append(tessera::ws::deflate_offer({}))
                .append("\r\n");
        }
        request.append(extra).append("\r\n");
        if (!conn.send(request)) return std::nullopt;
        // The 101 has no body: read only its head, leaving frames that follow in the buffer.
        std::size_t head_end;
        while ((head_end = conn.buffer().find("\r\n\r\n")) == std::string::npos) {
            if (conn.read_some() != read_status::ok) return std::nullopt;
        }
        if (conn.buffer().compare(9, 3, "101") != 0) return conn.read_response();
        std::optional<http_response> response = parse_head(conn.buffer().substr(0, head_end));
        conn.buffer().erase(0, head_end + 4);
        tessera::headers fields;
        for (const auto& [name, value] : response->headers) fields.append(name, value);
        accepted = tessera::ws::check_accept_response(response->status, fields, key);
        std::optional<tessera::ws::deflate_params> deflate;
        if (const auto ext = response->header("sec-websocket-extensions")) {
            deflate = tessera::ws::accept_deflate_response(*ext, {});
        }
        proto.emplace(tessera::ws::protocol_options{
            .role = tessera::ws::role::client,
            .max_message_size = 64 * 1024 * 1024,
            .deflate = deflate,
            .compression = {},
        });
        return response;
    }

    void send_text(std::string_view text) {
        (void)proto->send_text(text, out);
        write_out();
    }
    void send_binary(std::string_view bytes) {
        (void)proto->send_binary(bytes, out);
        write_out();
    }
    void send_ping(std::string_view payload) {
        (void)proto->send_ping(payload, out);
        write_out();
    }
    void send_close(int code, std::string_view reason = {}) {
        (void)proto->send_close(code, reason, out);
        write_out();
    }
    /// Raw bytes (hand-made frames).
    void send_raw(std::string_view bytes) { (void)conn.send(bytes); }

    /// The next event from the server. Replies the protocol owes (pongs unless `answer_pings`
    /// is off, the close echo) are written before it returns.
    ws_event next() {
        for (;;) {
            auto& buffer = conn.buffer();
            if (!buffer.empty() && !proto->closed()) {
                const auto r = proto->parse(std::span<char>(buffer.data(), buffer.size()), out);
                buffer.erase(0, r.consumed);
                if (r.kind == tessera::ws::protocol_event::ping && !answer_pings) out.clear();
                write_out();
                ws_event e;
                switch (r.kind) {
                    case tessera::ws::protocol_event::need_more: break;
                    case tessera::ws::protocol_event::message:
                        e.what = ws_event::kind::message;
                        e.binary = proto->is_binary();
                        e.data = proto->take_message();
                        return e;
                    case tessera::ws::protocol_event::ping:
                        e.what = ws_event::kind::ping;
                        e.data = proto->control_payload();
                        return e;
                    case tessera::ws::protocol_event::pong:
                        e.what = ws_event::kind::pong;
                        e.data = proto->control_payload();
                        return e;
                    case tessera::ws::protocol_event::close:
                    case tessera::ws::protocol_event::fail:
                        e.what = r.kind == tessera::ws::protocol_event::close
                                     ? ws_event::kind::close
                                     : ws_event::kind::fail;
                        e.code = proto->close_code();
                        e.reason = proto->close_reason();
                        return e;
                }
                if (r.kind != tessera::ws::protocol_event::need_more) continue;
            }
            const auto status = conn.read_some();
            if (status == read_status::timeout) return ended(ws_event::kind::timeout);
            if (status != read_status::ok) return ended(ws_event::kind::eof);
        }
    }
    /// The next event that is not a ping or pong.
    ws_event next_skipping_control() {
        for (;;) {
            auto e = next();
            if (e.what != ws_event::kind::ping && e.what != ws_event::kind::pong) return e;
        }
    }
    /// Reads until the server closes the TCP connection (false on timeout).
    bool wait_closed() {
        for (;;) {
            const auto e = next();
            if (e.what == ws_event::kind::eof) return true;
            if (e.what == ws_event::kind::timeout) return false;
        }
    }

    client conn;
    std::string key;
    bool accepted = false;
    bool answer_pings = true;
    std::optional<tessera::ws::protocol> proto;
    tessera::http1::write_batch out;

private:
    // A response head (status line and fields, without the blank line).
    static http_response parse_head(const std::string& head) {
        http_response r;
        r.status = std::stoi(head.substr(9, 3));
        std::size_t pos = head.find("\r\n");
        while (pos != std::string::npos && pos + 2 < head.size()) {
            const std::size_t start = pos + 2;
            pos = head.find("\r\n", start);
            const std::string line = head.substr(start, pos == std::string::npos ? std::string::npos : pos - start);
            const auto colon = line.find(':');
            if (colon == std::string::npos) continue;
            std::string value = line.substr(colon + 1);
            while (!value.empty() && value.front() == ' ') value.erase(0, 1);
            r.headers.emplace_back(lower(line.substr(0, colon)), value);
        }
        r.complete = true;
        return r;
    }
    static ws_event ended(ws_event::kind how) {
        ws_event e;
        e.what = how;
        return e;
    }
    void write_out() {
        if (out.empty()) return;
        (void)conn.send(out.to_string());
        out.clear();
    }
};

}  // namespace itest
