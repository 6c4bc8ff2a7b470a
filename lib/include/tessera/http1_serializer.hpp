#pragma once
/// HTTP/1.1 response serialization, sans-IO: status lines, header sections and chunk framing
/// go into a `write_batch`, a writev-ready sequence of owned framing bytes and borrowed body
/// bytes.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "tessera/headers.hpp"
#include "tessera/http_exchange.hpp"  // body_framing

namespace tessera::http1 {

/// Bytes queued for one `writev`: small framing bytes are copied into one owned buffer, body
/// bytes are borrowed (small ones are copied too, so a small response becomes one segment).
/// Adjacent owned bytes coalesce into one segment.
///
/// Borrowed bytes must stay valid until they are written (`consume`) or copied (`own`).
/// Owned bytes are kept by position, never by pointer, so growing the buffer never leaves a
/// segment dangling; `segments()` materialises the views.
class write_batch {
public:
    /// `copy_below`: borrowed pieces shorter than this are copied instead.
    explicit write_batch(std::size_t copy_below = 512) : copy_below_(copy_below) {}

    /// Appends bytes the batch keeps its own copy of.
    void append_copy(std::string_view bytes);
    /// Appends bytes the caller keeps alive until written (copied when short).
    void append_ref(std::string_view bytes);
    /// Appends `n` bytes the caller fills at once (before anything else touches the batch),
    /// kept by the batch like a copy: for bytes made in place, such as TLS ciphertext.
    [[nodiscard]] char* append_space(std::size_t n) { return grow_owned(n); }

    /// The pending bytes in order. The views are valid until the batch is next modified.
    [[nodiscard]] std::span<const std::string_view> segments();
    /// Pending bytes in total.
    [[nodiscard]] std::size_t size() const noexcept { return bytes_; }
    [[nodiscard]] bool empty() const noexcept { return bytes_ == 0; }

    /// Drops the first `n` pending bytes (after a write of `n` bytes).
    void consume(std::size_t n) noexcept;
    /// Copies every borrowed segment still pending, so the caller may release its bytes
    /// (before completing an app's `send` that could not be written at once).
    void own();
    /// Drops pending bytes past the first `n` (no-op when `n >= size()`), e.g. to take back a
    /// response head that has not been written yet. Keeps capacity.
    void truncate(std::size_t n) noexcept;
    /// Drops everything; keeps capacity.
    void clear() noexcept;
    /// The pending bytes joined (tests and simple transports).
    [[nodiscard]] std::string to_string() const;

private:
    friend class head_writer;
    struct segment {
        const char* borrowed;  // nullptr: owned_ bytes at `offset`
        std::size_t offset;
        std::size_t size;
    };
    char* grow_owned(std::size_t n);    // appends n owned bytes to write into, as a segment
    char* extend_owned(std::size_t n);  // n more owned bytes, not yet in any segment

    // Owned bytes, grown without zero-filling (std::string::resize wrote every byte twice):
    // every byte handed out by grow_owned is written at once.
    std::unique_ptr<char[]> owned_;
    std::size_t owned_size_ = 0;
    std::size_t owned_capacity_ = 0;
    std::vector<segment> segments_;
    std::vector<std::string_view> views_;
    std::size_t first_ = 0;  // first pending segment
    std::size_t owned_through_ = 0;  // segments before this index hold no borrowed bytes
    std::size_t bytes_ = 0;
    std::size_t copy_below_;
};

/// What to write for a response head.
struct response_head {
    int status = 200;                ///< 100–999
    const headers* fields = nullptr;  ///< the app's headers; may be null
    body_framing framing = body_framing::none;  ///< from `exchange_output`
    std::uint64_t content_length = 0;           ///< when `framing == content_length`
    /// The server's decision to keep the connection open (the parser's `keep_alive`, the
    /// exchange's `closes_connection()`, shutdown…). Forced false for close-delimited bodies.
    bool keep_alive = true;
    bool http10 = false;       ///< the request was HTTP/1.0: keep-alive must be announced
    /// A preformatted IMF-fixdate; empty: no `date` field. Trusted, like `server`: the caller
    /// guarantees a valid field value (the app's fields are the ones checked here).
    std::string_view date;
    std::string_view server;   ///< the `server` value (validated by the caller); empty: none
    /// Fields the server adds to every response (`server_options::default_headers`), trusted
    /// like `date`; may be null. One the app's fields name is left out: the app's own wins. A
    /// default `date` or `server` replaces the one above.
    const headers* defaults = nullptr;
};

/// Why a head was not written.
enum class head_error : std::uint8_t {
    none,
    invalid_status,       ///< outside 100–999
    invalid_field_name,   ///< empty, or not a token
    invalid_field_value,  ///< a control character (CR, LF, NUL…; HTAB is fine)
};
[[nodiscard]] std::string_view to_string(head_error e) noexcept;

/// Appends `HTTP/1.1 <status> <reason>\r\n`, the fields and the empty line to `out`. On an
/// error nothing is appended: the caller answers 500 (or closes) instead, so a header
/// injection attempt never reaches the wire.
///
/// Fields written, in order: `date` and `server` unless the app or the defaults set their own;
/// the defaults the app's fields do not name; the app's fields except the framing ones this
/// function owns — `transfer-encoding` always, and `content-length` unless the framing is
/// `none` and the status allows a body (a HEAD or 304 response keeps the app's value); then
/// `content-length: N` or `transfer-encoding: chunked` per `framing`; then `connection: close`
/// when not keeping alive, or `connection: keep-alive` for an HTTP/1.0 client, unless the app's
/// own `connection` field says so.
[[nodiscard]] head_error write_response_head(const response_head& head, write_batch& out);

/// The interim response owed to `Expect: 100-continue`.
inline constexpr std::string_view continue_response = "HTTP/1.1 100 Continue\r\n\r\n";
/// The last chunk of a chunked body, with no trailers.
inline constexpr std::string_view last_chunk = "0\r\n\r\n";

/// A chunk header, `<hex size>\r\n`, in a small inline buffer.
struct chunk_header {
    char data[20];
    std::uint8_t size;
    [[nodiscard]] std::string_view view() const noexcept { return {data, size}; }
};
[[nodiscard]] chunk_header make_chunk_header(std::uint64_t size) noexcept;

/// Appends `bytes` as one chunk (header, borrowed data, CRLF); nothing for empty bytes, which
/// would end the body.
void write_chunk(std::string_view bytes, write_batch& out);

/// Appends a body piece framed per `framing` (`last` ends a chunked body with `0\r\n\r\n`).
/// Bytes for `none` are dropped.
void write_body(body_framing framing, std::string_view bytes, bool last, write_batch& out);

/// An IMF-fixdate (`Sun, 06 Nov 1994 08:49:37 GMT`) in an inline buffer.
struct http_date_buffer {
    char data[29];
    [[nodiscard]] std::string_view view() const noexcept { return {data, sizeof data}; }
};
/// Formats seconds since the Unix epoch (clamped to years 0000–9999) without locale, libc
/// time functions or allocation; for the per-second `date` value.
/// (`tessera::http_date` in http_date.hpp gives the same text as a `std::string`.)
[[nodiscard]] http_date_buffer format_http_date(std::int64_t unix_seconds) noexcept;

/// A non-empty token (RFC 9110 §5.6.2): a valid field name or method.
[[nodiscard]] bool is_token(std::string_view text) noexcept;
/// No control characters other than HTAB (and no DEL): safe to write as a field value.
[[nodiscard]] bool is_field_value(std::string_view text) noexcept;

}  // namespace tessera::http1
