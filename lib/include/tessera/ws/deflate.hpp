#pragma once
/// permessage-deflate (RFC 7692): negotiating the extension from `Sec-WebSocket-Extensions`,
/// and `ws::deflate_codec`, which compresses and decompresses whole messages with zlib's raw
/// DEFLATE under the negotiated window and context-takeover rules.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "tessera/ws/frame.hpp"

namespace tessera::ws {

/// What this endpoint is willing to negotiate, and how hard it compresses. A server embeds
/// one in its options; a client builds its offer from one. Validated by `validate`.
struct deflate_options {
    bool enabled = true;  ///< false: never negotiate (offers are declined)
    /// Reset the server's compressor after every message (and say so). Costs ratio, not memory.
    bool server_no_context_takeover = false;
    /// Ask the client to reset its compressor after every message.
    bool client_no_context_takeover = false;
    /// The server's LZ77 window, 8–15 (a client may ask for less). zlib cannot produce raw
    /// DEFLATE with a 256-byte window, so at 8 the server accepts but sends every message
    /// uncompressed, which RFC 7692 allows.
    int server_max_window_bits = 15;
    /// The client window to ask for, 8–15; asked only when the client's offer allows it
    /// (carries `client_max_window_bits`).
    int client_max_window_bits = 15;
    int level = 6;      ///< zlib level, 1 (fast) – 9 (small); 0 stores
    int mem_level = 8;  ///< zlib memLevel, 1–9: compressor memory against speed
    /// Messages shorter than this are sent uncompressed (their RSV1 clear).
    std::size_t min_size = 64;

    /// Throws std::invalid_argument naming the first field out of range.
    void validate() const;
};

/// The agreed parameters (RFC 7692 §7.1), the same on both ends.
struct deflate_params {
    bool server_no_context_takeover = false;
    bool client_no_context_takeover = false;
    int server_max_window_bits = 15;
    int client_max_window_bits = 15;
    friend bool operator==(const deflate_params&, const deflate_params&) = default;
};

/// A server's acceptance: the parameters and the `sec-websocket-extensions` value to answer.
struct deflate_agreement {
    deflate_params params;
    std::string response;
};

/// Server side: picks the first acceptable `permessage-deflate` offer among the
/// `Sec-WebSocket-Extensions` field values (`handshake_request::extensions`). An offer with an
/// unknown, duplicate or malformed parameter, or a window outside 8–15, is declined and the
/// next one tried; other extensions are ignored. nullopt: none accepted (or not enabled).
[[nodiscard]] std::optional<deflate_agreement> negotiate_deflate(
    std::span<const std::string_view> extension_fields, const deflate_options& options);

/// The extension value for agreed parameters: `permessage-deflate` followed by every
/// parameter that differs from the default (windows below 15, the takeover flags).
[[nodiscard]] std::string format_deflate(const deflate_params& params);

/// Client side: the offer for `Sec-WebSocket-Extensions`, always allowing the server to cap
/// `client_max_window_bits`.
[[nodiscard]] std::string deflate_offer(const deflate_options& options);
/// Client side: the parameters in the server's `Sec-WebSocket-Extensions` answer to
/// `deflate_offer(options)`; nullopt when the answer is not a valid acceptance (the client
/// must then fail the connection). An empty answer means declined: check before calling.
[[nodiscard]] std::optional<deflate_params> accept_deflate_response(
    std::string_view response, const deflate_options& options);

/// Compresses and decompresses the messages of one connection (one per connection, not
/// shared between threads). zlib streams are created on first use, so a connection that never
/// sends or receives a compressed message costs no zlib memory.
class deflate_codec {
public:
    /// `side` decides which half of `params` governs sending and which receiving.
    deflate_codec(role side, const deflate_params& params, const deflate_options& options);
    ~deflate_codec();
    deflate_codec(deflate_codec&&) noexcept;
    deflate_codec& operator=(deflate_codec&&) noexcept;

    /// Outgoing messages may be compressed (false when this end's window is 8 bits).
    [[nodiscard]] bool can_compress() const noexcept;

    /// Replaces `out` with `message` compressed, the trailing 00 00 FF FF removed (RFC 7692
    /// §7.2.1); resets the compressor afterwards when this end has no context takeover.
    void compress(std::string_view message, std::string& out);

    enum class inflate_status : std::uint8_t {
        ok,
        too_large,  ///< the message would exceed `limit`
        corrupt     ///< not valid DEFLATE data
    };
    /// Decompresses the next piece of a compressed message, appending to `out`. Output stops
    /// once `out` holds more than `limit` bytes (at most `limit + 1`), so a small compressed
    /// message never inflates into a large allocation. `last`: the piece ends the message
    /// (the 00 00 FF FF tail is fed, and the context reset when the peer has no context
    /// takeover). A final block (BFINAL) ends the message's DEFLATE data: the rest of the
    /// message is ignored and the window kept for the next one. After `too_large` or
    /// `corrupt` the connection must be failed. The decoder's window is the negotiated one
    /// (at least 9 bits); a peer reaching further back than it agreed may or may not be
    /// caught, depending on how its bytes were split.
    [[nodiscard]] inflate_status decompress(std::string_view piece, bool last, std::string& out,
                                            std::size_t limit);

private:
    struct streams;
    std::unique_ptr<streams> streams_;
};

}  // namespace tessera::ws
