#pragma once
// A tiny blocking HTTP/1.1 client over real loopback sockets for the integration tests, plus
// helpers to run a server and small apps. Every read has a receive timeout, so a test that
// waits for bytes that never come fails instead of hanging.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <tessera/app.hpp>
#include <tessera/response.hpp>
#include <tessera/server.hpp>
#include <tessera/timer.hpp>

#include "../temp_dir.hpp"

namespace itest {

using namespace std::chrono_literals;

/// One parsed response.
struct http_response {
    int status = 0;
    std::string reason;
    std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
    std::string body;
    bool chunked = false;
    bool complete = false;  // the body was fully framed (false: cut short by EOF)

    [[nodiscard]] std::optional<std::string> header(std::string_view name) const {
        for (const auto& [n, v] : headers) {
            if (n == name) return v;
        }
        return std::nullopt;
    }
    [[nodiscard]] std::size_t count(std::string_view name) const {
        std::size_t n = 0;
        for (const auto& h : headers) n += h.first == name ? 1 : 0;
        return n;
    }
};

inline std::string lower(std::string_view s) {
    std::string out(s);
    for (auto& c : out) {
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    }
    return out;
}

/// How a read ended.
enum class read_status { ok, eof, reset, timeout };

// --- Response parsing over any stream -----------------------------------------------------------

/// Reads one CRLF-terminated line from `stream`'s buffer (reading more as needed); false when the
/// stream ended first.
template <class Stream>
bool read_line_from(Stream& stream, std::string& line) {
    std::string& buffer = stream.buffer();
    std::size_t end;
    while ((end = buffer.find("\r\n")) == std::string::npos) {
        if (stream.read_some() != read_status::ok) return false;
    }
    line = buffer.substr(0, end);
    buffer.erase(0, end + 2);
    return true;
}

/// Reads a chunked body into `body`; false when the stream ended before the last chunk.
template <class Stream>
bool read_chunked_from(Stream& stream, std::string& body) {
    std::string& buffer = stream.buffer();
    std::string line;
    for (;;) {
        if (!read_line_from(stream, line)) return false;
        const std::size_t size = std::stoull(line, nullptr, 16);
        if (size == 0) {
            // Trailers until an empty line.
            for (;;) {
                if (!read_line_from(stream, line)) return false;
                if (line.empty()) return true;
            }
        }
        while (buffer.size() < size + 2) {
            if (stream.read_some() != read_status::ok) {
                body.append(buffer.substr(0, std::min(size, buffer.size())));
                return false;
            }
        }
        body.append(buffer, 0, size);
        buffer.erase(0, size + 2);
    }
}

/// Reads one response from any blocking byte stream: `read_status read_some()` appends to
/// `std::string& buffer()`, and `last_status()` tells how the stream ended. Same semantics:
/// nullopt when the stream ended (or timed out) before a complete head; a body cut short gives
/// `complete == false`. `client` and `tls_client` (tls_client.hpp) both read responses with it.
template <class Stream>
std::optional<http_response> read_response_from(Stream& stream, bool head_request = false) {
    std::string& buffer = stream.buffer();
    std::size_t head_end;
    while ((head_end = buffer.find("\r\n\r\n")) == std::string::npos) {
        if (stream.read_some() != read_status::ok) return std::nullopt;
    }
    http_response r;
    const std::string head = buffer.substr(0, head_end + 2);
    buffer.erase(0, head_end + 4);
    const std::size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    // "HTTP/1.1 200 OK"
    if (status_line.size() < 12 || status_line.compare(0, 5, "HTTP/") != 0) {
        throw std::runtime_error("bad status line: " + status_line);
    }
    r.status = std::stoi(status_line.substr(9, 3));
    r.reason = status_line.size() > 13 ? status_line.substr(13) : "";
    std::size_t pos = line_end + 2;
    while (pos < head.size()) {
        const auto end = head.find("\r\n", pos);
        const std::string line = head.substr(pos, end - pos);
        pos = end + 2;
        const auto colon = line.find(':');
        if (colon == std::string::npos) throw std::runtime_error("bad header: " + line);
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        r.headers.emplace_back(lower(line.substr(0, colon)), value);
    }
    if (r.status < 200 || head_request || r.status == 204 || r.status == 304) {
        r.complete = true;
        return r;
    }
    const auto te = r.header("transfer-encoding");
    if (te && lower(*te).find("chunked") != std::string::npos) {
        r.chunked = true;
        r.complete = read_chunked_from(stream, r.body);
        return r;
    }
    if (const auto cl = r.header("content-length")) {
        const std::size_t length = std::stoull(*cl);
        while (buffer.size() < length) {
            if (stream.read_some() != read_status::ok) {
                r.body = std::move(buffer);
                buffer.clear();
                return r;
            }
        }
        r.body = buffer.substr(0, length);
        buffer.erase(0, length);
        r.complete = true;
        return r;
    }
    // Close-delimited.
    while (stream.read_some() == read_status::ok) {
    }
    r.body = std::move(buffer);
    buffer.clear();
    r.complete = stream.last_status() == read_status::eof;
    return r;
}

/// A blocking client connection with a receive timeout.
class client {
public:
    /// Connects to 127.0.0.1:`port`.
    explicit client(std::uint16_t port, std::chrono::milliseconds timeout = 5000ms) {
        const sockaddr_in addr = loopback(port);
        open(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, timeout);
    }
    /// Connects to 127.0.0.1:`port` with a receive buffer of `bytes`, set before connecting
    /// (shrinking it afterwards leaves the window advertised at the handshake, and loopback
    /// TCP then crawls through zero-window probes).
    static client with_receive_buffer(std::uint16_t port, int bytes,
                                      std::chrono::milliseconds timeout = 5000ms) {
        const sockaddr_in addr = loopback(port);
        return client(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, timeout, bytes);
    }
    /// Connects to 127.0.0.1:`port` from `source`, another address of the loopback network
    /// (Linux routes all of 127.0.0.0/8 to the loopback interface).
    static client from_source(std::uint16_t port, const char* source,
                              std::chrono::milliseconds timeout = 5000ms) {
        const sockaddr_in addr = loopback(port);
        sockaddr_in local{};
        local.sin_family = AF_INET;
        if (::inet_pton(AF_INET, source, &local.sin_addr) != 1) {
            throw std::runtime_error("not an IPv4 address");
        }
        return client(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, timeout, 0,
                      reinterpret_cast<const sockaddr*>(&local));
    }
    /// Connects to [::1]:`port`.
    static client ipv6_loopback(std::uint16_t port, std::chrono::milliseconds timeout = 5000ms) {
        sockaddr_in6 addr{};
        addr.sin6_family = AF_INET6;
        addr.sin6_port = htons(port);
        addr.sin6_addr = in6addr_loopback;
        return client(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, timeout);
    }
    /// Connects to the Unix socket at `path`.
    static client unix_socket(const std::string& path,
                              std::chrono::milliseconds timeout = 5000ms) {
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (path.size() >= sizeof addr.sun_path) throw std::runtime_error("socket path too long");
        std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
        return client(reinterpret_cast<const sockaddr*>(&addr), sizeof addr, timeout);
    }
    client(const client&) = delete;
    client& operator=(const client&) = delete;
    client(client&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), buffer_(std::move(other.buffer_)),
          status_(other.status_) {}
    ~client() { close(); }

    void close() {
        if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    }
    /// Closes with an RST instead of a FIN (SO_LINGER 0).
    void reset() {
        if (fd_ < 0) return;
        linger l{1, 0};
        ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &l, sizeof l);
        close();
    }
    void shutdown_write() { ::shutdown(fd_, SHUT_WR); }
    [[nodiscard]] int fd() const noexcept { return fd_; }

    void set_timeout(std::chrono::milliseconds t) {
        timeval tv{};
        tv.tv_sec = static_cast<long>(t.count() / 1000);
        tv.tv_usec = static_cast<long>((t.count() % 1000) * 1000);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }
    void set_receive_buffer(int bytes) {
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof bytes);
    }

    /// Sends everything (blocking); false when the peer has gone.
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
            if (n < 0) {
                if (errno == EINTR) continue;
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }
    /// Sends what the socket takes without blocking; the number of bytes taken.
    std::size_t send_nonblocking(std::string_view bytes) {
        std::size_t total = 0;
        while (!bytes.empty()) {
            const ssize_t n =
                ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
            if (n <= 0) break;
            total += static_cast<std::size_t>(n);
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return total;
    }

    /// Reads once into the buffer.
    read_status read_some() {
        char chunk[16384];
        for (;;) {
            const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
            if (n > 0) {
                buffer_.append(chunk, static_cast<std::size_t>(n));
                return read_status::ok;
            }
            if (n == 0) return status_ = read_status::eof;
            if (errno == EINTR) continue;
            if (errno == EAGAIN || errno == EWOULDBLOCK) return read_status::timeout;
            return status_ = read_status::reset;
        }
    }

    /// Reads until the server closes (EOF or reset); false on timeout. Data read is kept.
    bool wait_closed() {
        for (;;) {
            const auto s = read_some();
            if (s == read_status::ok) continue;
            return s != read_status::timeout;
        }
    }
    /// How the last read that ended the stream ended (eof or reset), `ok` before that.
    [[nodiscard]] read_status last_status() const noexcept { return status_; }

    /// Everything read and not parsed yet.
    std::string& buffer() noexcept { return buffer_; }

    /// Reads one response. `head_request`: the response has no body whatever it declares.
    /// nullopt when the connection ended (or timed out) before a complete head; a body cut
    /// short by EOF gives `complete == false`.
    std::optional<http_response> read_response(bool head_request = false) {
        return read_response_from(*this, head_request);
    }

    /// Sends a request and reads its response.
    std::optional<http_response> roundtrip(std::string_view request, bool head_request = false) {
        if (!send(request)) return std::nullopt;
        return read_response(head_request);
    }

private:
    static sockaddr_in loopback(std::uint16_t port) {
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        return addr;
    }
    client(const sockaddr* addr, socklen_t length, std::chrono::milliseconds timeout,
           int receive_buffer = 0, const sockaddr* source = nullptr) {
        open(addr, length, timeout, receive_buffer, source);
    }
    void open(const sockaddr* addr, socklen_t length, std::chrono::milliseconds timeout,
              int receive_buffer = 0, const sockaddr* source = nullptr) {
        fd_ = ::socket(addr->sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        set_timeout(timeout);
        if (receive_buffer > 0) set_receive_buffer(receive_buffer);
        if (source != nullptr && ::bind(fd_, source, length) != 0) {
            const int e = errno;
            ::close(fd_);
            fd_ = -1;
            throw std::runtime_error(std::string("bind failed: ") + std::strerror(e));
        }
        if (::connect(fd_, addr, length) != 0) {
            const int e = errno;
            ::close(fd_);
            fd_ = -1;
            throw std::runtime_error(std::string("connect failed: ") + std::strerror(e));
        }
        if (addr->sa_family != AF_UNIX) {
            const int one = 1;
            ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
    }

    int fd_ = -1;
    std::string buffer_;
    read_status status_ = read_status::ok;
};

/// Server options for tests: the defaults without the access log.
inline tessera::server_options quiet() {
    tessera::server_options o;
    o.access_log = false;
    return o;
}

using tessera::test_support::temp_dir;

/// A GET request with a Host header.
inline std::string get(std::string_view target, std::string_view extra = {}) {
    std::string r = "GET ";
    r.append(target).append(" HTTP/1.1\r\nHost: test\r\n").append(extra).append("\r\n");
    return r;
}

/// A started server, stopped when the fixture goes (stop() is idempotent).
struct running_server {
    tessera::server srv;
    running_server(tessera::any_app app, tessera::server_options options)
        : srv(std::move(app), with_defaults(std::move(options))) {
        srv.start();
    }
    static tessera::server_options with_defaults(tessera::server_options o) {
        o.host = "127.0.0.1";
        o.port = 0;
        return o;
    }
    [[nodiscard]] std::uint16_t port() const noexcept { return srv.port(); }
    client connect(std::chrono::milliseconds timeout = 5000ms) const {
        return client(port(), timeout);
    }
};

/// An app answering with the request path (and query) as its body.
inline tessera::task<void> path_echo(tessera::scope& s, tessera::receive r, tessera::send sd) {
    if (s.type != tessera::scope_type::http) co_return;
    std::string text = s.path;
    if (!s.query_string.empty()) text.append("?").append(s.query_string);
    const tessera::plain_text_response answer(std::move(text));
    co_await answer(s, r, sd);
}

/// Reads the whole request body.
inline tessera::task<std::string> read_body(tessera::receive r) {
    std::string body;
    for (;;) {
        tessera::event e = co_await r();
        auto* piece = std::get_if<tessera::http::request>(&e);
        if (!piece) throw tessera::client_disconnected();
        body.append(piece->body);
        if (!piece->more_body) co_return body;
    }
}

/// A flag the test thread opens and an app awaits (polling on its loop, never blocking it).
struct gate {
    std::atomic<bool> open{false};
    void release() { open.store(true); }
};
inline tessera::task<void> wait_for(const gate& g) {
    while (!g.open.load()) co_await tessera::sleep_for(2ms);
}

/// Waits (bounded) until `predicate` holds, polling an observable state.
template <class P>
bool eventually(P predicate, std::chrono::milliseconds limit = 10000ms) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!predicate()) {
        if (std::chrono::steady_clock::now() > deadline) return false;
        std::this_thread::sleep_for(1ms);
    }
    return true;
}

/// A log sink collecting records (thread-safe).
struct log_capture {
    std::mutex mutex;
    std::vector<std::pair<std::string, std::string>> lines;  // category, message
    tessera::log_sink sink() {
        return [this](const tessera::log_record& r) {
            std::lock_guard lock(mutex);
            lines.emplace_back(std::string(r.category), std::string(r.message));
        };
    }
    std::vector<std::string> of(std::string_view category) {
        std::lock_guard lock(mutex);
        std::vector<std::string> out;
        for (const auto& [c, m] : lines) {
            if (c == category) out.push_back(m);
        }
        return out;
    }
};

}  // namespace itest
