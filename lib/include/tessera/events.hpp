#pragma once
/// The events apps and transports exchange: the C++ form of ASGI messages.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "tessera/headers.hpp"

namespace tessera {

/// HTTP events. Bodies the app sends are views: they must stay valid until the `send` call that
/// carries them completes (the transport copies what it cannot write at once). Bodies the app
/// receives are owned strings it may keep.
namespace http {
/// A piece of the request body (`http.request`).
struct request {
    std::string body;
    bool more_body = false;
};
/// The client went away, or the response is complete and nothing more will come
/// (`http.disconnect`).
struct disconnect {};
/// Status and headers of the response (`http.response.start`).
struct response_start {
    int status = 200;
    tessera::headers headers;
};
/// A piece of the response body (`http.response.body`).
struct response_body {
    std::string_view body;
    bool more_body = false;
};
/// The whole (or a range of a) file as the response body, sent with sendfile where the
/// transport can (the ASGI `http.response.pathsend` extension). Always the last body event.
struct response_file {
    std::string path;
    std::uint64_t offset = 0;
    std::optional<std::uint64_t> length;  ///< to the end of the file when absent
};
}  // namespace http

/// WebSocket events (the WebSocket issue wires them through the server and test client).
namespace websocket {
struct connect {};
struct accept {
    std::optional<std::string> subprotocol;
    tessera::headers headers;
};
/// A message from the client; `binary` tells bytes from text.
struct receive {
    std::string data;
    bool binary = false;
};
/// A message to the client; the view must stay valid until `send` completes.
struct send {
    std::string_view data;
    bool binary = false;
};
struct close {
    int code = 1000;
    std::string reason;
};
struct disconnect {
    int code = 1005;
    std::string reason;
};
/// An HTTP response instead of accepting the upgrade (the ASGI WebSocket denial extension).
struct denial_start {
    int status = 403;
    tessera::headers headers;
};
struct denial_body {
    std::string_view body;
    bool more_body = false;
};
}  // namespace websocket

/// Lifespan events: sent once per server (or test client) around the life of the app.
namespace lifespan {
struct startup {};
struct startup_complete {};
struct startup_failed {
    std::string message;
};
struct shutdown {};
struct shutdown_complete {};
struct shutdown_failed {
    std::string message;
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
