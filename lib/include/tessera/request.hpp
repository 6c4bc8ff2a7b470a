#pragma once
/// `request`: a convenient view over an HTTP scope and its `receive`.

#include <optional>
#include <string>
#include <string_view>

#include "tessera/app.hpp"
#include "tessera/async_generator.hpp"
#include "tessera/cookies.hpp"
#include "tessera/json.hpp"
#include "tessera/query_params.hpp"
#include "tessera/task.hpp"
#include "tessera/url.hpp"
#include "tessera/url_path_for.hpp"

namespace tessera {

/// The request body once read in full, kept in the scope's extensions so every `request` made
/// over the same scope (a middleware's, then the handler's) sees it: reading the body in a
/// middleware leaves it intact for the app below.
struct received_body {
    std::string bytes;
};

/// An HTTP request: the scope's fields, parsed lazily and cached, and the body. Made per call
/// by handlers and middleware over the scope and receive they were given; it refers to both, so
/// it must not outlive the app call. Not thread-safe (one request is one coroutine's).
class request {
public:
    request(tessera::scope& s, tessera::receive r) noexcept : scope_(&s), receive_(r) {}
    request(const request&) = delete;
    request& operator=(const request&) = delete;

    [[nodiscard]] tessera::scope& scope() const noexcept { return *scope_; }
    [[nodiscard]] const std::string& method() const noexcept { return scope_->method; }
    /// The full URL: scheme, Host header (or server address), root_path + path, query.
    [[nodiscard]] const tessera::url& url() const;
    /// The URL of the app's root (scheme, host, root_path), ending in '/'.
    [[nodiscard]] tessera::url base_url() const;
    /// The absolute URL of the route named `name` with exactly `params` (Starlette's
    /// `request.url_for`): the path from the router that routed this request (its
    /// `url_path_for_hook` in the scope's extensions), under this request's scheme and host
    /// and the root path at which that router was reached. Throws `no_match_found` when no
    /// route fits, and std::logic_error when no router handled this request.
    [[nodiscard]] tessera::url url_for(std::string_view name,
                                       const tessera::path_params& params = {}) const;
    [[nodiscard]] const tessera::headers& headers() const noexcept { return scope_->headers; }
    [[nodiscard]] const tessera::query_params& query_params() const;
    [[nodiscard]] const tessera::path_params& path_params() const noexcept {
        return scope_->path_params;
    }
    /// Cookies from every `Cookie` header, parsed as Starlette's `cookie_parser` does.
    [[nodiscard]] const cookie_list& cookies() const;
    /// One cookie's value, if present.
    [[nodiscard]] std::optional<std::string_view> cookie(std::string_view name) const;
    [[nodiscard]] const std::optional<address>& client() const noexcept { return scope_->client; }
    /// Per-request state (Starlette's `request.state`).
    [[nodiscard]] tessera::state& state() const noexcept { return scope_->state; }
    /// App-wide state from the lifespan; throws std::logic_error when the app has none.
    [[nodiscard]] tessera::state& app_state() const;

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

    tessera::scope* scope_;
    tessera::receive receive_;
    mutable std::optional<tessera::url> url_;
    mutable std::optional<tessera::query_params> query_;
    mutable std::optional<cookie_list> cookies_;
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
