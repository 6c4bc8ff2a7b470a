// The physical-limit baseline for the WebSocket benchmarks: a minimal single-threaded epoll
// WebSocket echo server with no framework, run by scripts/bench-server next to the echo example.
//
//   ws_epoll_baseline [--host 127.0.0.1] --port N
//
// Port 0 picks a free port. Once it accepts connections it prints
// `listening on http://HOST:PORT` on stdout (the line the echo example prints).
//
// Every connection is upgraded, whatever its path: the request head is read up to `\r\n\r\n`,
// its Sec-WebSocket-Key answered with Sec-WebSocket-Accept (SHA-1 from libcrypto, our own
// base64) in a 101 response; a request without a key gets a 400 and is closed. Then it echoes
// text, binary and continuation frames unmasked with the opcode and FIN bit they came with,
// answers a ping with a pong carrying its payload, ignores pongs, and answers a close with a
// close carrying the same payload before closing the socket. No extensions (no deflate), no
// UTF-8 validation: it is the floor, not a conforming server.
//
// Per read: all complete frames in the bytes read are echoed through one per-loop output
// buffer with one write. Reads land in one per-loop buffer; a connection owns a heap buffer
// only while a frame (or the request head) is split across reads, or while a blocked write has
// bytes left, so an idle WebSocket costs one small struct: the floor for the memory comparison.
// A write that would block keeps the unsent rest and stops reading until it has drained.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/sha.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

namespace {

using namespace std::string_view_literals;

constexpr std::size_t max_payload = 16 * 1024 * 1024;  // larger frames close the connection
constexpr std::size_t max_head = 16 * 1024;            // a larger request head is refused

/// All a connection keeps between reads: a flag and two empty strings while it is idle.
struct connection {
    bool upgraded = false;       ///< the 101 went out: the bytes are frames now
    bool closing = false;        ///< a close frame was queued: close once it is written
    std::string partial;         ///< a split request head or frame carried to the next read
    std::string unsent;          ///< bytes a blocked write left behind
};

int epfd = -1;
std::vector<connection*> connections;  // indexed by fd
std::vector<char> read_buffer(64 * 1024);
std::string output;                    // the replies to one read, written at once

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

std::string base64(const unsigned char* data, std::size_t size) {
    static constexpr char alphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((size + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= size; i += 3) {
        const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8) |
                                data[i + 2];
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += alphabet[v & 63];
    }
    if (size - i == 1) {
        const std::uint32_t v = std::uint32_t{data[i]} << 16;
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += "==";
    } else if (size - i == 2) {
        const std::uint32_t v = (std::uint32_t{data[i]} << 16) | (std::uint32_t{data[i + 1]} << 8);
        out += alphabet[(v >> 18) & 63];
        out += alphabet[(v >> 12) & 63];
        out += alphabet[(v >> 6) & 63];
        out += '=';
    }
    return out;
}

/// The value of header `name` (lower case, with the colon) in a request head, trimmed; empty
/// when absent.
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
        std::size_t p = start + name.size();
        std::size_t end = head.find("\r\n"sv, p);
        if (end == std::string_view::npos) end = head.size();
        while (p < end && (head[p] == ' ' || head[p] == '\t')) ++p;
        while (end > p && (head[end - 1] == ' ' || head[end - 1] == '\t')) --end;
        return head.substr(p, end - p);
    }
    return {};
}

/// Appends the 101 response for a request head to `output`; false when it is not a
/// WebSocket handshake (a 400 was appended instead).
bool handshake(std::string_view head) {
    const std::string_view key = header_value(head, "sec-websocket-key:"sv);
    if (key.empty()) {
        output += "HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"sv;
        return false;
    }
    std::string input(key);
    input += "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"sv;
    std::array<unsigned char, SHA_DIGEST_LENGTH> digest{};
    SHA1(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
    output += "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
              "sec-websocket-accept: "sv;
    output += base64(digest.data(), digest.size());
    output += "\r\n\r\n"sv;
    return true;
}

/// Appends an unmasked frame header for `size` payload bytes to `output`.
void append_header(unsigned char first, std::size_t size) {
    output += static_cast<char>(first);
    if (size < 126) {
        output += static_cast<char>(size);
    } else if (size <= 0xffff) {
        output += static_cast<char>(126);
        output += static_cast<char>(size >> 8);
        output += static_cast<char>(size & 0xff);
    } else {
        output += static_cast<char>(127);
        for (int shift = 56; shift >= 0; shift -= 8)
            output += static_cast<char>((static_cast<std::uint64_t>(size) >> shift) & 0xff);
    }
}

/// Appends `size` payload bytes unmasked with `key` to `output`, eight at a time.
void append_unmasked(const char* payload, std::size_t size, const unsigned char* key) {
    const std::size_t at = output.size();
    output.resize(at + size);
    char* out = output.data() + at;
    std::uint64_t wide;
    unsigned char key8[8];
    for (int k = 0; k < 8; ++k) key8[k] = key[k % 4];
    std::memcpy(&wide, key8, 8);
    std::size_t i = 0;
    for (; i + 8 <= size; i += 8) {
        std::uint64_t v;
        std::memcpy(&v, payload + i, 8);
        v ^= wide;
        std::memcpy(out + i, &v, 8);
    }
    for (; i < size; ++i) out[i] = static_cast<char>(payload[i] ^ key[i % 4]);
}

/// Consumes complete frames from `data`, appending the replies to `output`; returns the bytes
/// consumed (the rest is a split frame), or npos when the connection must be dropped.
std::size_t consume_frames(connection& c, std::string_view data) {
    std::size_t pos = 0;
    while (!c.closing && data.size() - pos >= 2) {
        const auto* p = reinterpret_cast<const unsigned char*>(data.data() + pos);
        const std::size_t available = data.size() - pos;
        const unsigned char first = p[0];
        if ((p[1] & 0x80) == 0 || (first & 0x70) != 0) return std::string_view::npos;
        std::size_t size = p[1] & 0x7f, header = 2;
        if (size == 126) {
            if (available < 4) return pos;
            size = (std::size_t{p[2]} << 8) | p[3];
            header = 4;
        } else if (size == 127) {
            if (available < 10) return pos;
            std::uint64_t v = 0;
            for (int k = 2; k < 10; ++k) v = (v << 8) | p[k];
            if (v > max_payload) return std::string_view::npos;
            size = static_cast<std::size_t>(v);
            header = 10;
        }
        if (size > max_payload) return std::string_view::npos;
        if (available < header + 4 + size) return pos;
        const unsigned char* key = p + header;
        const char* payload = data.data() + pos + header + 4;
        switch (first & 0x0f) {
            case 0x0: case 0x1: case 0x2:  // data: echo as it came, unmasked
                append_header(first, size);
                append_unmasked(payload, size, key);
                break;
            case 0x8:  // close: answer with the same payload, then close the socket
                append_header(0x88, size);
                append_unmasked(payload, size, key);
                c.closing = true;
                break;
            case 0x9:  // ping: pong with its payload
                append_header(0x8a, size);
                append_unmasked(payload, size, key);
                break;
            case 0xa: break;  // pong: nothing to do
            default: return std::string_view::npos;
        }
        pos += header + 4 + size;
    }
    return pos;
}

/// Consumes the request head (then any frames sent right behind it); as consume_frames.
std::size_t consume(connection& c, std::string_view data) {
    if (c.upgraded) return consume_frames(c, data);
    const std::size_t end = data.find("\r\n\r\n"sv);
    if (end == std::string_view::npos)
        return data.size() > max_head ? std::string_view::npos : 0;
    if (!handshake(data.substr(0, end + 4))) {
        c.closing = true;
        return data.size();
    }
    c.upgraded = true;
    const std::size_t used = consume_frames(c, data.substr(end + 4));
    return used == std::string_view::npos ? used : end + 4 + used;
}

/// Writes `output`, keeping what blocks; returns false when the connection is finished
/// (failed, or closing and fully written).
bool send_output(int fd, connection& c) {
    std::size_t sent = 0;
    while (sent < output.size()) {
        const ssize_t n = write(fd, output.data() + sent, output.size() - sent);
        if (n < 0) {
            if (errno == EINTR) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK) return false;
            c.unsent.assign(output, sent);
            watch(fd, EPOLLOUT);
            return true;
        }
        sent += static_cast<std::size_t>(n);
    }
    return !c.closing;
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
    output.clear();
    const std::string_view data(read_buffer.data(), static_cast<std::size_t>(n));
    std::size_t used;
    if (c.partial.empty()) {
        used = consume(c, data);
        if (used != std::string_view::npos && used < data.size() && !c.closing)
            c.partial.assign(data.substr(used));
    } else {
        c.partial.append(data);
        used = consume(c, c.partial);
        // `output` holds copies, never pointers into `partial`, so erasing is safe.
        if (used != std::string_view::npos) {
            c.partial.erase(0, used);
            if (c.partial.empty() || c.closing) std::string().swap(c.partial);
        }
    }
    if (used == std::string_view::npos) {
        close_connection(fd);
        return;
    }
    if (!output.empty() && !send_output(fd, c)) close_connection(fd);
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
    if (!c.unsent.empty()) return;
    if (c.closing) {
        close_connection(fd);
        return;
    }
    std::string().swap(c.unsent);
    watch(fd, EPOLLIN | EPOLLRDHUP);
}

void accept_all(int listener) {
    for (;;) {
        const int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                std::fprintf(stderr, "ws_epoll_baseline: accept: %s\n", std::strerror(errno));
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
    std::fprintf(stderr, "usage: ws_epoll_baseline [--host 127.0.0.1] --port N\n");
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
        std::fprintf(stderr, "ws_epoll_baseline: cannot listen on %s:%d: %s\n", host.c_str(),
                     port, std::strerror(errno));
        return 1;
    }
    socklen_t len = sizeof addr;
    getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len);

    epfd = epoll_create1(EPOLL_CLOEXEC);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = listener;
    epoll_ctl(epfd, EPOLL_CTL_ADD, listener, &ev);
    output.reserve(read_buffer.size() + 1024);
    std::printf("listening on http://%s:%d\n", host.c_str(), ntohs(addr.sin_port));
    std::fflush(stdout);

    std::vector<epoll_event> events(256);
    for (;;) {
        const int n = epoll_wait(epfd, events.data(), static_cast<int>(events.size()), -1);
        if (n < 0) {
            if (errno == EINTR) continue;
            std::perror("ws_epoll_baseline: epoll_wait");
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
