// A closed-loop WebSocket echo load generator for scripts/bench-server: one thread, epoll.
//
//   ws_load [--host 127.0.0.1] --port N [--connections 64] [--duration 10] [--path /ws]
//           [--size 32] [--timeout 10]
//
// Every connection first opens a WebSocket at `path` (the RFC 6455 sample key, so the
// Sec-WebSocket-Accept it must get back is a known constant and no SHA-1 is needed here); all
// handshakes must finish within `timeout` seconds. Then, at once on every connection, a closed
// loop for `duration` seconds: send one masked text message of `size` bytes, wait for its echo
// (an unmasked text frame with the same payload), send the next. It prints one line:
//
//   round_trips=N seconds=S rps=R p50_us=A p99_us=B errors=E
//
// `rps` is round trips per second over all connections; latency is per round trip, from the
// write of the message to the read that completed its echo. `errors` counts echoes that did not
// match (the first is shown on stderr) and connections the server closed; either connection is
// dropped, not reopened. Exit status: 0 after a run with round trips, 3 when a handshake was
// refused (the reason is on stderr: the server has no WebSocket route there), 1 on any other
// failure.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

enum class phase : std::uint8_t { connecting, handshaking, open, closed };

struct connection {
    int fd = -1;
    phase state = phase::connecting;
    std::size_t sent = 0;              ///< bytes of the current write already sent
    std::string received;              ///< the response head, then a split echo
    clock_type::time_point started{};  ///< when the message in flight was written
};

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: ws_load [--host H] --port N [--connections C] [--duration S]"
                         " [--path P] [--size BYTES] [--timeout S]\n");
    std::exit(2);
}

[[noreturn]] void die(int status, const char* format, std::size_t index, const char* detail) {
    std::fprintf(stderr, "ws_load: connection %zu: ", index);
    std::fprintf(stderr, format, detail);
    std::fputc('\n', stderr);
    std::exit(status);
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

/// The size of the server frame starting `data` (header and payload), or the size of `data`
/// plus one while its header is incomplete.
std::size_t frame_size(std::string_view data) {
    if (data.size() < 2) return data.size() + 1;
    const auto* p = reinterpret_cast<const unsigned char*>(data.data());
    const std::size_t size = p[1] & 0x7f;
    if (size < 126) return 2 + size;
    if (size == 126)
        return data.size() < 4 ? data.size() + 1 : 4 + ((std::size_t{p[2]} << 8) | p[3]);
    if (data.size() < 10) return data.size() + 1;
    std::uint64_t v = 0;
    for (int k = 2; k < 10; ++k) v = (v << 8) | p[k];
    return static_cast<std::size_t>(std::min<std::uint64_t>(v, 1u << 30)) + 10;
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1", path = "/ws";
    int port = -1;
    std::size_t count = 64, size = 32;
    double duration = 10, timeout = 10;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) usage();
        const char* value = argv[++i];
        if (arg == "--host") host = value;
        else if (arg == "--port") port = std::atoi(value);
        else if (arg == "--connections") count = std::strtoul(value, nullptr, 10);
        else if (arg == "--duration") duration = std::atof(value);
        else if (arg == "--path") path = value;
        else if (arg == "--size") size = std::strtoul(value, nullptr, 10);
        else if (arg == "--timeout") timeout = std::atof(value);
        else usage();
    }
    if (port <= 0 || port > 65535 || count == 0 || duration <= 0 || timeout <= 0 ||
        size > 65535)
        usage();
    signal(SIGPIPE, SIG_IGN);
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }

    sockaddr_in target{};
    target.sin_family = AF_INET;
    target.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &target.sin_addr) != 1) usage();
    const std::string request = "GET " + path + " HTTP/1.1\r\nHost: " + host + ":" +
                                std::to_string(port) +
                                "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                                "Sec-WebSocket-Key: " + std::string(sample_key) +
                                "\r\nSec-WebSocket-Version: 13\r\n\r\n";

    // The message, masked once: every send is the same bytes (the server unmasks it all the
    // same), and the echo it must get back.
    std::string payload(size, 'x');
    for (std::size_t i = 0; i < size; ++i) payload[i] = static_cast<char>('a' + i % 26);
    const unsigned char mask[4] = {0x37, 0xfa, 0x21, 0x3d};
    std::string message, echo;
    message += '\x81';
    echo += '\x81';
    if (size < 126) {
        message += static_cast<char>(0x80 | size);
        echo += static_cast<char>(size);
    } else {
        message += static_cast<char>(0x80 | 126);
        echo += static_cast<char>(126);
        for (std::string* s : {&message, &echo}) {
            *s += static_cast<char>(size >> 8);
            *s += static_cast<char>(size & 0xff);
        }
    }
    message.append(reinterpret_cast<const char*>(mask), 4);
    for (std::size_t i = 0; i < size; ++i)
        message += static_cast<char>(payload[i] ^ static_cast<char>(mask[i % 4]));
    echo += payload;

    const int epfd = epoll_create1(EPOLL_CLOEXEC);
    std::vector<connection> conns(count);
    std::vector<epoll_event> events(1024);
    std::vector<char> buffer(64 * 1024);
    auto watch = [&](std::size_t index, std::uint32_t what, int op) {
        epoll_event ev{};
        ev.events = what;
        ev.data.u64 = index;
        epoll_ctl(epfd, op, conns[index].fd, &ev);
    };
    auto wait_ms = [](clock_type::time_point until) {
        const auto left = until - clock_type::now();
        if (left <= clock_type::duration::zero()) return -1L;
        return static_cast<long>(
            std::chrono::duration_cast<std::chrono::milliseconds>(left).count() + 1);
    };

    // --- the handshakes ------------------------------------------------------------------------
    for (std::size_t i = 0; i < count; ++i) {
        connection& c = conns[i];
        c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (c.fd < 0) die(1, "socket: %s", i, std::strerror(errno));
        const int one = 1;
        setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(c.fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0 &&
            errno != EINPROGRESS)
            die(1, "connect: %s", i, std::strerror(errno));
        watch(i, EPOLLOUT, EPOLL_CTL_ADD);
    }
    const auto handshake_deadline =
        clock_type::now() + std::chrono::duration_cast<clock_type::duration>(
                                std::chrono::duration<double>(timeout));
    std::size_t open = 0;
    while (open < count) {
        const long ms = wait_ms(handshake_deadline);
        if (ms < 0) {
            std::fprintf(stderr, "ws_load: handshake timed out with %zu of %zu connections open"
                                 " (no answer to the upgrade at %s)\n", open, count, path.c_str());
            return 1;
        }
        const int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(ms));
        if (n < 0 && errno != EINTR) die(1, "epoll_wait: %s", 0, std::strerror(errno));
        for (int e = 0; e < n; ++e) {
            const auto index = static_cast<std::size_t>(events[static_cast<std::size_t>(e)].data.u64);
            connection& c = conns[index];
            if (c.state == phase::connecting) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) die(1, "connect: %s", index, std::strerror(err));
                const ssize_t w = send(c.fd, request.data() + c.sent, request.size() - c.sent,
                                       MSG_NOSIGNAL);
                if (w < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue;
                    die(1, "send: %s", index, std::strerror(errno));
                }
                c.sent += static_cast<std::size_t>(w);
                if (c.sent < request.size()) continue;
                c.state = phase::handshaking;
                watch(index, EPOLLIN, EPOLL_CTL_MOD);
            } else if (c.state == phase::handshaking) {
                const ssize_t r = recv(c.fd, buffer.data(), buffer.size(), 0);
                if (r < 0) {
                    if (errno == EAGAIN || errno == EINTR) continue;
                    die(3, "handshake failed: %s", index, std::strerror(errno));
                }
                if (r == 0)
                    die(3, "handshake failed: the server closed the connection at %s", index,
                        path.c_str());
                c.received.append(buffer.data(), static_cast<std::size_t>(r));
                const std::size_t end = c.received.find("\r\n\r\n"sv);
                if (end == std::string::npos) continue;
                const std::string_view head(c.received.data(), end + 4);
                if (!head.starts_with("HTTP/1.1 101"sv)) {
                    const std::string status(head.substr(0, head.find("\r\n"sv)));
                    die(3, "handshake failed: the server answered `%s`", index, status.c_str());
                }
                if (header_value(head, "sec-websocket-accept:"sv) != sample_accept)
                    die(3, "handshake failed: %s", index, "wrong Sec-WebSocket-Accept");
                if (c.received.size() > end + 4)
                    die(1, "%s", index, "unexpected bytes after the 101 response");
                std::string().swap(c.received);
                c.state = phase::open;
                ++open;
            }
        }
    }

    // --- the closed loop -----------------------------------------------------------------------
    std::vector<std::uint32_t> latencies_us;
    latencies_us.reserve(1 << 22);
    std::uint64_t round_trips = 0, errors = 0;
    std::size_t alive = count;
    auto drop = [&](std::size_t index) {
        connection& c = conns[index];
        epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
        c.state = phase::closed;
        ++errors;
        --alive;
    };
    // A 38-byte write always fits an empty socket buffer; a short one is a failure here.
    auto send_message = [&](std::size_t index) {
        connection& c = conns[index];
        c.started = clock_type::now();
        const ssize_t w = send(c.fd, message.data(), message.size(), MSG_NOSIGNAL);
        if (w != static_cast<ssize_t>(message.size())) drop(index);
    };
    const auto start = clock_type::now();
    const auto deadline = start + std::chrono::duration_cast<clock_type::duration>(
                                      std::chrono::duration<double>(duration));
    for (std::size_t i = 0; i < count; ++i) send_message(i);
    while (alive > 0) {
        const long ms = wait_ms(deadline);
        if (ms < 0) break;
        const int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(ms));
        if (n < 0) {
            if (errno == EINTR) continue;
            die(1, "epoll_wait: %s", 0, std::strerror(errno));
        }
        const auto now = clock_type::now();
        for (int e = 0; e < n; ++e) {
            const auto index = static_cast<std::size_t>(events[static_cast<std::size_t>(e)].data.u64);
            connection& c = conns[index];
            if (c.state != phase::open) continue;
            ssize_t r;
            do r = recv(c.fd, buffer.data(), buffer.size(), 0);
            while (r < 0 && errno == EINTR);
            if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) continue;
            if (r <= 0) {
                drop(index);
                continue;
            }
            std::string_view got(buffer.data(), static_cast<std::size_t>(r));
            if (!c.received.empty()) {
                c.received.append(got);
                got = c.received;
            }
            if (got.size() < std::min(frame_size(got), echo.size())) {
                if (c.received.empty()) c.received.assign(got);
                continue;
            }
            // One message is in flight, so anything more than its echo is a protocol error.
            if (got != echo) {
                if (errors == 0) {  // say once what came back: the likeliest cause of a 0 result
                    std::string shown;
                    for (const char ch : got.substr(0, 48)) {
                        char hex[5];
                        std::snprintf(hex, sizeof hex, "%02x ", static_cast<unsigned char>(ch));
                        shown += hex;
                    }
                    std::fprintf(stderr, "ws_load: connection %zu: expected the %zu-byte echo"
                                         " frame, got %zu bytes: %s\n",
                                 index, echo.size(), got.size(), shown.c_str());
                }
                drop(index);
                continue;
            }
            if (!c.received.empty()) std::string().swap(c.received);
            ++round_trips;
            latencies_us.push_back(static_cast<std::uint32_t>(std::max<std::int64_t>(
                std::chrono::duration_cast<std::chrono::microseconds>(now - c.started).count(),
                0)));
            send_message(index);
        }
    }
    const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    const linger reset{1, 0};
    for (const connection& c : conns) {
        if (c.state == phase::closed) continue;
        setsockopt(c.fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
        close(c.fd);
    }

    std::uint32_t p50 = 0, p99 = 0;
    if (!latencies_us.empty()) {
        auto at = [&](double q) {
            const auto k = static_cast<std::size_t>(q * static_cast<double>(latencies_us.size() - 1));
            std::nth_element(latencies_us.begin(), latencies_us.begin() + static_cast<long>(k),
                             latencies_us.end());
            return latencies_us[k];
        };
        p50 = at(0.50);
        p99 = at(0.99);
    }
    std::printf("round_trips=%llu seconds=%.3f rps=%.0f p50_us=%u p99_us=%u errors=%llu\n",
                static_cast<unsigned long long>(round_trips), seconds,
                static_cast<double>(round_trips) / seconds, p50, p99,
                static_cast<unsigned long long>(errors));
    if (alive < count)
        std::fprintf(stderr, "ws_load: lost %zu of %zu connections (closed by the server, or a"
                             " wrong echo)\n",
                     count - alive, count);
    return round_trips > 0 ? 0 : 1;
}
