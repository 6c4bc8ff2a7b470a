#pragma once
/// `websocket_route`: a path template bound to the handler or app that serves WebSocket
/// connections there.

#include <concepts>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/base_route.hpp"
#include "tessera/middleware.hpp"
#include "tessera/websocket_connection.hpp"

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

namespace detail {
/// A WebSocket handler: callable (const) with a `websocket_connection&`, returning `task<void>`.
/// Functions, lambdas and classes with such an operator().
template <class H>
concept websocket_handler =
    std::copy_constructible<H> && std::is_invocable_v<const H&, websocket_connection&> &&
    std::is_same_v<std::invoke_result_t<const H&, websocket_connection&>, task<void>>;

/// The app a WebSocket handler becomes: it builds the `websocket_connection` in its frame and
/// runs the handler through `run_websocket_handler`, so a `websocket_error` closes with its code
/// (a 403 refusal before the accept) and the client leaving ends the call quietly.
template <class H>
struct websocket_handler_app {
    H handler;
    task<void> operator()(scope& s, receive r, send sd) const {
        websocket_connection ws(s, r, sd);
        task<void> running = handler(ws);
        co_await run_websocket_handler(ws, std::move(running));
    }
};

template <class>
inline constexpr bool unsupported_websocket_handler = false;
}  // namespace detail

/// A WebSocket route (Starlette's `WebSocketRoute`): matches WebSocket scopes only (an HTTP
/// request to the same path is not routed here) and hands them to what serves it, either a
/// handler (`task<void>(websocket_connection&)`, detected at compile time) or any app, which
/// speaks the WebSocket events itself. A handler's `websocket_error` closes the connection with
/// its code and reason (before the accept: the client gets 403); the client leaving ends it
/// quietly; any other exception propagates (the transport closes with 1011).
///
///     task<void> chat(websocket_connection& ws) {
///         co_await ws.accept();
///         const auto room = ws.path_params().get<std::string>("room");
///         auto messages = ws.iter_text();
///         while (auto text = co_await messages.next()) co_await ws.send_text(room + ": " + *text);
///     }
///     websocket_route("/ws/{room}", chat, {.name = "chat"})
///     websocket_route("/raw", chat_app)      // an app: scope, receive, send
class websocket_route : public base_route {
public:
    template <class H>
    websocket_route(std::string path, H handler, websocket_route_options options = {})
        : websocket_route(construct{}, std::move(path), to_app(std::move(handler)),
                          std::move(options)) {}

    [[nodiscard]] match_kind match(const scope& s, std::string_view route_path,
                                   route_match& found) const override;
    [[nodiscard]] task<void> handle(scope& s, receive r, send sd) const override;
    [[nodiscard]] std::optional<url_path> reverse(std::string_view name,
                                                  const path_params& params,
                                                  detail::reverse_notes& notes) const override;

private:
    struct construct {};
    websocket_route(construct, std::string path, any_app app, websocket_route_options options);

    template <class H>
    static any_app to_app(H handler) {
        if constexpr (detail::websocket_handler<H>) {
            return any_app(detail::websocket_handler_app<H>{std::move(handler)});
        } else if constexpr (app<H>) {
            return any_app(std::move(handler));
        } else {
            static_assert(detail::unsupported_websocket_handler<H>,
                          "websocket_route: the handler must be callable as "
                          "task<void>(websocket_connection&), or be an app");
            return {};
        }
    }

    any_app app_;
};

}  // namespace tessera
