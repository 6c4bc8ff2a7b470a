#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "tessera/path_pattern.hpp"

using namespace tessera;

namespace {
using kind = path_pattern::kind;

// Matches `text` and returns the converted params (or nullopt).
std::optional<path_params> matched(const path_pattern& pattern, std::string_view text) {
    path_pattern::captures found;
    if (!pattern.match(text, found)) return std::nullopt;
    path_params params;
    pattern.convert(found, params);
    return params;
}

std::string error_of(std::string_view text, kind what = kind::path,
                     std::span<const path_convertor> user = {}) {
    try {
        const path_pattern pattern(text, what, user);
    } catch (const std::invalid_argument& error) {
        return error.what();
    }
    return "no error";
}
}  // namespace

TEST_CASE("a static template matches exactly its own text") {
    const path_pattern pattern("/about/team", kind::path);
    CHECK(pattern.is_static());
    CHECK(matched(pattern, "/about/team"));
    CHECK_FALSE(matched(pattern, "/about/team/"));
    CHECK_FALSE(matched(pattern, "/about"));
    CHECK_FALSE(matched(pattern, "/About/team"));
}

TEST_CASE("str parameters take one non-empty segment") {
    const path_pattern pattern("/users/{name}", kind::path);
    CHECK(matched(pattern, "/users/ada")->get<std::string>("name") == "ada");
    CHECK_FALSE(matched(pattern, "/users/"));
    CHECK_FALSE(matched(pattern, "/users/ada/posts"));
}

TEST_CASE("a parameter followed by literal text backtracks like a greedy regex") {
    const path_pattern pattern("/files/{name}.{ext}", kind::path);
    const auto params = matched(pattern, "/files/archive.tar.gz");
    REQUIRE(params);
    CHECK(params->get<std::string>("name") == "archive.tar");
    CHECK(params->get<std::string>("ext") == "gz");
}

TEST_CASE("int parameters take digits that fit in 64 bits and convert to integers") {
    const path_pattern pattern("/items/{id:int}", kind::path);
    CHECK(matched(pattern, "/items/42")->get<std::int64_t>("id") == 42);
    CHECK(matched(pattern, "/items/007")->get<std::int64_t>("id") == 7);
    CHECK_FALSE(matched(pattern, "/items/4x2"));
    CHECK_FALSE(matched(pattern, "/items/-1"));
    CHECK_FALSE(matched(pattern, "/items/"));
    CHECK_FALSE(matched(pattern, "/items/99999999999999999999"));
}

TEST_CASE("float parameters take digits with an optional fraction and convert to doubles") {
    const path_pattern pattern("/price/{amount:float}", kind::path);
    CHECK(matched(pattern, "/price/3.25")->get<double>("amount") == doctest::Approx(3.25));
    CHECK(matched(pattern, "/price/7")->get<double>("amount") == doctest::Approx(7.0));
    CHECK_FALSE(matched(pattern, "/price/3."));
    CHECK_FALSE(matched(pattern, "/price/.5"));
    CHECK_FALSE(matched(pattern, "/price/1e5"));
    CHECK_FALSE(matched(pattern, "/price/nan"));
}

TEST_CASE("uuid parameters take lower-case 8-4-4-4-12 hex") {
    const path_pattern pattern("/orders/{id:uuid}", kind::path);
    const std::string id = "123e4567-e89b-12d3-a456-426614174000";
    CHECK(matched(pattern, "/orders/" + id)->get<std::string>("id") == id);
    CHECK_FALSE(matched(pattern, "/orders/123E4567-E89B-12D3-A456-426614174000"));
    CHECK_FALSE(matched(pattern, "/orders/123e4567e89b12d3a456426614174000"));
    CHECK_FALSE(matched(pattern, "/orders/123e4567-e89b-12d3-a456-42661417400g"));
}

TEST_CASE("path parameters take slashes and may be empty") {
    const path_pattern pattern("/static/{file:path}", kind::path);
    CHECK(matched(pattern, "/static/css/site/main.css")->get<std::string>("file") ==
          "css/site/main.css");
    CHECK(matched(pattern, "/static/")->get<std::string>("file").empty());
    const path_pattern middle("/repo/{tree:path}/raw", kind::path);
    CHECK(matched(middle, "/repo/a/b/raw")->get<std::string>("tree") == "a/b");
}

TEST_CASE("user convertors match, convert and format values their own way") {
    const path_convertor even{
        .name = "even",
        .matches = [](std::string_view text) {
            return !text.empty() &&
                   text.find_first_not_of("0123456789") == std::string_view::npos &&
                   (text.back() - '0') % 2 == 0;
        },
        .convert = [](std::string_view text) -> path_value {
            return static_cast<std::int64_t>(std::stoll(std::string(text)));
        }};
    const std::vector<path_convertor> convertors{even};
    const path_pattern pattern("/pairs/{n:even}", kind::path, convertors);
    CHECK(matched(pattern, "/pairs/24")->get<std::int64_t>("n") == 24);
    CHECK_FALSE(matched(pattern, "/pairs/25"));
    CHECK(pattern.format({{"n", std::int64_t{8}}}) == "/pairs/8");
    std::string why;
    CHECK_FALSE(pattern.format({{"n", std::int64_t{7}}}, &why));
    CHECK(why == "param \"n\" = 7 is not a valid even");
}

TEST_CASE("a user convertor may shadow a built-in for the templates it is given to") {
    const path_convertor any_int{.name = "int", .matches = [](std::string_view text) {
                                     return text == "one" || text == "two";
                                 }};
    const std::vector<path_convertor> convertors{any_int};
    const path_pattern pattern("/n/{n:int}", kind::path, convertors);
    CHECK(matched(pattern, "/n/two")->get<std::string>("n") == "two");
    CHECK_FALSE(matched(pattern, "/n/2"));
}

TEST_CASE("bad templates are refused at construction with a message naming the problem") {
    CHECK(error_of("users") == "path pattern \"users\": routed paths must start with '/'");
    CHECK(error_of("/a/{id:number}") == "path pattern \"/a/{id:number}\": unknown path "
                                        "convertor \"number\"");
    CHECK(error_of("/a/{id}/{id:int}") ==
          "path pattern \"/a/{id}/{id:int}\": duplicated param name id");
    CHECK(error_of("/a/{1x}").find("is not a parameter") != std::string::npos);
    CHECK(error_of("/a/{id").find("without a matching '}'") != std::string::npos);
    CHECK(error_of("/a/id}").find("without a matching '{'") != std::string::npos);
    std::string many = "/";
    for (int i = 0; i <= 16; ++i) many += "{p" + std::to_string(i) + "}/";
    CHECK(error_of(many).find("more than 16 parameters") != std::string::npos);
    const std::vector<path_convertor> nameless{path_convertor{.name = "1st", .matches = {}}};
    CHECK(error_of("/a", kind::path, nameless).find("not an identifier") != std::string::npos);
    const std::vector<path_convertor> no_match{path_convertor{.name = "x", .matches = {}}};
    CHECK(error_of("/a", kind::path, no_match).find("no `matches` function") !=
          std::string::npos);
}

TEST_CASE("host templates match case-insensitively and refuse ports and slashes") {
    const path_pattern pattern("{sub}.Example.org", kind::host);
    CHECK(matched(pattern, "api.example.ORG")->get<std::string>("sub") == "api");
    CHECK_FALSE(matched(pattern, "example.org"));
    CHECK(error_of("", kind::host) == "host pattern \"\": a host pattern cannot be empty");
    CHECK(error_of("example.org:8000", kind::host).find("no port") != std::string::npos);
    CHECK(error_of("example.org/x", kind::host).find("no '/'") != std::string::npos);
}

TEST_CASE("a prefix match ends at the end of the text or before a slash") {
    const path_pattern prefix("/users", kind::path);
    path_pattern::captures found;
    CHECK(prefix.match_prefix("/users", found) == 6u);
    CHECK(prefix.match_prefix("/users/", found) == 6u);
    CHECK(prefix.match_prefix("/users/7/posts", found) == 6u);
    CHECK_FALSE(prefix.match_prefix("/usersx", found));
    CHECK_FALSE(prefix.match_prefix("/use", found));
    const path_pattern with_param("/orgs/{org}", kind::path);
    CHECK(with_param.match_prefix("/orgs/acme/repos", found) == 10u);
    CHECK(found[0] == "acme");
    const path_pattern root("", kind::path);
    CHECK(root.match_prefix("/anything", found) == 0u);
}

TEST_CASE("formatting fills every parameter and percent-encodes what a path cannot hold") {
    const path_pattern pattern("/users/{name}/files/{file:path}", kind::path);
    CHECK(pattern.format({{"name", "ada lovelace"}, {"file", "a/b?.txt"}}) ==
          "/users/ada%20lovelace/files/a/b%3F.txt");
    std::string why;
    CHECK_FALSE(pattern.format({{"name", "ada"}}, &why));
    CHECK(why == "param \"file\" is missing");
    CHECK_FALSE(pattern.format({{"name", "a/b"}, {"file", "x"}}, &why));
    CHECK(why == "param \"name\" = \"a/b\" is not a valid str");
}

TEST_CASE("formatting converts values to each convertor's text form") {
    const path_pattern pattern("/{i:int}/{f:float}/{u:uuid}", kind::path);
    CHECK(pattern.format({{"i", std::int64_t{5}},
                          {"f", 0.1},
                          {"u", "123E4567-E89B-12D3-A456-426614174000"}}) ==
          "/5/0.1/123e4567-e89b-12d3-a456-426614174000");
    CHECK(pattern.format({{"i", "12"}, {"f", std::int64_t{2}}, {"u", "x"}}) == std::nullopt);
    std::string why;
    CHECK_FALSE(pattern.format({{"i", std::int64_t{-1}}, {"f", 1.0}, {"u", "x"}}, &why));
    CHECK(why == "param \"i\" = -1 is not a valid int");
    CHECK_FALSE(pattern.format(
        {{"i", std::int64_t{1}}, {"f", -2.5}, {"u", "123e4567-e89b-12d3-a456-426614174000"}},
        &why));
    CHECK(why == "param \"f\" = -2.5 is not a valid float");
}
