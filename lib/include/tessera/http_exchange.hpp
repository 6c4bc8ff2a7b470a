#pragma once
/// `http_exchange`: the sans-IO rules of one HTTP request/response exchange, shared by every
/// transport (the in-memory test client now, the libuv server later).

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tessera/events.hpp"
#include "tessera/scope.hpp"

namespace tessera {

/// The app broke the interface's rules (a body before the start, two starts, more body than its
/// Content-Length, an event of the wrong protocol…). Transports answer 500 if nothing was sent
/// and drop the connection otherwise.
class protocol_error : public std::logic_error {
public:
    using std::logic_error::logic_error;
};

/// How the response body is delimited on the wire.
enum class body_framing {
    none,            ///< no body may follow (HEAD, 1xx, 204, 304)
    content_length,  ///< exactly `content_length` bytes
    chunked,         ///< HTTP/1.1 chunked transfer coding
    close_delimited  ///< HTTP/1.0 without a length: the body ends when the connection closes
};

/// What the transport should write for one event the app sent.
struct exchange_output {
    enum class kind { nothing, head, body, file } what = kind::nothing;
    // head
    int status = 0;
    const headers* fields = nullptr;  ///< the app's headers (valid during the send call)
    body_framing framing = body_framing::none;
    std::uint64_t content_length = 0;
    // body / file
    std::string_view bytes;  ///< body bytes to write (empty when stripped, e.g. HEAD)
    const http::response_file* file = nullptr;
    bool last = false;  ///< the response is complete after this
};

/// Validates the app's events against the HTTP rules and tells the transport what to write:
/// the framing (Content-Length, chunked, close-delimited), HEAD and no-body statuses stripped,
/// Content-Length honoured (a body longer than declared is a `protocol_error`; a shorter one is
/// detected when the app ends), `100 Continue` owed when the app first receives. It owns no
/// buffers and never blocks: transports feed it events and act on the answers.
class http_exchange {
public:
    explicit http_exchange(const scope& s);

    /// Call when the app asks for the request body for the first time; true when the transport
    /// must first write `100 Continue` (the request said `Expect: 100-continue`, nothing has been
    /// answered yet). Only ever true once.
    [[nodiscard]] bool take_continue_due() noexcept;

    /// Checks one event the app sent and says what to write. Throws `protocol_error`.
    [[nodiscard]] exchange_output on_send(const event& e);

    /// Call when the transport has opened the file of a `response_file` the app sent (after
    /// `on_send` returned `kind::file` with a file) and knows its size: checks the app's range
    /// against the file and the body against the declared content-length, and returns how many
    /// bytes to send from `file.offset`. Throws `protocol_error` when the range starts past the
    /// end of the file or runs beyond it (the file is shorter than the app said), or when the
    /// bytes do not add up to the content-length the app declared. Transports that cannot
    /// retract the response head close the connection then; the others answer 500.
    [[nodiscard]] std::uint64_t on_file_opened(const http::response_file& file,
                                               std::uint64_t file_size);

    /// Call when the app returned (normally or by exception). `std::nullopt` when the response
    /// was complete; otherwise what went wrong, for the transport to answer with a 500 (when
    /// `started()` is false) or by closing the connection.
    [[nodiscard]] std::optional<std::string> on_app_return() const;

    [[nodiscard]] bool started() const noexcept { return state_ != state::idle; }
    [[nodiscard]] bool complete() const noexcept { return state_ == state::complete; }
    [[nodiscard]] int status() const noexcept { return status_; }
    /// The framing chosen at the response start (`none` before it).
    [[nodiscard]] body_framing framing() const noexcept { return framing_; }
    /// Body bytes the app has sent so far (before any HEAD stripping).
    [[nodiscard]] std::uint64_t body_bytes_sent() const noexcept { return sent_; }
    /// True when the connection cannot be reused after this response (close-delimited body,
    /// `Connection: close`, HTTP/1.0 without keep-alive).
    [[nodiscard]] bool closes_connection() const noexcept { return close_after_; }

private:
    enum class state { idle, streaming, complete };
    state state_ = state::idle;
    bool head_request_ = false;
    bool http10_ = false;
    bool continue_due_ = false;
    bool close_after_ = false;
    bool file_body_ = false;  // the body ended with a response_file
    int status_ = 0;
    body_framing framing_ = body_framing::none;
    std::optional<std::uint64_t> declared_length_;
    std::uint64_t sent_ = 0;
};

/// The `Connection`/`Expect` decisions a transport needs from request headers.
[[nodiscard]] bool header_has_token(const headers& h, std::string_view name,
                                    std::string_view token) noexcept;

}  // namespace tessera
