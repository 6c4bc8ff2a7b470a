#include <doctest/doctest.h>

#include "tessera/address.hpp"

using tessera::address;

TEST_CASE("to_string joins an IPv4 host and port with a colon") {
    CHECK(address{"127.0.0.1", 8000}.to_string() == "127.0.0.1:8000");
    CHECK(address{"example.com", 80}.to_string() == "example.com:80");
}

TEST_CASE("to_string puts an IPv6 host in brackets") {
    CHECK(address{"::1", 80}.to_string() == "[::1]:80");
    CHECK(address{"fe80::1%eth0", 443}.to_string() == "[fe80::1%eth0]:443");
}

TEST_CASE("to_string does not bracket an already bracketed host twice") {
    CHECK(address{"[::1]", 80}.to_string() == "[::1]:80");
}

TEST_CASE("a default address is empty with port zero") {
    const address a;
    CHECK(a.host.empty());
    CHECK(a.port == 0);
    CHECK(a.to_string() == ":0");
}

TEST_CASE("addresses compare equal by host and port") {
    CHECK(address{"a", 1} == address{"a", 1});
    CHECK_FALSE(address{"a", 1} == address{"a", 2});
    CHECK_FALSE(address{"a", 1} == address{"b", 1});
}
