// An application's lifespan under the real server: its state reaches requests, and a startup
// that throws stops the server with the exception's message.
#include <doctest/doctest.h>

#include <memory>
#include <stdexcept>
#include <string>

#include "socket_client.hpp"
#include "tessera/application.hpp"
#include "tessera/request.hpp"
#include "tessera/route.hpp"

using namespace tessera;
using namespace itest;

namespace {

lifespan_generator failing_startup(std::shared_ptr<state>) {
    throw std::runtime_error("database unreachable");
    co_yield lifespan_ready{};
}

lifespan_generator opens_db(std::shared_ptr<state> app_state) {
    app_state->set("db", std::string("connected"));
    co_yield lifespan_ready{};
}

task<plain_text_response> show_db(request& req) {
    co_return plain_text_response(req.scope().app_state->get<std::string>("db"));
}

}  // namespace

TEST_CASE("an application whose lifespan startup throws makes server::start() throw") {
    const application app({.routes = {route("/", show_db)}, .lifespan = failing_startup});
    server srv(app, running_server::with_defaults(quiet()));
    try {
        srv.start();
        FAIL("start() did not throw");
    } catch (const lifespan_failure& e) {
        CHECK(std::string(e.what()) ==
              "lifespan startup failed: the application's lifespan startup raised "
              "std::runtime_error: database unreachable");
    }
}

TEST_CASE("the state an application's lifespan produced is seen by requests over sockets") {
    const application app({.routes = {route("/", show_db)}, .lifespan = opens_db});
    running_server running(app, quiet());
    auto conn = running.connect();
    const auto answer = conn.roundtrip(get("/"));
    REQUIRE(answer);
    CHECK(answer->status == 200);
    CHECK(answer->body == "connected");
}
