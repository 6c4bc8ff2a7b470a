// exception_handlers: lookup by status for http_error, then by type with the most derived
// registered type winning whatever the registration order; the built-in http_error response.
#include <doctest/doctest.h>

#include <stdexcept>
#include <string>

#include "tessera/exception_handlers.hpp"
#include "tessera/sync_wait.hpp"

using namespace tessera;

namespace {

struct app_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct db_error : app_error {
    using app_error::app_error;
};
struct deadlock : db_error {
    using db_error::db_error;
};
struct teapot_error : http_error {  // an http_error subclass with a type handler of its own
    teapot_error() : http_error(418) {}
};
struct not_standard {
    int code = 7;
};

// A handler that answers with its own name, so a test sees which one ran.
auto named(std::string name) {
    return [name](request&, const std::exception&) -> task<plain_text_response> {
        co_return plain_text_response(name);
    };
}

template <class E>
std::exception_ptr thrown(E e) {
    return std::make_exception_ptr(std::move(e));
}

struct no_input {
    task<event> next() { co_return http::disconnect{}; }
};

// Runs the handler `find` chose for `error` and returns its body.
std::string answer_of(const exception_handlers& handlers, const std::exception_ptr& error) {
    const auto handler = handlers.find(error);
    REQUIRE(handler);
    scope s;
    no_input input;
    receive_member<no_input, &no_input::next> r{&input};
    request req(s, receive(r));
    const response answer = sync_wait(handler(req));
    return answer.body();
}

}  // namespace

TEST_CASE("an http_error is matched by its status before any type handler") {
    const auto handlers =
        exception_handlers{}
            .on<http_error>(named("http_error type"))
            .on(404, [](request&, const http_error& e) -> task<response> {
                co_return plain_text_response("status handler: " + e.detail(), e.status());
            });
    CHECK(answer_of(handlers, thrown(http_error(404, "gone fishing"))) ==
          "status handler: gone fishing");
    CHECK(answer_of(handlers, thrown(http_error(403))) == "http_error type");
}

TEST_CASE("a type handler matches the type and everything derived from it") {
    const auto handlers = exception_handlers{}.on<app_error>(named("app_error"));
    CHECK(answer_of(handlers, thrown(app_error("x"))) == "app_error");
    CHECK(answer_of(handlers, thrown(deadlock("x"))) == "app_error");
    CHECK_FALSE(handlers.find(thrown(std::runtime_error("unrelated"))));
    CHECK_FALSE(handlers.find(thrown(not_standard{})));
    CHECK_FALSE(handlers.find(std::exception_ptr{}));
}

TEST_CASE("the most derived registered type wins regardless of registration order") {
    const auto base_first = exception_handlers{}
                                .on<std::exception>(named("std::exception"))
                                .on<app_error>(named("app_error"))
                                .on<deadlock>(named("deadlock"))
                                .on<db_error>(named("db_error"));
    const auto derived_first = exception_handlers{}
                                   .on<deadlock>(named("deadlock"))
                                   .on<db_error>(named("db_error"))
                                   .on<app_error>(named("app_error"))
                                   .on<std::exception>(named("std::exception"));
    const auto mixed = exception_handlers{}
                           .on<db_error>(named("db_error"))
                           .on<std::exception>(named("std::exception"))
                           .on<deadlock>(named("deadlock"))
                           .on<app_error>(named("app_error"));
    for (const auto* handlers : {&base_first, &derived_first, &mixed}) {
        CHECK(answer_of(*handlers, thrown(deadlock("x"))) == "deadlock");
        CHECK(answer_of(*handlers, thrown(db_error("x"))) == "db_error");
        CHECK(answer_of(*handlers, thrown(app_error("x"))) == "app_error");
        CHECK(answer_of(*handlers, thrown(std::logic_error("x"))) == "std::exception");
    }
}

TEST_CASE("a handler for a base of http_error does not take http_errors from the default") {
    const auto handlers = exception_handlers{}.on<std::exception>(named("std::exception"));
    CHECK(answer_of(handlers, thrown(http_error(404))) == "Not Found");
    CHECK(answer_of(handlers, thrown(std::runtime_error("boom"))) == "std::exception");
}

TEST_CASE("an http_error subclass handler beats the http_error handler, and a status beats both") {
    const auto handlers = exception_handlers{}
                              .on<http_error>(named("http_error"))
                              .on<teapot_error>(named("teapot"));
    CHECK(answer_of(handlers, thrown(teapot_error{})) == "teapot");
    CHECK(answer_of(handlers, thrown(http_error(418))) == "http_error");
    const auto with_status = exception_handlers{handlers}.on(
        418, [](request&, const http_error&) -> task<response> { co_return response("418"); });
    CHECK(answer_of(with_status, thrown(teapot_error{})) == "418");
    CHECK(answer_of(handlers, thrown(teapot_error{})) == "teapot");  // the copy was unaffected
}

TEST_CASE("registering a status or a type again replaces the earlier handler") {
    const auto handlers = exception_handlers{}
                              .on<db_error>(named("first"))
                              .on<db_error>(named("second"))
                              .on(500, [](request&, const http_error&) -> task<response> {
                                  co_return response("first 500");
                              })
                              .on(500, [](request&, const http_error&) -> task<response> {
                                  co_return response("second 500");
                              });
    CHECK(answer_of(handlers, thrown(db_error("x"))) == "second");
    CHECK(answer_of(handlers, thrown(http_error(500))) == "second 500");
}

TEST_CASE("a status outside 100..599 is refused when registered") {
    auto handler = [](request&, const http_error&) -> task<response> { co_return response(); };
    exception_handlers handlers;
    CHECK_THROWS_AS(handlers.on(99, handler), std::invalid_argument);
    CHECK_THROWS_AS(handlers.on(600, handler), std::invalid_argument);
    CHECK_NOTHROW(handlers.on(599, handler));
}

TEST_CASE("by default an http_error answers with its detail as plain text and its headers") {
    const exception_handlers defaults;
    const auto handler = defaults.find(thrown(http_error(401, "token expired",
                                                         headers{{"WWW-Authenticate", "Bearer"}})));
    REQUIRE(handler);
    const auto r = exception_handlers::http_error_response(
        http_error(401, "token expired", headers{{"WWW-Authenticate", "Bearer"}}));
    CHECK(r.status() == 401);
    CHECK(r.body() == "token expired");
    CHECK(r.headers().get("www-authenticate") == "Bearer");
    CHECK(r.headers().get("content-type") == "text/plain; charset=utf-8");
    CHECK(r.headers().get("content-length") == "13");
    CHECK(answer_of(defaults, thrown(http_error(404))) == "Not Found");
}

TEST_CASE("the default response of a 204, 304 or 1xx http_error has no body and no content-type") {
    for (const int status : {204, 304, 103}) {
        CAPTURE(status);
        const http_error error(status, {}, headers{{"etag", "\"v1\""}});
        const auto r = exception_handlers::http_error_response(error);
        CHECK(r.status() == status);
        CHECK(r.body().empty());
        CHECK_FALSE(r.headers().contains("content-type"));
        CHECK_FALSE(r.headers().contains("content-length"));
        CHECK(r.headers().get("etag") == "\"v1\"");
    }
}

TEST_CASE("a handler may be a plain function returning any response type") {
    struct local {
        static task<json_response> on_db(request&, const db_error& e) {
            co_return json_response(json{{"error", e.what()}}, 503);
        }
    };
    const auto handlers = exception_handlers{}.on<db_error>(&local::on_db);
    CHECK(answer_of(handlers, thrown(deadlock("locked"))) == R"({"error":"locked"})");
}
