#pragma once
/// `scope`: what an app is told about the connection or request it serves.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tessera/address.hpp"
#include "tessera/headers.hpp"
#include "tessera/path_params.hpp"
#include "tessera/state.hpp"

namespace tessera {

enum class scope_type { http, websocket, lifespan };

/// One per HTTP request, WebSocket connection or lifespan run. Transports build it; routers and
/// middleware may adjust it (mounts grow `root_path`, routes fill `path_params`) before passing
/// it inward. Apps receive it by reference for the duration of their call.
struct scope {
    scope_type type = scope_type::http;
    std::string http_version = "1.1";  ///< "1.0", "1.1" or "2"
    std::string method = "GET";        ///< upper-case; HTTP only
    std::string scheme = "http";       ///< "http", "https", "ws" or "wss"
    std::string path;                  ///< percent-decoded; includes root_path
    std::string raw_path;              ///< as received, without the query
    std::string query_string;          ///< still percent-encoded, without '?'
    std::string root_path;             ///< the prefix consumed by mounts
    tessera::headers headers;          ///< lower-case names, order and duplicates kept
    std::optional<address> client;
    std::optional<address> server;
    std::vector<std::string> subprotocols;  ///< WebSocket only

    tessera::path_params path_params;  ///< filled by the route that matched
    /// Per-request state (Starlette's `request.state`): middleware leaves values for handlers.
    tessera::state state;
    /// App-wide state produced by the lifespan, shared by every request (null when none).
    std::shared_ptr<tessera::state> app_state;
    /// Typed slots written by components (session, user, auth, the matched route, a cached
    /// request body…), keyed by type so components never collide.
    tessera::state extensions;
};

[[nodiscard]] constexpr const char* to_string(scope_type type) noexcept {
    switch (type) {
        case scope_type::http: return "http";
        case scope_type::websocket: return "websocket";
        case scope_type::lifespan: return "lifespan";
    }
    return "unknown";
}

}  // namespace tessera
