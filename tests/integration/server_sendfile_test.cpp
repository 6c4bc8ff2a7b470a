// File bodies (http.response.pathsend) sent with sendfile over real sockets: large files
// under backpressure, ranges, HEAD, files that are missing or do not match the app's
// content-length, the content-length the server adds, and pipelined requests after a file.
#include <doctest/doctest.h>

#include <fstream>
#include <random>

#include <tessera/blocking.hpp>

#include "socket_client.hpp"

using namespace tessera;
using namespace itest;

namespace {

std::string random_bytes(std::size_t n, unsigned seed) {
    std::mt19937 generator(seed);
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>(generator() & 0xff);
    return out;
}

void write_file(const std::string& path, std::string_view bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    REQUIRE(out.good());
}

// Answers /echo with its path and anything else with the file, as the app describes it.
struct file_app {
    std::string path;
    std::uint64_t offset = 0;
    std::optional<std::uint64_t> length;
    std::optional<std::string> content_length;  // what the app declares, if anything
    bool pause_before_file = false;  // let the head go out before the file is sent

    task<void> operator()(scope& s, receive r, tessera::send sd) const {
        if (s.type != scope_type::http) co_return;
        if (s.path == "/echo") {
            co_await path_echo(s, r, sd);
            co_return;
        }
        tessera::headers fields{{"content-type", "application/octet-stream"}};
        if (content_length) fields.append("content-length", *content_length);
        co_await sd(http::response_start{200, std::move(fields)});
        if (pause_before_file) {
            // Suspending on the thread pool lets the loop write the head first (the loop runs
            // its deferred writes before it polls for the work's completion).
            auto nothing = [] {};
            co_await run_blocking(std::move(nothing));
        }
        co_await sd(http::response_file{path, offset, length});
    }
};

}  // namespace

TEST_CASE("a file larger than the write high-water mark arrives intact") {
    temp_dir dir;
    const std::string content = random_bytes(8 * 1024 * 1024 + 123, 1);
    write_file(dir.file("big.bin"), content);
    auto o = quiet();
    o.write_high_water = 64 * 1024;
    running_server s(file_app{.path = dir.file("big.bin"),
                              .content_length = std::to_string(content.size())},
                     o);
    // A small window: the server meets a full socket many times over.
    auto c = client::with_receive_buffer(s.port(), 64 * 1024, 20000ms);
    auto r = c.roundtrip(get("/big"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->complete);
    CHECK_FALSE(r->chunked);
    CHECK(r->header("content-length") == std::to_string(content.size()));
    CHECK(r->body.size() == content.size());
    CHECK(r->body == content);
    // The connection goes on.
    r = c.roundtrip(get("/echo"));
    REQUIRE(r);
    CHECK(r->body == "/echo");
}

TEST_CASE("a range of a file is sent: offset and length, or offset to the end") {
    temp_dir dir;
    const std::string content = random_bytes(100000, 2);
    write_file(dir.file("f"), content);
    SUBCASE("offset and length") {
        running_server s(file_app{.path = dir.file("f"), .offset = 1000, .length = 5000,
                                  .content_length = "5000"},
                         quiet());
        auto c = s.connect();
        auto r = c.roundtrip(get("/range"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body == content.substr(1000, 5000));
    }
    SUBCASE("offset to the end") {
        running_server s(file_app{.path = dir.file("f"), .offset = 99990,
                                  .content_length = "10"},
                         quiet());
        auto c = s.connect();
        auto r = c.roundtrip(get("/tail"));
        REQUIRE(r);
        CHECK(r->body == content.substr(99990));
    }
    SUBCASE("an empty range at the end") {
        running_server s(file_app{.path = dir.file("f"), .offset = 100000,
                                  .content_length = "0"},
                         quiet());
        auto c = s.connect();
        auto r = c.roundtrip(get("/empty"));
        REQUIRE(r);
        CHECK(r->status == 200);
        CHECK(r->body.empty());
        r = c.roundtrip(get("/echo"));
        REQUIRE(r);
        CHECK(r->body == "/echo");
    }
}

TEST_CASE("a HEAD request for a file gets the head only and the connection goes on") {
    temp_dir dir;
    write_file(dir.file("f"), "0123456789");
    running_server s(file_app{.path = dir.file("f"), .content_length = "10"}, quiet());
    auto c = s.connect();
    auto r = c.roundtrip("HEAD /f HTTP/1.1\r\nHost: t\r\n\r\n", true);
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->header("content-length") == "10");
    r = c.roundtrip(get("/echo"));  // no stray file bytes before this response
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->body == "/echo");
}

TEST_CASE("a missing file is answered 500 while the head has not gone out") {
    temp_dir dir;
    log_capture logs;
    auto o = quiet();
    o.sink = logs.sink();
    running_server s(file_app{.path = dir.file("missing"), .content_length = "10"}, o);
    auto c = s.connect();
    auto r = c.roundtrip(get("/missing"));
    REQUIRE(r);
    CHECK(r->status == 500);
    CHECK(c.buffer().find("HTTP/1.1 200") == std::string::npos);
    CHECK(c.wait_closed());
    const auto errors = logs.of("server");
    REQUIRE_FALSE(errors.empty());
    CHECK(errors.back().find("cannot open") != std::string::npos);
}

TEST_CASE("a missing file after the head went out ends the connection") {
    temp_dir dir;
    running_server s(file_app{.path = dir.file("missing"), .content_length = "10",
                              .pause_before_file = true},
                     quiet());
    auto c = s.connect();
    auto r = c.roundtrip(get("/missing"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK_FALSE(r->complete);  // the body never came; the connection ended instead
    CHECK(r->body.empty());
    CHECK(c.last_status() != read_status::timeout);
}

TEST_CASE("a file that does not match the app's content-length or range is answered 500") {
    temp_dir dir;
    write_file(dir.file("f"), "0123456789");
    SUBCASE("content-length too small") {
        running_server s(file_app{.path = dir.file("f"), .content_length = "5"}, quiet());
        auto c = s.connect();
        auto r = c.roundtrip(get("/f"));
        REQUIRE(r);
        CHECK(r->status == 500);
    }
    SUBCASE("content-length too large") {
        running_server s(file_app{.path = dir.file("f"), .content_length = "11"}, quiet());
        auto c = s.connect();
        auto r = c.roundtrip(get("/f"));
        REQUIRE(r);
        CHECK(r->status == 500);
    }
    SUBCASE("a range past the end of the file") {
        running_server s(file_app{.path = dir.file("f"), .offset = 4, .length = 7,
                                  .content_length = "7"},
                         quiet());
        auto c = s.connect();
        auto r = c.roundtrip(get("/f"));
        REQUIRE(r);
        CHECK(r->status == 500);
    }
    SUBCASE("a directory") {
        running_server s(file_app{.path = dir.path}, quiet());
        auto c = s.connect();
        auto r = c.roundtrip(get("/dir"));
        REQUIRE(r);
        CHECK(r->status == 500);
    }
}

TEST_CASE("without a content-length the server gives the file's") {
    temp_dir dir;
    const std::string content = random_bytes(300000, 3);
    write_file(dir.file("f"), content);
    running_server s(file_app{.path = dir.file("f"), .offset = 100}, quiet());
    auto c = s.connect();
    auto r = c.roundtrip(get("/f"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK_FALSE(r->chunked);
    CHECK_FALSE(r->header("transfer-encoding"));
    CHECK(r->header("content-length") == std::to_string(content.size() - 100));
    CHECK(r->body == content.substr(100));
}

TEST_CASE("without a content-length and the head already out the file is one chunk") {
    temp_dir dir;
    const std::string content = random_bytes(300000, 4);
    write_file(dir.file("f"), content);
    running_server s(file_app{.path = dir.file("f"), .pause_before_file = true}, quiet());
    auto c = s.connect();
    auto r = c.roundtrip(get("/f"));
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->chunked);
    CHECK(r->complete);
    CHECK(r->body == content);
    r = c.roundtrip(get("/echo"));
    REQUIRE(r);
    CHECK(r->body == "/echo");
}

TEST_CASE("an empty file after the head went out ends its chunked body") {
    // Regression: a chunked response whose file had no bytes never got its last chunk.
    temp_dir dir;
    write_file(dir.file("empty"), "");
    running_server s(file_app{.path = dir.file("empty"), .pause_before_file = true}, quiet());
    auto c = s.connect();
    auto r = c.roundtrip(get("/empty"));
    REQUIRE(r);
    CHECK(r->chunked);
    CHECK(r->complete);
    CHECK(r->body.empty());
    r = c.roundtrip(get("/echo"));
    REQUIRE(r);
    CHECK(r->body == "/echo");
}

TEST_CASE("requests pipelined after a file response are answered after the whole file") {
    temp_dir dir;
    const std::string content = random_bytes(2 * 1024 * 1024, 5);
    write_file(dir.file("f"), content);
    auto o = quiet();
    o.write_high_water = 64 * 1024;
    running_server s(file_app{.path = dir.file("f"),
                              .content_length = std::to_string(content.size())},
                     o);
    auto c = s.connect(20000ms);
    REQUIRE(c.send(get("/echo") + get("/f") + get("/echo") + get("/f") + get("/echo")));
    for (int i = 0; i < 5; ++i) {
        auto r = c.read_response();
        REQUIRE(r);
        CHECK(r->status == 200);
        if (i % 2 == 0) {
            CHECK(r->body == "/echo");
        } else {
            CHECK(r->body.size() == content.size());
            CHECK(r->body == content);
        }
    }
}

TEST_CASE("an HTTP/1.0 request for a file without a content-length gets it close-delimited") {
    temp_dir dir;
    write_file(dir.file("f"), "hello file");
    running_server s(file_app{.path = dir.file("f"), .pause_before_file = true}, quiet());
    auto c = s.connect();
    auto r = c.roundtrip("GET /f HTTP/1.0\r\n\r\n");
    REQUIRE(r);
    CHECK(r->status == 200);
    CHECK(r->complete);
    CHECK(r->body == "hello file");
}

namespace {
// Sends the file and records how its send ended: 1 sent, 2 client gone.
struct watched_file_app {
    std::string path;
    std::atomic<int>* outcome;
    task<void> operator()(scope& s, receive, tessera::send sd) const {
        if (s.type != scope_type::http) co_return;
        co_await sd(http::response_start{200});
        try {
            co_await sd(http::response_file{path});
            *outcome = 1;
        } catch (const client_disconnected&) {
            *outcome = 2;
            throw;
        }
    }
};
}  // namespace

TEST_CASE("a client that stops reading a file is dropped after write_timeout") {
    temp_dir dir;
    write_file(dir.file("f"), random_bytes(32 * 1024 * 1024, 6));
    std::atomic<int> outcome{0};
    auto o = quiet();
    o.write_timeout = 200ms;
    running_server s(watched_file_app{dir.file("f"), &outcome}, o);
    auto c = client::with_receive_buffer(s.port(), 64 * 1024);
    REQUIRE(c.send(get("/f")));
    // The client reads nothing: the socket fills, the server waits for room, and gives up.
    REQUIRE(eventually([&] { return outcome.load() != 0; }));
    CHECK(outcome == 2);
}

TEST_CASE("a client that leaves in the middle of a file ends its transfer") {
    temp_dir dir;
    write_file(dir.file("f"), random_bytes(32 * 1024 * 1024, 7));
    std::atomic<int> outcome{0};
    running_server s(watched_file_app{dir.file("f"), &outcome}, quiet());
    {
        auto c = client::with_receive_buffer(s.port(), 64 * 1024);
        REQUIRE(c.send(get("/f")));
        REQUIRE(c.read_some() == read_status::ok);  // the transfer is under way
        c.reset();
    }
    REQUIRE(eventually([&] { return outcome.load() != 0; }));
    CHECK(outcome == 2);
    // The server goes on serving.
    auto other = s.connect();
    CHECK(other.send(get("/f")));
    CHECK(other.read_some() == read_status::ok);
}
