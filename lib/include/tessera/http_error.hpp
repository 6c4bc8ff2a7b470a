#pragma once
/// The exception request handlers throw to answer with an HTTP error (Starlette's HTTPException).

#include "tessera/headers.hpp"

#include <exception>
#include <memory>
#include <string>

namespace tessera {

/// Thrown by a handler to end the request with `status`; the exception middleware turns it into
/// a response carrying `detail()` and the extra `headers()` (e.g. `www-authenticate` with 401).
///
///     throw http_error(status::not_found);
///     throw http_error(401, "token expired", headers{{"WWW-Authenticate", "Bearer"}});
///
/// Copying is cheap and never throws (the state is shared), as an exception object's should be.
class http_error : public std::exception {
public:
    /// `status` must be 100..599 (std::invalid_argument otherwise: a typo should not reach the
    /// wire). An empty `detail` becomes the reason phrase ("Not Found").
    explicit http_error(int status, std::string detail = {}, tessera::headers extra = {});

    [[nodiscard]] int status() const noexcept { return state_->status; }
    /// The message for the client; the reason phrase unless the thrower gave one.
    [[nodiscard]] const std::string& detail() const noexcept { return state_->detail; }
    /// Extra response headers the thrower asked for (may be empty).
    [[nodiscard]] const tessera::headers& headers() const noexcept { return state_->headers; }
    /// "404: Not Found" — status, colon, detail.
    [[nodiscard]] const char* what() const noexcept override { return state_->what.c_str(); }

private:
    struct state {
        int status;
        std::string detail;
        tessera::headers headers;
        std::string what;
    };
    std::shared_ptr<const state> state_;
};

/// Left in `scope.extensions` by a layer that turns `http_error` into responses (the exception
/// middleware). Components that would otherwise answer an error themselves (the router's 404 and
/// 405) throw `http_error` instead when it is present, so the application's exception handlers
/// see those errors too — Starlette checks `"app" in scope` for the same purpose.
///
///     s.extensions.set(http_errors_handled{});            // the exception layer, going in
///     if (s.extensions.contains<http_errors_handled>())   // the router, on no match
///         throw http_error(404);
struct http_errors_handled {};

}  // namespace tessera
