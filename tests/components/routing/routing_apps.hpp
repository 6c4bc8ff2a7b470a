#pragma once
// Small apps and middleware the routing suites share.

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/base_route.hpp"
#include "tessera/http_error.hpp"
#include "tessera/json.hpp"
#include "tessera/middleware.hpp"
#include "tessera/response.hpp"
#include "tessera/sync_wait.hpp"

namespace routing_test {

using namespace tessera;

inline json to_json(const path_value& value) {
    if (const auto* text = std::get_if<std::string>(&value)) return json(*text);
    if (const auto* number = std::get_if<std::int64_t>(&value)) return json(*number);
    return json(std::get<double>(value));
}

// Answers with what it saw: path, root_path, the path params, the matched route's template.
inline task<void> describe_scope(scope& s, receive r, send sd) {
    json params = json::object();
    for (const auto& [key, value] : s.path_params) params.set(key, to_json(value));
    json out;
    out["path"] = s.path;
    out["root_path"] = s.root_path;
    out["params"] = params;
    const auto* matched = s.extensions.find<matched_route>();
    out["route"] = matched != nullptr ? json(matched->route->path()) : json(nullptr);
    const json_response answer(out);
    co_await answer(s, r, sd);
}

// Answers `text` in plain text.
struct text_app {
    std::string text;
    task<void> operator()(scope& s, receive r, send sd) const {
        const plain_text_response answer(text);
        co_await answer(s, r, sd);
    }
};

// What an exception layer does: marks the scope, turns http_error into a response that shows
// it was thrown ("thrown: 404"), with the error's headers.
struct error_layer {
    any_app inner;
    task<void> operator()(scope& s, receive r, send sd) const {
        s.extensions.set(http_errors_handled{});
        std::optional<http_error> caught;
        try {
            co_await inner(s, r, sd);
        } catch (const http_error& error) {
            caught = error;
        }
        if (caught) {
            const plain_text_response answer("thrown: " + std::to_string(caught->status()),
                                             caught->status(), caught->headers());
            co_await answer(s, r, sd);
        }
    }
};

// Adds `x-tag: <tag>` (appended, so stacking shows the order) to every response start.
struct tag_layer {
    any_app inner;
    std::string tag;
    tag_layer(any_app app, std::string name) : inner(std::move(app)), tag(std::move(name)) {}
    task<void> operator()(scope& s, receive r, send sd) const {
        const std::string* label = &tag;
        auto tagging = [sd, label](event e) -> task<void> {
            if (auto* start = std::get_if<http::response_start>(&e)) {
                start->headers.append("x-tag", *label);
            }
            co_await sd(std::move(e));
        };
        co_await inner(s, r, send(tagging));
    }
};

inline middleware tagged(std::string tag) { return middleware::of<tag_layer>(std::move(tag)); }

// Runs `app` on a WebSocket scope for `path` (Host `host`) and returns what it sent. The
// client sends `websocket.connect` and then waits as a client that never speaks.
struct websocket_run {
    std::vector<event> sent;
    scope seen;  // the scope after the app returned
};

inline task<void> drive_websocket(any_app app, scope* s, std::vector<event>* sent) {
    bool connected = false;
    auto next = [&connected]() -> task<event> {
        if (!connected) {
            connected = true;
            co_return websocket::connect{};
        }
        co_return websocket::disconnect{1000};
    };
    auto record = [sent](event e) -> task<void> {
        sent->push_back(std::move(e));
        co_return;
    };
    co_await app(*s, receive(next), send(record));
}

inline websocket_run run_websocket(const any_app& app, std::string path,
                                   std::string host = "testserver") {
    websocket_run run;
    run.seen.type = scope_type::websocket;
    run.seen.scheme = "ws";
    run.seen.path = path;
    run.seen.raw_path = std::move(path);
    run.seen.headers.append("host", host);
    sync_wait(drive_websocket(app, &run.seen, &run.sent));
    return run;
}

}  // namespace routing_test
