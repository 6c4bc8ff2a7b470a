#pragma once
/// `trusted_host_middleware`: answers only requests whose `Host` header names a host the service
/// is meant to be reached by (Starlette's TrustedHostMiddleware), on HTTP and WebSocket scopes.

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// Options of the trusted-host layer.
struct trusted_host_options {
    /// The hosts served, without port: exact names (`example.com`, `::1` or `[::1]` for an IPv6
    /// literal), `*.example.com` for every subdomain of example.com (not example.com itself), or
    /// `*` alone for any host. Compared ignoring ASCII case. A `*` anywhere else, or an empty
    /// pattern, is a configuration error.
    std::vector<std::string> allowed_hosts = {"*"};
    /// A request for `example.com` when only `www.example.com` is allowed is redirected (307)
    /// to the www host, keeping scheme, port, path and query. Off: it gets the 400 like any
    /// other unknown host.
    bool www_redirect = true;
};

/// Wraps an app so that only requests whose `Host` header matches `allowed_hosts` reach it;
/// others get `400 Invalid host header` in plain text (or the www redirect). The port is
/// stripped before matching (`example.com:8000` → `example.com`, `[::1]:8000` → `::1`); a
/// missing Host header, a port that is not digits or an unclosed `[` never match.
///
///     trusted_host_middleware app(router, {.allowed_hosts = {"example.com", "*.example.com"}});
///
/// On a WebSocket scope the same answer goes out as a denial response (the handshake gets the
/// 400 or the 307 as an HTTP response, Starlette's `websocket.http.response.*`). Lifespan scopes
/// go straight to the inner app. Patterns are compiled once here; matching a request allocates
/// nothing. Immutable and safe to call concurrently.
class trusted_host_middleware {
public:
    /// `inner` must be set and every pattern valid (std::invalid_argument otherwise).
    /// (A template so that copying a middleware never asks whether it converts to `any_app`.)
    template <class Inner>
        requires(!std::is_same_v<std::remove_cvref_t<Inner>, trusted_host_middleware>) &&
                app<Inner>
    explicit trusted_host_middleware(Inner&& inner, trusted_host_options options = {})
        : trusted_host_middleware(construct{}, any_app(std::forward<Inner>(inner)),
                                  std::move(options)) {}

    task<void> operator()(scope& s, receive r, send sd) const;

    /// What the layer decides for a `Host` header value (absent: nullopt).
    enum class verdict { allow, redirect_to_www, reject };
    [[nodiscard]] verdict check(std::optional<std::string_view> host_header) const noexcept;

    [[nodiscard]] const trusted_host_options& options() const noexcept { return state_->options; }

private:
    struct construct {};
    trusted_host_middleware(construct, any_app inner, trusted_host_options options);

    // One allowed-host pattern, compiled: an exact host, or (wildcard) the suffix `.example.com`.
    struct pattern {
        std::string text;
        bool wildcard = false;
    };
    struct compiled {
        trusted_host_options options;
        bool allow_any = false;
        std::vector<pattern> patterns;
    };

    any_app inner_;
    std::shared_ptr<const compiled> state_;
};

/// The host part of a `Host` header value, without port or IPv6 brackets (`[::1]:80` → `::1`),
/// or nullopt when it is malformed: an unclosed `[`, something other than `:port` after `]`, or
/// a port that is not all digits (at most five). A view into `host_header`.
[[nodiscard]] std::optional<std::string_view> host_without_port(
    std::string_view host_header) noexcept;

}  // namespace tessera
