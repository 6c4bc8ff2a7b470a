#pragma once
/// WebSocket frames (RFC 6455 §5), sans-IO: `ws::frame_parser` turns bytes into frame headers
/// and payload pieces (unmasked in place); the writers produce frame headers for a `writev` of
/// header + borrowed payload, or whole masked frames for clients.

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace tessera::ws {

/// Frame opcodes (RFC 6455 §5.2). The parser never reports the reserved ones.
enum class opcode : std::uint8_t {
    continuation = 0x0,
    text = 0x1,
    binary = 0x2,
    close = 0x8,
    ping = 0x9,
    pong = 0xa,
};

/// Close, ping and pong: at most 125 payload bytes, never fragmented.
[[nodiscard]] constexpr bool is_control(opcode op) noexcept {
    return (static_cast<std::uint8_t>(op) & 0x8) != 0;
}

/// Which end of the connection this is: a server receives masked frames and sends unmasked
/// ones; a client the reverse (RFC 6455 §5.1).
enum class role : std::uint8_t { server, client };

/// The 4-byte masking key, in wire order.
using mask_key = std::array<std::uint8_t, 4>;

/// The largest control frame payload.
inline constexpr std::size_t max_control_payload = 125;
/// The longest frame header: 2 bytes, a 64-bit length, a masking key.
inline constexpr std::size_t max_frame_header = 14;

/// The RSV bits as they sit in the first header byte, for `frame_parser`'s allowed set.
inline constexpr std::uint8_t rsv1_bit = 0x40;
inline constexpr std::uint8_t rsv2_bit = 0x20;
inline constexpr std::uint8_t rsv3_bit = 0x10;

/// A parsed frame header.
struct frame_header {
    opcode op = opcode::continuation;
    bool fin = true;
    bool rsv1 = false;  ///< permessage-deflate's "compressed" bit
    bool rsv2 = false;
    bool rsv3 = false;
    bool masked = false;
    mask_key mask{};
    std::uint64_t length = 0;  ///< payload bytes
};

/// What a `frame_parser::parse` call produced.
enum class frame_event : std::uint8_t {
    need_more,  ///< every byte given was consumed; call again with more
    header,     ///< `frame_parser::header()` describes a new frame
    payload,    ///< `frame_result::payload` is the next piece of the frame's payload
    error       ///< `frame_parser::error()` says why; terminal
};

/// The result of one `parse` call.
struct frame_result {
    frame_event kind = frame_event::need_more;
    std::size_t consumed = 0;  ///< bytes of the input the caller may now discard
    /// `payload` only: unmasked bytes, a view into the caller's input (non-empty).
    std::string_view payload;
    /// `header` or `payload`: the frame's payload is complete (a `header` of an empty frame
    /// carries it, since no payload event follows).
    bool frame_end = false;
};

/// Why the frames were rejected: the close code to fail the connection with (always 1002,
/// protocol error) and a short static English reason.
struct frame_error {
    int close_code = 1002;
    std::string_view reason;
};

/// Parses the frames of one direction of a connection.
///
/// Use: call `parse` with the unconsumed bytes, drop `consumed` bytes from the front, act on
/// the event, and call again until `need_more`; then read more. Header bytes are copied into
/// the parser as they arrive, so the caller never keeps a partial header: everything reported
/// as consumed may be discarded, and feeding one byte at a time gives the same frames as
/// feeding everything at once.
///
/// Zero-copy: payload pieces are handed out as they arrive, as views into the input, which
/// the parser unmasks in place (hence the mutable input). A view stays valid while the caller
/// keeps those bytes.
///
/// Checked here (each fails with 1002): reserved opcodes, RSV bits outside `allowed_rsv`,
/// fragmented control frames, control payloads over 125 bytes, a client frame without a mask
/// (server role) or a server frame with one (client role), and 64-bit lengths with the most
/// significant bit set. Lengths in a longer encoding than needed (a 126 form for 5 bytes) are
/// accepted: RFC 6455 binds senders to the minimal form but does not ask receivers to police
/// it, and rejecting it buys nothing.
class frame_parser {
public:
    /// `allowed_rsv`: the RSV bits negotiated extensions use (`rsv1_bit` for
    /// permessage-deflate); the parser rejects any other.
    explicit frame_parser(role side, std::uint8_t allowed_rsv = 0) noexcept
        : role_(side), allowed_rsv_(allowed_rsv) {}

    /// Parses from the start of the unconsumed bytes; returns one event.
    [[nodiscard]] frame_result parse(std::span<char> input) noexcept;

    /// The current frame's header (after `frame_event::header`, until the next one).
    [[nodiscard]] const frame_header& header() const noexcept { return header_; }
    /// Payload bytes of the current frame not yet handed out.
    [[nodiscard]] std::uint64_t remaining() const noexcept { return remaining_; }
    /// What went wrong (after `frame_event::error`).
    [[nodiscard]] const frame_error& error() const noexcept { return error_; }
    /// True between frames with no byte of the next header seen.
    [[nodiscard]] bool at_frame_boundary() const noexcept {
        return phase_ == phase::header && have_ == 0;
    }

private:
    enum class phase : std::uint8_t { header, payload, failed };
    frame_result fail(std::string_view reason, std::size_t consumed) noexcept;
    std::size_t header_size() const noexcept;

    role role_;
    std::uint8_t allowed_rsv_;
    phase phase_ = phase::header;
    std::uint8_t have_ = 0;  // header bytes collected in buffer_
    std::array<std::uint8_t, max_frame_header> buffer_{};
    frame_header header_;
    std::uint64_t remaining_ = 0;
    std::uint64_t offset_ = 0;  // payload bytes already unmasked (selects the key byte)
    frame_error error_;
};

/// XORs `data` with `key`, starting at payload position `offset` (masking and unmasking are
/// the same operation). Eight bytes at a time.
void apply_mask(char* data, std::size_t size, mask_key key, std::uint64_t offset = 0) noexcept;

/// A frame header in an inline buffer.
struct frame_header_buffer {
    std::array<char, max_frame_header> data{};
    std::uint8_t size = 0;
    [[nodiscard]] std::string_view view() const noexcept { return {data.data(), size}; }
};

/// Encodes a frame header with the minimal length form. With a `mask` the header carries the
/// key and the payload must be masked with it (client role); servers pass none and write the
/// payload as it is, so header + payload go out in one `writev` without copying.
[[nodiscard]] frame_header_buffer make_frame_header(opcode op, bool fin, bool rsv1,
                                                    std::uint64_t length,
                                                    std::optional<mask_key> mask = {}) noexcept;

/// Appends a whole unmasked frame (server role) to `out`.
void append_frame(std::string& out, opcode op, bool fin, bool rsv1, std::string_view payload);
/// Appends a whole frame masked with `key` (client role) to `out`: the payload is copied and
/// masked there, the caller's bytes are untouched.
void append_masked_frame(std::string& out, opcode op, bool fin, bool rsv1,
                         std::string_view payload, mask_key key);

}  // namespace tessera::ws
