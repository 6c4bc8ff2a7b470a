// http_endpoint: members found at compile time answer their methods; HEAD falls back to get;
// anything else is 405 with Allow, answered directly or thrown for an exception layer.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/http_endpoint.hpp"
#include "tessera/http_error.hpp"
#include "tessera/sync_wait.hpp"
#include "tessera/testing/test_client.hpp"

using namespace tessera;
using tessera::testing::test_client;

namespace {

// Every method, each naming itself in the body and in a header.
struct every_method {
    static task<response> answer(std::string name) {
        co_return plain_text_response(name, 200, headers{{"x-handler", name}});
    }
    task<response> get(request&) const { return answer("get"); }
    task<response> head(request&) const { return answer("head"); }
    task<response> post(request&) const { return answer("post"); }
    task<response> put(request&) const { return answer("put"); }
    task<response> patch(request&) const { return answer("patch"); }
    task<response> delete_(request&) const { return answer("delete"); }
    task<response> options(request&) const { return answer("options"); }
};

// The brief's example: a derived response type and a body-reading post.
struct user_endpoint {
    std::string greeting = "hello";
    task<json_response> get(request& req) const {
        const auto id = req.path_params().get<std::int64_t>("id");
        co_return json_response(json{{"id", id}, {"greeting", greeting}});
    }
    task<response> post(request& req) const {
        const json body = co_await req.json();
        co_return json_response(json{{"created", body["name"]}}, 201);
    }
};

struct get_only {
    task<plain_text_response> get(request&) const { co_return plain_text_response("body of get"); }
};

struct post_and_delete {
    task<response> post(request&) const { co_return response("posted"); }
    task<response> delete_(request&) const { co_return response({}, 204); }
};

struct pinned {  // cannot move: built in place
    explicit pinned(int v) : value(v) {}
    pinned(const pinned&) = delete;
    pinned& operator=(const pinned&) = delete;
    int value;
    task<response> get(request&) const { co_return plain_text_response(std::to_string(value)); }
};

struct not_const_get {
    task<response> get(request&);  // not const: never called concurrently-safe, so not a member
};
struct wrong_return {
    task<void> post(request&) const;
    response get(request&) const;  // not a task
};
struct data_named_options {
    int options = 0;  // a data member named like a method is left alone
    task<response> get(request&) const;
};

static_assert(app<http_endpoint<every_method>>);
static_assert(app<http_endpoint<get_only>>);
static_assert(!detail::endpoint_has_get<not_const_get>);
static_assert(detail::endpoint_declares_get<not_const_get>);  // so http_endpoint refuses it
static_assert(!detail::endpoint_has_post<wrong_return> && !detail::endpoint_has_get<wrong_return>);
static_assert(!detail::endpoint_declares_options<data_named_options>);
static_assert(http_endpoint<get_only>::allows(endpoint_method::head));
static_assert(!http_endpoint<get_only>::allows(endpoint_method::options));
static_assert(!http_endpoint<post_and_delete>::allows(endpoint_method::head));

// A hand-written dispatcher standing in for a router: "/users/<n>" goes to the endpoint with
// the id as a path parameter, anything else is 404.
struct tiny_router {
    any_app users;
    task<void> operator()(scope& s, receive r, send sd) const {
        constexpr std::string_view prefix = "/users/";
        if (s.path.starts_with(prefix)) {
            const auto id = std::stoll(s.path.substr(prefix.size()));
            s.path_params.set("id", static_cast<std::int64_t>(id));
            co_await users(s, r, sd);
            co_return;
        }
        const plain_text_response missing("Not Found", 404);
        co_await missing(s, r, sd);
    }
};

// Marks the scope as an exception layer does and records the http_error that comes out.
struct error_catcher {
    any_app inner;
    std::vector<http_error>* caught;
    task<void> operator()(scope& s, receive r, send sd) const {
        s.extensions.set(http_errors_handled{});
        try {
            co_await inner(s, r, sd);
            co_return;
        } catch (const http_error& e) {
            caught->push_back(e);
        }
        const plain_text_response answered("handled", 299);
        co_await answered(s, r, sd);
    }
};

struct null_transport {
    task<event> next() { co_return http::disconnect{}; }
    task<void> emit(event) { co_return; }
};

}  // namespace

TEST_CASE("a request's method selects the member of the same name") {
    test_client client{http_endpoint<every_method>{}};
    CHECK(client.get("/").text() == "get");
    CHECK(client.post("/").text() == "post");
    CHECK(client.put("/").text() == "put");
    CHECK(client.patch("/").text() == "patch");
    CHECK(client.delete_("/").text() == "delete");
    CHECK(client.options("/").text() == "options");
    const auto head = client.head("/");
    CHECK(head.headers.get("x-handler") == "head");
    CHECK(head.content.empty());
}

TEST_CASE("HEAD is answered by get when the class has no head member, without a body") {
    test_client client{http_endpoint<get_only>{}};
    const auto r = client.head("/");
    CHECK(r.status == 200);
    CHECK(r.content.empty());
    CHECK(r.headers.get("content-length") == "11");  // get's body length
    CHECK(r.headers.get("content-type") == "text/plain; charset=utf-8");
}

TEST_CASE("a method the class does not define is answered 405 with Allow") {
    test_client client{http_endpoint<get_only>{}};
    for (const char* method : {"POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE", "get"}) {
        CAPTURE(method);
        const auto r = client.request(method, "/");
        CHECK(r.status == 405);
        CHECK(r.text() == "Method Not Allowed");
        CHECK(r.headers.get("allow") == "GET, HEAD");
        CHECK(r.headers.get("content-type") == "text/plain; charset=utf-8");
    }
}

TEST_CASE("Allow lists the defined methods in a fixed order, HEAD only with get or head") {
    CHECK(http_endpoint<every_method>::allow_header() ==
          "GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS");
    CHECK(http_endpoint<post_and_delete>::allow_header() == "POST, DELETE");
    test_client client{http_endpoint<post_and_delete>{}};
    const auto r = client.get("/");
    CHECK(r.status == 405);
    CHECK(r.headers.get("allow") == "POST, DELETE");
    CHECK(client.head("/").status == 405);
    CHECK(client.delete_("/").status == 204);
}

TEST_CASE("inside an exception layer the 405 is thrown as http_error carrying Allow") {
    std::vector<http_error> caught;
    test_client client{error_catcher{http_endpoint<get_only>{}, &caught}};
    const auto r = client.post("/");
    CHECK(r.status == 299);
    REQUIRE(caught.size() == 1);
    CHECK(caught[0].status() == 405);
    CHECK(caught[0].detail() == "Method Not Allowed");
    CHECK(caught[0].headers().get("allow") == "GET, HEAD");
    // A defined method is unaffected by the marker.
    CHECK(client.get("/").text() == "body of get");
    CHECK(caught.size() == 1);
}

TEST_CASE("an endpoint is an app: used directly, stored as any_app, mounted under another app") {
    const http_endpoint<user_endpoint> endpoint(user_endpoint{.greeting = "hi"});
    CHECK(endpoint.handlers().greeting == "hi");

    test_client mounted{tiny_router{endpoint}};
    const auto r = mounted.get("/users/42");
    CHECK(r.status == 200);
    CHECK(r.headers.get("content-type") == "application/json");
    CHECK(r.json() == json{{"id", 42}, {"greeting", "hi"}});
    const auto created = mounted.post("/users/7", {.json = json{{"name", "ada"}}});
    CHECK(created.status == 201);
    CHECK(created.json() == json{{"created", "ada"}});
    CHECK(mounted.get("/elsewhere").status == 404);
    CHECK(mounted.put("/users/1").headers.get("allow") == "GET, HEAD, POST");
}

TEST_CASE("the class is constructed in place when it cannot move, and deduced from a value") {
    test_client in_place{http_endpoint<pinned>(std::in_place, 17)};
    CHECK(in_place.get("/").text() == "17");
    const http_endpoint deduced{get_only{}};
    static_assert(std::is_same_v<decltype(deduced), const http_endpoint<get_only>>);
}

TEST_CASE("exceptions from a member pass out of the endpoint") {
    struct failing {
        task<response> get(request&) const {
            throw http_error(404, "no such user");
            co_return response();
        }
    };
    test_client client{http_endpoint<failing>{}};
    CHECK_THROWS_WITH_AS(client.get("/"), "404: no such user", http_error);
}

TEST_CASE("background tasks of a member's response run after it is sent") {
    struct with_background {
        std::vector<std::string>* log;
        task<response> post(request&) const {
            auto* out = log;
            plain_text_response answer("accepted", 202);
            answer.add_background([out]() -> task<void> {
                out->push_back("background ran");
                co_return;
            });
            co_return answer;
        }
    };
    std::vector<std::string> log;
    test_client client{http_endpoint<with_background>(with_background{&log})};
    CHECK(client.post("/").status == 202);
    CHECK(log == std::vector<std::string>{"background ran"});
}

TEST_CASE("a lifespan scope is ignored and a WebSocket scope is refused") {
    null_transport transport;
    receive_member<null_transport, &null_transport::next> r{&transport};
    send_member<null_transport, &null_transport::emit> sd{&transport};
    const http_endpoint<get_only> endpoint;
    scope lifespan_scope;
    lifespan_scope.type = scope_type::lifespan;
    CHECK_NOTHROW(sync_wait(endpoint(lifespan_scope, receive(r), send(sd))));
    scope websocket_scope;
    websocket_scope.type = scope_type::websocket;
    CHECK_THROWS_AS(sync_wait(endpoint(websocket_scope, receive(r), send(sd))), std::logic_error);
}
