#pragma once
// Small apps and middleware shared by the error-layer tests: failing apps, a recorder of what
// reaches the transport, and a user middleware that adds a header to every response.

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/response.hpp"

namespace tessera::test_apps {

/// Throws `E(args...)` before sending anything.
template <class E>
struct throws_before_start {
    E error;
    task<void> operator()(scope&, receive, send) const {
        throw error;
        co_return;
    }
};

/// Starts a 200 response, sends "partial" (more to come), then throws.
struct throws_after_start {
    task<void> operator()(scope&, receive, send sd) const {
        headers fields{{"content-type", "text/plain"}};
        co_await sd(http::response_start{200, std::move(fields)});
        co_await sd(http::response_body{"partial", true});
        throw std::runtime_error("failed mid-stream");
    }
};

/// Records every event name that passes towards the transport, with the status of each start.
struct recorder {
    any_app inner;
    std::vector<std::string>* seen;
    task<void> operator()(scope& s, receive r, send sd) const {
        auto* out = seen;
        auto record = [sd, out](event e) -> task<void> {
            std::string entry(event_name(e));
            if (const auto* start = std::get_if<http::response_start>(&e)) {
                entry += " " + std::to_string(start->status);
            }
            out->push_back(std::move(entry));
            co_await sd(std::move(e));
        };
        co_await inner(s, r, send(record));
    }
};

/// A user middleware (think CORS): adds `x-user-middleware: seen` to every response it passes.
struct adds_header {
    any_app inner;
    task<void> operator()(scope& s, receive r, send sd) const {
        auto rewrite = [sd](event e) -> task<void> {
            if (auto* start = std::get_if<http::response_start>(&e)) {
                start->headers.append("x-user-middleware", "seen");
            }
            co_await sd(std::move(e));
        };
        co_await inner(s, r, send(rewrite));
    }
};

}  // namespace tessera::test_apps
