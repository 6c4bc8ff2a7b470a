// The session-ticket key ring with a clock of the test's choosing: which key new tickets get,
// which names are still found (and as the previous key), and when keys are replaced and retired.
#include <doctest/doctest.h>

#include <array>
#include <chrono>

#include "tessera/detail/ticket_keys.hpp"

using tessera::detail::ticket_key;
using tessera::detail::ticket_keys;
using namespace std::chrono_literals;

namespace {

const ticket_keys::clock::time_point start{};  // the ring's clock is only ever compared

using key_name = std::array<unsigned char, 16>;

/// Whether the ring finds `name` at `now`: "current", "previous" or "none".
const char* lookup(ticket_keys& keys, const key_name& name, ticket_keys::clock::time_point now) {
    const auto found = keys.find(name, now);
    if (found.key == nullptr) return "none";
    CHECK(found.key->name == name);
    return found.previous ? "previous" : "current";
}

}  // namespace

TEST_SUITE_BEGIN("tls");

TEST_CASE("new tickets use one key for a lifetime, and its name is found as current") {
    ticket_keys keys(100s, start);
    const key_name first = keys.current(start).name;
    CHECK(keys.current(start + 99s).name == first);
    CHECK(std::string(lookup(keys, first, start + 99s)) == "current");
    key_name stranger = first;
    stranger[0] ^= 1;
    CHECK(std::string(lookup(keys, stranger, start + 1s)) == "none");
}

TEST_CASE("after a lifetime a fresh key takes over and the old one is found as previous") {
    ticket_keys keys(100s, start);
    const ticket_key first = keys.current(start);
    const ticket_key second = keys.current(start + 100s);
    CHECK(second.name != first.name);
    CHECK(second.cipher != first.cipher);
    CHECK(second.mac != first.mac);
    CHECK(std::string(lookup(keys, first.name, start + 150s)) == "previous");
    CHECK(std::string(lookup(keys, second.name, start + 150s)) == "current");
    // One lifetime after the second key was made, the first is gone.
    CHECK(keys.current(start + 200s).name != second.name);
    CHECK(std::string(lookup(keys, first.name, start + 200s)) == "none");
    CHECK(std::string(lookup(keys, second.name, start + 200s)) == "previous");
}

TEST_CASE("after two idle lifetimes both keys are replaced, whatever asks first") {
    ticket_keys keys(100s, start);
    const key_name first = keys.current(start).name;
    // A ticket lookup, not a new ticket, is the first thing after a long quiet spell.
    CHECK(std::string(lookup(keys, first, start + 200s)) == "none");
    const key_name fresh = keys.current(start + 200s).name;
    CHECK(fresh != first);
    CHECK(std::string(lookup(keys, fresh, start + 299s)) == "current");
}

TEST_CASE("rotate replaces the key at once, and a second rotation retires the first key") {
    ticket_keys keys(3600s, start);
    const key_name first = keys.current(start).name;
    keys.rotate(start + 1s);
    const key_name second = keys.current(start + 1s).name;
    CHECK(second != first);
    CHECK(std::string(lookup(keys, first, start + 1s)) == "previous");
    keys.rotate(start + 2s);
    CHECK(std::string(lookup(keys, first, start + 2s)) == "none");
    CHECK(std::string(lookup(keys, second, start + 2s)) == "previous");
    // The lifetime counts from the last rotation.
    CHECK(std::string(lookup(keys, second, start + 2s + 3599s)) == "previous");
}

TEST_SUITE_END();
