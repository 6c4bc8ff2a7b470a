#pragma once
/// The 500 response for an exception nothing handled: the plain page, the debug page, or the
/// application's own handler. Shared by the server-error layer and the exception layer's
/// `catch_unhandled` mode, so both answer alike.

#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "tessera/app.hpp"
#include "tessera/request.hpp"
#include "tessera/response.hpp"
#include "tessera/response_task.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// The application's 500 page: a callable taking the request and the exception, as
/// `task<R>(request&, const std::exception&)` or `task<R>(request&, std::exception_ptr)` with R
/// a response type (the second form also sees exceptions not derived from std::exception).
/// Type-erased and cheap to copy (copies share the callable, which must be safe to call
/// concurrently). An empty handler means "use the plain page".
///
///     server_error_handler([](request& req, const std::exception& e) -> task<html_response> {
///         co_return html_response(render_500_page(req), 500);
///     })
class server_error_handler {
public:
    server_error_handler() = default;
    // Both constructors exclude the handler itself: copying a non-const handler would otherwise
    // pick the template and wrap the handler in itself, recursing forever.
    template <class F>
        requires(!std::is_same_v<std::decay_t<F>, server_error_handler>) &&
                returns_response_task<std::decay_t<F>, request&, std::exception_ptr>
    server_error_handler(F&& fn)  // NOLINT(google-explicit-constructor): callables convert
        : call_(std::make_shared<const call_fn>(
              [f = std::forward<F>(fn)](request& req, std::exception_ptr error) {
                  return as_response(f(req, std::move(error)));
              })) {}
    template <class F>
        requires(!std::is_same_v<std::decay_t<F>, server_error_handler>) &&
                (!returns_response_task<std::decay_t<F>, request&, std::exception_ptr>) &&
                returns_response_task<std::decay_t<F>, request&, const std::exception&>
    server_error_handler(F&& fn)  // NOLINT(google-explicit-constructor)
        : call_(std::make_shared<const call_fn>(
              [f = std::forward<F>(fn)](request& req, std::exception_ptr error) {
                  return call_with_std_exception(f, req, std::move(error));
              })) {}

    /// Whether a handler is set.
    [[nodiscard]] explicit operator bool() const noexcept { return static_cast<bool>(call_); }

    /// The handler's response for `error`. A handler taking `const std::exception&` is not
    /// called for an exception of another type: the plain page answers instead.
    [[nodiscard]] task<response> operator()(request& req, std::exception_ptr error) const {
        return (*call_)(req, std::move(error));
    }

private:
    using call_fn = std::function<task<response>(request&, std::exception_ptr)>;

    template <class Task>
    static task<response> as_response(Task pending) {
        co_return response(co_await std::move(pending));
    }
    // `fn` lives in the shared call_fn, which outlives the call (whoever calls keeps the handler).
    template <class F>
    static task<response> call_with_std_exception(const F& fn, request& req,
                                                  std::exception_ptr error);

    std::shared_ptr<const call_fn> call_;
};

/// "Internal Server Error" as plain text with status 500 (Starlette's default).
[[nodiscard]] response plain_server_error_response();

/// The debug 500 page: the exception's type (demangled) and message, the request line and the
/// request headers (values of `authorization`, `proxy-authorization` and `cookie` masked). HTML,
/// with everything from the request or the exception escaped, when the request's `Accept`
/// includes `text/html`; plain text otherwise. For development only: it shows internals.
[[nodiscard]] response debug_server_error_response(const scope& s, const std::exception_ptr& error);

/// The 500 the server-error layer sends for `error`: the debug page when `debug`, else the
/// handler's response when there is a handler (with the status it chose), else the plain page.
/// A handler that throws is replaced by the plain page, and its failure goes to the event loop's
/// log sink (category "server-error"): the client still gets its 500.
[[nodiscard]] task<response> server_error_response(request& req, std::exception_ptr error,
                                                   bool debug,
                                                   const server_error_handler& handler);

/// Answers an exception with the 500 of `server_error_response` over `s`, `r` and `sd` (the
/// caller has checked that no response has started). What both error layers do before they
/// rethrow.
task<void> send_server_error(scope& s, receive r, send sd, std::exception_ptr error, bool debug,
                             const server_error_handler& handler);

/// A readable "type: message" for an exception (the type demangled where the ABI allows; a
/// non-std exception has no message). For logs and the debug page.
struct exception_description {
    std::string type;
    std::string message;
};
[[nodiscard]] exception_description describe_exception(const std::exception_ptr& error);

/// Whether `error` means nobody is there to answer — the client left (`client_disconnected`) or
/// the request is being torn down (`operation_cancelled`). Error layers let such exceptions
/// pass through untouched instead of answering them.
[[nodiscard]] bool is_client_gone_or_cancelled(const std::exception_ptr& error) noexcept;

// ---- implementation ----------------------------------------------------------------------

template <class F>
task<response> server_error_handler::call_with_std_exception(const F& fn, request& req,
                                                             std::exception_ptr error) {
    const std::exception* standard = nullptr;
    try {
        std::rethrow_exception(error);
    } catch (const std::exception& e) {
        // The object `error` owns (rethrow_exception does not copy on the Itanium ABI), which
        // stays alive while this frame holds `error`.
        standard = &e;
    } catch (...) {
    }
    if (standard == nullptr) co_return plain_server_error_response();
    co_return response(co_await fn(req, *standard));
}

}  // namespace tessera
