#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "../middleware/error_test_apps.hpp"
#include "tessera/application.hpp"
#include "tessera/http_error.hpp"
#include "tessera/log.hpp"
#include "tessera/loop.hpp"
#include "tessera/mount.hpp"
#include "tessera/request.hpp"
#include "tessera/route.hpp"
#include "tessera/testing/test_client.hpp"
#include "logging_loop.hpp"

using namespace tessera;
using tessera::test_apps::adds_header;
using tessera::testing::client_options;
using tessera::testing::test_client;
using tessera::testing::test_response;

namespace {

struct db_error : std::runtime_error {
    using std::runtime_error::runtime_error;
};
struct db_timeout : db_error {
    using db_error::db_error;
};

task<plain_text_response> hello(request&) { co_return plain_text_response("hello"); }
task<plain_text_response> boom(request&) {
    throw std::runtime_error("kaboom");
    co_return plain_text_response("never");
}
task<plain_text_response> teapot(request&) {
    throw http_error(418, "short and stout");
    co_return plain_text_response("never");
}
task<plain_text_response> no_content(request&) {
    throw http_error(204);
    co_return plain_text_response("never");
}
task<plain_text_response> not_modified(request&) {
    throw http_error(304);
    co_return plain_text_response("never");
}
task<plain_text_response> slow_db(request&) {
    throw db_timeout("took too long");
    co_return plain_text_response("never");
}
task<plain_text_response> broken_db(request&) {
    throw db_error("down");
    co_return plain_text_response("never");
}

// A user middleware that appends its name to the `x-order` header of every response, so the
// header reads innermost first.
struct names_itself {
    any_app inner;
    std::string name;
    names_itself(any_app app, std::string label) : inner(std::move(app)), name(std::move(label)) {}
    task<void> operator()(scope& s, receive r, send sd) const {
        const std::string* label = &name;
        auto rewrite = [sd, label](event e) -> task<void> {
            if (auto* start = std::get_if<http::response_start>(&e)) {
                start->headers.append("x-order", *label);
            }
            co_await sd(std::move(e));
        };
        co_await inner(s, r, send(rewrite));
    }
};

middleware cors_like() {
    return middleware([](any_app inner) { return adds_header{std::move(inner)}; });
}

application erroring_app(application_options extra = {}) {
    extra.routes = {route("/", hello),         route("/boom", boom),
                    route("/teapot", teapot),  route("/empty", no_content),
                    route("/same", not_modified), route("/slow", slow_db),
                    route("/broken", broken_db), route("/late", test_apps::throws_after_start{})};
    extra.middleware = {cors_like()};
    return application(std::move(extra));
}

task<plain_text_response> not_found_page(request& req, const http_error&) {
    co_return plain_text_response("no page at " + req.scope().path, 404);
}

client_options not_raising() { return client_options{.raise_server_exceptions = false}; }

}  // namespace

TEST_CASE("an application serves its routes through its middleware") {
    test_client client(erroring_app());
    const auto r = client.get("/");
    CHECK(r.status == 200);
    CHECK(r.text() == "hello");
    CHECK(r.headers.get("x-user-middleware") == "seen");
}

TEST_CASE("the middleware list reads outermost first") {
    const application app({.routes = {route("/", hello)},
                           .middleware = {middleware::of<names_itself>(std::string("outer")),
                                          middleware::of<names_itself>(std::string("inner"))}});
    test_client client(app);
    const auto answer = client.get("/");
    const auto values = answer.headers.get_all("x-order");
    REQUIRE(values.size() == 2);
    // The inner one sees the response first.
    CHECK(values[0] == "inner");
    CHECK(values[1] == "outer");
}

TEST_CASE("the router's 404 and 405 reach the status handlers and pass the user middleware") {
    auto handlers = exception_handlers{}.on(404, not_found_page);
    test_client client(erroring_app({.exception_handlers = handlers}));
    const auto missing = client.get("/missing");
    CHECK(missing.status == 404);
    CHECK(missing.text() == "no page at /missing");
    CHECK(missing.headers.get("x-user-middleware") == "seen");
    const auto wrong_method = client.post("/");
    CHECK(wrong_method.status == 405);
    CHECK(wrong_method.headers.get("allow") == "GET, HEAD");
    CHECK(wrong_method.headers.get("x-user-middleware") == "seen");
}

TEST_CASE("an http_error becomes its response, with the user middleware's headers") {
    test_client client(erroring_app());
    const auto r = client.get("/teapot");
    CHECK(r.status == 418);
    CHECK(r.text() == "short and stout");
    CHECK(r.headers.get("x-user-middleware") == "seen");
}

TEST_CASE("an http_error 204 or 304 is answered without a body or content-type") {
    test_client client(erroring_app());
    for (const char* path : {"/empty", "/same"}) {
        CAPTURE(path);
        const auto r = client.get(path);
        CHECK((r.status == 204 || r.status == 304));
        CHECK(r.content.empty());
        CHECK_FALSE(r.headers.contains("content-type"));
        CHECK(r.headers.get("x-user-middleware") == "seen");
    }
}

TEST_CASE("exception handlers by type: the most derived registered type wins") {
    auto handlers = exception_handlers{}
                        .on<db_timeout>([](request&, const db_timeout& e)
                                            -> task<plain_text_response> {
                            co_return plain_text_response(std::string("timeout: ") + e.what(),
                                                          504);
                        })
                        .on<db_error>([](request&, const db_error& e)
                                          -> task<plain_text_response> {
                            co_return plain_text_response(std::string("db: ") + e.what(), 503);
                        });
    test_client client(erroring_app({.exception_handlers = handlers}));
    const auto slow = client.get("/slow");
    CHECK(slow.status == 504);
    CHECK(slow.text() == "timeout: took too long");
    CHECK(slow.headers.get("x-user-middleware") == "seen");
    const auto broken = client.get("/broken");
    CHECK(broken.status == 503);
    CHECK(broken.text() == "db: down");
}

TEST_CASE("an unhandled exception is re-raised in the test after a 500 went out") {
    test_client client(erroring_app());
    CHECK_THROWS_WITH_AS(client.get("/boom"), "kaboom", std::runtime_error);
}

TEST_CASE("an unhandled exception becomes a plain 500 that carries the user middleware's headers") {
    test_client client(erroring_app(), not_raising());
    const auto r = client.get("/boom");
    CHECK(r.status == 500);
    CHECK(r.text() == "Internal Server Error");
    CHECK(r.headers.get("x-user-middleware") == "seen");
}

TEST_CASE("the server_error handler makes the 500 page, inside the user middleware") {
    const server_error_handler page([](request& req, const std::exception& e)
                                        -> task<plain_text_response> {
        co_return plain_text_response(req.method() + " failed: " + e.what(), 500);
    });
    test_client client(erroring_app({.server_error = page}), not_raising());
    const auto r = client.get("/boom");
    CHECK(r.status == 500);
    CHECK(r.text() == "GET failed: kaboom");
    CHECK(r.headers.get("x-user-middleware") == "seen");
}

TEST_CASE("a handler for std::exception answers everything unhandled and nothing is re-raised") {
    auto handlers = exception_handlers{}.on<std::exception>(
        [](request&, const std::exception& e) -> task<plain_text_response> {
            co_return plain_text_response(std::string("caught ") + e.what(), 500);
        });
    test_client client(erroring_app({.exception_handlers = handlers}));  // raising client
    const auto r = client.get("/boom");
    CHECK(r.status == 500);
    CHECK(r.text() == "caught kaboom");
    CHECK(r.headers.get("x-user-middleware") == "seen");
    // http_error keeps its built-in handler.
    CHECK(client.get("/teapot").status == 418);
}

TEST_CASE("with debug an unhandled exception gets a text page naming it and the request") {
    test_client client(erroring_app({.debug = true}), not_raising());
    const auto r = client.get("/boom?x=1", {.headers = {{"x-probe", "visible"}}});
    CHECK(r.status == 500);
    CHECK(r.headers.get("content-type").value_or("").starts_with("text/plain"));
    CHECK(r.text().find("std::runtime_error") != std::string::npos);
    CHECK(r.text().find("kaboom") != std::string::npos);
    CHECK(r.text().find("GET /boom?x=1") != std::string::npos);
    CHECK(r.text().find("x-probe: visible") != std::string::npos);
    CHECK(r.headers.get("x-user-middleware") == "seen");
}

TEST_CASE("with debug a browser gets the page as escaped HTML") {
    test_client client(erroring_app({.debug = true}), not_raising());
    const auto r = client.get("/boom", {.headers = {{"accept", "text/html"},
                                                    {"x-probe", "<script>"}}});
    CHECK(r.status == 500);
    CHECK(r.headers.get("content-type").value_or("").starts_with("text/html"));
    CHECK(r.text().find("std::runtime_error") != std::string::npos);
    CHECK(r.text().find("&lt;script&gt;") != std::string::npos);
    CHECK(r.text().find("<script>") == std::string::npos);
    CHECK(application({.debug = true}).debug());
}

TEST_CASE("an error after the response started ends the response, and nothing more is sent") {
    test_client raising(erroring_app());
    CHECK_THROWS_WITH_AS(raising.get("/late"), "failed mid-stream", std::runtime_error);
    test_client client(erroring_app(), not_raising());
    const auto r = client.get("/late");
    CHECK(r.status == 200);  // the start went out; the 500 could not
    CHECK(r.content == "partial");
    CHECK(r.headers.get("x-user-middleware") == "seen");
}

namespace {
using tessera::test_support::logged_line;
using tessera::test_support::with_logging_loop;

std::vector<std::string>* background_journal = nullptr;

task<void> note(std::string what) {
    background_journal->push_back(std::move(what));
    co_return;
}

task<plain_text_response> with_tasks(request&) {
    plain_text_response answer("sent");
    answer.add_background([] { return note("first"); })
        .add_background([] { return note("second"); })
        .add_background([]() -> task<void> {
            throw std::runtime_error("task failed");
            co_return;
        })
        .add_background([] { return note("never"); });
    co_return answer;
}

// Records when the response's last body event reached the transport.
struct marks_sent {
    any_app inner;
    task<void> operator()(scope& s, receive r, send sd) const {
        auto observe = [sd](event e) -> task<void> {
            const auto* body = std::get_if<http::response_body>(&e);
            const bool last = body != nullptr && !body->more_body;
            co_await sd(std::move(e));
            if (last) background_journal->push_back("response sent");
        };
        co_await inner(s, r, send(observe));
    }
};
}  // namespace

TEST_CASE("background tasks run in order after the response is sent; failures only reach the log") {
    std::vector<std::string> journal;
    background_journal = &journal;
    std::vector<logged_line> logged;
    test_response got;
    with_logging_loop(logged, [&] {
        const application app(
            {.routes = {route("/tasks", with_tasks)},
             .middleware = {middleware([](any_app inner) { return marks_sent{std::move(inner)}; })}});
        test_client client(app);  // raising: yet nothing is raised
        got = client.get("/tasks");
    });
    background_journal = nullptr;
    CHECK(got.status == 200);
    CHECK(got.text() == "sent");
    CHECK(journal == std::vector<std::string>{"response sent", "first", "second"});
    REQUIRE(logged.size() == 1);
    CHECK(logged[0].category == "background");
    CHECK(logged[0].message.find("task failed") != std::string::npos);
}

namespace {
// Each instance takes the next number from a counter shared by the recipe and reports it.
struct numbered {
    any_app inner;
    int number;
    numbered(any_app app, std::shared_ptr<int> counter)
        : inner(std::move(app)), number(++*counter) {}
    task<void> operator()(scope& s, receive r, send sd) const {
        const std::string id = std::to_string(number);
        const std::string* label = &id;
        auto rewrite = [sd, label](event e) -> task<void> {
            if (auto* start = std::get_if<http::response_start>(&e)) {
                start->headers.append("x-instance", *label);
            }
            co_await sd(std::move(e));
        };
        co_await inner(s, r, send(rewrite));
    }
};
}  // namespace

TEST_CASE("one middleware recipe used by two applications gives each its own instance") {
    auto counter = std::make_shared<int>(0);
    const middleware shared_recipe = middleware::of<numbered>(counter);
    const application first({.routes = {route("/", hello)}, .middleware = {shared_recipe}});
    const application second({.routes = {route("/", hello)}, .middleware = {shared_recipe}});
    CHECK(*counter == 2);
    test_client first_client(first);
    test_client second_client(second);
    CHECK(first_client.get("/").headers.get("x-instance") == "1");
    CHECK(second_client.get("/").headers.get("x-instance") == "2");
    CHECK(first_client.get("/").headers.get("x-instance") == "1");
    CHECK(*counter == 2);  // built once, at construction, not per request
}

TEST_CASE("redirect_slashes is the router's option") {
    const application redirecting({.routes = {route("/items/", hello)}});
    test_client follows(redirecting, client_options{.follow_redirects = false});
    CHECK(follows.get("/items").status == 307);
    const application strict({.routes = {route("/items/", hello)}, .redirect_slashes = false});
    test_client client(strict);
    CHECK(client.get("/items").status == 404);
}

namespace {
task<plain_text_response> link_to_self(request& req) {
    co_return plain_text_response(req.url_for("admin:panel").str() + " " +
                                  req.scope().root_path);
}
task<plain_text_response> inner_failure(request&) {
    throw db_error("inner db down");
    co_return plain_text_response("never");
}
}  // namespace

TEST_CASE("a whole application mounted in another one's router keeps its own error handling") {
    auto inner_handlers =
        exception_handlers{}
            .on(404, [](request&, const http_error&) -> task<plain_text_response> {
                co_return plain_text_response("inner 404", 404);
            })
            .on<db_error>([](request&, const db_error& e) -> task<plain_text_response> {
                co_return plain_text_response(std::string("inner: ") + e.what(), 503);
            });
    const application admin({.routes = {route("/panel", link_to_self, {.name = "panel"}),
                                         route("/fail", inner_failure)},
                              .exception_handlers = inner_handlers});
    auto outer_handlers = exception_handlers{}.on(
        404, [](request&, const http_error&) -> task<plain_text_response> {
            co_return plain_text_response("outer 404", 404);
        });
    const application site({.routes = {route("/", hello), mount("/admin", admin, {.name = "admin"})},
                            .middleware = {cors_like()},
                            .exception_handlers = outer_handlers});
    test_client client(site);

    const auto panel = client.get("/admin/panel");
    CHECK(panel.status == 200);
    CHECK(panel.text() == "http://testserver/admin/panel /admin");
    CHECK(site.url_path_for("admin:panel").path == "/admin/panel");

    const auto failed = client.get("/admin/fail");
    CHECK(failed.status == 503);
    CHECK(failed.text() == "inner: inner db down");
    CHECK(failed.headers.get("x-user-middleware") == "seen");  // the outer middleware saw it

    CHECK(client.get("/admin/missing").text() == "inner 404");
    CHECK(client.get("/missing").text() == "outer 404");
}

// The example of docs/application.md, compiled as written there.
namespace application_docs_example {
using namespace tessera;

struct database {
    std::string name;
};

// Startup before the co_yield, shutdown after it; locals live across both.
lifespan_generator open_database(std::shared_ptr<state> app_state) {
    auto db = std::make_shared<database>();
    db->name = "main";
    app_state->set(db);  // every request: scope.app_state
    co_yield lifespan_ready{};
    db->name.clear();    // shutdown
}

task<plain_text_response> home(request& req) {
    const auto& db = req.scope().app_state->get<std::shared_ptr<database>>();
    co_return plain_text_response("served from " + db->name);
}

task<plain_text_response> not_found(request& req, const http_error&) {
    co_return plain_text_response("nothing at " + req.scope().path, 404);
}

// A user middleware: a header on every response, error responses included.
struct powered_by {
    any_app inner;
    task<void> operator()(scope& s, receive r, send sd) const {
        auto add = [sd](event e) -> task<void> {
            if (auto* start = std::get_if<http::response_start>(&e)) {
                start->headers.append("x-powered-by", "tessera");
            }
            co_await sd(std::move(e));
        };
        co_await inner(s, r, send(add));
    }
};

const application app({
    .routes = {route("/", home, {.name = "home"})},
    .middleware = {middleware([](any_app inner) { return powered_by{std::move(inner)}; })},
    .exception_handlers = exception_handlers{}.on(404, not_found),
    .lifespan = open_database,
});
}  // namespace application_docs_example

TEST_CASE("the example of the application page serves as documented") {
    using application_docs_example::app;
    test_client client(app);
    auto session = client.lifespan();
    const auto home = client.get("/");
    CHECK(home.text() == "served from main");
    CHECK(home.headers.get("x-powered-by") == "tessera");
    const auto missing = client.get("/nowhere");
    CHECK(missing.status == 404);
    CHECK(missing.text() == "nothing at /nowhere");
    CHECK(missing.headers.get("x-powered-by") == "tessera");
    CHECK(app.url_path_for("home").path == "/");
}
