#pragma once
/// `request`: a convenient view over an HTTP scope and its `receive`.

#include <optional>
#include <string>
#include <string_view>

#include "tessera/app.hpp"
#include "tessera/async_generator.hpp"
#include "tessera/http_connection.hpp"
#include "tessera/json.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// The request body once read in full, kept in the scope's extensions so every `request` made
/// over the same scope (a middleware's, then the handler's) sees it: reading the body in a
/// middleware leaves it intact for the app below.
struct received_body {
    std::string bytes;
};

/// An HTTP request: the scope's fields (from `http_connection`: url, headers, query, cookies,
/// client, state), parsed lazily and cached, and the body. Made per call by handlers and
/// middleware over the scope and receive they were given; it refers to both, so it must not
/// outlive the app call. Not thread-safe (one request is one coroutine's).
class request : public http_connection {
public:
    request(tessera::scope& s, tessera::receive r) noexcept : http_connection(s), receive_(r) {}
    request(const request&) = delete;
    request& operator=(const request&) = delete;

    [[nodiscard]] const std::string& method() const noexcept { return scope().method; }

    /// The whole body, read once and cached (also in the scope, see `received_body`). The view
    /// stays valid for the life of the scope. Throws `client_disconnected` if the client leaves
    /// before the body is complete, std::logic_error if `stream()` already consumed it.
    [[nodiscard]] task<std::string_view> body();
    /// The body chunk by chunk as it arrives, without keeping it (or the cached body in one
    /// piece if it was read already). Throws `client_disconnected` if the client leaves first.
    [[nodiscard]] async_generator<std::string> stream();
    /// The body parsed as JSON. Malformed JSON raises `http_error(400)`.
    [[nodiscard]] task<tessera::json> json();
    /// True once the client has gone. Never waits: it looks at what has already arrived. A body
    /// chunk seen while looking is kept for `body()`/`stream()`.
    [[nodiscard]] task<bool> is_disconnected();

    /// A `receive` for an inner app that replays the body this request consumed through its own
    /// `receive` (if any; a chunk `is_disconnected()` set aside included) before forwarding to
    /// the original: wrap with it when a middleware has read the body.
    [[nodiscard]] tessera::receive receive() noexcept { return replay_; }

private:
    task<event> replay_next();
    task<std::optional<std::string>> next_chunk();

    tessera::receive receive_;
    std::optional<std::string> pending_chunk_;  // seen by is_disconnected, not yet consumed
    bool pending_more_ = true;
    bool body_complete_ = false;  // the transport has delivered its last chunk
    bool stream_consumed_ = false;
    bool disconnected_ = false;
    bool replayed_ = false;
    bool read_from_receive_ = false;  // body bytes came through this request's own receive
    struct replay_fn {
        request* self;
        task<event> operator()() const { return self->replay_next(); }
    } replay_fn_{this};
    tessera::receive replay_{replay_fn_};
};

}  // namespace tessera
