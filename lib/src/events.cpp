#include "tessera/events.hpp"

namespace tessera {

std::string_view event_name(const event& e) noexcept {
    // Indexed by the variant's alternative order.
    static constexpr std::string_view names[] = {
        "http.request",
        "http.disconnect",
        "http.response.start",
        "http.response.body",
        "http.response.pathsend",
        "websocket.connect",
        "websocket.accept",
        "websocket.receive",
        "websocket.send",
        "websocket.close",
        "websocket.disconnect",
        "websocket.http.response.start",
        "websocket.http.response.body",
        "lifespan.startup",
        "lifespan.startup.complete",
        "lifespan.startup.failed",
        "lifespan.shutdown",
        "lifespan.shutdown.complete",
        "lifespan.shutdown.failed",
    };
    static_assert(std::size(names) == std::variant_size_v<event>);
    return names[e.index()];
}

}  // namespace tessera
