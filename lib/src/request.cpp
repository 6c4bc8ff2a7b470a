#include "tessera/request.hpp"

#include <chrono>
#include <stdexcept>

#include "tessera/http_error.hpp"
#include "tessera/timer.hpp"

namespace tessera {

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
    if (auto* cached = scope().extensions.find<received_body>()) co_return cached->bytes;
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
    co_return scope().extensions.set(received_body{std::move(bytes)}).bytes;
}

async_generator<std::string> request::stream() {
    if (auto* cached = scope().extensions.find<received_body>()) {
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
    (void)co_await body();
    // Parsed from the cached string itself: when the transport left parser padding in its
    // capacity (the server does), the body is read in place instead of copied once more.
    const std::string& text = scope().extensions.find<received_body>()->bytes;
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
        if (auto* cached = scope().extensions.find<received_body>()) {
            replayed_ = true;
            co_return http::request{cached->bytes, false};
        }
    }
    co_return co_await receive_();
}

}  // namespace tessera
