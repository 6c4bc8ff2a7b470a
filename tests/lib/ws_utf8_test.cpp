#include <doctest/doctest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "tessera/ws/utf8.hpp"

using tessera::ws::is_valid_utf8;
using tessera::ws::utf8_validator;

namespace {

// A straightforward decoder written from RFC 3629 §3–4, to compare the DFA against.
bool reference_valid(const std::string& s) {
    std::size_t i = 0;
    while (i < s.size()) {
        const auto b = static_cast<unsigned char>(s[i]);
        std::size_t n;
        std::uint32_t cp;
        if (b < 0x80) {
            ++i;
            continue;
        } else if ((b & 0xe0) == 0xc0) {
            n = 1;
            cp = b & 0x1f;
        } else if ((b & 0xf0) == 0xe0) {
            n = 2;
            cp = b & 0x0f;
        } else if ((b & 0xf8) == 0xf0) {
            n = 3;
            cp = b & 0x07;
        } else {
            return false;
        }
        if (i + n >= s.size()) return false;  // truncated
        for (std::size_t k = 1; k <= n; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3f);
        }
        const std::uint32_t min = n == 1 ? 0x80 : n == 2 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return false;
        i += n + 1;
    }
    return true;
}

std::string encode(std::uint32_t cp) {
    std::string out;
    if (cp < 0x80) {
        out += static_cast<char>(cp);
    } else if (cp < 0x800) {
        out += static_cast<char>(0xc0 | (cp >> 6));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else if (cp < 0x10000) {
        out += static_cast<char>(0xe0 | (cp >> 12));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    } else {
        out += static_cast<char>(0xf0 | (cp >> 18));
        out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
        out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
        out += static_cast<char>(0x80 | (cp & 0x3f));
    }
    return out;
}

// "κόσμε" followed by U+1F600, a four-byte sequence.
const std::string greek = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf0\x9f\x98\x80";

}  // namespace

TEST_CASE("ASCII and multi-byte text of every length class is valid UTF-8") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("Hello, world! This line is longer than one eight-byte word."));
    CHECK(is_valid_utf8(greek));
    CHECK(is_valid_utf8("\xc2\x80"));                  // U+0080, the smallest two-byte
    CHECK(is_valid_utf8("\xef\xbf\xbf"));              // U+FFFF
    CHECK(is_valid_utf8("\xf4\x8f\xbf\xbf"));          // U+10FFFF, the largest
    CHECK(is_valid_utf8("\xed\x9f\xbf"));              // U+D7FF, just below the surrogates
    CHECK(is_valid_utf8("\xee\x80\x80"));              // U+E000, just above them
    CHECK(is_valid_utf8(std::string("a\0b", 3)));      // NUL is a character
}

TEST_CASE("overlong encodings are rejected") {
    CHECK_FALSE(is_valid_utf8("\xc0\x80"));
    CHECK_FALSE(is_valid_utf8("\xc1\xbf"));
    CHECK_FALSE(is_valid_utf8("\xe0\x80\x80"));
    CHECK_FALSE(is_valid_utf8("\xe0\x9f\xbf"));
    CHECK_FALSE(is_valid_utf8("\xf0\x80\x80\x80"));
    CHECK_FALSE(is_valid_utf8("\xf0\x8f\xbf\xbf"));
    CHECK_FALSE(is_valid_utf8("\xc0\xaf"));  // the classic overlong '/'
}

TEST_CASE("UTF-16 surrogates and code points above U+10FFFF are rejected") {
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80"));  // U+D800
    CHECK_FALSE(is_valid_utf8("\xed\xbf\xbf"));  // U+DFFF
    CHECK_FALSE(is_valid_utf8("\xed\xa0\x80\xed\xb0\x80"));  // a CESU-8 surrogate pair
    CHECK_FALSE(is_valid_utf8("\xf4\x90\x80\x80"));  // U+110000
    CHECK_FALSE(is_valid_utf8("\xf5\x80\x80\x80"));
    CHECK_FALSE(is_valid_utf8("\xff"));
    CHECK_FALSE(is_valid_utf8("\xfe"));
}

TEST_CASE("stray, missing and truncated continuation bytes are rejected") {
    CHECK_FALSE(is_valid_utf8("\x80"));
    CHECK_FALSE(is_valid_utf8("a\xbf" "b"));
    CHECK_FALSE(is_valid_utf8("\xce"));        // truncated at the end
    CHECK_FALSE(is_valid_utf8("\xe1\xbd"));
    CHECK_FALSE(is_valid_utf8("\xce" "a"));    // a lead byte followed by ASCII
    CHECK_FALSE(is_valid_utf8("\xf0\x9f\x98"));
}

TEST_CASE("a code point split across pieces at any position is accepted") {
    for (std::size_t a = 0; a <= greek.size(); ++a) {
        for (std::size_t b = a; b <= greek.size(); ++b) {
            utf8_validator v;
            CHECK(v.feed(std::string_view(greek).substr(0, a)));
            CHECK(v.feed(std::string_view(greek).substr(a, b - a)));
            CHECK(v.feed(std::string_view(greek).substr(b)));
            CHECK(v.complete());
        }
    }
}

TEST_CASE("an incomplete code point is a valid prefix but not a complete text") {
    utf8_validator v;
    CHECK(v.feed("abc\xf0\x9f"));
    CHECK_FALSE(v.complete());
    CHECK_FALSE(v.failed());
    CHECK(v.feed("\x98\x80"));
    CHECK(v.complete());
}

TEST_CASE("the validator fails at the first byte no valid text can start with") {
    // "κόσμε" then ED A0 (a surrogate's first two bytes): ED is still a valid prefix, A0 not.
    const std::string text = "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80" "edited";
    utf8_validator v;
    std::size_t failed_at = text.size();
    for (std::size_t i = 0; i < text.size(); ++i) {
        if (!v.feed(text.substr(i, 1))) {
            failed_at = i;
            break;
        }
    }
    CHECK(failed_at == 12);
}

TEST_CASE("failure is sticky until reset") {
    utf8_validator v;
    CHECK_FALSE(v.feed("\xc0"));
    CHECK(v.failed());
    CHECK_FALSE(v.feed("plain ASCII"));
    CHECK_FALSE(v.complete());
    v.reset();
    CHECK(v.feed("plain ASCII"));
    CHECK(v.complete());
}

TEST_CASE("the ASCII fast path finds a bad byte at any offset of a long run") {
    for (std::size_t at = 0; at < 40; ++at) {
        std::string s(40, 'x');
        s[at] = '\x80';
        CHECK_FALSE(is_valid_utf8(s));
        s[at] = '\xc3';
        if (at + 1 < s.size()) s[at + 1] = '\xa9';  // é
        CHECK(is_valid_utf8(s) == (at + 1 < s.size()));
    }
}

TEST_CASE("every Unicode scalar value encodes to valid UTF-8 and surrogates do not") {
    int mismatches = 0;
    for (std::uint32_t cp = 0; cp <= 0x10ffff; cp += (cp < 0x1000 ? 1 : 7)) {
        const bool surrogate = cp >= 0xd800 && cp <= 0xdfff;
        if (is_valid_utf8(encode(cp)) == surrogate) ++mismatches;
    }
    CHECK(mismatches == 0);
}

TEST_CASE("the validator agrees with a reference decoder on all two-byte and random strings") {
    int mismatches = 0;
    for (int a = 0; a < 256; ++a) {
        for (int b = 0; b < 256; ++b) {
            const std::string s{static_cast<char>(a), static_cast<char>(b)};
            if (is_valid_utf8(s) != reference_valid(s)) ++mismatches;
        }
    }
    std::mt19937 rng(12345);
    // Bytes biased towards lead and continuation bytes, where the interesting cases are.
    const unsigned char pool[] = {0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2,
                                  0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5};
    for (int i = 0; i < 200000; ++i) {
        std::string s(1 + rng() % 6, '\0');
        for (auto& c : s) c = static_cast<char>(pool[rng() % sizeof pool]);
        if (is_valid_utf8(s) != reference_valid(s)) ++mismatches;
    }
    CHECK(mismatches == 0);
}

TEST_CASE("whole-string UTF-8 validation rejects overlong forms, surrogates and values past U+10FFFF") {
    CHECK(is_valid_utf8(""));
    CHECK(is_valid_utf8("plain ASCII text that is longer than eight bytes"));
    CHECK(is_valid_utf8("\xC2\x80"));                  // U+0080
    CHECK(is_valid_utf8("\xE2\x82\xAC euro"));         // U+20AC
    CHECK(is_valid_utf8("\xED\x9F\xBF"));              // U+D7FF, just below the surrogates
    CHECK(is_valid_utf8("\xF0\x9F\x98\x80 and more")); // U+1F600
    CHECK(is_valid_utf8("\xF4\x8F\xBF\xBF"));          // U+10FFFF
    CHECK_FALSE(is_valid_utf8("\x80"));                // a lone continuation byte
    CHECK_FALSE(is_valid_utf8("\xC0\xAF"));            // overlong '/'
    CHECK_FALSE(is_valid_utf8("\xE0\x80\xAF"));        // overlong, three bytes
    CHECK_FALSE(is_valid_utf8("\xED\xA0\x80"));        // U+D800, a surrogate
    CHECK_FALSE(is_valid_utf8("\xF4\x90\x80\x80"));    // past U+10FFFF
    CHECK_FALSE(is_valid_utf8("\xF5\x80\x80\x80"));
    CHECK_FALSE(is_valid_utf8("ok so far \xE2\x82"));  // truncated at the end
    CHECK_FALSE(is_valid_utf8("\xE2\x28\xA1"));        // a bad continuation byte
    CHECK_FALSE(is_valid_utf8("12345678\xFF"));        // after an ASCII run
}
