// The server on a Unix socket: served like TCP (keep-alive, pipelining) with no client or
// server address in the scope, the socket file's life (a stale one replaced, a live one or a
// regular file refused, removed at stop, its mode), and the options it rules out.
#include <doctest/doctest.h>

#include <sys/stat.h>
#include <sys/un.h>

#include <filesystem>
#include <fstream>

#include "socket_client.hpp"

using namespace tessera;
using namespace itest;

namespace {

// Answers with what the scope says about the connection.
task<void> describe(scope& s, receive r, tessera::send sd) {
    if (s.type != scope_type::http) co_return;
    const std::string text = (s.client ? s.client->to_string() : std::string("no client")) + "|" +
                             (s.server ? s.server->to_string() : std::string("no server")) + "|" +
                             s.scheme + "|" + s.path;
    const plain_text_response answer(text);
    co_await answer(s, r, sd);
}

server_options on_socket(const std::string& path) {
    auto o = quiet();
    o.unix_socket = path;
    return o;
}

bool is_socket(const std::string& path) {
    struct stat info {};
    return ::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode);
}

// A socket file nobody listens on, as a crashed server leaves behind.
void leave_stale_socket(const std::string& path) {
    const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(fd >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    ::close(fd);
    REQUIRE(is_socket(path));
}

}  // namespace

TEST_CASE("a Unix socket serves requests with neither client nor server address") {
    temp_dir dir;
    const auto path = dir.file("s.sock");
    server srv(describe, on_socket(path));
    srv.start();
    CHECK(srv.port() == 0);
    REQUIRE(is_socket(path));
    {
        auto c = client::unix_socket(path);
        for (int i = 0; i < 3; ++i) {
            auto r = c.roundtrip(get("/u" + std::to_string(i)));
            REQUIRE(r);
            CHECK(r->status == 200);
            CHECK(r->body == "no client|no server|http|/u" + std::to_string(i));
        }
        // Pipelined requests come back in order.
        REQUIRE(c.send(get("/a") + get("/b")));
        auto a = c.read_response();
        auto b = c.read_response();
        REQUIRE(a);
        REQUIRE(b);
        CHECK(a->body.ends_with("/a"));
        CHECK(b->body.ends_with("/b"));
    }
    srv.stop();
    CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("the Unix socket file gets unix_socket_mode whatever the umask") {
    temp_dir dir;
    const auto path = dir.file("m.sock");
    SUBCASE("the default: owner and group") {
        const mode_t previous = ::umask(0);
        server srv(path_echo, on_socket(path));
        srv.start();
        ::umask(previous);
        struct stat info {};
        REQUIRE(::stat(path.c_str(), &info) == 0);
        CHECK((info.st_mode & 07777) == 0660);
    }
    SUBCASE("an explicit mode") {
        auto o = on_socket(path);
        o.unix_socket_mode = 0600;
        server srv(path_echo, o);
        srv.start();
        struct stat info {};
        REQUIRE(::stat(path.c_str(), &info) == 0);
        CHECK((info.st_mode & 07777) == 0600);
    }
}

TEST_CASE("a stale socket file is replaced; a live one or a regular file is refused") {
    temp_dir dir;
    const auto path = dir.file("x.sock");
    SUBCASE("stale") {
        leave_stale_socket(path);
        server srv(path_echo, on_socket(path));
        srv.start();
        auto c = client::unix_socket(path);
        auto r = c.roundtrip(get("/fresh"));
        REQUIRE(r);
        CHECK(r->body == "/fresh");
    }
    SUBCASE("live") {
        server first(path_echo, on_socket(path));
        first.start();
        server second(path_echo, on_socket(path));
        CHECK_THROWS_AS(second.start(), std::system_error);
        // The first server is untouched and keeps its socket.
        auto c = client::unix_socket(path);
        auto r = c.roundtrip(get("/first"));
        REQUIRE(r);
        CHECK(r->body == "/first");
    }
    SUBCASE("a regular file") {
        { std::ofstream(path) << "precious"; }
        server srv(path_echo, on_socket(path));
        CHECK_THROWS_AS(srv.start(), std::system_error);
        std::ifstream in(path);
        std::string text;
        in >> text;
        CHECK(text == "precious");
    }
}

TEST_CASE("stopping removes only the socket the server created") {
    temp_dir dir;
    const auto path = dir.file("r.sock");
    server srv(path_echo, on_socket(path));
    srv.start();
    // Someone replaced the file meanwhile (say, a new server after a deploy): it stays.
    REQUIRE(std::filesystem::remove(path));
    leave_stale_socket(path);
    srv.stop();
    CHECK(is_socket(path));
}

TEST_CASE("Unix socket options that cannot work are refused up front") {
    auto o = on_socket("/tmp/tessera-never.sock");
    o.workers = 2;
    CHECK_THROWS_AS(server(path_echo, o), std::invalid_argument);
    auto long_path = on_socket("/tmp/" + std::string(120, 'x'));
    CHECK_THROWS_AS(server(path_echo, long_path), std::invalid_argument);
    auto bad_mode = on_socket("/tmp/tessera-never.sock");
    bad_mode.unix_socket_mode = 0170000;
    CHECK_THROWS_AS(server(path_echo, bad_mode), std::invalid_argument);
}

TEST_CASE("proxy headers over a Unix socket are applied only when everyone is trusted") {
    temp_dir dir;
    const auto path = dir.file("p.sock");
    const std::string proxied =
        get("/p", "X-Forwarded-For: 203.0.113.7\r\nX-Forwarded-Proto: https\r\n");
    SUBCASE("the default trust list has no address to match") {
        server srv(describe, on_socket(path));
        srv.start();
        auto c = client::unix_socket(path);
        auto r = c.roundtrip(proxied);
        REQUIRE(r);
        CHECK(r->body == "no client|no server|http|/p");
    }
    SUBCASE("\"*\" trusts the peer") {
        auto o = on_socket(path);
        o.forwarded_allow_ips = {"*"};
        server srv(describe, o);
        srv.start();
        auto c = client::unix_socket(path);
        auto r = c.roundtrip(proxied);
        REQUIRE(r);
        CHECK(r->body == "203.0.113.7:0|no server|https|/p");
    }
}
