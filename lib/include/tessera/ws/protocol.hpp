#pragma once
/// `ws::protocol`: the message-level WebSocket state machine (RFC 6455 + RFC 7692) a server or
/// client drives after the handshake. Sans-IO: bytes in, events out; frames to write go into an
/// `http1::write_batch`.

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tessera/http1_serializer.hpp"  // write_batch
#include "tessera/ws/deflate.hpp"
#include "tessera/ws/frame.hpp"
#include "tessera/ws/utf8.hpp"

namespace tessera::ws {

/// Configuration of one connection's state machine.
struct protocol_options {
    ws::role role = ws::role::server;
    /// The largest message accepted, after defragmentation and decompression; a larger one
    /// fails the connection with 1009 as soon as its running size passes this. Must be > 0.
    std::size_t max_message_size = 16 * 1024 * 1024;
    /// The negotiated permessage-deflate parameters; nullopt: no extension (RSV1 is then a
    /// protocol error).
    std::optional<deflate_params> deflate;
    /// Compression tuning when `deflate` is set (level, memory, `min_size`).
    deflate_options compression;
};

/// What a `protocol::parse` call produced.
enum class protocol_event : std::uint8_t {
    need_more,  ///< every byte given was consumed; read more
    message,    ///< a complete message: `is_binary()`, `take_message()`
    ping,       ///< a ping (its pong is already queued): `control_payload()`
    pong,       ///< a pong: `control_payload()`
    close,      ///< the peer's close: `close_code()`, `close_reason()`; the echo is queued
    fail        ///< a protocol error: `close_code()`, `close_reason()`; a close frame is queued
};

/// The result of one `parse` call.
struct protocol_result {
    protocol_event kind = protocol_event::need_more;
    std::size_t consumed = 0;  ///< bytes of the input the caller may now discard
};

/// Why a `send_…` call wrote nothing.
enum class send_status : std::uint8_t {
    sent,
    closed,   ///< this end already sent a close (or failed): no more frames
    invalid,  ///< a control payload over 125 bytes, or a close code that may not be sent
};

/// One connection's WebSocket state machine.
///
/// Receiving: call `parse(bytes, out)` with the unconsumed bytes, drop `consumed`, act on the
/// event, and call again until `need_more`. Every byte reported consumed may be discarded —
/// partial frames are kept inside (headers) or in the message being assembled — and feeding
/// one byte at a time gives the same events as feeding everything at once. The input is
/// mutable because masked payloads are unmasked in place.
///
/// Replies the protocol requires are queued into `out` by `parse` itself, so the caller only
/// writes `out` whenever it is non-empty: the pong for every ping (before the ping event is
/// returned), the echo of the peer's close, and the close frame that fails the connection.
///
/// Checked (fail code): RSV bits without an extension that uses them, RSV1 on a control or
/// continuation frame, reserved opcodes, fragmented or over-long control frames, a wrongly
/// masked frame, a continuation with no message started, a new message inside a fragmented
/// one, a 1-byte close payload, a close code that may not be sent (0–999, 1004–1006, 1015,
/// 1016–2999, above 4999) — 1002; invalid UTF-8 in a text message, checked as fragments
/// arrive (the first invalid byte fails the connection), or in a close reason — 1007; a
/// message over `max_message_size` — 1009, before buffering more than the limit, and for
/// compressed messages while inflating; DEFLATE data that does not decompress — 1002.
///
/// Closing: after this end sends a close, `send_*` writes nothing more (`send_status::closed`)
/// while incoming frames are still parsed; when the peer's close arrives first it is echoed
/// with its code. Once both closes are exchanged (`closed()`), further input is ignored; the
/// server then closes the TCP connection. A `fail` is terminal: later calls return `fail`
/// again, consuming nothing.
///
/// Memory: the message being assembled (taken out by `take_message`), a control payload (held
/// inline up to the string's small size; a longer one is freed again by the next `parse`), a
/// scratch buffer for compressed output, zlib streams only once compression is used, and, for a
/// client, a pool of random mask keys from its first frame on. A frame costs no allocation
/// beyond the message string. An idle server-side protocol owns no heap memory.
class protocol {
public:
    /// Throws std::invalid_argument for a zero `max_message_size` or invalid compression
    /// options.
    explicit protocol(protocol_options options = {});

    /// Parses from the start of the unconsumed bytes; returns one event. Queues replies
    /// (pong, close echo, failing close) into `out`.
    [[nodiscard]] protocol_result parse(std::span<char> input, http1::write_batch& out);

    /// After `message`: the message is binary (otherwise valid UTF-8 text).
    [[nodiscard]] bool is_binary() const noexcept { return binary_; }
    /// After `message`: moves the message out.
    [[nodiscard]] std::string take_message() noexcept { return std::move(message_); }
    /// After `message`: the message, still owned here until the next `parse`.
    [[nodiscard]] std::string_view message() const noexcept { return message_; }
    /// After `ping` or `pong`: the payload, valid until the next `parse`.
    [[nodiscard]] std::string_view control_payload() const noexcept { return control_; }
    /// After `close`: the peer's code (1005 when its close had no payload). After `fail`: the
    /// code this end closed with.
    [[nodiscard]] int close_code() const noexcept { return close_code_; }
    /// After `close`: the peer's reason (valid until the next `parse`); after `fail`: a short
    /// static English explanation.
    [[nodiscard]] std::string_view close_reason() const noexcept { return close_reason_; }

    /// Queues a text message (the caller guarantees UTF-8) as one frame, compressed when
    /// permessage-deflate is on and it is at least `compression.min_size` bytes. Uncompressed
    /// server payloads are borrowed by `out` (see `write_batch::append_ref`).
    send_status send_text(std::string_view text, http1::write_batch& out);
    /// Queues a binary message, like `send_text`.
    send_status send_binary(std::string_view bytes, http1::write_batch& out);
    /// Queues a message of either kind.
    send_status send_message(std::string_view data, bool binary, http1::write_batch& out);
    /// Queues a ping (payload at most 125 bytes).
    send_status send_ping(std::string_view payload, http1::write_batch& out);
    /// Queues an unsolicited pong (payload at most 125 bytes).
    send_status send_pong(std::string_view payload, http1::write_batch& out);
    /// Starts (or answers) the closing handshake with a code (1000–4999 except 1004–1006,
    /// 1015 and 1016–2999) and a reason, cut to 123 bytes at a UTF-8 boundary. 1005 means "no
    /// status": the close frame is sent empty.
    send_status send_close(int code, std::string_view reason, http1::write_batch& out);

    /// This end sent a close frame (or failed).
    [[nodiscard]] bool close_sent() const noexcept { return close_sent_; }
    /// The peer's close frame arrived.
    [[nodiscard]] bool close_received() const noexcept { return close_received_; }
    /// Both closes were exchanged, or the connection failed: nothing more will be sent or
    /// reported; close the transport.
    [[nodiscard]] bool closed() const noexcept {
        return failed_ || (close_sent_ && close_received_);
    }
    /// A protocol error failed the connection.
    [[nodiscard]] bool failed() const noexcept { return failed_; }
    /// A message is partly received (fragments or bytes of it are in).
    [[nodiscard]] bool in_message() const noexcept { return in_message_; }
    [[nodiscard]] const protocol_options& options() const noexcept { return options_; }

private:
    protocol_result fail(int code, std::string_view reason, std::size_t consumed,
                         http1::write_batch& out);
    bool on_header(const frame_header& h);
    bool on_data(std::string_view piece, bool frame_end);
    protocol_event on_control_end(http1::write_batch& out);
    void queue_frame(opcode op, bool rsv1, std::string_view payload, http1::write_batch& out);
    mask_key next_mask();

    protocol_options options_;
    frame_parser frames_;
    std::optional<deflate_codec> deflate_;

    // The message being received.
    std::string message_;
    utf8_validator utf8_;
    std::size_t validated_ = 0;  // message_ bytes already fed to utf8_
    bool in_message_ = false;
    bool binary_ = false;
    bool compressed_ = false;

    // The control frame being received (a small string: keepalive payloads stay inline).
    opcode control_op_ = opcode::ping;
    bool in_control_ = false;  // its payload is partly received
    std::string control_;

    int close_code_ = 1005;
    std::string_view close_reason_;
    int pending_code_ = 0;  // a failure found inside a frame event: reported by parse
    std::string_view pending_reason_;
    bool close_sent_ = false;
    bool close_received_ = false;
    bool failed_ = false;

    std::string scratch_;  // compressed or masked output, reused
    // Client masks: drawn from libcrypto in batches, not one call per frame; allocated by the
    // first masked frame (a server never masks).
    static constexpr std::size_t mask_pool_size = 256;
    std::unique_ptr<std::array<std::uint8_t, mask_pool_size>> mask_pool_;
    std::size_t mask_used_ = mask_pool_size;
};

}  // namespace tessera::ws
