// The physical-limit baseline for the server benchmarks: a minimal single-threaded epoll HTTP
// server with no framework, run by scripts/bench-server next to the echo example.
//
//   epoll_baseline [--host 127.0.0.1] --port N
//
// Port 0 picks a free port. Once it accepts connections it prints
// `listening on http://HOST:PORT` on stdout (the line the echo example prints).
//
// Per read: every complete request in the bytes read is counted by finding the end of its head
// (`\r\n\r\n`) and skipping its Content-Length body bytes (pipelining: several per read, a
// partial head is kept for the next read), then one `writev` sends a constant response per
// request. Routes: `GET /plaintext`, `GET /json`, `POST /post`; anything else is a 404. Reads land
// in one per-loop buffer and an idle connection holds only a small struct (no buffers), so its
// memory is the floor for the idle-connection comparison. A write that would block keeps the
// unsent rest and stops reading the connection until it has drained.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::string_view_literals;

constexpr std::string_view plaintext_response =
    "HTTP/1.1 200 OK\r\ncontent-length: 13\r\ncontent-type: text/plain\r\n"
    "date: Thu, 01 Jan 2026 00:00:00 GMT\r\nserver: b\r\n\r\nHello, World!"sv;
constexpr std::string_view json_response =
    "HTTP/1.1 200 OK\r\ncontent-length: 27\r\ncontent-type: application/json\r\n"
    "date: Thu, 01 Jan 2026 00:00:00 GMT\r\nserver: b\r\n\r\n{\"message\":\"Hello, World!\"}"sv;
constexpr std::string_view post_response =
    "HTTP/1.1 200 OK\r\ncontent-length: 8\r\ncontent-type: application/json\r\n"
    "date: Thu, 01 Jan 2026 00:00:00 GMT\r\nserver: b\r\n\r\n{\"id\":1}"sv;
constexpr std::string_view not_found_response =
    "HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n"
    "date: Thu, 01 Jan 2026 00:00:00 GMT\r\nserver: b\r\n\r\n"sv;

/// All a connection keeps between reads: nothing at all while it is idle.
struct connection {
    std::string partial;         ///< an incomplete request head carried to the next read
    std::string unsent;          ///< response bytes a blocked write left behind
    std::size_t body_left = 0;   ///< body bytes of the current request still to skip
};

int epfd = -1;
std::vector<connection*> connections;  // indexed by fd
std::vector<char> read_buffer(64 * 1024);
std::vector<iovec> iovecs;

std::string_view response_for(std::string_view head) {
    if (head.starts_with("GET /plaintext "sv)) return plaintext_response;
    if (head.starts_with("GET /json "sv)) return json_response;
    if (head.starts_with("POST /post "sv)) return post_response;
    return not_found_response;
}

/// The Content-Length of a request head (0 when absent); minimal: enough for the benchmarks.
std::size_t content_length(std::string_view head) {
    constexpr std::string_view name = "\r\ncontent-length:"sv;
    for (std::size_t i = head.find("\r\n"sv); i != std::string_view::npos;
         i = head.find("\r\n"sv, i + 2)) {
        if (head.size() - i < name.size()) break;
        bool match = true;
        for (std::size_t k = 0; k < name.size() && match; ++k) {
            char c = head[i + k];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            match = c == name[k];
        }
        if (!match) continue;
        std::size_t p = i + name.size();
        while (p < head.size() && (head[p] == ' ' || head[p] == '\t')) ++p;
        std::size_t value = 0;
        while (p < head.size() && head[p] >= '0' && head[p] <= '9')
            value = value * 10 + static_cast<std::size_t>(head[p++] - '0');
        return value;
    }
    return 0;
}

void close_connection(int fd) {
    epoll_ctl(epfd, EPOLL_CTL_DEL, fd, nullptr);
    close(fd);
    delete connections[static_cast<std::size_t>(fd)];
    connections[static_cast<std::size_t>(fd)] = nullptr;
}

void watch(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev);
}

/// Writes the gathered responses with one writev (more only past IOV_MAX); keeps what blocks.
/// Returns false when the connection failed.
bool send_responses(int fd, connection& c) {
    std::size_t next = 0;
    while (next < iovecs.size()) {
        const int count = static_cast<int>(std::min<std::size_t>(iovecs.size() - next, IOV_MAX));
        ssize_t n = writev(fd, iovecs.data() + next, count);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
            n = 0;
        }
        auto written = static_cast<std::size_t>(n);
        const std::size_t end = next + static_cast<std::size_t>(count);
        while (next < end && written >= iovecs[next].iov_len) written -= iovecs[next++].iov_len;
        if (next < end) {
            // Blocked: keep every byte not yet written and wait for EPOLLOUT.
            c.unsent.append(static_cast<const char*>(iovecs[next].iov_base) + written,
                            iovecs[next].iov_len - written);
            for (++next; next < iovecs.size(); ++next)
                c.unsent.append(static_cast<const char*>(iovecs[next].iov_base),
                                iovecs[next].iov_len);
            watch(fd, EPOLLOUT);
            return true;
        }
    }
    return true;
}

/// Consumes complete requests from `data`, queueing a response iovec for each; returns the
/// number of bytes consumed (the rest is an incomplete head).
std::size_t consume(connection& c, std::string_view data) {
    std::size_t pos = 0;
    for (;;) {
        if (c.body_left > 0) {
            const std::size_t skip = std::min(c.body_left, data.size() - pos);
            c.body_left -= skip;
            pos += skip;
            if (c.body_left > 0) return pos;
        }
        const std::size_t end = data.find("\r\n\r\n"sv, pos);
        if (end == std::string_view::npos) return pos;
        const std::string_view head = data.substr(pos, end + 4 - pos);
        const std::string_view response = response_for(head);
        iovecs.push_back({const_cast<char*>(response.data()), response.size()});
        c.body_left = head.starts_with("GET "sv) ? 0 : content_length(head);
        pos = end + 4;
    }
}

void on_readable(int fd, connection& c) {
    ssize_t n;
    do n = read(fd, read_buffer.data(), read_buffer.size());
    while (n < 0 && errno == EINTR);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
        close_connection(fd);
        return;
    }
    if (n < 0) return;
    iovecs.clear();
    std::string_view data(read_buffer.data(), static_cast<std::size_t>(n));
    if (c.partial.empty()) {
        const std::size_t used = consume(c, data);
        if (used < data.size()) c.partial.assign(data.substr(used));
    } else {
        c.partial.append(data);
        const std::size_t used = consume(c, c.partial);
        // The iovecs point at constant responses, never into `partial`, so erasing is safe.
        c.partial.erase(0, used);
        if (c.partial.empty()) std::string().swap(c.partial);
    }
    if (c.partial.size() > 64 * 1024) {  // a head this long is not a benchmark request
        close_connection(fd);
        return;
    }
    if (!iovecs.empty() && !send_responses(fd, c)) close_connection(fd);
}

void on_writable(int fd, connection& c) {
    ssize_t n;
    do n = write(fd, c.unsent.data(), c.unsent.size());
    while (n < 0 && errno == EINTR);
    if (n < 0) {
        if (errno != EAGAIN && errno != EWOULDBLOCK) close_connection(fd);
        return;
    }
    c.unsent.erase(0, static_cast<std::size_t>(n));
    if (c.unsent.empty()) {
        std::string().swap(c.unsent);
        watch(fd, EPOLLIN | EPOLLRDHUP);
    }
}

void accept_all(int listener) {
    for (;;) {
        const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                std::fprintf(stderr, "epoll_baseline: accept: %s\n", std::strerror(errno));
            return;
        }
        const int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (static_cast<std::size_t>(fd) >= connections.size())
            connections.resize(static_cast<std::size_t>(fd) * 2 + 1, nullptr);
        connections[static_cast<std::size_t>(fd)] = new connection;
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLRDHUP;
        ev.data.fd = fd;
        epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev);
    }
}

[[noreturn]] void usage() {
    std::fprintf(stderr, "usage: epoll_baseline [--host 127.0.0.1] --port N\n");
    std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
    std::string host = "127.0.0.1";
    int port = -1;
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (arg == "--port" && i + 1 < argc) port = std::atoi(argv[++i]);
        else if (arg == "--host" && i + 1 < argc) host = argv[++i];
        else usage();
    }
    if (port < 0 || port > 65535) usage();
    signal(SIGPIPE, SIG_IGN);

    const int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    const int one = 1;
    setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<std::uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) usage();
    if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listener, 4096) != 0) {
        std::fprintf(stderr, "epoll_baseline: cannot listen on %s:%d: %s\n", host.c_str(), port,
                     std::strerror(errno));
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener;
    epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);
    iovecs.reserve(IOV_MAX);
    std::printf("listening on http://%s:%d\n", host.c_str(), ntohs(addr.sin_port));
    std::fflush(stdout);

    std::vector<epoll_event> events(256);
    for (;;) {
        const int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::perror("epoll_baseline: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            const int fd = events[static_cast<std::size_t>(i)].data.fd;
            const std::uint32_t what = events[static_cast<std::size_t>(i)].events;
            if (fd == listener) {
                accept_all(listener);
                continue;
            }
            connection* c = connections[static_cast<std::size_t>(fd)];
            if (c == nullptr) continue;
            if (what & EPOLLOUT) on_writable(fd, *c);
            else if (what & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(fd, *c);
        }
    }
}
