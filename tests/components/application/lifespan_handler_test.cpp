#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/application.hpp"
#include "tessera/lifespan_handler.hpp"
#include "tessera/mount.hpp"
#include "tessera/request.hpp"
#include "tessera/route.hpp"
#include "tessera/sync_wait.hpp"
#include "tessera/testing/test_client.hpp"

using namespace tessera;
using tessera::testing::lifespan_error;
using tessera::testing::test_client;

namespace {
using journal = std::shared_ptr<std::vector<std::string>>;

// A lifespan that journals its steps under `name` and puts `name` into the app state; it can
// fail at startup or at shutdown. A capturing lambda: the handler keeps it alive.
lifespan_handler journaling(std::string name, journal log, bool fail_startup = false,
                            bool fail_shutdown = false) {
    return [name, log, fail_startup,
            fail_shutdown](std::shared_ptr<state> app_state) -> lifespan_generator {
        log->push_back("startup " + name);
        if (fail_startup) throw std::runtime_error(name + " cannot start");
        app_state->set(name, std::string("ready"));
        co_yield lifespan_ready{};
        log->push_back("shutdown " + name);
        if (fail_shutdown) throw std::runtime_error(name + " cannot stop");
    };
}

task<plain_text_response> show_state(request& req) {
    std::string seen;
    for (const char* name : {"outer", "inner"}) {
        if (const auto* value = req.scope().app_state->find<std::string>(name)) {
            seen += std::string(name) + "=" + *value + " ";
        }
    }
    co_return plain_text_response(seen);
}

lifespan_generator never_yields(std::shared_ptr<state>) { co_return; }
lifespan_generator yields_twice(std::shared_ptr<state>) {
    co_yield lifespan_ready{};
    co_yield lifespan_ready{};
}

}  // namespace

TEST_CASE("the lifespan runs startup before requests and shutdown after, sharing its state") {
    auto log = std::make_shared<std::vector<std::string>>();
    const application app({.routes = {route("/", show_state)},
                           .lifespan = journaling("outer", log)});
    test_client client(app);
    {
        auto session = client.lifespan();
        CHECK(session.supported());
        CHECK(*log == std::vector<std::string>{"startup outer"});
        CHECK(client.get("/").text() == "outer=ready ");
        CHECK(client.get("/").text() == "outer=ready ");  // every request sees the same state
    }
    CHECK(*log == std::vector<std::string>{"startup outer", "shutdown outer"});
}

TEST_CASE("an application without a lifespan still answers the lifespan protocol") {
    const application app({.routes = {route("/", show_state)}});
    test_client client(app);
    auto session = client.lifespan();
    CHECK(session.supported());
    CHECK_NOTHROW(session.shutdown());
}

TEST_CASE("startup runs the app's own lifespan then the mounted apps'; shutdown the reverse") {
    auto log = std::make_shared<std::vector<std::string>>();
    const application inner({.routes = {route("/", show_state)},
                             .lifespan = journaling("inner", log)});
    const application outer({.routes = {route("/", show_state), mount("/inner", inner)},
                             .lifespan = journaling("outer", log)});
    test_client client(outer);
    {
        auto session = client.lifespan();
        CHECK(*log == std::vector<std::string>{"startup outer", "startup inner"});
        // One state: the mounted application's requests see both lifespans' values.
        CHECK(client.get("/inner/").text() == "outer=ready inner=ready ");
        CHECK(client.get("/").text() == "outer=ready inner=ready ");
    }
    // Each lifespan ran exactly once.
    CHECK(*log == std::vector<std::string>{"startup outer", "startup inner", "shutdown inner",
                                           "shutdown outer"});
}

TEST_CASE("a startup that throws is reported as lifespan.startup.failed naming the exception") {
    auto log = std::make_shared<std::vector<std::string>>();
    const application app({.lifespan = journaling("outer", log, true)});
    test_client client(app);
    CHECK_THROWS_WITH_AS((void)client.lifespan(),
                         "the application's lifespan startup raised std::runtime_error: outer "
                         "cannot start",
                         lifespan_error);
}

TEST_CASE("a mounted app's failed startup undoes the app's own startup and fails the whole") {
    auto log = std::make_shared<std::vector<std::string>>();
    const application inner({.lifespan = journaling("inner", log, true)});
    const application outer({.routes = {mount("/inner", inner)},
                             .lifespan = journaling("outer", log)});
    test_client client(outer);
    CHECK_THROWS_WITH_AS((void)client.lifespan(),
                         "the application's lifespan startup raised std::runtime_error: inner "
                         "cannot start",
                         lifespan_error);
    CHECK(*log == std::vector<std::string>{"startup outer", "startup inner", "shutdown outer"});
}

TEST_CASE("a shutdown that throws is reported as lifespan.shutdown.failed, after the children") {
    auto log = std::make_shared<std::vector<std::string>>();
    const application inner({.lifespan = journaling("inner", log, false, true)});
    const application outer({.routes = {mount("/inner", inner)},
                             .lifespan = journaling("outer", log, false, true)});
    test_client client(outer);
    auto session = client.lifespan();
    CHECK_THROWS_WITH_AS(session.shutdown(),
                         "the application's lifespan shutdown raised std::runtime_error: inner "
                         "cannot stop; the application's lifespan shutdown raised "
                         "std::runtime_error: outer cannot stop",
                         lifespan_error);
    CHECK(*log == std::vector<std::string>{"startup outer", "startup inner", "shutdown inner",
                                           "shutdown outer"});
}

TEST_CASE("a lifespan function that never yields fails startup with a clear message") {
    const application app({.lifespan = never_yields});
    test_client client(app);
    CHECK_THROWS_WITH_AS((void)client.lifespan(),
                         "the application's lifespan startup raised std::logic_error: the "
                         "lifespan function returned without co_yield lifespan_ready{}: nothing "
                         "marks where startup ends and shutdown begins",
                         lifespan_error);
}

TEST_CASE("a lifespan function that yields twice fails shutdown with a clear message") {
    const application app({.lifespan = yields_twice});
    test_client client(app);
    auto session = client.lifespan();
    CHECK_THROWS_WITH_AS(session.shutdown(),
                         "the application's lifespan shutdown raised std::logic_error: the "
                         "lifespan function yielded more than once",
                         lifespan_error);
}

TEST_CASE("lifespan_handler drives startup to the yield and shutdown to the end") {
    auto log = std::make_shared<std::vector<std::string>>();
    const lifespan_handler handler = journaling("solo", log);
    CHECK(static_cast<bool>(handler));
    CHECK_FALSE(static_cast<bool>(lifespan_handler{}));
    auto app_state = std::make_shared<state>();
    auto generator = sync_wait(handler.start(app_state));
    CHECK(*log == std::vector<std::string>{"startup solo"});
    CHECK(app_state->get<std::string>("solo") == "ready");
    sync_wait(lifespan_handler::stop(std::move(generator)));
    CHECK(*log == std::vector<std::string>{"startup solo", "shutdown solo"});
    // An empty handler has nothing to run.
    auto nothing = sync_wait(lifespan_handler{}.start(app_state));
    CHECK_FALSE(nothing.valid());
    CHECK_NOTHROW(sync_wait(lifespan_handler::stop(std::move(nothing))));
}
