// The authentication types: credentials' scope checks and the accessors' behaviour when no
// authentication middleware ran.
#include <doctest/doctest.h>

#include <stdexcept>

#include "tessera/authentication.hpp"
#include "tessera/request.hpp"

using namespace tessera;

TEST_CASE("simple_user and unauthenticated_user say who they are") {
    const simple_user alice("alice");
    CHECK(alice.is_authenticated());
    CHECK(alice.display_name() == "alice");
    CHECK(alice.identity() == "alice");
    const unauthenticated_user nobody;
    CHECK_FALSE(nobody.is_authenticated());
    CHECK(nobody.display_name().empty());
}

TEST_CASE("auth_credentials checks single and multiple scopes") {
    const auth_credentials granted({"a", "b"});
    CHECK(granted.has("a"));
    CHECK_FALSE(granted.has("c"));
    CHECK(granted.has_all({"b", "a"}));
    CHECK_FALSE(granted.has_all({"a", "c"}));
    CHECK(granted.has_all({}));
}

TEST_CASE("the accessors raise logic_error without an authentication middleware") {
    struct no_events {
        task<event> operator()() const { co_return event{http::disconnect{}}; }
    } nothing;
    scope s;
    const request req(s, receive(nothing));
    CHECK_THROWS_AS((void)auth(req), std::logic_error);
    CHECK_THROWS_AS((void)user(req), std::logic_error);
    CHECK_THROWS_AS((void)has_required_scopes(req, {}), std::logic_error);
}

