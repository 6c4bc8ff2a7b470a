// session_data: its values and the accessed/modified tracking the session layer decides on, and
// the accessor without a session layer.
#include <doctest/doctest.h>

#include <stdexcept>

#include "tessera/request.hpp"
#include "tessera/session.hpp"

using namespace tessera;

TEST_CASE("a new session is empty, neither accessed nor modified") {
    const session_data data;
    CHECK(data.empty());
    CHECK(data.size() == 0);
    CHECK_FALSE(data.accessed());
    CHECK_FALSE(data.modified());
}

TEST_CASE("reading marks the session accessed, writing marks it modified") {
    session_data data(json{{"user", "alice"}});
    CHECK_FALSE(data.accessed());
    REQUIRE(data.get("user") != nullptr);
    CHECK(data.get("user")->as_string() == "alice");
    CHECK(data.accessed());
    CHECK_FALSE(data.modified());
    data.set("visits", 2);
    CHECK(data.modified());
    CHECK(data.size() == 2);
}

TEST_CASE("erasing a missing key changes nothing; erasing a present one modifies") {
    session_data data(json{{"a", 1}});
    CHECK_FALSE(data.erase("b"));
    CHECK_FALSE(data.modified());
    CHECK(data.erase("a"));
    CHECK(data.modified());
    CHECK(data.empty());
}

TEST_CASE("clear and edit mark the session modified") {
    session_data cleared(json{{"a", 1}});
    cleared.clear();
    CHECK(cleared.empty());
    CHECK(cleared.modified());

    session_data edited;
    edited.edit()["cart"] = json::array({1, 2});
    CHECK(edited.modified());
    CHECK(edited.data() == json{{"cart", json::array({1, 2})}});
    edited.edit() = 5;  // no longer an object: counts as empty
    CHECK(edited.empty());
}

TEST_CASE("a non-object becomes an empty session") {
    const session_data data(json::array({1}));
    CHECK(data.empty());
    CHECK(data.data() == json::object());
}

TEST_CASE("session() raises logic_error without a session layer") {
    struct no_events {
        task<event> operator()() const { co_return event{http::disconnect{}}; }
    } nothing;
    scope s;
    const request req(s, receive(nothing));
    CHECK_THROWS_AS((void)session(req), std::logic_error);
}
