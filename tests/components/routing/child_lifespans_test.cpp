#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "routing_apps.hpp"
#include "tessera/child_lifespans.hpp"
#include "tessera/host.hpp"
#include "tessera/mount.hpp"
#include "tessera/request.hpp"
#include "tessera/route.hpp"
#include "tessera/router.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/server.hpp"  // its lifespan_failure must not clash with ours
#include "tessera/timer.hpp"

using namespace tessera;
using namespace routing_test;
using namespace std::chrono_literals;
using tessera::testing::lifespan_error;
using tessera::testing::test_client;

namespace {
using journal = std::shared_ptr<std::vector<std::string>>;

// An app with a lifespan that writes what happens to a shared journal, and can fail.
struct lifespan_app {
    std::string name;
    journal log;
    std::string startup_failure;   // answer startup.failed with this, when set
    std::string shutdown_failure;  // answer shutdown.failed with this, when set
    bool raise_after_startup = false;

    task<void> operator()(scope& s, receive r, send sd) const {
        if (s.type != scope_type::lifespan) {
            const plain_text_response answer(name);
            co_await answer(s, r, sd);
            co_return;
        }
        event first = co_await r();
        CHECK(std::holds_alternative<lifespan::startup>(first));
        if (!startup_failure.empty()) {
            log->push_back("startup failed: " + name);
            event failed{lifespan::startup_failed{startup_failure}};
            co_await sd(std::move(failed));
            co_return;
        }
        log->push_back("startup: " + name);
        if (s.app_state) s.app_state->set(name, true);
        event started{lifespan::startup_complete{}};
        co_await sd(std::move(started));
        if (raise_after_startup) throw std::runtime_error(name + " crashed");
        event second = co_await r();
        CHECK(std::holds_alternative<lifespan::shutdown>(second));
        log->push_back("shutdown: " + name);
        event stopped = shutdown_failure.empty()
                            ? event{lifespan::shutdown_complete{}}
                            : event{lifespan::shutdown_failed{shutdown_failure}};
        co_await sd(std::move(stopped));
    }
};

journal new_journal() { return std::make_shared<std::vector<std::string>>(); }

task<response> flags(request& req) {
    std::string out;
    for (const char* name : {"a", "b"}) {
        if (req.app_state().find<bool>(name) != nullptr) out += name;
    }
    co_return plain_text_response(out);
}
}  // namespace

TEST_CASE("a router runs its mounted apps' lifespans: startup in order, shutdown reversed") {
    auto log = new_journal();
    const router app({route("/", flags), mount("/a", lifespan_app{"a", log}),
                      host("b.example.org", lifespan_app{"b", log})});
    test_client client(app);
    {
        auto session = client.lifespan();
        CHECK(session.supported());
        CHECK(*log == std::vector<std::string>{"startup: a", "startup: b"});
        // The children share the app state the lifespan produced.
        CHECK(client.get("/").text() == "ab");
        CHECK(client.get("/a/").text() == "a");
    }
    CHECK(*log ==
          std::vector<std::string>{"startup: a", "startup: b", "shutdown: b", "shutdown: a"});
}

TEST_CASE("lifespans of apps mounted in mounted routers run too") {
    auto log = new_journal();
    const router app({mount("/outer", router({mount("/inner", lifespan_app{"deep", log})}))});
    test_client client(app);
    client.lifespan().shutdown();
    CHECK(*log == std::vector<std::string>{"startup: deep", "shutdown: deep"});
}

TEST_CASE("mounted apps that do not speak lifespan are skipped") {
    auto log = new_journal();
    const router app({mount("/plain", text_app{"plain"}), mount("/a", lifespan_app{"a", log})});
    test_client client(app);
    auto session = client.lifespan();
    CHECK(*log == std::vector<std::string>{"startup: a"});
    session.shutdown();
    CHECK(*log == std::vector<std::string>{"startup: a", "shutdown: a"});
}

TEST_CASE("a child's startup failure fails the router's startup after undoing the others") {
    auto log = new_journal();
    const router app({mount("/a", lifespan_app{"a", log}),
                      mount("/b", lifespan_app{"b", log, "database unreachable"}),
                      mount("/c", lifespan_app{"c", log})});
    test_client client(app);
    CHECK_THROWS_WITH_AS(client.lifespan(), "database unreachable", lifespan_error);
    CHECK(*log == std::vector<std::string>{"startup: a", "startup failed: b", "shutdown: a"});
}

TEST_CASE("children's shutdown failures are all reported, after every child was shut down") {
    auto log = new_journal();
    const router app({mount("/a", lifespan_app{"a", log, "", "a leaked"}),
                      mount("/b", lifespan_app{"b", log, "", "b leaked"})});
    test_client client(app);
    auto session = client.lifespan();
    CHECK_THROWS_WITH_AS(session.shutdown(), "b leaked; a leaked", lifespan_error);
    CHECK(*log ==
          std::vector<std::string>{"startup: a", "startup: b", "shutdown: b", "shutdown: a"});
}

TEST_CASE("a child that raises after its startup fails the shutdown with its message") {
    auto log = new_journal();
    lifespan_app crashing{"a", log};
    crashing.raise_after_startup = true;
    test_client client(router({mount("/a", crashing)}));
    auto session = client.lifespan();
    CHECK_THROWS_WITH_AS(session.shutdown(), "the lifespan of a mounted app raised: a crashed",
                         lifespan_error);
}

TEST_CASE("a router without mounted apps answers the lifespan itself") {
    test_client client(router({route("/", flags)}));
    auto session = client.lifespan();
    CHECK(session.supported());
    CHECK_NOTHROW(session.shutdown());
}

namespace {
// Never answers startup; notes when its frame is destroyed.
struct stuck_app {
    std::shared_ptr<bool> destroyed;
    task<void> operator()(scope&, receive r, send) const {
        struct on_exit {
            std::shared_ptr<bool> flag;
            ~on_exit() { *flag = true; }
        } guard{destroyed};
        (void)co_await r();
        co_await sleep_for(1h);
    }
};

task<void> start_then_drop(std::vector<any_app> apps, bool* timed_out) {
    child_lifespans children(std::move(apps));
    scope lifespan_scope;
    lifespan_scope.type = scope_type::lifespan;
    try {
        auto starting = children.startup(lifespan_scope);
        co_await with_timeout(std::move(starting), 20ms);
    } catch (const timeout_error&) {
        *timed_out = true;
    }
}
}  // namespace

TEST_CASE("cancelling startup ends the wait, and dropping the lifespans ends the children") {
    auto destroyed = std::make_shared<bool>(false);
    bool timed_out = false;
    sync_wait(start_then_drop({stuck_app{destroyed}}, &timed_out));
    CHECK(timed_out);
    CHECK(*destroyed);
}

TEST_CASE("child_lifespans used directly starts and stops children and counts them") {
    auto log = new_journal();
    auto run = [](journal log) -> task<std::size_t> {
        child_lifespans children({lifespan_app{"x", log}, text_app{"not a lifespan"}});
        scope lifespan_scope;
        lifespan_scope.type = scope_type::lifespan;
        auto starting = children.startup(lifespan_scope);
        co_await std::move(starting);
        const std::size_t started = children.started();
        co_await children.shutdown();
        co_return started;
    };
    CHECK(sync_wait(run(log)) == 1u);
    CHECK(*log == std::vector<std::string>{"startup: x", "shutdown: x"});
}
