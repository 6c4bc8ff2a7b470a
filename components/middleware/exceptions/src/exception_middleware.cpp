#include "tessera/exception_middleware.hpp"

#include <optional>
#include <stdexcept>
#include <utility>
#include <variant>

#include "tessera/cancellation.hpp"
#include "tessera/request.hpp"
#include "tessera/websocket_connection.hpp"

namespace tessera {

namespace {
// Hands the inner app (and then a handler's response) a `send` that notes when the response
// starts: after that an exception can no longer become a response. Returns the downstream task
// itself, so wrapping costs no coroutine frame.
struct start_tracking_send {
    send downstream;
    bool* started;
    task<void> operator()(event e) const {
        if (std::holds_alternative<http::response_start>(e)) *started = true;
        return downstream(std::move(e));
    }
};

// On a WebSocket scope: notes what the inner app has sent, which decides what a
// `websocket_error` can still become.
struct websocket_tracking_send {
    send downstream;
    websocket_state* state;
    task<void> operator()(event e) const {
        if (std::holds_alternative<websocket::accept>(e)) {
            *state = websocket_state::connected;
        } else if (std::holds_alternative<websocket::close>(e)) {
            *state = websocket_state::disconnected;
        } else if (std::holds_alternative<websocket::denial_start>(e)) {
            *state = websocket_state::response;
        }
        return downstream(std::move(e));
    }
};

}  // namespace

exception_middleware::exception_middleware(construct, any_app inner, exception_options options)
    : inner_(std::move(inner)) {
    if (!inner_) throw std::invalid_argument("exception_middleware: no inner app");
    if (options.server_error && !options.catch_unhandled) {
        throw std::invalid_argument(
            "exception_middleware: a server_error handler is only used with catch_unhandled");
    }
    options_ = std::make_shared<const exception_options>(std::move(options));
}

task<void> exception_middleware::operator()(scope& s, receive r, send sd) const {
    if (s.type == scope_type::websocket) {
        co_await handle_websocket(s, r, sd);
        co_return;
    }
    if (s.type != scope_type::http) {
        co_await inner_(s, r, sd);
        co_return;
    }
    if (!s.extensions.contains<http_errors_handled>()) s.extensions.set(http_errors_handled{});

    bool started = false;
    start_tracking_send tracking{sd, &started};
    const send tracked(tracking);
    std::exception_ptr error;
    try {
        co_await inner_(s, r, tracked);
        co_return;
    } catch (...) {
        error = std::current_exception();
    }
    if (started || is_client_gone_or_cancelled(error)) std::rethrow_exception(error);

    if (const auto handler = options_->handlers.find(error)) {
        // `error` stays alive in this frame: the handler reads the exception object it owns.
        std::exception_ptr handler_error;
        try {
            request req(s, r);
            const response answer = co_await handler(req);
            co_await answer(s, r, tracked);
            co_return;
        } catch (...) {
            handler_error = std::current_exception();
        }
        // A handler that fails before answering is an unhandled error of its own; one that
        // fails while its response is going out can only end the connection.
        if (started || is_client_gone_or_cancelled(handler_error) || !options_->catch_unhandled) {
            std::rethrow_exception(handler_error);
        }
        error = handler_error;
    } else if (!options_->catch_unhandled) {
        std::rethrow_exception(error);
    }

    // catch_unhandled: answer the 500 here, through `sd`, so it flows out through whatever
    // wraps this layer; the outer server-error layer sees the started response and only
    // rethrows, so nothing is sent twice.
    try {
        co_await send_server_error(s, r, sd, error, options_->debug, options_->server_error);
    } catch (...) {
        // The 500 could not go out (the client left meanwhile): the original error is still
        // the one to report.
    }
    std::rethrow_exception(error);
}

task<void> exception_middleware::handle_websocket(scope& s, receive r, send sd) const {
    // No `http_errors_handled` here: nothing answers a WebSocket scope with an HTTP error (a
    // router closes an unrouted connection itself), and the handlers shape HTTP responses.
    websocket_state state = websocket_state::connecting;
    websocket_tracking_send tracking{sd, &state};
    const send tracked(tracking);
    std::optional<websocket_error> failure;
    try {
        co_await inner_(s, r, tracked);
        co_return;
    } catch (const websocket_error& error) {
        failure = error;
    }
    // Starlette's ExceptionMiddleware closes with a WebSocketException's code. Once the app has
    // closed there is nothing left to do with it; half a denial response cannot become a close.
    switch (state) {
        case websocket_state::connecting:  // a close before the accept: the client gets 403
        case websocket_state::connected: break;
        case websocket_state::response: throw *failure;
        case websocket_state::disconnected: co_return;
    }
    try {
        event close{websocket::close{failure->code(), failure->reason()}};
        co_await sd(std::move(close));
    } catch (const client_disconnected&) {
        // The client left meanwhile: nobody is there to tell.
    }
}

}  // namespace tessera
