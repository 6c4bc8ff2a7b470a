#pragma once
/// `response` and its plain-text, HTML, JSON and redirect forms; each is an app.

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/async_generator.hpp"
#include "tessera/cookies.hpp"
#include "tessera/headers.hpp"
#include "tessera/json.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// Work to run after the response's last byte has been handed to the transport (Starlette's
/// BackgroundTask). Runs in the request's coroutine, in the order added.
using background_task = std::function<task<void>()>;

/// An HTTP response, and an app that sends itself: `co_await resp(scope, receive, send)`.
/// Headers follow Starlette's rules: `content-length` is added for a fixed body unless the
/// status forbids a body (1xx, 204, 304) or the caller set one; `content-type` comes from the
/// media type, with `; charset=utf-8` added to `text/*` types that name none. Subclasses only
/// choose constructor defaults, so every response slices safely into a `response` (handlers
/// return `response`). Copies share a streaming body (which can be sent once).
class response {
public:
    response() : response(std::string{}) {}
    explicit response(std::string body, int status = 200, tessera::headers extra = {},
                      std::string_view media_type = {});

    [[nodiscard]] int status() const noexcept { return status_; }
    void set_status(int status) noexcept { status_ = status; }
    /// The headers as they will be sent (mutable, e.g. for middleware-like handlers).
    [[nodiscard]] tessera::headers& headers() noexcept { return headers_; }
    [[nodiscard]] const tessera::headers& headers() const noexcept { return headers_; }
    /// The fixed body (empty for streaming responses).
    [[nodiscard]] const std::string& body() const noexcept { return body_; }
    [[nodiscard]] bool is_streaming() const noexcept { return static_cast<bool>(stream_); }

    /// Adds a `set-cookie` header (every attribute of `cookie_options`).
    response& set_cookie(std::string_view name, std::string_view value,
                         const cookie_options& options = {});
    /// Adds a `set-cookie` header that expires the cookie now.
    response& delete_cookie(std::string_view name, std::string_view path = "/",
                            std::optional<std::string_view> domain = std::nullopt,
                            bool secure = false, bool httponly = false,
                            std::optional<std::string_view> samesite = "lax");
    /// Adds work to run after the response is sent.
    response& add_background(background_task work);
    [[nodiscard]] const std::vector<background_task>& background() const noexcept {
        return background_;
    }

    /// Sends the response (then runs the background tasks). The response stays usable: its
    /// headers are copied into the `response_start` event. Like `send`, this is eager: a fixed
    /// body without background tasks is sent when called, and the task returned is already
    /// finished when both sends were (a failure still waits for the `co_await`).
    task<void> operator()(scope& s, receive r, send sd) const& {
        return respond(s, r, sd, headers_);
    }
    /// Sends a response that is not needed afterwards (`co_await std::move(answer)(s, r, sd)`,
    /// or a temporary): its headers move into the `response_start` event instead of being
    /// copied — one vector and the strings that do not fit inline fewer per request. The
    /// response must stay alive until the task completes, as with the const form.
    task<void> operator()(scope& s, receive r, send sd) && {
        return respond(s, r, sd, std::move(headers_));
    }

protected:
    struct stream_source {
        async_generator<std::string> chunks;
        bool consumed = false;
    };
    response(std::shared_ptr<stream_source> stream, int status, tessera::headers extra,
             std::string_view media_type);

private:
    void init_headers(tessera::headers extra, std::string_view media_type, bool fixed_body);
    task<void> respond(scope& s, receive r, send sd, tessera::headers fields) const;
    task<void> respond_in_frame(scope& s, receive r, send sd, tessera::headers fields) const;
    task<void> send_body_after(task<void> start, send sd) const;
    task<void> send_stream(scope& s, receive r, send sd, tessera::headers fields) const;

    int status_ = 200;
    tessera::headers headers_;
    std::string body_;
    std::shared_ptr<stream_source> stream_;
    std::vector<background_task> background_;
};

/// `text/plain; charset=utf-8`.
class plain_text_response : public response {
public:
    explicit plain_text_response(std::string body, int status = 200, tessera::headers extra = {})
        : response(std::move(body), status, std::move(extra), "text/plain") {}
};

/// `text/html; charset=utf-8`.
class html_response : public response {
public:
    explicit html_response(std::string body, int status = 200, tessera::headers extra = {})
        : response(std::move(body), status, std::move(extra), "text/html") {}
};

/// `application/json`, serialised compactly with raw UTF-8 (NaN and infinities are rejected
/// with `json_value_error` at construction, as Starlette's `allow_nan=False`).
class json_response : public response {
public:
    explicit json_response(const json& content, int status = 200, tessera::headers extra = {})
        : response(content.dump(), status, std::move(extra), "application/json") {}
    /// `json_response({{"message", "hi"}})`: braces build the JSON value (this overload exists
    /// so such a call is not ambiguous with copying a json_response).
    json_response(std::initializer_list<json> content, int status = 200,
                  tessera::headers extra = {})
        : json_response(json(content), status, std::move(extra)) {}
    /// Wraps text that already is serialised JSON (e.g. from a `json_writer`).
    static json_response from_serialised(std::string text, int status = 200,
                                         tessera::headers extra = {});

private:
    struct serialised_tag {};
    json_response(serialised_tag, std::string text, int status, tessera::headers extra)
        : response(std::move(text), status, std::move(extra), "application/json") {}
};

/// A redirect (307 by default) to `location`, percent-quoting what a URL cannot hold raw as
/// Starlette does.
class redirect_response : public response {
public:
    explicit redirect_response(std::string_view location, int status = 307,
                               tessera::headers extra = {});
};

/// A body produced chunk by chunk by an async generator and sent with chunked framing (unless
/// a `content-length` header is given). The generator stops being resumed when the client goes:
/// a disconnect cancels its pending operation (a `sleep_for` throws `operation_cancelled`), so
/// infinite streams end with their connection.
class streaming_response : public response {
public:
    explicit streaming_response(async_generator<std::string> chunks, int status = 200,
                                tessera::headers extra = {}, std::string_view media_type = {});
};

}  // namespace tessera
