// timestamp_signer and base64url: signing round trips, every way a token can be wrong, and the
// encoding's strictness.
#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>

#include "tessera/timestamp_signer.hpp"

using namespace tessera;
using namespace std::chrono_literals;

TEST_CASE("base64url round-trips every length and uses only cookie-safe characters") {
    std::string bytes;
    for (int i = 0; i < 70; ++i) {
        const std::string encoded = base64url_encode(bytes);
        CHECK(encoded.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
                                        "0123456789-_") == std::string::npos);
        CHECK(base64url_decode(encoded) == bytes);
        bytes.push_back(static_cast<char>(i * 37 + 250));
    }
    CHECK(base64url_encode("\xfb\xff") == "-_8");
}

TEST_CASE("base64url_decode refuses padding, foreign characters and impossible lengths") {
    CHECK(base64url_decode("YQ==") == std::nullopt);
    CHECK(base64url_decode("a+b/") == std::nullopt);
    CHECK(base64url_decode("abcde") == std::nullopt);
    CHECK(base64url_decode("YR") == std::nullopt);  // leftover bits set: not canonical
    CHECK(base64url_decode("YQ") == "a");
}

TEST_CASE("a signed value comes back while young enough") {
    const timestamp_signer signer("secret");
    const std::string token = signer.sign("value", 1000);
    CHECK(token.starts_with("value.1000."));
    CHECK(signer.unsign(token, 60s, 1000) == "value");
    CHECK(signer.unsign(token, 60s, 1060) == "value");
    CHECK(signer.unsign(token, 60s, 1061) == std::nullopt);
    CHECK(signer.unsign(token, std::nullopt, 1'000'000'000) == "value");
    CHECK(signer.unsign(token, std::nullopt, 999) == std::nullopt);  // from the future
    CHECK(signer.unsign(signer.sign("now"), 5s) == "now");
}

// Regression (found by tests/fuzz/signed_cookie_fuzz): the age was computed before the
// future check, overflowing int64 (undefined behaviour) for a `now` near its minimum.
TEST_CASE("a token is refused, without overflow, at any now before its timestamp") {
    const timestamp_signer signer("secret");
    const std::string token = signer.sign("value", 1);
    CHECK(signer.unsign(token, std::nullopt, std::numeric_limits<std::int64_t>::min()) ==
          std::nullopt);
    CHECK(signer.unsign(token, 60s, std::numeric_limits<std::int64_t>::min()) == std::nullopt);
    CHECK(signer.unsign(token, 60s, 0) == std::nullopt);
    CHECK(signer.unsign(token, std::nullopt, std::numeric_limits<std::int64_t>::max()) == "value");
}

// Regression (found by tests/fuzz/signed_cookie_fuzz): sign() wrote any int64 timestamp, but
// unsign reads 1 to 18 digits, so a negative or 19-digit one made a token that never loaded.
TEST_CASE("sign refuses a timestamp that unsign could not read") {
    const timestamp_signer signer("secret");
    CHECK_THROWS_AS((void)signer.sign("value", -1), std::invalid_argument);
    CHECK_THROWS_AS((void)signer.sign("value", 1'000'000'000'000'000'000), std::invalid_argument);
    CHECK_THROWS_AS((void)signer.sign("value", std::numeric_limits<std::int64_t>::min()),
                    std::invalid_argument);
    for (const std::int64_t edge : {std::int64_t{0}, std::int64_t{999'999'999'999'999'999}}) {
        CHECK(signer.unsign(signer.sign("value", edge), std::nullopt, edge) == "value");
    }
}

TEST_CASE("a value with dots is signed and recovered whole") {
    const timestamp_signer signer("secret");
    CHECK(signer.unsign(signer.sign("a.b.c", 5), std::nullopt, 5) == "a.b.c");
}

TEST_CASE("any change to a token, or another secret, fails the signature") {
    const timestamp_signer signer("secret");
    const std::string token = signer.sign("value", 1000);
    CHECK(timestamp_signer("other").unsign(token, std::nullopt, 1000) == std::nullopt);
    for (std::size_t i = 0; i < token.size(); ++i) {
        std::string changed = token;
        changed[i] = changed[i] == 'A' ? 'B' : 'A';
        CHECK(signer.unsign(changed, std::nullopt, 1000) == std::nullopt);
    }
    CHECK(signer.unsign(token + "A", std::nullopt, 1000) == std::nullopt);
    CHECK(signer.unsign(token.substr(1), std::nullopt, 1000) == std::nullopt);
    // The timestamp is signed: moving it forward does not extend the life.
    std::string moved = token;
    moved.replace(moved.find(".1000.") + 1, 4, "2000");
    CHECK(signer.unsign(moved, std::nullopt, 2000) == std::nullopt);
}

TEST_CASE("malformed tokens are refused without throwing") {
    const timestamp_signer signer("secret");
    for (const std::string_view bad : {"", ".", "..", "a.b", "a..", "value.-5.sig", "x.y.z.w"}) {
        CHECK(signer.unsign(bad, std::nullopt, 0) == std::nullopt);
    }
}

TEST_CASE("the secret must not be empty") {
    CHECK_THROWS_AS(timestamp_signer(""), std::invalid_argument);
}
