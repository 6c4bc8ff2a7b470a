#pragma once
/// `timestamp_signer`: signs a value with the time it was signed, so that it comes back only
/// unaltered and young enough (the role itsdangerous' TimestampSigner plays for Starlette's
/// sessions), and the URL-safe base64 the session cookie is written in.

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace tessera {

/// Signs `value` as `value.timestamp.signature`: the timestamp in decimal seconds since the Unix
/// epoch, the signature HMAC-SHA256 (libcrypto) over `value.timestamp`, in unpadded base64url.
/// The HMAC key is derived from the secret (HMAC-SHA256 of a fixed label under the secret), so
/// the secret itself never signs anything directly. Immutable after construction and safe to use
/// from several threads. Any bytes may be signed (`unsign` splits at the last two dots); only a
/// cookie-safe value makes a cookie-safe token.
class timestamp_signer {
public:
    /// `secret_key` must not be empty (std::invalid_argument).
    explicit timestamp_signer(std::string_view secret_key);

    /// `value.timestamp.signature` for `value` signed at `timestamp` (Unix seconds, 0 to
    /// 10^18 - 1: what `unsign` reads; std::invalid_argument otherwise).
    [[nodiscard]] std::string sign(std::string_view value, std::int64_t timestamp) const;
    /// `sign(value, now)`.
    [[nodiscard]] std::string sign(std::string_view value) const;

    /// The value inside `token` when its signature is ours (compared in constant time) and it
    /// was signed no more than `max_age` before `now` (any age when `max_age` is absent) and not
    /// after `now`; nullopt otherwise — malformed, tampered, expired or from the future. A view
    /// into `token`.
    [[nodiscard]] std::optional<std::string_view> unsign(
        std::string_view token, std::optional<std::chrono::seconds> max_age,
        std::int64_t now) const noexcept;
    /// `unsign(token, max_age, now)` with the current time.
    [[nodiscard]] std::optional<std::string_view> unsign(
        std::string_view token, std::optional<std::chrono::seconds> max_age) const noexcept;

    /// The current time as Unix seconds (the system clock).
    [[nodiscard]] static std::int64_t now() noexcept;

private:
    using digest = std::array<unsigned char, 32>;
    [[nodiscard]] digest mac(std::string_view signed_part) const noexcept;

    digest key_{};
};

/// Unpadded URL-safe base64 (RFC 4648 §5): letters, digits, `-` and `_`, all cookie-safe.
[[nodiscard]] std::string base64url_encode(std::string_view bytes);
/// Decodes unpadded base64url; nullopt for any other character or an impossible length.
[[nodiscard]] std::optional<std::string> base64url_decode(std::string_view text);

}  // namespace tessera
