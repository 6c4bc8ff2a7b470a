#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "tessera/request.hpp"
#include "tessera/url_path_for.hpp"

using namespace tessera;

namespace {
struct no_body {
    task<event> operator()() const { co_return http::disconnect{}; }
};

url_path fixed_reverse(const void* router, std::string_view name, const path_params& params) {
    const auto* prefix = static_cast<const std::string*>(router);
    if (name != "item") throw no_match_found(std::string(name), "");
    return url_path{*prefix + "/items/" + params.get<std::string>("id"), "http", {}};
}
}  // namespace

TEST_CASE("a url_path becomes absolute with the scheme its protocol asks for") {
    const url base("https://example.org/app/");
    CHECK(url_path{"/users/1", "http", {}}.make_absolute_url(base) ==
          "https://example.org/app/users/1");
    CHECK(url_path{"/live", "websocket", {}}.make_absolute_url(base) ==
          "wss://example.org/app/live");
    CHECK(url_path{"/live", "websocket", {}}.make_absolute_url(url("http://h/")) == "ws://h/live");
    CHECK(url_path{"/a.css", {}, {}}.make_absolute_url(url("http://h:8000/")) ==
          "http://h:8000/a.css");
    CHECK(url_path{"/", "http", "eu.example.org"}.make_absolute_url(base) ==
          "https://eu.example.org/app/");
}

TEST_CASE("no_match_found names the route and the params") {
    const no_match_found error("user", "id, tab", "Route \"user\" takes params \"id\".");
    CHECK(std::string(error.what()) ==
          "No route exists for name \"user\" and params \"id, tab\". Route \"user\" takes "
          "params \"id\".");
    CHECK(error.name() == "user");
    CHECK(error.params() == "id, tab");
}

TEST_CASE("request.url_for uses the hook in the scope and its root path") {
    const std::string prefix = "/v2";
    scope s;
    s.scheme = "http";
    s.root_path = "/mounted/deeper";
    s.headers.append("host", "example.org");
    s.extensions.set(url_path_for_hook(&prefix, &fixed_reverse, "/app"));
    no_body body;
    const request req(s, receive(body));
    CHECK(req.url_for("item", {{"id", "7"}}) == "http://example.org/app/v2/items/7");
    CHECK_THROWS_AS((void)req.url_for("other"), no_match_found);
}

TEST_CASE("request.url_for without a router in the scope says so") {
    scope s;
    no_body body;
    const request req(s, receive(body));
    CHECK_THROWS_WITH_AS((void)req.url_for("home"),
                         "url_for(\"home\"): no router handled this request, so there "
                         "are no routes to build URLs from",
                         std::logic_error);
}
