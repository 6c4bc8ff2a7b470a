// libFuzzer target for the session cookie: timestamp_signer (sign/unsign), base64url, and
// decode_session_cookie / encode_session_cookie (the session middleware's public entry points
// for reading and writing the cookie value).
//
// Build and run: scripts/fuzz (see its `sources` map), or by hand with clang. (session_middleware
// .cpp brings the coroutine runtime along; clang 14 cannot build task.cpp's coroutine with both
// -fsanitize=function and coverage instrumentation, hence -fno-sanitize=function.)
//   clang++ -std=c++20 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize=function \
//     -Ilib/include -Icomponents/middleware/sessions/include tests/fuzz/signed_cookie_fuzz.cpp \
//     components/middleware/sessions/src/*.cpp lib/src/{json,json_writer,cookies,headers}.cpp \
//     lib/src/{http_connection,query_params,percent,url,address,task}.cpp \
//     -lsimdjson -lcrypto -o fuzz
//   cp -r tests/fuzz/corpus/signed_cookie /tmp/corpus && ./fuzz -max_total_time=60 /tmp/corpus
//
// Input layout (little-endian integers; missing bytes read as zero):
//   [0]      flags: bit 0 `now` is absolute (else `ts` + the raw value, wrapping);
//                   bit 1 no max_age; bit 2 max_age is (now - ts) + (int8) its low byte, i.e.
//                   right at the boundary (else the raw value, negative included);
//                   bit 3 `ts` is the raw value mod 10^18 (else raw: negative or 19 digits);
//                   bit 4 the tamper step inserts its byte instead of changing one
//   [1..8]   ts, the time the payload is signed at      [9..16]  now      [17..24]  max_age
//   [25..26] tamper position    [27] tamper byte (0: delete the byte at the position)
//   [28]     secret length (0: the fixed secret below)   then the secret's bytes
//   rest     the payload: both a token as a client would present it (checked against the fixed
//            secret, which seeds are signed with) and a value to sign.
//
// Besides memory safety and UB (the sanitizers: the age arithmetic meets INT64 extremes), it
// checks: unsign accepts a token exactly when its signature is HMAC-SHA256 of everything before the
// last dot under the derived key (recomputed here with libcrypto, independently), its timestamp is
// 1..18 decimal digits and the age (exact, 128-bit) is within 0..max_age; the value it returns is
// the token's prefix before the timestamp, and a token with a canonical timestamp is exactly what
// sign() makes; sign() makes `value.ts.base64url(HMAC)` for any bytes and any ts in 0..10^18-1, and
// unsign gives the value back for each; sign() and encode_session_cookie refuse
// (std::invalid_argument) any other ts; changing, deleting or inserting any byte of a signed token,
// or using another secret, makes unsign refuse it; base64url decoding accepts only canonical text
// (re-encoding gives it back) and encoding round-trips any bytes; decode_session_cookie never
// throws, returns an object exactly when the cookie is at most 8 KiB, unsigns, decodes and parses
// to an object, and gives back what encode_session_cookie wrote, which refuses
// (std::invalid_argument) a session holding invalid UTF-8 rather than write a cookie that would not
// load.

#include <openssl/hmac.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include "tessera/json.hpp"
#include "tessera/session_middleware.hpp"
#include "tessera/timestamp_signer.hpp"

#include "reference_utf8.hpp"

namespace {

using tessera::json;
using tessera::timestamp_signer;
using std::chrono::seconds;
using tessera::fuzz::valid_utf8;

void check(bool ok) {
    if (!ok) __builtin_trap();
}

constexpr std::string_view fixed_secret = "fuzz-secret";
// The label timestamp_signer derives its HMAC key with (timestamp_signer.cpp): the key is
// HMAC-SHA256(secret, label), the signature HMAC-SHA256(key, "value.timestamp").
constexpr std::string_view key_label = "tessera.timestamp_signer.v1";
constexpr std::string_view alphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

std::string hmac(std::string_view key, std::string_view data) {
    unsigned char out[32];
    unsigned int length = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &length);
    check(length == 32);
    return std::string(reinterpret_cast<const char*>(out), 32);
}

// Unpadded base64url, written out bit by bit (independent of base64url_encode).
std::string b64(std::string_view bytes) {
    std::string out;
    unsigned buffer = 0;
    int bits = 0;
    for (const char c : bytes) {
        buffer = (buffer << 8) | static_cast<unsigned char>(c);
        bits += 8;
        while (bits >= 6) {
            bits -= 6;
            out.push_back(alphabet[(buffer >> bits) & 63]);
        }
        buffer &= (1U << bits) - 1;
    }
    if (bits > 0) out.push_back(alphabet[(buffer << (6 - bits)) & 63]);
    return out;
}

std::string expected_signature(std::string_view secret, std::string_view signed_part) {
    return b64(hmac(hmac(secret, key_label), signed_part));
}

bool only(std::string_view text, std::string_view allowed) {
    return text.find_first_not_of(allowed) == std::string_view::npos;
}

// 0 <= now - ts <= max_age, in exact arithmetic.
bool young_enough(std::int64_t ts, std::int64_t now, std::optional<seconds> max_age) {
    const __int128 age = static_cast<__int128>(now) - ts;
    return age >= 0 && (!max_age || age <= max_age->count());
}

bool in_signable_range(std::int64_t ts) { return ts >= 0 && ts < 1'000'000'000'000'000'000; }


// What unsign must answer for `token`, worked out from the format alone.
std::optional<std::string_view> expected_unsign(std::string_view token, std::string_view secret,
                                                std::optional<seconds> max_age,
                                                std::int64_t now) {
    const auto signature_dot = token.rfind('.');
    if (signature_dot == std::string_view::npos || signature_dot == 0) return std::nullopt;
    const auto timestamp_dot = token.rfind('.', signature_dot - 1);
    if (timestamp_dot == std::string_view::npos) return std::nullopt;
    // base64url decoding is canonical, so "decodes to our MAC" is "is our MAC's encoding".
    if (token.substr(signature_dot + 1) !=
        expected_signature(secret, token.substr(0, signature_dot))) {
        return std::nullopt;
    }
    const std::string_view digits =
        token.substr(timestamp_dot + 1, signature_dot - timestamp_dot - 1);
    if (digits.empty() || digits.size() > 18 || !only(digits, "0123456789")) return std::nullopt;
    std::int64_t ts = 0;
    for (const char c : digits) ts = ts * 10 + (c - '0');
    if (!young_enough(ts, now, max_age)) return std::nullopt;
    return token.substr(0, timestamp_dot);
}

// decode_session_cookie as its documentation states it.
std::optional<json> expected_session(std::string_view cookie, const timestamp_signer& signer,
                                     std::optional<seconds> max_age, std::int64_t now) {
    if (cookie.size() > tessera::session_middleware::max_cookie_value_size) return std::nullopt;
    const auto payload = signer.unsign(cookie, max_age, now);
    if (!payload) return std::nullopt;
    const auto text = tessera::base64url_decode(*payload);
    if (!text) return std::nullopt;
    try {
        json parsed = tessera::parse_json(std::string_view(*text));
        if (!parsed.is_object()) return std::nullopt;
        return parsed;
    } catch (const tessera::json_parse_error&) {
        return std::nullopt;
    }
}

std::optional<json> decode(std::string_view cookie, const timestamp_signer& signer,
                           std::optional<seconds> max_age, std::int64_t now) {
    try {
        return tessera::decode_session_cookie(cookie, signer, max_age, now);
    } catch (...) {
        check(false);  // "never an error"
    }
    return std::nullopt;
}

// dump() tells kinds, double signs and member order apart: equal dumps mean identical trees.
bool same(const std::optional<json>& a, const std::optional<json>& b) {
    return a.has_value() == b.has_value() && (!a || a->dump() == b->dump());
}

class byte_reader {
public:
    explicit byte_reader(std::string_view in) : in_(in) {}
    std::uint8_t byte() { return pos_ < in_.size() ? static_cast<std::uint8_t>(in_[pos_++]) : 0; }
    std::uint64_t u64() {
        std::uint64_t v = 0;
        for (int i = 0; i < 8; ++i) v |= std::uint64_t{byte()} << (8 * i);
        return v;
    }
    std::string_view take(std::size_t n) {
        n = std::min(n, in_.size() - pos_);
        const std::string_view out = in_.substr(pos_, n);
        pos_ += n;
        return out;
    }
    std::string_view rest() { return take(in_.size() - pos_); }

private:
    std::string_view in_;
    std::size_t pos_ = 0;
};

void check_base64(std::string_view text) {
    // Decoding accepts only canonical text; encoding round-trips any bytes.
    if (const auto decoded = tessera::base64url_decode(text)) {
        check(tessera::base64url_encode(*decoded) == text);
        check(decoded->size() == text.size() * 3 / 4);
    }
    const std::string encoded = tessera::base64url_encode(text);
    check(encoded == b64(text));
    check(only(encoded, alphabet));
    check(tessera::base64url_decode(encoded) == std::string(text));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    byte_reader in(std::string_view(reinterpret_cast<const char*>(data), size));
    const std::uint8_t flags = in.byte();
    const std::uint64_t raw_ts = in.u64();
    const std::uint64_t raw_now = in.u64();
    const std::uint64_t raw_max_age = in.u64();
    const std::size_t tamper_at = in.byte() | (std::size_t{in.byte()} << 8);
    const std::uint8_t tamper_byte = in.byte();
    const std::string secret(in.take(in.byte()));
    const std::string_view payload = in.rest();

    // Wrapping arithmetic throughout: extreme values are the point.
    const std::int64_t ts = (flags & 8) != 0
                                ? static_cast<std::int64_t>(raw_ts % 1'000'000'000'000'000'000)
                                : static_cast<std::int64_t>(raw_ts);
    const std::int64_t now = (flags & 1) != 0 ? static_cast<std::int64_t>(raw_now)
                                              : static_cast<std::int64_t>(raw_ts + raw_now);
    std::optional<seconds> max_age;
    if ((flags & 2) == 0 && (flags & 4) != 0) {
        const auto boundary = static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(ts);
        const auto adjust = static_cast<std::uint64_t>(static_cast<std::int8_t>(raw_max_age));
        max_age = seconds(static_cast<std::int64_t>(boundary + adjust));
    } else if ((flags & 2) == 0) {
        max_age = seconds(static_cast<std::int64_t>(raw_max_age));
    }

    static const timestamp_signer fixed(fixed_secret);
    const std::string_view signing_secret = secret.empty() ? fixed_secret : secret;
    const timestamp_signer signer(signing_secret);

    // (1) The payload as a token a client presented.
    {
        const auto got = fixed.unsign(payload, max_age, now);
        const auto want = expected_unsign(payload, fixed_secret, max_age, now);
        check(got.has_value() == want.has_value());
        if (got) {
            check(got->data() == payload.data() && *got == *want);
            // With a canonical timestamp (no leading zero) it is exactly sign()'s output.
            const std::string_view rest = payload.substr(got->size() + 1);
            const std::string_view digits = rest.substr(0, rest.find('.'));
            if (digits.size() == 1 || digits[0] != '0') {
                std::int64_t signed_at = 0;
                for (const char c : digits) signed_at = signed_at * 10 + (c - '0');
                check(fixed.sign(*got, signed_at) == payload);
            }
        }
        check(same(decode(payload, fixed, max_age, now),
                   expected_session(payload, fixed, max_age, now)));
        check_base64(payload);
    }

    // (2) The payload as a value to sign, at `ts`. A timestamp unsign could not read is
    // refused by sign (and so by the session cookie) rather than making a dead token.
    if (!in_signable_range(ts)) {
        const auto refuses = [](auto make) {
            try {
                (void)make();
            } catch (const std::invalid_argument&) {
                return true;
            }
            return false;
        };
        check(refuses([&] { return signer.sign(payload, ts); }));
        check(refuses(
            [&] { return tessera::encode_session_cookie(json{{"v", "x"}}, signer, ts); }));
        return 0;
    }
    const std::string token = signer.sign(payload, ts);
    const std::string signed_part = std::string(payload) + "." + std::to_string(ts);
    check(token == signed_part + "." + expected_signature(signing_secret, signed_part));
    const auto back = signer.unsign(token, std::nullopt, ts);
    check(back.has_value());
    if (back) check(back->data() == token.data() && *back == payload);
    {
        const auto got = signer.unsign(token, max_age, now);
        check(got.has_value() == young_enough(ts, now, max_age));
        if (got) check(*got == payload);
    }

    // (3) Any change to a token that unsign accepted, or another secret, is refused.
    if (back) {
        std::string changed = token;
        const std::size_t at = tamper_at % (token.size() + ((flags & 16) != 0 ? 1 : 0));
        if ((flags & 16) != 0) {
            changed.insert(at, 1, static_cast<char>(tamper_byte));
        } else if (tamper_byte == 0) {
            changed.erase(at, 1);
        } else {
            changed[at] = static_cast<char>(changed[at] ^ tamper_byte);
        }
        check(!signer.unsign(changed, std::nullopt, ts));
        // Appending a byte keeps the key from being HMAC-equivalent (HMAC pads short keys
        // with zero bytes, so only a trailing NUL would sign alike).
        const timestamp_signer other(std::string(signing_secret) + "x");
        check(!other.unsign(token, std::nullopt, ts));
    }

    // (4) The session cookie round trip: the payload's JSON object, or {"v": payload}.
    json session;
    try {
        session = tessera::parse_json(payload);
    } catch (const tessera::json_parse_error&) {
    }
    const bool utf8 = session.is_object() || valid_utf8(payload);
    if (!session.is_object()) session = json{{"v", payload}};
    if (!utf8) {
        // JSON cannot carry it: refused when written, rather than lost when read back.
        bool refused = false;
        try {
            (void)tessera::encode_session_cookie(session, signer, ts);
        } catch (const std::invalid_argument&) {
            refused = true;
        }
        check(refused);
        return 0;
    }
    const std::string cookie = tessera::encode_session_cookie(session, signer, ts);
    check(only(cookie, std::string(alphabet) + "."));  // cookie-safe
    const auto loaded = decode(cookie, signer, max_age, now);
    const bool loadable = cookie.size() <= tessera::session_middleware::max_cookie_value_size &&
                          young_enough(ts, now, max_age);
    // Never misread, and a session comes back whole while young and small enough.
    check(!loaded || (loadable && loaded->dump() == session.dump()));
    check(loaded.has_value() == loadable);
    return 0;
}
