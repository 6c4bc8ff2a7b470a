#pragma once
/// `websocket_endpoint<T>`: a class whose `on_connect`, `on_receive` and `on_disconnect` members
/// serve WebSocket connections (Starlette's WebSocketEndpoint), found at compile time.

#include <concepts>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include "tessera/app.hpp"
#include "tessera/cancellation.hpp"
#include "tessera/json.hpp"
#include "tessera/task.hpp"
#include "tessera/websocket_connection.hpp"

namespace tessera {

/// What a `websocket_endpoint` hands `on_receive`, chosen by a static member `T::encoding`.
enum class websocket_encoding {
    /// Any message, its payload as a `std::string` whether text or binary (the default).
    any,
    /// Text messages as `std::string`; a binary message closes the connection with 1003.
    text,
    /// Binary messages as `std::string`; a text message closes the connection with 1003.
    bytes,
    /// Messages (text, or binary holding UTF-8) parsed as `tessera::json`; a message that is not
    /// JSON closes the connection with 1003.
    json,
};

namespace detail {
/// `T::encoding` if `T` declares it, else `websocket_encoding::any`.
template <class T>
consteval websocket_encoding websocket_encoding_of() noexcept {
    if constexpr (requires {
                      { T::encoding } -> std::convertible_to<websocket_encoding>;
                  }) {
        return T::encoding;
    } else {
        return websocket_encoding::any;
    }
}

/// The type `on_receive` takes for an encoding.
template <websocket_encoding E>
using websocket_data_t =
    std::conditional_t<E == websocket_encoding::json, tessera::json, std::string>;

template <class T>
concept ws_endpoint_has_connect = requires(T& t, websocket_connection& ws) {
    { t.on_connect(ws) } -> std::same_as<task<void>>;
};
template <class T, class D>
concept ws_endpoint_has_receive = requires(T& t, websocket_connection& ws, D data) {
    { t.on_receive(ws, std::move(data)) } -> std::same_as<task<void>>;
};
template <class T>
concept ws_endpoint_has_disconnect = requires(T& t, websocket_connection& ws, int code) {
    { t.on_disconnect(ws, code) } -> std::same_as<task<void>>;
};
// A member of that name exists, whatever its signature: tells a misdeclared member from none.
template <class T>
concept ws_endpoint_declares_connect = requires { &T::on_connect; };
template <class T>
concept ws_endpoint_declares_receive = requires { &T::on_receive; };
template <class T>
concept ws_endpoint_declares_disconnect = requires { &T::on_disconnect; };

/// Decodes one message for `encoding`: its payload (`any`, `text`, `bytes`) or the JSON value.
/// A message of the wrong kind, or not JSON, raises `websocket_unsupported_data` (1003).
void check_websocket_message(const websocket::receive& message, websocket_encoding encoding);
[[nodiscard]] tessera::json parse_websocket_json(const websocket::receive& message);
/// Answers an HTTP request to a WebSocket endpoint with 404: thrown as `http_error` inside an
/// exception layer (`http_errors_handled`), else plain "Not Found".
task<void> websocket_endpoint_not_found(scope& s, receive r, send sd);
/// Closes with 1011 after an unexpected exception, ignoring a client already gone.
task<void> close_after_failure(websocket_connection& ws);
}  // namespace detail

/// An app serving WebSocket connections with the members of `T`, each optional:
///
///     struct chat_endpoint {
///         static constexpr auto encoding = websocket_encoding::text;
///         std::string name;                                       // per connection
///         task<void> on_connect(websocket_connection& ws);         // default: accept
///         task<void> on_receive(websocket_connection& ws, std::string text);
///         task<void> on_disconnect(websocket_connection& ws, int code);  // default: nothing
///     };
///     websocket_route("/chat", websocket_endpoint<chat_endpoint>{})
///
/// - `on_connect` must accept, close (refusing the handshake: 403) or send a denial response;
///   returning with the connection still connecting is a std::logic_error. Without it the
///   endpoint accepts.
/// - Then each message goes to `on_receive` as `T::encoding` says (`websocket_encoding`; `any`
///   when `T` has none): `std::string` for any/text/bytes, `tessera::json` for json. A message of
///   the wrong kind (binary for text, text for bytes, not JSON for json) closes the connection
///   with 1003 and ends it without an exception (the client sent bad data; that is not a server
///   error).
/// - The loop ends when the client disconnects; `on_disconnect` then gets the code the
///   connection ended with: the client's (1005 when its close had none, 1006 when it was lost),
///   1003 for bad data, a `websocket_error`'s code (which closes with it), or 1011 when
///   `on_receive` raised anything else — the endpoint then closes with 1011 and rethrows, as
///   Starlette does. `on_disconnect` runs only once `on_connect` has returned
///   with the connection accepted.
/// - A `websocket_error` from any member closes with its code and reason (403 before the
///   accept), through `run_websocket_handler`.
/// - HTTP scopes get a 404 (thrown as `http_error` inside an exception layer), as no route
///   serves them; lifespan scopes are ignored.
///
/// As Starlette makes an endpoint instance per connection, each connection works on its own copy
/// of the `T` the endpoint holds, so members may be non-const and keep per-connection state in
/// `T`'s fields; share things between connections through pointers. A member with the right name
/// but the wrong signature is a compile error, never silently skipped.
template <class T>
class websocket_endpoint {
public:
    static_assert(std::is_class_v<T>, "websocket_endpoint<T>: T must be a class");
    static_assert(std::copy_constructible<T>,
                  "websocket_endpoint<T>: T is copied for each connection");
    /// How messages reach `on_receive`.
    static constexpr websocket_encoding encoding = detail::websocket_encoding_of<T>();
    /// What `on_receive` takes.
    using data_type = detail::websocket_data_t<encoding>;

    /// Default-constructs the `T` every connection copies.
    websocket_endpoint()
        requires std::default_initializable<T>
        : prototype_(std::make_shared<const T>()) {}
    /// Takes the `T` every connection copies.
    explicit websocket_endpoint(T prototype)
        : prototype_(std::make_shared<const T>(std::move(prototype))) {}

    /// The `T` each connection starts from.
    [[nodiscard]] const T& prototype() const noexcept { return *prototype_; }

    /// Serves one WebSocket connection (see the class comment for HTTP and lifespan scopes).
    task<void> operator()(scope& s, receive r, send sd) const {
        if (s.type == scope_type::lifespan) co_return;
        if (s.type != scope_type::websocket) {
            co_await detail::websocket_endpoint_not_found(s, r, sd);
            co_return;
        }
        T instance = *prototype_;
        websocket_connection ws(s, r, sd);
        task<void> serving = serve(instance, ws);
        co_await run_websocket_handler(ws, std::move(serving));
    }

private:
    static_assert(!detail::ws_endpoint_declares_connect<T> || detail::ws_endpoint_has_connect<T>,
                  "T::on_connect must be callable as `task<void> on_connect(websocket_connection&)`");
    static_assert(!detail::ws_endpoint_declares_receive<T> ||
                      detail::ws_endpoint_has_receive<T, data_type>,
                  "T::on_receive must be callable as `task<void> on_receive(websocket_connection&, "
                  "D)` with D std::string (encodings any, text, bytes) or tessera::json (json)");
    static_assert(!detail::ws_endpoint_declares_disconnect<T> ||
                      detail::ws_endpoint_has_disconnect<T>,
                  "T::on_disconnect must be callable as "
                  "`task<void> on_disconnect(websocket_connection&, int)`");

    // The connection's whole life; `t` and `ws` live in operator()'s frame.
    static task<void> serve(T& t, websocket_connection& ws) {
        if constexpr (detail::ws_endpoint_has_connect<T>) {
            co_await t.on_connect(ws);
        } else {
            co_await ws.accept();
        }
        switch (ws.application_state()) {
            case websocket_state::connected: break;
            case websocket_state::connecting:
                throw std::logic_error(
                    "websocket_endpoint: on_connect must accept or close the connection");
            default: co_return;  // refused, closed, or answered with a denial response
        }

        int code = 1000;
        std::exception_ptr failure;
        bool close_1011 = false;
        try {
            while (true) {
                event next = co_await ws.receive();
                if (auto* message = std::get_if<websocket::receive>(&next)) {
                    co_await deliver(t, ws, std::move(*message));
                } else if (const auto* gone = std::get_if<websocket::disconnect>(&next)) {
                    code = gone->code;
                    break;
                }
            }
        } catch (const operation_cancelled&) {
            throw;  // torn down from outside: nothing can be sent, nobody to tell
        } catch (const websocket_disconnect& gone) {
            code = gone.code();  // a send found the client gone
        } catch (const client_disconnected&) {
            code = 1006;
        } catch (const websocket_error& error) {
            code = error.code();  // run_websocket_handler closes with it
            failure = std::current_exception();
        } catch (...) {
            code = 1011;
            failure = std::current_exception();
            close_1011 = true;
        }
        if (close_1011) co_await detail::close_after_failure(ws);
        if constexpr (detail::ws_endpoint_has_disconnect<T>) {
            co_await t.on_disconnect(ws, code);
        }
        if (failure) std::rethrow_exception(failure);
    }

    // Decodes one message and hands it to on_receive (or drops it when T has none).
    static task<void> deliver(T& t, websocket_connection& ws, websocket::receive message) {
        detail::check_websocket_message(message, encoding);
        if constexpr (detail::ws_endpoint_has_receive<T, data_type>) {
            if constexpr (encoding == websocket_encoding::json) {
                tessera::json value = detail::parse_websocket_json(message);
                co_await t.on_receive(ws, std::move(value));
            } else {
                co_await t.on_receive(ws, std::move(message.data));
            }
        } else {
            (void)t;
            (void)ws;
            if constexpr (encoding == websocket_encoding::json) {
                (void)detail::parse_websocket_json(message);
            }
        }
        co_return;
    }

    std::shared_ptr<const T> prototype_;
};

/// `websocket_endpoint(chat_endpoint{.rooms = rooms})` deduces the class.
template <class T>
websocket_endpoint(T) -> websocket_endpoint<T>;

}  // namespace tessera
