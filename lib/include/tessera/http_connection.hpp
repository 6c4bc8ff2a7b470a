#pragma once
/// `http_connection`: what an HTTP request and a WebSocket connection have in common — the
/// scope's URL, headers, query, cookies, client and state (Starlette's `HTTPConnection`).

#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "tessera/cookies.hpp"
#include "tessera/query_params.hpp"
#include "tessera/scope.hpp"
#include "tessera/url.hpp"
#include "tessera/url_path_for.hpp"

namespace tessera {

/// A view over one scope, parsing its fields lazily and caching them. `request` and
/// `websocket_connection` derive from it; it refers to the scope without owning it, so it must not
/// outlive the app call that received the scope. Not thread-safe (one connection is one
/// coroutine's).
class http_connection {
public:
    explicit http_connection(tessera::scope& s) noexcept : scope_(&s) {}
    http_connection(const http_connection&) = delete;
    http_connection& operator=(const http_connection&) = delete;

    [[nodiscard]] tessera::scope& scope() const noexcept { return *scope_; }
    /// The full URL: scheme, Host header (or server address), root_path + path, query.
    [[nodiscard]] const tessera::url& url() const;
    /// The URL of the app's root (scheme, host, root_path), ending in '/'.
    [[nodiscard]] tessera::url base_url() const;
    /// The absolute URL of the route named `name` with exactly `params` (Starlette's
    /// `url_for`): the path from the router that routed this request (its
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
    /// Cookies from every `Cookie` header, parsed as Starlette's `cookie_parser` does; a name
    /// repeated in a later header takes the later value.
    [[nodiscard]] const cookie_list& cookies() const;
    /// One cookie's value, if present.
    [[nodiscard]] std::optional<std::string_view> cookie(std::string_view name) const;
    [[nodiscard]] const std::optional<address>& client() const noexcept { return scope_->client; }
    /// Per-request (or per-connection) state (Starlette's `request.state`).
    [[nodiscard]] tessera::state& state() const noexcept { return scope_->state; }
    /// App-wide state from the lifespan; throws std::logic_error when the app has none.
    [[nodiscard]] tessera::state& app_state() const;

protected:
    ~http_connection() = default;

private:
    tessera::scope* scope_;
    // On the heap, made on first use: a url is 184 bytes, and this object sits in the coroutine
    // frame of every handler that makes a `request` or `websocket_connection`, held for as long
    // as the handler is suspended (an open WebSocket's whole life), while few handlers ask for
    // the full URL.
    mutable std::unique_ptr<const tessera::url> url_;
    mutable std::optional<tessera::query_params> query_;
    mutable std::optional<cookie_list> cookies_;
};

}  // namespace tessera
