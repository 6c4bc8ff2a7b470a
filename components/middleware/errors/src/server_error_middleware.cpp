#include "tessera/server_error_middleware.hpp"

#include <stdexcept>
#include <utility>
#include <variant>

#include "tessera/cancellation.hpp"

namespace tessera {

namespace {
// Hands the inner app a `send` that notes when the response starts: after that, an exception
// can no longer become a 500. Returns the downstream task itself, so wrapping costs no frame.
struct start_tracking_send {
    send downstream;
    bool* started;
    task<void> operator()(event e) const {
        if (std::holds_alternative<http::response_start>(e)) *started = true;
        return downstream(std::move(e));
    }
};
}  // namespace

server_error_middleware::server_error_middleware(construct, any_app inner,
                                                 server_error_options options)
    : inner_(std::move(inner)),
      options_(std::make_shared<const server_error_options>(std::move(options))) {
    if (!inner_) throw std::invalid_argument("server_error_middleware: no inner app");
}

task<void> server_error_middleware::operator()(scope& s, receive r, send sd) const {
    if (s.type != scope_type::http) {
        co_await inner_(s, r, sd);
        co_return;
    }
    bool started = false;
    start_tracking_send tracking{sd, &started};
    std::exception_ptr error;
    try {
        co_await inner_(s, r, send(tracking));
        co_return;
    } catch (...) {
        error = std::current_exception();
    }
    if (!started && !is_client_gone_or_cancelled(error)) {
        try {
            co_await send_server_error(s, r, sd, error, options_->debug, options_->handler);
        } catch (...) {
            // The 500 could not go out (the client left meanwhile): the original error is still
            // the one to report.
        }
    }
    // Re-raised either way, as Starlette does: the server logs it, a test client raises it.
    std::rethrow_exception(error);
}

}  // namespace tessera
