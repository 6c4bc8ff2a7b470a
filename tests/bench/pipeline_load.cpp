// A lean HTTP/1.1 load generator for scripts/bench-server: one thread, epoll, keep-alive,
// optional pipelining (wrk's Lua pipelining saturates the client before the server).
//
//   pipeline_load [--host 127.0.0.1] --port N [--connections 256] [--depth 16]
//                 [--duration 10] [--path /plaintext] [--method GET] [--body-file F]
//
// Each connection keeps `depth` requests in flight: it writes `depth` requests, and whenever
// responses arrive it writes as many new requests as it received responses (one write per
// read). Responses are framed by their status line and Content-Length. `--depth 1` makes it a
// plain keep-alive load generator. A connection the server closes is reopened (counted in
// `reconnects`); requests in flight on it are lost. The run stops by itself after `duration`
// seconds and prints one line:
//
//   requests=N seconds=S rps=R p50_us=A p99_us=B errors=E reconnects=C
//
// Latency is per request, from the write that sent it to the read that completed its response
// (with pipelining it includes the wait behind the requests ahead of it). `errors` counts
// responses with a status other than 2xx and connections that failed.
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
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::string_view_literals;
using clock_type = std::chrono::steady_clock;

struct options {
    std::string host = "127.0.0.1";
    int port = -1;
    std::size_t connections = 256;
    std::size_t depth = 16;
    double duration = 10;
    std::string path = "/plaintext";
    std::string method = "GET";
    std::string body_file;
};

struct connection {
    int fd = -1;
    bool connected = false;
    bool watching_out = false;      ///< EPOLLOUT is in the interest set
    std::size_t in_flight = 0;      ///< requests written (or queued to write) without a response
    std::size_t to_write = 0;       ///< bytes of queued requests not yet written
    std::size_t write_offset = 0;   ///< where the next queued byte starts in one request
    std::vector<clock_type::time_point> sent;  ///< ring of send times, `depth` entries
    std::size_t sent_head = 0;      ///< oldest entry in `sent`
    std::string partial;            ///< an incomplete response head
    std::size_t body_left = 0;      ///< body bytes of the current response still to skip
};

options opt;
std::string request;          ///< one request
std::string requests;         ///< depth + 1 copies of it: any queued range is contiguous in it
sockaddr_in target{};
int epfd = -1;
std::vector<connection> conns;
std::vector<char> read_buffer(256 * 1024);
std::uint64_t completed = 0, errors = 0, reconnects = 0;
std::vector<std::uint32_t> latencies_us;
bool measuring = true;

[[noreturn]] void usage() {
    std::fprintf(stderr,
                 "usage: pipeline_load [--host H] --port N [--connections C] [--depth D]\n"
                 "                     [--duration SECONDS] [--path P] [--method M]"
                 " [--body-file F]\n");
    std::exit(2);
}

void open_connection(std::size_t index);

void drop_connection(std::size_t index, bool failed) {
    connection& c = conns[index];
    if (c.fd >= 0) {
        epoll_ctl(epfd, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
    }
    if (failed) ++errors;
    ++reconnects;
    open_connection(index);
}

void watch(connection& c, std::size_t index, std::uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = index;
    epoll_ctl(epfd, op, c.fd, &ev);
}

/// Queues `count` more requests and writes what the socket takes.
void queue_requests(std::size_t index, std::size_t count) {
    connection& c = conns[index];
    const auto now = clock_type::now();
    for (std::size_t i = 0; i < count; ++i)
        c.sent[(c.sent_head + c.in_flight + i) % opt.depth] = now;
    c.in_flight += count;
    c.to_write += count * request.size();
}

/// Writes queued request bytes; returns false when the connection failed.
bool flush(std::size_t index) {
    connection& c = conns[index];
    while (c.to_write > 0) {
        const ssize_t n = send(c.fd, requests.data() + c.write_offset, c.to_write, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                if (!c.watching_out) watch(c, index, EPOLLIN | EPOLLOUT, EPOLL_CTL_MOD);
                c.watching_out = true;
                return true;
            }
            return false;
        }
        c.to_write -= static_cast<std::size_t>(n);
        c.write_offset = (c.write_offset + static_cast<std::size_t>(n)) % request.size();
    }
    if (c.watching_out) watch(c, index, EPOLLIN, EPOLL_CTL_MOD);
    c.watching_out = false;
    return true;
}

void open_connection(std::size_t index) {
    connection& c = conns[index];
    c = connection{};
    c.sent.resize(opt.depth);
    c.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c.fd < 0) {
        std::fprintf(stderr, "pipeline_load: socket: %s\n", std::strerror(errno));
        std::exit(1);
    }
    const int one = 1;
    setsockopt(c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c.fd, reinterpret_cast<const sockaddr*>(&target), sizeof target) != 0 &&
        errno != EINPROGRESS) {
        std::fprintf(stderr, "pipeline_load: connect: %s\n", std::strerror(errno));
        std::exit(1);
    }
    watch(c, index, EPOLLOUT, EPOLL_CTL_ADD);
    c.watching_out = true;
}

/// The Content-Length of a response head and its status code; false when malformed.
bool parse_head(std::string_view head, int& status, std::size_t& length) {
    if (head.size() < 12 || !head.starts_with("HTTP/1."sv)) return false;
    status = (head[9] - '0') * 100 + (head[10] - '0') * 10 + (head[11] - '0');
    length = 0;
    constexpr std::string_view name = "\r\ncontent-length:"sv;
    for (std::size_t i = head.find("\r\n"sv); i != std::string_view::npos;
         i = head.find("\r\n"sv, i + 2)) {
        if (head.size() - i < name.size()) break;
        bool match = true;
        for (std::size_t k = 0; k < name.size() && match; ++k) {
            char ch = head[i + k];
            if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
            match = ch == name[k];
        }
        if (!match) continue;
        std::size_t p = i + name.size();
        while (p < head.size() && (head[p] == ' ' || head[p] == '\t')) ++p;
        while (p < head.size() && head[p] >= '0' && head[p] <= '9')
            length = length * 10 + static_cast<std::size_t>(head[p++] - '0');
        return true;
    }
    return true;  // no Content-Length: a bodiless response (204, 304) as far as we care
}

/// Consumes complete responses from `data`; returns the bytes consumed, or npos on a protocol
/// error. `responses` is incremented per complete response.
std::size_t consume(connection& c, std::string_view data, std::size_t& responses,
                    clock_type::time_point now) {
    std::size_t pos = 0;
    for (;;) {
        if (c.body_left > 0) {
            const std::size_t skip = std::min(c.body_left, data.size() - pos);
            c.body_left -= skip;
            pos += skip;
            if (c.body_left > 0) return pos;
            // The response is complete now.
            ++responses;
        }
        const std::size_t end = data.find("\r\n\r\n"sv, pos);
        if (end == std::string_view::npos) return pos;
        int status = 0;
        std::size_t length = 0;
        if (!parse_head(data.substr(pos, end + 4 - pos), status, length) || c.in_flight == 0)
            return std::string_view::npos;
        if (status < 200 || status > 299) ++errors;
        // Its latency is taken when the head arrives; the body is at most one read behind.
        if (measuring) {
            const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                now - c.sent[c.sent_head]).count();
            latencies_us.push_back(static_cast<std::uint32_t>(std::max<std::int64_t>(us, 0)));
        }
        c.sent_head = (c.sent_head + 1) % opt.depth;
        --c.in_flight;
        pos = end + 4;
        c.body_left = length;
        if (length == 0) ++responses;
    }
}

void on_readable(std::size_t index) {
    connection& c = conns[index];
    ssize_t n;
    do n = recv(c.fd, read_buffer.data(), read_buffer.size(), 0);
    while (n < 0 && errno == EINTR);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (n <= 0) {
        drop_connection(index, n < 0);
        return;
    }
    const auto now = clock_type::now();
    std::size_t responses = 0;
    std::string_view data(read_buffer.data(), static_cast<std::size_t>(n));
    std::size_t used;
    if (c.partial.empty()) {
        used = consume(c, data, responses, now);
        if (used != std::string_view::npos && used < data.size())
            c.partial.assign(data.substr(used));
    } else {
        c.partial.append(data);
        used = consume(c, c.partial, responses, now);
        if (used != std::string_view::npos) c.partial.erase(0, used);
    }
    if (used == std::string_view::npos) {
        std::fprintf(stderr, "pipeline_load: malformed or unexpected response\n");
        drop_connection(index, true);
        return;
    }
    if (measuring) completed += responses;
    // Refill: one request for each response that started (its slot in the ring is free).
    const std::size_t refill = opt.depth - c.in_flight;
    if (refill > 0) {
        queue_requests(index, refill);
        if (!flush(index)) drop_connection(index, true);
    }
}

void on_writable(std::size_t index, std::uint32_t events) {
    connection& c = conns[index];
    if (!c.connected) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.fd, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) {
            std::fprintf(stderr, "pipeline_load: connect: %s\n", std::strerror(err));
            std::exit(1);
        }
        c.connected = true;
        queue_requests(index, opt.depth);
    } else if (events & (EPOLLERR | EPOLLHUP)) {
        drop_connection(index, true);
        return;
    }
    if (!flush(index)) drop_connection(index, true);
}

}  // namespace

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string_view arg = argv[i];
        if (i + 1 >= argc) usage();
        const char* value = argv[++i];
        if (arg == "--host") opt.host = value;
        else if (arg == "--port") opt.port = std::atoi(value);
        else if (arg == "--connections") opt.connections = std::strtoul(value, nullptr, 10);
        else if (arg == "--depth") opt.depth = std::strtoul(value, nullptr, 10);
        else if (arg == "--duration") opt.duration = std::atof(value);
        else if (arg == "--path") opt.path = value;
        else if (arg == "--method") opt.method = value;
        else if (arg == "--body-file") opt.body_file = value;
        else usage();
    }
    if (opt.port <= 0 || opt.port > 65535 || opt.connections == 0 || opt.depth == 0 ||
        opt.duration <= 0)
        usage();
    signal(SIGPIPE, SIG_IGN);
    rlimit limit{};
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        limit.rlim_cur = limit.rlim_max;
        setrlimit(RLIMIT_NOFILE, &limit);
    }

    std::string body;
    if (!opt.body_file.empty()) {
        std::ifstream in(opt.body_file, std::ios::binary);
        if (!in) {
            std::fprintf(stderr, "pipeline_load: cannot read %s\n", opt.body_file.c_str());
            return 2;
        }
        body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    }
    std::ostringstream req;
    req << opt.method << ' ' << opt.path << " HTTP/1.1\r\nHost: " << opt.host << ':' << opt.port
        << "\r\n";
    if (!opt.body_file.empty() || opt.method == "POST" || opt.method == "PUT")
        req << "Content-Type: application/json\r\nContent-Length: " << body.size() << "\r\n";
    req << "\r\n" << body;
    request = req.str();
    for (std::size_t i = 0; i <= opt.depth; ++i) requests += request;

    target.sin_family = AF_INET;
    target.sin_port = htons(static_cast<std::uint16_t>(opt.port));
    if (inet_pton(AF_INET, opt.host.c_str(), &target.sin_addr) != 1) usage();

    epfd = epoll_create1(EPOLL_CLOEXEC);
    latencies_us.reserve(1 << 22);
    conns.resize(opt.connections);
    const auto start = clock_type::now();
    const auto deadline = start + std::chrono::duration_cast<clock_type::duration>(
                                      std::chrono::duration<double>(opt.duration));
    for (std::size_t i = 0; i < opt.connections; ++i) open_connection(i);

    std::vector<epoll_event> events(1024);
    for (;;) {
        const auto now = clock_type::now();
        if (now >= deadline) break;
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count() + 1;
        const int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()),
                                 static_cast<int>(left));
        if (n < 0) {
            if (errno == EINTR) continue;
            std::perror("pipeline_load: epoll_wait");
            return 1;
        }
        for (int i = 0; i < n; ++i) {
            const epoll_event& ev = events[static_cast<std::size_t>(i)];
            const auto index = static_cast<std::size_t>(ev.data.u64);
            if (conns[index].watching_out && (ev.events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
                on_writable(index, ev.events);
            else if (ev.events & (EPOLLIN | EPOLLERR | EPOLLHUP))
                on_readable(index);
        }
    }
    const double seconds = std::chrono::duration<double>(clock_type::now() - start).count();
    measuring = false;
    for (const connection& c : conns)
        if (c.fd >= 0) close(c.fd);

    std::uint32_t p50 = 0, p99 = 0;
    if (!latencies_us.empty()) {
        auto at = [](double q) {
            const auto k = static_cast<std::size_t>(q * static_cast<double>(latencies_us.size() - 1));
            std::nth_element(latencies_us.begin(), latencies_us.begin() + static_cast<long>(k),
                             latencies_us.end());
            return latencies_us[k];
        };
        p50 = at(0.50);
        p99 = at(0.99);
    }
    std::printf("requests=%llu seconds=%.3f rps=%.0f p50_us=%u p99_us=%u errors=%llu "
                "reconnects=%llu\n",
                static_cast<unsigned long long>(completed), seconds,
                static_cast<double>(completed) / seconds, p50, p99,
                static_cast<unsigned long long>(errors),
                static_cast<unsigned long long>(reconnects));
    return completed > 0 ? 0 : 1;
}
