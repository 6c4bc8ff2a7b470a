#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/cancellation.hpp"
#include "tessera/response.hpp"
#include "tessera/testing/test_client.hpp"
#include "tessera/timer.hpp"

using namespace tessera;
using namespace std::chrono_literals;
using tessera::testing::client_options;
using tessera::testing::test_client;

namespace {
// Counts how often the frame that holds it is unwound.
struct unwind_counter {
    int* count;
    ~unwind_counter() { ++*count; }
};

async_generator<std::string> chunks_of(std::vector<std::string> chunks) {
    for (auto& chunk : chunks) co_yield std::move(chunk);
}

// Yields each chunk, then waits a little before the next, so the test can read them one by one.
async_generator<std::string> paced(std::vector<std::string> chunks) {
    for (auto& chunk : chunks) {
        co_yield std::move(chunk);
        co_await sleep_for(1ms);
    }
}

// Never ends and never waits: only the transport's backpressure stops it.
async_generator<std::string> endless(int* unwound) {
    unwind_counter guard{unwound};
    for (std::uint64_t i = 0;; ++i) co_yield std::to_string(i) + "\n";
}

// Never ends; sleeps `pause` between chunks and records a cancellation that reaches it.
async_generator<std::string> endless_ticks(std::chrono::milliseconds pause, int* unwound,
                                           bool* cancelled) {
    unwind_counter guard{unwound};
    try {
        for (int i = 0;; ++i) {
            co_yield std::to_string(i);
            co_await sleep_for(pause);
        }
    } catch (const operation_cancelled&) {
        *cancelled = true;
        throw;
    }
}

async_generator<std::string> failing_after(std::string first) {
    co_yield std::move(first);
    throw std::runtime_error("generator failed");
}

// Records how the wrapped app ended.
struct outcome_recorder {
    any_app inner;
    std::string* outcome;
    task<void> operator()(scope& s, receive r, send sd) const {
        try {
            co_await inner(s, r, sd);
            *outcome = "returned";
        } catch (const client_disconnected&) {
            *outcome = "client_disconnected";
            throw;
        } catch (const operation_cancelled&) {
            *outcome = "cancelled";
            throw;
        } catch (const std::exception& error) {
            *outcome = error.what();
            throw;
        }
    }
};

task<void> record(std::vector<std::string>& log, std::string entry) {
    log.push_back(std::move(entry));
    co_return;
}
}  // namespace

TEST_CASE("a streaming response sends its chunks in order, chunked, without a content-length") {
    test_client client{
        streaming_response(chunks_of({"one ", "two ", "three"}), 200, {}, "text/plain")};
    const auto r = client.get("/");
    CHECK(r.status == 200);
    CHECK(r.content == "one two three");
    CHECK_FALSE(r.headers.contains("content-length"));
    CHECK(r.headers.get("content-type") == "text/plain; charset=utf-8");
}

TEST_CASE("empty chunks from the generator do not end the body early") {
    test_client client{streaming_response(chunks_of({"a", "", "b", ""}))};
    CHECK(client.get("/").content == "ab");
}

TEST_CASE("a streaming response is read incrementally through the stream API") {
    test_client client{
        streaming_response(paced({"first", "second", "third"}), 202, {{"x-kind", "stream"}})};
    auto stream = client.stream("GET", "/");
    CHECK(stream.status() == 202);
    CHECK(stream.headers().get("x-kind") == "stream");
    CHECK(stream.next_chunk() == "first");
    CHECK(stream.next_chunk() == "second");
    CHECK(stream.next_chunk() == "third");
    CHECK(stream.next_chunk() == std::nullopt);
}

TEST_CASE("closing the stream of an endless generator unwinds the generator and ends the app") {
    int unwound = 0;
    std::string outcome;
    test_client client{outcome_recorder{streaming_response(endless(&unwound)), &outcome}};
    {
        auto stream = client.stream("GET", "/");
        CHECK(stream.status() == 200);
        const auto first = stream.next_chunk();
        REQUIRE(first.has_value());
        CHECK(first->starts_with("0\n1\n2\n"));
        const auto second = stream.next_chunk();
        REQUIRE(second.has_value());
        CHECK_FALSE(second->empty());
        CHECK(unwound == 0);
        stream.close();
        // The app ended: either its send saw the client gone (client_disconnected, which the
        // interface lets apps propagate) or the disconnect listener stopped the stream first.
        CHECK((outcome == "client_disconnected" || outcome == "returned"));
        // Regression: the generator's frame lived on (suspended at its co_yield) for as long as
        // the response object did, here as long as the client.
        CHECK(unwound == 1);
    }
    CHECK(unwound == 1);
}

TEST_CASE("destroying the stream of an endless generator also ends the app") {
    int unwound = 0;
    std::string outcome;
    test_client client{outcome_recorder{streaming_response(endless(&unwound)), &outcome}};
    {
        auto stream = client.stream("GET", "/");
        (void)stream.next_chunk();
    }
    CHECK((outcome == "client_disconnected" || outcome == "returned"));
    CHECK(unwound == 1);
}

TEST_CASE(
    "an endless generator that sleeps between chunks is read chunk by chunk, then "
    "cancelled by the disconnect") {
    int unwound = 0;
    bool cancelled = false;
    std::string outcome;
    test_client client{
        outcome_recorder{streaming_response(endless_ticks(1ms, &unwound, &cancelled)), &outcome}};
    auto stream = client.stream("GET", "/");
    CHECK(stream.next_chunk() == "0");
    CHECK(stream.next_chunk() == "1");
    CHECK(stream.next_chunk() == "2");
    stream.close();
    CHECK(cancelled);
    CHECK(outcome == "returned");
    CHECK(unwound == 1);
}

TEST_CASE("a disconnect cancels a generator sleeping between chunks") {
    int unwound = 0;
    bool cancelled = false;
    std::string outcome;
    test_client client{outcome_recorder{
        streaming_response(endless_ticks(std::chrono::hours(1), &unwound, &cancelled)), &outcome}};
    auto stream = client.stream("GET", "/");
    CHECK(stream.next_chunk() == "0");
    CHECK_FALSE(cancelled);
    stream.close();
    CHECK(cancelled);
    CHECK(unwound == 1);
    CHECK(outcome == "returned");
}

TEST_CASE("a generator's exception propagates to the test by default") {
    test_client client{streaming_response(failing_after("partial"))};
    CHECK_THROWS_WITH_AS(client.get("/"), "generator failed", std::runtime_error);
}

TEST_CASE("a generator's exception surfaces from the stream after the chunks before it") {
    test_client client{streaming_response(failing_after("partial"))};
    auto stream = client.stream("GET", "/");
    CHECK(stream.next_chunk() == "partial");
    CHECK_THROWS_WITH_AS((void)stream.next_chunk(), "generator failed", std::runtime_error);
}

TEST_CASE("without raising, a generator's exception leaves the started response truncated") {
    test_client client{streaming_response(failing_after("partial")),
                       client_options{.raise_server_exceptions = false}};
    const auto r = client.get("/");
    CHECK(r.status == 200);
    CHECK(r.content == "partial");
}

TEST_CASE("a streaming response can be sent only once, copies included") {
    const streaming_response resp(chunks_of({"only once"}));
    const response copy = resp;
    CHECK(copy.is_streaming());
    test_client client{resp};
    CHECK(client.get("/").content == "only once");
    CHECK_THROWS_AS(client.get("/"), std::logic_error);
    test_client other{copy};
    CHECK_THROWS_AS(other.get("/"), std::logic_error);
}

TEST_CASE("a streaming response with a declared content-length is sent with that length") {
    test_client client{streaming_response(chunks_of({"ab", "c"}), 200, {{"content-length", "3"}})};
    const auto r = client.get("/");
    CHECK(r.content == "abc");
    CHECK(r.headers.get_all("content-length") == std::vector<std::string_view>{"3"});
}

TEST_CASE("a streaming response shorter than its declared content-length is a protocol error") {
    test_client client{streaming_response(chunks_of({"ab"}), 200, {{"content-length", "5"}})};
    CHECK_THROWS_AS(client.get("/"), protocol_error);
}

TEST_CASE("a streaming response to HEAD sends the headers only") {
    test_client client{streaming_response(chunks_of({"body"}), 200, {}, "text/event-stream")};
    const auto r = client.head("/");
    CHECK(r.status == 200);
    CHECK(r.content.empty());
    CHECK(r.headers.get("content-type") == "text/event-stream; charset=utf-8");
}

TEST_CASE("background tasks of a streaming response run after the last chunk") {
    std::vector<std::string> log;
    streaming_response resp(chunks_of({"x"}));
    resp.add_background([&log] { return record(log, "background"); });
    test_client client{resp};
    auto stream = client.stream("GET", "/");
    CHECK(stream.read_all() == "x");
    stream.close();
    CHECK(log == std::vector<std::string>{"background"});
}

TEST_CASE("a streaming response refuses to answer a WebSocket handshake, saying why") {
    test_client client{streaming_response(chunks_of({"no"}))};
    CHECK_THROWS_WITH_AS((void)client.websocket_connect("/ws"),
                         doctest::Contains("cannot answer a WebSocket handshake"),
                         std::logic_error);
}
