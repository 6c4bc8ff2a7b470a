#include "tessera/request.hpp"

#include <chrono>
#include <stdexcept>

#include "tessera/http_error.hpp"
#include "tessera/percent.hpp"
#include "tessera/timer.hpp"

namespace tessera {

namespace {
// The path part of the request URL: the bytes the client sent when the transport kept them,
// else the decoded path quoted back (in-memory callers may set only `path`).
std::string request_path_text(const scope& s) {
    if (!s.raw_path.empty()) return s.raw_path;
    return quote(s.path);
}
}  // namespace

const url& request::url() const {
    if (!url_) {
        url_ = tessera::url::from_parts(scope_->scheme, scope_->headers.get("host"), scope_->server,
                                        request_path_text(*scope_), scope_->query_string);
    }
    return *url_;
}

tessera::url request::base_url() const {
    std::string root = quote(scope_->root_path);
    if (root.empty() || root.back() != '/') root.push_back('/');
    return tessera::url::from_parts(scope_->scheme, scope_->headers.get("host"), scope_->server,
                                    root, {});
}

tessera::url request::url_for(std::string_view name,
                              const tessera::path_params& params) const {
    const auto* hook = scope_->extensions.find<url_path_for_hook>();
    if (hook == nullptr) {
        throw std::logic_error("request::url_for(\"" + std::string(name) +
                               "\"): no router handled this request, so there are no routes "
                               "to build URLs from");
    }
    const url_path found = (*hook)(name, params);
    // The base is the root at which the router was reached, not this scope's root_path, which
    // mounts have grown since (the router's paths already include the mount prefixes).
    std::string root = quote(hook->app_root_path());
    if (root.empty() || root.back() != '/') root.push_back('/');
    const auto base = tessera::url::from_parts(scope_->scheme, scope_->headers.get("host"),
                                               scope_->server, root, {});
    return found.make_absolute_url(base);
}

const query_params& request::query_params() const {
    if (!query_) query_.emplace(scope_->query_string);
    return *query_;
}

const cookie_list& request::cookies() const {
    if (!cookies_) {
        cookies_.emplace();
        for (const auto& value : scope_->headers.get_all("cookie")) {
            auto parsed = parse_cookie_header(value);
            // Later headers win for a repeated name, like later pairs within one header.
            for (auto& [name, cookie_value] : parsed) {
                bool replaced = false;
                for (auto& existing : *cookies_) {
                    if (existing.first == name) {
                        existing.second = std::move(cookie_value);
                        replaced = true;
                        break;
                    }
                }
                if (!replaced) cookies_->emplace_back(std::move(name), std::move(cookie_value));
            }
        }
    }
    return *cookies_;
}

std::optional<std::string_view> request::cookie(std::string_view name) const {
    return find_cookie(cookies(), name);
}

state& request::app_state() const {
    if (!scope_->app_state) {
        throw std::logic_error("request::app_state: this app has no lifespan state");
    }
    return *scope_->app_state;
}

// The next body chunk from the transport (or the one is_disconnected() put aside), or nullopt
// once the body is complete. Other events (none are expected on an HTTP scope before the body
// ends) are skipped.
task<std::optional<std::string>> request::next_chunk() {
    if (pending_chunk_) {
        auto chunk = std::move(pending_chunk_);
        pending_chunk_.reset();
        body_complete_ = !pending_more_;
        co_return chunk;
    }
    if (body_complete_) co_return std::nullopt;
    if (disconnected_) throw client_disconnected();
    for (;;) {
        event e = co_await receive_();
        if (auto* piece = std::get_if<http::request>(&e)) {
            read_from_receive_ = true;
            body_complete_ = !piece->more_body;
            co_return std::move(piece->body);
        }
        if (std::holds_alternative<http::disconnect>(e)) {
            disconnected_ = true;
            throw client_disconnected();
        }
    }
}

task<std::string_view> request::body() {
    if (auto* cached = scope_->extensions.find<received_body>()) co_return cached->bytes;
    if (stream_consumed_) throw std::logic_error("request::body: the stream was already consumed");
    std::string bytes;
    bool first = true;
    while (auto chunk = co_await next_chunk()) {
        // The common single-chunk body is moved, not copied.
        if (first) {
            bytes = std::move(*chunk);
            first = false;
        } else {
            bytes += *chunk;
        }
    }
    co_return scope_->extensions.set(received_body{std::move(bytes)}).bytes;
}

async_generator<std::string> request::stream() {
    if (auto* cached = scope_->extensions.find<received_body>()) {
        if (!cached->bytes.empty()) co_yield std::string(cached->bytes);
        co_return;
    }
    if (stream_consumed_) {
        throw std::logic_error("request::stream: the stream was already consumed");
    }
    stream_consumed_ = true;
    while (auto chunk = co_await next_chunk()) {
        if (!chunk->empty()) co_yield std::move(*chunk);
    }
}

task<json> request::json() {
    const std::string_view text = co_await body();
    try {
        co_return parse_json(text);
    } catch (const json_parse_error& error) {
        throw http_error(400, std::string("Malformed JSON body: ") + error.what());
    }
}

task<bool> request::is_disconnected() {
    if (disconnected_) co_return true;
    if (pending_chunk_) co_return false;
    // Look without waiting: a receive that has nothing ready is cancelled by a zero deadline.
    try {
        event e = co_await with_timeout(receive_(), std::chrono::milliseconds(0));
        if (auto* piece = std::get_if<http::request>(&e)) {
            read_from_receive_ = true;
            pending_chunk_ = std::move(piece->body);
            pending_more_ = piece->more_body;
        } else if (std::holds_alternative<http::disconnect>(e)) {
            disconnected_ = true;
        }
    } catch (const timeout_error&) {
    }
    co_return disconnected_;
}

task<event> request::replay_next() {
    // A chunk is_disconnected() took from the transport and nobody consumed: it is the inner
    // app's now (it used to be lost, leaving the inner app waiting for a body already taken).
    if (pending_chunk_) {
        http::request piece{std::move(*pending_chunk_), pending_more_};
        pending_chunk_.reset();
        body_complete_ = !piece.more_body;
        co_return piece;
    }
    // Only a body this request read through its own receive is replayed. A body cached by
    // another request over the same scope came through that request's receive, which replays
    // it itself if it was handed inward; replaying it here too made nested body readers
    // deliver it twice.
    if (!replayed_ && read_from_receive_) {
        if (auto* cached = scope_->extensions.find<received_body>()) {
            replayed_ = true;
            co_return http::request{cached->bytes, false};
        }
    }
    co_return co_await receive_();
}

}  // namespace tessera
