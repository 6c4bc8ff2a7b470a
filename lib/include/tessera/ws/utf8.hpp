#pragma once
/// `ws::utf8_validator`: an incremental UTF-8 validator (RFC 3629) for WebSocket text messages,
/// which must be rejected as soon as a prefix is invalid, even when a code point is split
/// across frames or reads.

#include <cstdint>
#include <string_view>

namespace tessera::ws {

/// Validates a byte stream fed in pieces of any size. Rejects overlong encodings, UTF-16
/// surrogates (U+D800–U+DFFF), code points above U+10FFFF and stray or missing continuation
/// bytes. Runs of ASCII are checked eight bytes at a time.
///
/// A failure is sticky until `reset()`. The validator holds no pointers into what it was fed.
class utf8_validator {
public:
    /// Feeds the next bytes. Returns false when the stream so far is not the prefix of any
    /// valid UTF-8 text (and from then on).
    bool feed(std::string_view bytes) noexcept;
    /// The stream so far is valid and ends on a code point boundary: a complete text is valid.
    [[nodiscard]] bool complete() const noexcept { return state_ == 0; }
    /// An invalid prefix has been seen.
    [[nodiscard]] bool failed() const noexcept { return state_ == reject_state; }
    /// Starts a new stream (a new message).
    void reset() noexcept { state_ = 0; }

    /// The state value after an invalid byte (exposed for the tables in the implementation).
    static constexpr std::uint8_t reject_state = 1;

private:
    std::uint8_t state_ = 0;  // 0: at a boundary; reject_state; others: inside a sequence
};

/// Validates a complete text in one call.
[[nodiscard]] bool is_valid_utf8(std::string_view text) noexcept;

}  // namespace tessera::ws
