#include "tessera/http_exchange.hpp"

#include <charconv>

#include "tessera/status.hpp"

namespace tessera {

namespace {
std::string_view trim(std::string_view s) noexcept {
    while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
    while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
    return s;
}

// A Content-Length the app set: digits only, no overflow. Anything else is the app's bug.
std::uint64_t parse_declared_length(std::string_view text) {
    text = trim(text);
    std::uint64_t value = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (text.empty() || ec != std::errc{} || end != text.data() + text.size()) {
        throw protocol_error("the app sent an invalid content-length: '" + std::string(text) + "'");
    }
    return value;
}

}  // namespace

bool header_has_token(const headers& h, std::string_view name, std::string_view token) noexcept {
    for (const auto& field : h) {
        if (field.name == name && list_has_token(field.value, token)) return true;
    }
    return false;
}

// One pass over the request's fields (this runs for every request): only `expect` and
// `connection` matter here.
http_exchange::http_exchange(const scope& s)
    : head_request_(s.method == "HEAD"), http10_(s.http_version == "1.0") {
    bool expects_continue = false, asks_close = false, asks_keep_alive = false;
    for (const auto& field : s.headers) {
        if (field.name.size() == 6 && field.name == "expect") {
            expects_continue = expects_continue || list_has_token(field.value, "100-continue");
        } else if (field.name.size() == 10 && field.name == "connection") {
            asks_close = asks_close || list_has_token(field.value, "close");
            asks_keep_alive = asks_keep_alive || list_has_token(field.value, "keep-alive");
        }
    }
    continue_due_ = !http10_ && expects_continue;
    close_after_ = asks_close || (http10_ && !asks_keep_alive);
}

bool http_exchange::take_continue_due() noexcept {
    // Once the response has started the client has its answer; a late 100 would be a protocol
    // violation.
    const bool due = continue_due_ && state_ == state::idle;
    continue_due_ = false;
    return due;
}

exchange_output http_exchange::on_send(const event& e) {
    exchange_output out;
    if (const auto* start = std::get_if<http::response_start>(&e)) {
        if (state_ != state::idle) {
            throw protocol_error("the app sent http.response.start twice");
        }
        if (start->status < 200 || start->status > 999) {
            throw protocol_error("the app sent an invalid status " + std::to_string(start->status));
        }
        status_ = start->status;
        continue_due_ = false;
        // One pass over the app's fields for the two this state machine reads: the first
        // content-length, and any `connection: close`.
        bool length_seen = false, asks_close = false;
        for (const auto& field : start->headers) {
            const std::string_view name = field.name;
            if (name.size() == 14 && !length_seen && iequals(name, "content-length")) {
                declared_length_ = parse_declared_length(field.value);
                length_seen = true;
            } else if (name.size() == 10 && iequals(name, "connection")) {
                asks_close = asks_close || list_has_token(field.value, "close");
            }
        }
        if (head_request_ || !status_allows_body(status_)) {
            framing_ = body_framing::none;
        } else if (declared_length_) {
            framing_ = body_framing::content_length;
        } else if (http10_) {
            framing_ = body_framing::close_delimited;
            close_after_ = true;
        } else {
            framing_ = body_framing::chunked;
        }
        if (asks_close) close_after_ = true;
        state_ = state::streaming;
        out.what = exchange_output::kind::head;
        out.status = status_;
        out.fields = &start->headers;
        out.framing = framing_;
        out.content_length = declared_length_.value_or(0);
        return out;
    }
    if (const auto* body = std::get_if<http::response_body>(&e)) {
        if (state_ == state::idle) {
            throw protocol_error("the app sent http.response.body before http.response.start");
        }
        if (state_ == state::complete) {
            throw protocol_error("the app sent http.response.body after the response completed");
        }
        sent_ += body->body.size();
        if (declared_length_ && sent_ > *declared_length_ && framing_ != body_framing::none) {
            throw protocol_error("the app sent more body than its content-length of " +
                                 std::to_string(*declared_length_));
        }
        out.what = exchange_output::kind::body;
        out.bytes = framing_ == body_framing::none ? std::string_view{} : body->body;
        out.last = !body->more_body;
        if (out.last) state_ = state::complete;
        return out;
    }
    if (const auto* file = std::get_if<http::response_file>(&e)) {
        if (state_ != state::streaming) {
            throw protocol_error("the app sent http.response.pathsend outside a started response");
        }
        out.what = exchange_output::kind::file;
        out.file = framing_ == body_framing::none ? nullptr : file;
        out.last = true;
        state_ = state::complete;
        // The file's size is the transport's to check (it opens the file); counting its bytes as
        // zero would report every file response with a content-length as short.
        file_body_ = true;
        return out;
    }
    throw protocol_error("unexpected event on an HTTP scope: " + std::string(event_name(e)));
}

std::uint64_t http_exchange::on_file_opened(const http::response_file& file,
                                            std::uint64_t file_size) {
    if (file.offset > file_size) {
        throw protocol_error("the app's file range starts at " + std::to_string(file.offset) +
                             ", past the end of " + file.path + " (" + std::to_string(file_size) +
                             " bytes)");
    }
    const std::uint64_t available = file_size - file.offset;
    if (file.length && *file.length > available) {
        throw protocol_error("the app's file range of " + std::to_string(*file.length) +
                             " bytes from " + std::to_string(file.offset) + " runs past the end of " +
                             file.path + " (" + std::to_string(file_size) + " bytes)");
    }
    const std::uint64_t bytes = file.length.value_or(available);
    if (declared_length_ && framing_ == body_framing::content_length &&
        sent_ + bytes != *declared_length_) {
        throw protocol_error("the app declared a content-length of " +
                             std::to_string(*declared_length_) + " but its body is " +
                             std::to_string(sent_ + bytes) + " bytes (file " + file.path + ")");
    }
    sent_ += bytes;
    return bytes;
}

std::optional<std::string> http_exchange::on_app_return() const {
    if (state_ == state::idle) return std::string("the app returned without starting a response");
    if (state_ == state::streaming) {
        return std::string("the app returned before completing its response");
    }
    if (declared_length_ && framing_ == body_framing::content_length && !file_body_ &&
        sent_ != *declared_length_) {
        return "the app sent " + std::to_string(sent_) + " body bytes but declared " +
               std::to_string(*declared_length_);
    }
    return std::nullopt;
}

}  // namespace tessera
