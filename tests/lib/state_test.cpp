#include <doctest/doctest.h>

#include <any>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/state.hpp"

using tessera::state;

namespace {
struct current_user {
    std::string name;
    int id = 0;
};
struct point {
    point(int x_, int y_) : x(x_), y(y_) {}
    int x;
    int y;
};
}  // namespace

TEST_CASE("a default state is empty") {
    const state s;
    CHECK(s.empty());
    CHECK(s.size() == 0);
    CHECK(s.find<int>() == nullptr);
    CHECK_FALSE(s.contains<int>());
    CHECK_FALSE(s.contains("x"));
    CHECK(s.find<int>("x") == nullptr);
}

TEST_CASE("a value set by type is found by type") {
    state s;
    s.set(current_user{"ada", 7});
    REQUIRE(s.find<current_user>() != nullptr);
    CHECK(s.get<current_user>().name == "ada");
    CHECK(s.get<current_user>().id == 7);
    CHECK(s.contains<current_user>());
    CHECK(s.find<int>() == nullptr);
}

TEST_CASE("setting a type again replaces its value") {
    state s;
    s.set<int>(1);
    s.set<int>(2);
    CHECK(s.get<int>() == 2);
    CHECK(s.size() == 1);
}

TEST_CASE("distinct types are independent entries") {
    state s;
    s.set<int>(1);
    s.set<long>(2L);
    s.set(std::string("text"));
    CHECK(s.get<int>() == 1);
    CHECK(s.get<long>() == 2L);
    CHECK(s.get<std::string>() == "text");
    CHECK(s.size() == 3);
}

TEST_CASE("set and emplace return a reference to the stored value") {
    state s;
    s.set<int>(1) += 41;
    CHECK(s.get<int>() == 42);
    point& p = s.emplace<point>(3, 4);
    p.x = 5;
    CHECK(s.get<point>().x == 5);
    CHECK(s.get<point>().y == 4);
    s.emplace<point>(6, 7);
    CHECK(s.get<point>().x == 6);
}

TEST_CASE("get by type throws out_of_range naming the missing type") {
    state s;
    try {
        (void)s.get<current_user>();
        FAIL("expected an exception");
    } catch (const std::out_of_range& e) {
        CHECK(std::string(e.what()).find("current_user") != std::string::npos);
    }
}

TEST_CASE("values can be mutated through get and find") {
    state s;
    s.set(std::vector<int>{1});
    s.get<std::vector<int>>().push_back(2);
    s.find<std::vector<int>>()->push_back(3);
    CHECK(s.get<std::vector<int>>() == std::vector<int>{1, 2, 3});
}

TEST_CASE("const access works by type and by name") {
    state s;
    s.set<int>(5);
    s.set("n", 6);
    const state& c = s;
    CHECK(c.get<int>() == 5);
    CHECK(*c.find<int>() == 5);
    CHECK(c.get<int>("n") == 6);
    CHECK(*c.find<int>("n") == 6);
}

TEST_CASE("remove by type drops only that entry") {
    state s;
    s.set<int>(1);
    s.set<double>(2.0);
    CHECK(s.remove<int>());
    CHECK_FALSE(s.remove<int>());
    CHECK_FALSE(s.contains<int>());
    CHECK(s.get<double>() == 2.0);
}

TEST_CASE("a value set by name is found by name") {
    state s;
    s.set("user", std::string("ada"));
    CHECK(s.contains("user"));
    CHECK(s.get<std::string>("user") == "ada");
    REQUIRE(s.find<std::string>("user") != nullptr);
    CHECK(*s.find<std::string>("user") == "ada");
    CHECK_FALSE(s.contains("User"));
}

TEST_CASE("setting a name again replaces the value, even with another type") {
    state s;
    s.set("x", 1);
    s.set("x", std::string("one"));
    CHECK(s.size() == 1);
    CHECK(s.get<std::string>("x") == "one");
}

TEST_CASE("get by name throws out_of_range naming a missing entry") {
    state s;
    try {
        (void)s.get<int>("missing_key");
        FAIL("expected an exception");
    } catch (const std::out_of_range& e) {
        CHECK(std::string(e.what()).find("missing_key") != std::string::npos);
    }
}

TEST_CASE("get by name throws bad_any_cast for the wrong type and find gives null") {
    state s;
    s.set("n", 1);
    CHECK_THROWS_AS((void)s.get<std::string>("n"), std::bad_any_cast);
    CHECK(s.find<std::string>("n") == nullptr);
}

TEST_CASE("a string literal stored by name is a const char pointer") {
    state s;
    s.set("greeting", "hello");
    CHECK(s.find<std::string>("greeting") == nullptr);
    CHECK(std::string(s.get<const char*>("greeting")) == "hello");
}

TEST_CASE("remove by name reports whether the entry existed") {
    state s;
    s.set("a", 1);
    s.set("b", 2);
    CHECK(s.remove("a"));
    CHECK_FALSE(s.remove("a"));
    CHECK_FALSE(s.contains("a"));
    CHECK(s.get<int>("b") == 2);
}

TEST_CASE("typed and named entries do not collide") {
    state s;
    s.set<int>(1);
    s.set("int", 2);
    CHECK(s.get<int>() == 1);
    CHECK(s.get<int>("int") == 2);
    CHECK(s.size() == 2);
    s.clear();
    CHECK(s.empty());
}

TEST_CASE("a state is copied by value") {
    state a;
    a.set<int>(1);
    a.set("k", std::string("v"));
    state b = a;
    b.get<int>() = 2;
    b.get<std::string>("k") = "w";
    CHECK(a.get<int>() == 1);
    CHECK(a.get<std::string>("k") == "v");
    CHECK(b.get<int>() == 2);
}

TEST_CASE("a shared_ptr entry shares the resource across copies") {
    state a;
    a.set(std::make_shared<int>(1));
    state b = a;
    *b.get<std::shared_ptr<int>>() = 9;
    CHECK(*a.get<std::shared_ptr<int>>() == 9);
}
