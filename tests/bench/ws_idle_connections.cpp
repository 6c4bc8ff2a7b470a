// Opens many idle WebSocket connections for scripts/bench-server's memory-per-WebSocket
// measurement.
//
//   ws_idle_connections [--host 127.0.0.1] --port N [--connections 10000] [--path /ws]
//                       [--timeout 60]
//
// Each connection sends a WebSocket upgrade request for PATH (the RFC 6455 sample key) and reads
// the 101 response, checking its Sec-WebSocket-Accept; from then on it is an open, idle
// WebSocket. At most 256 are being set up at once. When all are open it prints `ready` on
// stdout and holds them until a line or EOF arrives on stdin (or the timeout passes), then
// closes them with a reset (no TIME_WAIT left behind) and reports on stderr how many the server
// closed while they were held. Setting up and holding are each bounded by `timeout` seconds. A
// refused handshake (any answer but a correct 101) exits with status 3, any other failed setup
// with status 1. The soft RLIMIT_NOFILE is raised to the hard limit.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::string_view_literals;
using clock_type = std::chrono::steady_clock;

constexpr std::string_view sample_key = "dGhlIHNhbXBsZSBub25jZQ=="sv;       // RFC 6455 §1.3
constexpr std::string_view sample_accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="sv;  // its answer

enum class phase : std::uint8_t { connecting, reading, idle, closed };

struct connection {
    int fd = -1;
    phase state = phase::connecting;
    std::size_t sent = 0;
    std::string received;
};

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: ws_idle_connections [--host H] --port N [--connections K]"
                         " [--path P] [--timeout SECONDS]\n");
    std::exit(2);
}

/// The value of header `name` (lower case, with the colon) in a response head, trimmed.
std::string_view header_value(std::string_view head, std::string_view name) {
    for (std::size_t i = head.find("\r\n"sv); i != std::string_view::npos;
         i = head.find("\r\n"sv, i + 2)) {
        const std::size_t start = i + 2;
        if (head.size() - start < name.size()) break;
        bool match = true;
        for (std::size_t k = 0; k < name.size() && match; ++k) {
            char c = head[start + k];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            match = c == name[k];
        }
        if (!match) continue;
        std::size_t p = start + name.size(), end = head.find("\r\n"sv, p);
        if (end == std::string_view::npos) end = head.size();
        while (p < end && (head[p] == ' ' || head[p] == '\t')) ++p;
        while (end > p && (head[end - 1] == ' ' || head[end - 1] == '\t')) --end;
        return head.substr(p, end - p);
    }
    return {};
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", path = "/ws";
    int port = -1;
    std::size_t count = 10000;
    double timeout = 60;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) usage();
        const char* value = argv[++i];
        if (arg == "--host") host = value;
        else if (arg == "--port") port = std::atoi(value);
        else if (arg == "--connections") count = std::strtoul(value, nullptr, 10);
        else if (arg == "--path") path = value;
        else if (arg == "--timeout") timeout = std::atof(value);
        else usage();
    }
    if (port <= 0 || port > 65535 || count == 0 || timeout <= 0) usage();
    signal(SIGPIPE, SIG_IGN);

    rlimit limit{};
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < count + 64 && limit.rlim_max < count + 64) {
        limit.rlim_max = count + 64;  // works when privileged
        if (setrlimit(RLIMIT_NOFILE, &limit) != 0) getrlimit(RLIMIT_NOFILE, &limit);
    }
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
    getrlimit(RLIMIT_NOFILE, &limit);
    if (limit.rlim_cur < count + 16) {
        std::fprintf(stderr, "ws_idle_connections: open-file limit %llu is too low for %zu\n",
                     static_cast<unsigned long long>(limit.rlim_cur), count);
        return 1;
    }

    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &target.sin_addr) != 1) usage();
    const std::string request =
        "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
        "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " +
        std::string(sample_key) + "\r\nSec-WebSocket-Version: 13\r\n\r\n";

    const auto timeout_span = std::chrono::duration_cast<clock_type::duration>(
        std::chrono::duration<double>(timeout));
    const auto start = clock_type::now();
    const auto deadline = start + timeout_span;
    const int epfd = epoll_create1(EPOLL_CLOEXEC);
    std::vector<connection> conns(count);
    std::size_t opened = 0, idle = 0, busy = 0;
    constexpr std::size_t max_busy = 256;
    std::vector<epoll_event> events(512);
    std::vector<char> buffer(16 * 1024);

    auto fail = [&](std::size_t index, const char* what, int err) {
        std::fprintf(stderr, "ws_idle_connections: connection %zu: %s: %s (%zu idle so far)\n",
                     index, what, std::strerror(err), idle);
        std::exit(1);
    };
    auto refused = [&](std::size_t index, const char* why) {
        std::fprintf(stderr, "ws_idle_connections: connection %zu: handshake failed at %s: %s"
                             " (%zu open so far)\n", index, path.c_str(), why, idle);
        std::exit(3);
    };

    while (idle < count) {
        while (busy < max_busy && opened < count) {
            connection& c = conns[opened];
            c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
            if (c.fd < 0) fail(opened, "socket", errno);
            if (connect(c.fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0 &&
                errno != EINPROGRESS)
                fail(opened, "connect", errno);
            epoll_event ev{};
            ev.events = EPOLLOUT;
            ev.data.u64 = opened;
            epoll_ctl(epfd, EPOLL_CTL_ADD, c.fd, &ev);
            ++opened;
            ++busy;
        }
        const auto now = clock_type::now();
        if (now >= deadline) {
            std::fprintf(stderr, "ws_idle_connections: timed out with %zu of %zu idle\n", idle,
                         count);
            return 1;
        }
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
        const int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(left));
        if (n < 0 && errno != EINTR) fail(0, "epoll_wait", errno);
        for (int i = 0; i < n; ++i) {
            const auto index = static_cast<std::size_t>(events[static_cast<std::size_t>(i)].data.u64);
            connection& c = conns[index];
            if (c.state == phase::connecting) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) fail(index, "connect", err);
                const ssize_t w = send(c.fd, request.data() + c.sent, request.size() - c.sent,
                                       MSG_NOSIGNAL);
                if (w < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue;
                    fail(index, "send", errno);
                }
                c.sent += static_cast<std::size_t>(w);
                if (c.sent < request.size()) continue;
                c.state = phase::reading;
                epoll_event ev{};
                ev.events = EPOLLIN;
                ev.data.u64 = index;
                epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
            } else if (c.state == phase::reading) {
                const ssize_t r = recv(c.fd, buffer.data(), buffer.size(), 0);
                if (r < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue;
                    fail(index, "recv", errno);
                }
                if (r == 0) refused(index, "the server closed the connection");
                c.received.append(buffer.data(), static_cast<std::size_t>(r));
                const std::size_t end = c.received.find("\r\n\r\n"sv);
                if (end == std::string::npos) continue;
                const std::string_view head(c.received.data(), end + 4);
                if (!head.starts_with("HTTP/1.1 101"sv)) {
                    const std::string status = "the server answered `" +
                        std::string(head.substr(0, head.find("\r\n"sv))) + "`";
                    refused(index, status.c_str());
                }
                if (header_value(head, "sec-websocket-accept:"sv) != sample_accept)
                    refused(index, "wrong Sec-WebSocket-Accept");
                std::string().swap(c.received);
                c.state = phase::idle;
                --busy;
                ++idle;
                // Held from now on; only a close by the server is of interest.
                epoll_event ev{};
                ev.events = EPOLLRDHUP;
                ev.data.u64 = index;
                epoll_ctl(epfd, EPOLL_CTL_MOD, c.fd, &ev);
            }
        }
    }
    const double setup_seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    std::printf("ready\n");
    std::fflush(stdout);
    std::fprintf(stderr, "ws_idle_connections: %zu idle WebSockets open in %.2f s\n", count,
                 setup_seconds);

    // Hold until stdin has a line or EOF, or the timeout passes.
    const auto hold_deadline = clock_type::now() + timeout_span;
    for (;;) {
        const auto now = clock_type::now();
        if (now >= hold_deadline) break;
        pollfd in{0, POLLIN, 0};
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(hold_deadline - now).count() + 1;
        const int r = poll(&in, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        if (r != 0) break;  // a line, EOF, or an error: stop holding either way
    }

    // Count the connections the server closed while they were held.
    std::size_t closed_by_server = 0;
    for (;;) {
        const int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), 0);
        if (n <= 0) break;
        for (int i = 0; i < n; ++i) {
            connection& c = conns[static_cast<std::size_t>(events[static_cast<std::size_t>(i)].data.u64)];
            if (c.state == phase::closed) continue;
            c.state = phase::closed;
            ++closed_by_server;
            epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nullptr);
        }
    }
    const linger reset{1, 0};
    for (connection& c : conns) {
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        close(c.fd);
    }
    std::fprintf(stderr, "ws_idle_connections: %zu of %zu closed by the server while held\n",
                 closed_by_server, count);
    return 0;
}
