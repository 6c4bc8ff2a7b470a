#include "tessera/timestamp_signer.hpp"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <stdexcept>

namespace tessera {

namespace {
constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
// The label the signing key is derived from: a different use of the same secret (another
// component, a future format) derives a different key.
constexpr std::string_view key_label = "tessera.timestamp_signer.v1";
constexpr std::size_t encoded_digest_size = 43;  // 32 bytes in unpadded base64
constexpr std::int64_t max_timestamp = 999'999'999'999'999'999;  // 18 digits

int decode_char(char c) noexcept {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

// Decodes unpadded base64url, handing each byte to `put` (which may refuse it: false). False
// on a character outside the alphabet, a refused byte, or leftover bits that are not zero (so
// each byte string has exactly one encoding).
template <class Put>
bool decode_each(std::string_view text, Put put) {
    unsigned buffer = 0;
    int bits = 0;
    for (const char c : text) {
        const int value = decode_char(c);
        if (value < 0) return false;
        buffer = (buffer << 6U) | static_cast<unsigned>(value);
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (!put(static_cast<unsigned char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU))) {
                return false;
            }
        }
    }
    return (buffer & ((1U << static_cast<unsigned>(bits)) - 1U)) == 0;
}

void hmac_sha256(std::string_view key, std::string_view data,
                 std::array<unsigned char, 32>& out) noexcept {
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &length);
}

// Parses the decimal timestamp; nullopt unless it is 1..18 digits (no sign, no overflow).
std::optional<std::int64_t> parse_timestamp(std::string_view digits) noexcept {
    if (digits.empty() || digits.size() > 18) return std::nullopt;
    std::int64_t value = 0;
    for (const char c : digits) {
        if (c < '0' || c > '9') return std::nullopt;
        value = value * 10 + (c - '0');
    }
    return value;
}
}  // namespace

std::string base64url_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 4 + 2) / 3);
    std::size_t i = 0;
    const auto byte = [&](std::size_t at) { return static_cast<unsigned char>(bytes[at]); };
    for (; i + 3 <= bytes.size(); i += 3) {
        const unsigned n = (byte(i) << 16U) | (byte(i + 1) << 8U) | byte(i + 2);
        out.push_back(alphabet[(n >> 18U) & 63U]);
        out.push_back(alphabet[(n >> 12U) & 63U]);
        out.push_back(alphabet[(n >> 6U) & 63U]);
        out.push_back(alphabet[n & 63U]);
    }
    const std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        const unsigned n = byte(i) << 16U;
        out.push_back(alphabet[(n >> 18U) & 63U]);
        out.push_back(alphabet[(n >> 12U) & 63U]);
    } else if (rest == 2) {
        const unsigned n = (byte(i) << 16U) | (byte(i + 1) << 8U);
        out.push_back(alphabet[(n >> 18U) & 63U]);
        out.push_back(alphabet[(n >> 12U) & 63U]);
        out.push_back(alphabet[(n >> 6U) & 63U]);
    }
    return out;
}

std::optional<std::string> base64url_decode(std::string_view text) {
    if (text.size() % 4 == 1) return std::nullopt;  // no byte count encodes to that length
    std::string out;
    out.reserve(text.size() * 3 / 4);
    if (!decode_each(text, [&](unsigned char b) {
            out.push_back(static_cast<char>(b));
            return true;
        })) {
        return std::nullopt;
    }
    return out;
}

timestamp_signer::timestamp_signer(std::string_view secret_key) {
    if (secret_key.empty()) throw std::invalid_argument("timestamp_signer: the secret key is empty");
    hmac_sha256(secret_key, key_label, key_);
}

timestamp_signer::digest timestamp_signer::mac(std::string_view signed_part) const noexcept {
    digest out{};
    hmac_sha256(std::string_view(reinterpret_cast<const char*>(key_.data()), key_.size()),
                signed_part, out);
    return out;
}

std::string timestamp_signer::sign(std::string_view value, std::int64_t timestamp) const {
    // unsign reads 1 to 18 digits: a token it could never accept is refused here, not later.
    if (timestamp < 0 || timestamp > max_timestamp) {
        throw std::invalid_argument("timestamp_signer: timestamp " + std::to_string(timestamp) +
                                    " is outside 0 to 10^18 - 1");
    }
    std::string token;
    token.reserve(value.size() + 21 + 1 + encoded_digest_size);
    token.append(value);
    token.push_back('.');
    token.append(std::to_string(timestamp));
    const digest signature = mac(token);
    token.push_back('.');
    token.append(base64url_encode(
        std::string_view(reinterpret_cast<const char*>(signature.data()), signature.size())));
    return token;
}

std::string timestamp_signer::sign(std::string_view value) const { return sign(value, now()); }

std::optional<std::string_view> timestamp_signer::unsign(
    std::string_view token, std::optional<std::chrono::seconds> max_age,
    std::int64_t now) const noexcept {
    const auto signature_dot = token.rfind('.');
    if (signature_dot == std::string_view::npos || signature_dot == 0) return std::nullopt;
    const auto timestamp_dot = token.rfind('.', signature_dot - 1);
    if (timestamp_dot == std::string_view::npos) return std::nullopt;
    const std::string_view signature_text = token.substr(signature_dot + 1);
    if (signature_text.size() != encoded_digest_size) return std::nullopt;

    // Decode the presented signature into a fixed buffer (no allocation), then compare it with
    // ours in constant time: timing must not reveal how much of a forgery was right.
    digest presented{};
    std::size_t filled = 0;
    const bool decoded = decode_each(signature_text, [&](unsigned char b) {
        if (filled == presented.size()) return false;
        presented[filled++] = b;
        return true;
    });
    if (!decoded || filled != presented.size()) return std::nullopt;
    const digest expected = mac(token.substr(0, signature_dot));
    if (CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) != 0) return std::nullopt;

    const auto signed_at =
        parse_timestamp(token.substr(timestamp_dot + 1, signature_dot - timestamp_dot - 1));
    if (!signed_at) return std::nullopt;
    // Signed in the future: not by us (itsdangerous agrees). Checked before subtracting, which
    // overflowed for a `now` near the int64 minimum (found by tests/fuzz/signed_cookie_fuzz).
    if (now < *signed_at) return std::nullopt;
    const std::int64_t age = now - *signed_at;
    if (max_age && age > max_age->count()) return std::nullopt;
    return token.substr(0, timestamp_dot);
}

std::optional<std::string_view> timestamp_signer::unsign(
    std::string_view token, std::optional<std::chrono::seconds> max_age) const noexcept {
    return unsign(token, max_age, now());
}

std::int64_t timestamp_signer::now() noexcept {
    return std::chrono::duration_cast<std::chrono::seconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

}  // namespace tessera
