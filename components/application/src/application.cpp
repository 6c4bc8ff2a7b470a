// The stack is built once here (DESIGN §3: apps are immutable); a request only walks it. The
// exception layer gets `catch_unhandled` so that every error response, the 500 included, is
// sent inside the user middleware (docs/exceptions.md, "Stacking the layers"); the outer
// server-error layer stays for failures of the user middleware themselves.
#include "tessera/application.hpp"

#include <optional>
#include <string>
#include <utility>

#include "tessera/cancellation.hpp"
#include "tessera/child_lifespans.hpp"
#include "tessera/exception_middleware.hpp"
#include "tessera/router.hpp"
#include "tessera/server_error_middleware.hpp"

namespace tessera {

struct application::impl {
    tessera::router routes;
    any_app stack;
    lifespan_handler lifespan;
    bool debug;
};

namespace {

any_app build_stack(const router& routes, application_options& options) {
    exception_options inner_errors{
        .handlers = std::move(options.exception_handlers),
        .debug = options.debug,
        .catch_unhandled = true,
        .server_error = options.server_error,
    };
    any_app stack = exception_middleware(routes, std::move(inner_errors));
    stack = wrap_all(options.middleware, std::move(stack));
    server_error_options outer_errors{.debug = options.debug,
                                      .handler = std::move(options.server_error)};
    return server_error_middleware(std::move(stack), std::move(outer_errors));
}

std::string describe(const char* phase, const std::exception_ptr& error) {
    const auto what = describe_exception(error);
    std::string message = std::string("the application's lifespan ") + phase + " raised " +
                          what.type;
    if (!what.message.empty()) message += ": " + what.message;
    return message;
}

// Runs `step`, giving the message of what it threw (cancellation passes).
template <class Step>
task<std::optional<std::string>> attempt(const char* phase, Step step) {
    try {
        co_await step();
    } catch (const operation_cancelled&) {
        throw;
    } catch (const child_lifespan_error& failure) {
        co_return std::string(failure.what());
    } catch (...) {
        co_return describe(phase, std::current_exception());
    }
    co_return std::nullopt;
}

// The lifespan conversation. `self` keeps the lifespan function alive while its generator runs.
task<void> serve_lifespan(std::shared_ptr<const application::impl> self, scope& s, receive r,
                          send sd) {
    if (!s.app_state) s.app_state = std::make_shared<state>();
    event first = co_await r();
    if (!std::holds_alternative<lifespan::startup>(first)) co_return;

    lifespan_generator own;
    child_lifespans children(self->routes.lifespan_apps());

    auto start_own = [&]() -> task<void> {
        own = co_await self->lifespan.start(s.app_state);
    };
    std::optional<std::string> failed = co_await attempt("startup", start_own);
    if (!failed) {
        auto start_children = [&]() -> task<void> {
            auto starting = children.startup(s);  // copies the scope outside the co_await
            co_await std::move(starting);
        };
        failed = co_await attempt("startup", start_children);
        if (failed) {
            // The children already started were shut down by child_lifespans; undo our own.
            auto stop_own = [&]() -> task<void> {
                co_await lifespan_handler::stop(std::move(own));
            };
            (void)co_await attempt("shutdown", stop_own);
        }
    }
    if (failed) {
        event answer{lifespan::startup_failed{*failed}};
        co_await sd(std::move(answer));
        co_return;
    }
    event started{lifespan::startup_complete{}};
    co_await sd(std::move(started));

    // Anything but the shutdown (a transport ending the conversation) ends it the same way:
    // what started is stopped.
    event next = co_await r();
    (void)next;
    std::string failures;
    auto stop_children = [&]() -> task<void> { co_await children.shutdown(); };
    if (auto f = co_await attempt("shutdown", stop_children)) failures = *f;
    auto stop_own = [&]() -> task<void> { co_await lifespan_handler::stop(std::move(own)); };
    if (auto f = co_await attempt("shutdown", stop_own)) {
        if (!failures.empty()) failures += "; ";
        failures += *f;
    }
    event answer = failures.empty() ? event{lifespan::shutdown_complete{}}
                                    : event{lifespan::shutdown_failed{failures}};
    co_await sd(std::move(answer));
}

}  // namespace

application::application(application_options options) {
    router routes(std::move(options.routes),
                  router_options{.redirect_slashes = options.redirect_slashes});
    any_app stack = build_stack(routes, options);
    impl_ = std::make_shared<const impl>(
        impl{std::move(routes), std::move(stack), std::move(options.lifespan), options.debug});
}

task<void> application::operator()(scope& s, receive r, send sd) const {
    if (s.type == scope_type::lifespan) return serve_lifespan(impl_, s, r, sd);
    return impl_->stack(s, r, sd);
}

url_path application::url_path_for(std::string_view name, const path_params& params) const {
    return impl_->routes.url_path_for(name, params);
}

const std::vector<any_route>& application::routes() const noexcept {
    return impl_->routes.routes();
}

bool application::debug() const noexcept { return impl_->debug; }

}  // namespace tessera
