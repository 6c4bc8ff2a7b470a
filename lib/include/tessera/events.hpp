#pragma once
/// The events apps and transports exchange: the C++ form of ASGI messages.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

#include "tessera/headers.hpp"

namespace tessera {

// Every event type has constructors, so none is an aggregate: g++ 12 destroys an aggregate
// temporary made inside a co_await expression twice (`co_await send(T{...})`), while classes
// with constructors are handled correctly. Keep it that way when adding events.

/// HTTP events. Bodies the app sends are views: they must stay valid until the `send` call that
/// carries them completes (the transport copies what it cannot write at once). Bodies the app
/// receives are owned strings it may keep.
namespace http {
/// A piece of the request body (`http.request`).
struct request {
    std::string body;
    bool more_body = false;
    request() = default;
    request(std::string b, bool more = false) : body(std::move(b)), more_body(more) {}
};
/// The client went away, or the response is complete and nothing more will come
/// (`http.disconnect`).
struct disconnect {
    disconnect() = default;
};
/// Status and headers of the response (`http.response.start`).
struct response_start {
    int status = 200;
    tessera::headers headers;
    response_start() = default;
    response_start(int code, tessera::headers fields = {})
        : status(code), headers(std::move(fields)) {}
};
/// A piece of the response body (`http.response.body`).
struct response_body {
    std::string_view body;
    bool more_body = false;
    response_body() = default;
    response_body(std::string_view b, bool more = false) : body(b), more_body(more) {}
};
/// The whole (or a range of a) file as the response body, sent with sendfile where the
/// transport can (the ASGI `http.response.pathsend` extension). Always the last body event.
struct response_file {
    std::string path;
    std::uint64_t offset = 0;
    std::optional<std::uint64_t> length;  ///< to the end of the file when absent
    response_file() = default;
    explicit response_file(std::string file, std::uint64_t from = 0,
                           std::optional<std::uint64_t> count = std::nullopt)
        : path(std::move(file)), offset(from), length(count) {}
};
}  // namespace http

/// WebSocket events (the WebSocket issue wires them through the server and test client).
namespace websocket {
struct connect {
    connect() = default;
};
struct accept {
    std::optional<std::string> subprotocol;
    tessera::headers headers;
    accept() = default;
    explicit accept(std::optional<std::string> protocol, tessera::headers fields = {})
        : subprotocol(std::move(protocol)), headers(std::move(fields)) {}
};
/// A message from the client; `binary` tells bytes from text.
struct receive {
    std::string data;
    bool binary = false;
    receive() = default;
    receive(std::string d, bool is_binary) : data(std::move(d)), binary(is_binary) {}
};
/// A message to the client; the view must stay valid until `send` completes.
struct send {
    std::string_view data;
    bool binary = false;
    send() = default;
    send(std::string_view d, bool is_binary) : data(d), binary(is_binary) {}
};
struct close {
    int code = 1000;
    std::string reason;
    close() = default;
    explicit close(int c, std::string why = {}) : code(c), reason(std::move(why)) {}
};
struct disconnect {
    int code = 1005;
    std::string reason;
    disconnect() = default;
    explicit disconnect(int c, std::string why = {}) : code(c), reason(std::move(why)) {}
};
/// An HTTP response instead of accepting the upgrade (the ASGI WebSocket denial extension).
struct denial_start {
    int status = 403;
    tessera::headers headers;
    denial_start() = default;
    denial_start(int code, tessera::headers fields = {})
        : status(code), headers(std::move(fields)) {}
};
struct denial_body {
    std::string_view body;
    bool more_body = false;
    denial_body() = default;
    denial_body(std::string_view b, bool more = false) : body(b), more_body(more) {}
};
}  // namespace websocket

/// Lifespan events: sent once per server (or test client) around the life of the app.
namespace lifespan {
struct startup {
    startup() = default;
};
struct startup_complete {
    startup_complete() = default;
};
struct startup_failed {
    std::string message;
    startup_failed() = default;
    explicit startup_failed(std::string why) : message(std::move(why)) {}
};
struct shutdown {
    shutdown() = default;
};
struct shutdown_complete {
    shutdown_complete() = default;
};
struct shutdown_failed {
    std::string message;
    shutdown_failed() = default;
    explicit shutdown_failed(std::string why) : message(std::move(why)) {}
};
}  // namespace lifespan

/// Any event. The alternatives' order is part of the ABI only, never of the meaning.
using event = std::variant<http::request, http::disconnect, http::response_start,
                           http::response_body, http::response_file, websocket::connect,
                           websocket::accept, websocket::receive, websocket::send,
                           websocket::close, websocket::disconnect, websocket::denial_start,
                           websocket::denial_body, lifespan::startup, lifespan::startup_complete,
                           lifespan::startup_failed, lifespan::shutdown,
                           lifespan::shutdown_complete, lifespan::shutdown_failed>;

/// The ASGI name of an event ("http.response.start", …), for error messages and logs.
[[nodiscard]] std::string_view event_name(const event& e) noexcept;

}  // namespace tessera
