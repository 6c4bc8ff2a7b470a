#pragma once
/// `websocket_route`: a path template bound to the app that serves WebSocket connections there.

#include <string>
#include <vector>

#include "tessera/base_route.hpp"
#include "tessera/middleware.hpp"

namespace tessera {

/// Options of a `websocket_route`.
struct websocket_route_options {
    /// The name for reverse routing (`url_for` gives a `ws://` or `wss://` URL); empty: unnamed.
    std::string name;
    /// Wraps the app (outermost first).
    std::vector<tessera::middleware> middleware;
    /// User convertors the template may name.
    std::vector<path_convertor> convertors;
};

/// A WebSocket route (Starlette's `WebSocketRoute`): matches WebSocket scopes only (an HTTP
/// request to the same path is not routed here) and hands them to its app, which speaks the
/// WebSocket events itself.
///
///     websocket_route("/ws/{room}", chat_app, {.name = "chat"})
class websocket_route : public base_route {
public:
    websocket_route(std::string path, any_app app, websocket_route_options options = {});

    [[nodiscard]] match_kind match(const scope& s, std::string_view route_path,
                                   route_match& found) const override;
    [[nodiscard]] task<void> handle(scope& s, receive r, send sd) const override;
    [[nodiscard]] std::optional<url_path> reverse(std::string_view name,
                                                  const path_params& params,
                                                  detail::reverse_notes& notes) const override;

private:
    any_app app_;
};

}  // namespace tessera
