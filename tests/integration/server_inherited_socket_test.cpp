// The server on a socket it inherits (`server_options::fd`, uvicorn's `--fd`, as systemd socket
// activation hands over): TCP with several workers, bound but not yet listening, Unix, the
// descriptor left to its owner, and the sockets that cannot be served.
#include <doctest/doctest.h>

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <utility>

#include "socket_client.hpp"

using namespace tessera;
using namespace itest;

namespace {

// Answers "<server address or none> <path>".
task<void> where(scope& s, receive r, tessera::send sd) {
    if (s.type != scope_type::http) co_return;
    const plain_text_response answer((s.server ? s.server->to_string() : "none") + " " + s.path);
    co_await answer(s, r, sd);
}

// A descriptor the test owns, closed at the end of the scope.
struct owned_fd {
    int fd;
    explicit owned_fd(int descriptor) : fd(descriptor) { REQUIRE(fd >= 0); }
    owned_fd(owned_fd&& other) noexcept : fd(std::exchange(other.fd, -1)) {}
    owned_fd& operator=(owned_fd&&) = delete;
    ~owned_fd() {
        if (fd >= 0) ::close(fd);
    }
};

// A TCP socket bound to a free port on 127.0.0.1, listening unless told otherwise.
owned_fd tcp_socket(bool listening = true) {
    owned_fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::bind(s.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    if (listening) REQUIRE(::listen(s.fd, 64) == 0);
    return s;
}

std::uint16_t port_of(int fd) {
    sockaddr_in address{};
    socklen_t length = sizeof address;
    REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0);
    return ntohs(address.sin_port);
}

server_options on_fd(int fd) {
    auto o = quiet();
    o.fd = fd;
    return o;
}

}  // namespace

TEST_CASE("an inherited TCP socket is served by every worker and stays open for its owner") {
    const owned_fd listener = tcp_socket();
    const std::uint16_t port = port_of(listener.fd);
    const std::string address = "127.0.0.1:" + std::to_string(port);
    auto options = on_fd(listener.fd);
    options.workers = 2;
    {
        server srv(where, options);
        srv.start();
        CHECK(srv.port() == port);
        for (int i = 0; i < 8; ++i) {
            client c(port);
            const auto r = c.roundtrip(get("/" + std::to_string(i)));
            REQUIRE(r);
            CHECK(r->status == 200);
            CHECK(r->body == address + " /" + std::to_string(i));
        }
        srv.stop();
    }
    // The server closed only its duplicates: the descriptor is still the owner's, still
    // listening, and a new server (a restart) serves on it.
    CHECK(::fcntl(listener.fd, F_GETFD) != -1);
    server again(where, on_fd(listener.fd));
    again.start();
    client c(port);
    const auto r = c.roundtrip(get("/again"));
    REQUIRE(r);
    CHECK(r->body == address + " /again");
}

TEST_CASE("an inherited socket that is bound but not yet listening is served") {
    const owned_fd bound = tcp_socket(false);
    server srv(where, on_fd(bound.fd));
    srv.start();
    client c(port_of(bound.fd));
    const auto r = c.roundtrip(get("/bound"));
    REQUIRE(r);
    CHECK(r->body.ends_with(" /bound"));
}

TEST_CASE("an inherited Unix socket is served without addresses, and its file is left alone") {
    temp_dir dir;
    const auto path = dir.file("inherited.sock");
    const owned_fd listener(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
    REQUIRE(::bind(listener.fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
    REQUIRE(::listen(listener.fd, 16) == 0);
    {
        auto options = on_fd(listener.fd);
        options.workers = 2;  // one socket shared by both loops, as for TCP
        server srv(where, options);
        srv.start();
        CHECK(srv.port() == 0);
        for (int i = 0; i < 4; ++i) {
            auto c = client::unix_socket(path);
            const auto r = c.roundtrip(get("/u"));
            REQUIRE(r);
            CHECK(r->body == "none /u");
        }
        srv.stop();
    }
    // The socket file belongs to whoever made it (systemd removes its own).
    CHECK(std::filesystem::exists(path));
}

TEST_CASE("an fd that cannot be served is refused by the constructor") {
    temp_dir dir;
    SUBCASE("a regular file") {
        const auto path = dir.file("plain.txt");
        std::ofstream(path) << "not a socket";
        const owned_fd file(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        CHECK_THROWS_AS(server(where, on_fd(file.fd)), std::invalid_argument);
    }
    SUBCASE("a datagram socket") {
        const owned_fd udp(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
        CHECK_THROWS_AS(server(where, on_fd(udp.fd)), std::invalid_argument);
    }
    SUBCASE("a closed descriptor") {
        const int number = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
        REQUIRE(number >= 0);
        ::close(number);
        CHECK_THROWS_AS(server(where, on_fd(number)), std::invalid_argument);
    }
    SUBCASE("fd together with unix_socket") {
        const owned_fd listener = tcp_socket();
        auto options = on_fd(listener.fd);
        options.unix_socket = dir.file("both.sock");
        CHECK_THROWS_AS(server(where, options), std::invalid_argument);
    }
    SUBCASE("a Unix socket with TLS") {
        const owned_fd unix_socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        auto options = on_fd(unix_socket.fd);
        options.tls.certificate_file = dir.file("never-read.pem");
        CHECK_THROWS_AS(server(where, options), std::invalid_argument);
    }
}
