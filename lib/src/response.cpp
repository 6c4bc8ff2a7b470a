#include "tessera/response.hpp"

#include <charconv>
#include <cstring>
#include <exception>
#include <typeinfo>

#include "tessera/cancellation.hpp"
#include "tessera/detail/spare_fields.hpp"
#include "tessera/log.hpp"
#include "tessera/loop.hpp"
#include "tessera/percent.hpp"
#include "tessera/state.hpp"  // detail::type_display_name
#include "tessera/status.hpp"
#include "refresh.hpp"

namespace tessera {

namespace {
bool starts_with_text(std::string_view media_type) {
    if (media_type.size() < 5) return false;
    // ASCII letters compare case-insensitively once bit 0x20 is set; '/' must match exactly.
    const auto lower = [&](std::size_t i) { return static_cast<char>(media_type[i] | 0x20); };
    return lower(0) == 't' && lower(1) == 'e' && lower(2) == 'x' && lower(3) == 't' &&
           media_type[4] == '/';
}

// Case-insensitive search for "charset=", without the lower-cased copy it used to make for
// every response built; a type without '=' has no parameter at all (the usual case).
bool names_charset(std::string_view media_type) {
    constexpr std::string_view key = "charset=";
    if (media_type.find('=') == std::string_view::npos) return false;
    for (std::size_t i = 0; i + key.size() <= media_type.size(); ++i) {
        if (iequals(media_type.substr(i, key.size()), key)) return true;
    }
    return false;
}

// Reports a failed background task to the log sink of the loop running it (the server gives
// each worker loop the server's sink; a test makes its loop with a sink of its own).
void report_background_failure(const scope& s, std::size_t index, std::size_t count,
                               const std::exception_ptr& failure) noexcept {
    try {
        auto* loop = event_loop::current();
        if (loop == nullptr || !loop->options().sink) return;
        std::string what = "unknown exception";
        try {
            std::rethrow_exception(failure);
        } catch (const std::exception& e) {
            what = detail::type_display_name(typeid(e)) + ": " + e.what();
        } catch (...) {
        }
        std::string message = "background task " + std::to_string(index + 1) + " of " +
                              std::to_string(count) + " after " + s.method + " " + s.path +
                              " failed: " + what;
        if (const auto skipped = count - index - 1; skipped > 0) {
            message += "; " + std::to_string(skipped) + " later task" + (skipped > 1 ? "s" : "") +
                       " skipped";
        }
        emit(loop->options().sink, log_level::error, "background", message);
    } catch (...) {
        // Reporting must not fail the request: the client already has its response.
    }
}

// Runs the tasks in order once the response is sent. The client has its whole response by
// now, so a failure can only be logged: it never reaches the client, nor the layers above this
// response (which could do nothing with it but close a connection that is fine). Like
// Starlette's BackgroundTasks, the first failure ends the run: later tasks may rely on earlier
// ones. Cancellation is not a failure and propagates.
task<void> run_background(const std::vector<background_task>* work, const scope* s) {
    for (std::size_t i = 0; i < work->size(); ++i) {
        std::exception_ptr failure;
        try {
            co_await (*work)[i]();
            continue;
        } catch (const operation_cancelled&) {
            throw;
        } catch (...) {
            failure = std::current_exception();
        }
        report_background_failure(*s, i, work->size(), failure);
        co_return;
    }
}
}  // namespace

response::response(std::string body, int status, tessera::headers extra,
                   std::string_view media_type)
    : status_(status), body_(std::move(body)) {
    init_headers(std::move(extra), media_type, true);
}

response::response(std::shared_ptr<stream_source> stream, int status, tessera::headers extra,
                   std::string_view media_type)
    : status_(status), stream_(std::move(stream)) {
    init_headers(std::move(extra), media_type, false);
}

// Starlette's Response.init_headers: the caller's headers first, then content-length (fixed
// bodies whose status allows one) and content-type, each only if the caller did not set it.
// Responses are built per request, so this works on the field vector directly: one scan of the
// caller's names, names written already lower-case. Without caller headers the fields go into
// the thread's spare vector (the server gives a written head's fields back), whose strings
// already have room: a plain response then allocates nothing for its headers.
void response::init_headers(tessera::headers extra, std::string_view media_type,
                            bool fixed_body) {
    std::vector<header_field> fields = extra.release();
    std::size_t used = fields.size();  // fields past `used` are spare ones to overwrite
    if (fields.capacity() == 0) fields = detail::take_spare_fields();
    bool has_length = false, has_type = false;
    for (std::size_t i = 0; i < used; ++i) {
        has_length = has_length || fields[i].name == "content-length";
        has_type = has_type || fields[i].name == "content-type";
    }
    // A spare field usually holds this very name, and often this value, already.
    const auto next_field = [&](std::string_view name) -> std::string& {
        if (used == fields.size()) fields.emplace_back();
        header_field& field = fields[used++];
        detail::refresh(field.name, name);
        return field.value;
    };
    if (fixed_body && status_allows_body(status_) && !has_length) {
        char digits[24];
        auto [end, ec] = std::to_chars(digits, digits + sizeof digits, body_.size());
        detail::refresh(next_field("content-length"),
                        std::string_view(digits, static_cast<std::size_t>(end - digits)));
    }
    if (!media_type.empty() && !has_type) {
        std::string& value = next_field("content-type");
        constexpr std::string_view charset = "; charset=utf-8";
        if (!starts_with_text(media_type) || names_charset(media_type)) {
            detail::refresh(value, media_type);
        } else if (!(value.size() == media_type.size() + charset.size() &&
                     value.starts_with(media_type) && value.ends_with(charset))) {
            value.reserve(media_type.size() + charset.size());
            value.assign(media_type).append(charset);
        }
    }
    fields.erase(fields.begin() + static_cast<std::ptrdiff_t>(used), fields.end());
    headers_ = tessera::headers(std::move(fields));
}

response& response::set_cookie(std::string_view name, std::string_view value,
                               const cookie_options& options) {
    headers_.append("set-cookie", set_cookie_header_value(name, value, options));
    return *this;
}

response& response::delete_cookie(std::string_view name, std::string_view path,
                                  std::optional<std::string_view> domain, bool secure,
                                  bool httponly, std::optional<std::string_view> samesite) {
    headers_.append("set-cookie",
                    delete_cookie_header_value(name, path, domain, secure, httponly, samesite));
    return *this;
}

response& response::add_background(background_task work) {
    background_.push_back(std::move(work));
    return *this;
}

// The usual response (a fixed body over HTTP, no background work) runs without a coroutine
// frame of its own: both sends are made here, and when they finished at once (a server's
// do while its buffers have room) so has the response. Any other case, or a send that must
// wait, goes on in a coroutine.
task<void> response::respond(scope& s, receive r, send sd, tessera::headers fields) const {
    if (s.type != scope_type::http || stream_ || !background_.empty()) {
        return respond_in_frame(s, r, sd, std::move(fields));
    }
    try {
        task<void> start = sd(http::response_start{status_, std::move(fields)});
        if (!start.is_ready()) return send_body_after(std::move(start), sd);
        return sd(http::response_body{body_, false});
    } catch (...) {
        // A send that throws at the call fails the task, as it would inside a coroutine.
        return failed_task(std::current_exception());
    }
}

task<void> response::send_body_after(task<void> start, send sd) const {
    co_await std::move(start);
    co_await sd(http::response_body{body_, false});
}

task<void> response::respond_in_frame(scope& s, receive r, send sd,
                                      tessera::headers fields) const {
    if (s.type == scope_type::websocket) {
        // As Starlette's Response on a WebSocket scope: the answer to the upgrade request is a
        // denial response (a middleware refusing a WebSocket answers it like a request).
        if (stream_) {
            throw std::logic_error(
                "streaming_response cannot answer a WebSocket handshake: use a fixed-body "
                "response as the denial");
        }
        co_await sd(websocket::denial_start{status_, std::move(fields)});
        co_await sd(websocket::denial_body{body_, false});
    } else if (stream_) {
        co_await send_stream(s, r, sd, std::move(fields));
    } else {
        co_await sd(http::response_start{status_, std::move(fields)});
        co_await sd(http::response_body{body_, false});
    }
    if (!background_.empty()) co_await run_background(&background_, &s);
}

json_response json_response::from_serialised(std::string text, int status,
                                             tessera::headers extra) {
    return json_response(serialised_tag{}, std::move(text), status, std::move(extra));
}

redirect_response::redirect_response(std::string_view location, int status,
                                     tessera::headers extra)
    : response(std::string{}, status, std::move(extra)) {
    // The characters Starlette leaves unquoted in a Location URL.
    headers().set("location", quote(location, ":/%#?=@[]!$&'()*+,;"));
}

}  // namespace tessera
