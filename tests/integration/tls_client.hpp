#pragma once
// A blocking TLS client for the integration tests, the counterpart of `client` in
// socket_client.hpp: OpenSSL over a loopback socket with a receive timeout, so a test waiting
// for bytes that never come fails instead of hanging. Also `tls_relay`, a plaintext door to a
// TLS server for clients that only speak plain sockets (ws_client, client). Responses are
// parsed by socket_client.hpp's `read_response_from`, as the plain client's are.

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "../tls_certificates.hpp"
#include "socket_client.hpp"

namespace itest {

// --- The TLS client -----------------------------------------------------------------------------

/// How a tls_client connects.
struct tls_client_options {
    /// PEM CAs the server must chain to, checked for `server_name`; empty: no verification.
    std::string ca_file;
    std::string certificate_file;  ///< client certificate (PEM); empty: none
    std::string key_file;          ///< its key; empty: read from `certificate_file`
    std::vector<std::string> alpn;  ///< protocols offered, in order; empty: no ALPN extension
    std::string server_name = "localhost";  ///< sent as SNI and verified
    /// Newest version offered (TLS1_2_VERSION…); 0: OpenSSL's newest. Below TLS 1.2 the client
    /// drops to security level 0, as OpenSSL 3 would otherwise not offer it at all.
    int max_version = 0;
    /// A session to resume (from `tls_client::session` of an earlier connection); null: none.
    SSL_SESSION* resume = nullptr;
};

namespace tls_detail {

using tessera::test_support::openssl_errors;

/// SSL_write writes to the socket with write(2), which raises SIGPIPE when the server has
/// gone; ignore it as the server does (server.cpp), and only when nobody chose a handler.
inline void ignore_sigpipe() {
    struct sigaction current {};
    if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
        struct sigaction ignore {};
        ignore.sa_handler = SIG_IGN;
        ::sigaction(SIGPIPE, &ignore, nullptr);
    }
}

}  // namespace tls_detail

/// A blocking TLS connection to 127.0.0.1:`port` with a receive (and send) timeout. The
/// handshake runs in `handshake()`, or implicitly in the first send or read.
class tls_client {
public:
    explicit tls_client(std::uint16_t port, const tls_client_options& options = {},
                        std::chrono::milliseconds timeout = 5000ms) {
        tls_detail::ignore_sigpipe();
        open_socket(port, timeout);
        try {
            setup(options);
        } catch (...) {
            release();
            throw;
        }
    }
    tls_client(const tls_client&) = delete;
    tls_client& operator=(const tls_client&) = delete;
    tls_client(tls_client&& other) noexcept
        : fd_(std::exchange(other.fd_, -1)), context_(std::exchange(other.context_, nullptr)),
          ssl_(std::exchange(other.ssl_, nullptr)), buffer_(std::move(other.buffer_)),
          status_(other.status_), error_(std::move(other.error_)) {}
    /// Closes without close_notify, as a client that just goes away (see `close_notify`).
    ~tls_client() { release(); }

    /// Runs the handshake; false when it fails or times out, with the reason in `last_error`.
    bool handshake() {
        ERR_clear_error();
        const int r = SSL_do_handshake(ssl_);
        if (r == 1) return true;
        note_failure(r);
        return false;
    }
    /// Why the last handshake, send or read failed (OpenSSL's reason), empty before that.
    [[nodiscard]] const std::string& last_error() const noexcept { return error_; }

    /// Encrypts and sends everything (blocking); false when it could not.
    bool send(std::string_view bytes) {
        while (!bytes.empty()) {
            ERR_clear_error();
            const int chunk = static_cast<int>(std::min<std::size_t>(bytes.size(), 1 << 20));
            const int n = SSL_write(ssl_, bytes.data(), chunk);
            if (n <= 0) {
                note_failure(n);
                return false;
            }
            bytes.remove_prefix(static_cast<std::size_t>(n));
        }
        return true;
    }

    /// Reads and decrypts once into the buffer. `eof`: the server closed (close_notify, or TCP
    /// EOF without it: see `close_notify_received`); `reset`: the connection broke or the
    /// server sent a fatal alert (see `last_error`); `timeout`: nothing within the timeout.
    read_status read_some() {
        char chunk[16384];
        for (;;) {
            ERR_clear_error();
            const int n = SSL_read(ssl_, chunk, sizeof chunk);
            if (n > 0) {
                buffer_.append(chunk, static_cast<std::size_t>(n));
                return read_status::ok;
            }
            const int error = SSL_get_error(ssl_, n);
            if (error == SSL_ERROR_ZERO_RETURN) return status_ = read_status::eof;
            if ((error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) &&
                errno == EINTR) {
                continue;
            }
            const read_status how = note_failure(n);
            if (how != read_status::timeout) status_ = how;
            return how;
        }
    }

    /// Reads until the server closes (EOF, close_notify, reset or fatal alert); false on
    /// timeout. Data read is kept.
    bool wait_closed() {
        for (;;) {
            const auto s = read_some();
            if (s == read_status::ok) continue;
            return s != read_status::timeout;
        }
    }
    /// How the read that ended the stream ended (eof or reset), `ok` before that.
    [[nodiscard]] read_status last_status() const noexcept { return status_; }
    /// Whether the server's close_notify arrived (a TCP close without it is a truncation).
    [[nodiscard]] bool close_notify_received() const noexcept {
        return (SSL_get_shutdown(ssl_) & SSL_RECEIVED_SHUTDOWN) != 0;
    }

    /// Everything decrypted and not parsed yet.
    std::string& buffer() noexcept { return buffer_; }

    /// Reads one response, as client::read_response.
    std::optional<http_response> read_response(bool head_request = false) {
        return read_response_from(*this, head_request);
    }
    /// Sends a request and reads its response.
    std::optional<http_response> roundtrip(std::string_view request, bool head_request = false) {
        if (!send(request)) return std::nullopt;
        return read_response(head_request);
    }

    /// Sends close_notify (the TCP connection stays open for the server's answer).
    void close_notify() {
        ERR_clear_error();
        (void)SSL_shutdown(ssl_);
        ERR_clear_error();
    }

    /// The protocol the server selected by ALPN, empty when it selected none.
    [[nodiscard]] std::string alpn() const {
        const unsigned char* data = nullptr;
        unsigned int size = 0;
        SSL_get0_alpn_selected(ssl_, &data, &size);
        return data == nullptr ? std::string()
                               : std::string(reinterpret_cast<const char*>(data), size);
    }
    /// The negotiated version ("TLSv1.3").
    [[nodiscard]] std::string version() const { return SSL_get_version(ssl_); }
    /// The session as it stands, to resume in another connection. Under TLS 1.3 the server's
    /// tickets come after the handshake: ask once a response has been read, and send
    /// close_notify first (OpenSSL takes a session closed without it as unfit to resume).
    [[nodiscard]] std::shared_ptr<SSL_SESSION> session() const {
        return std::shared_ptr<SSL_SESSION>(SSL_get1_session(ssl_), SSL_SESSION_free);
    }
    /// Whether the handshake resumed the session given in `tls_client_options::resume`.
    [[nodiscard]] bool resumed() const { return SSL_session_reused(ssl_) == 1; }

    void set_timeout(std::chrono::milliseconds t) {
        timeval tv{};
        tv.tv_sec = static_cast<long>(t.count() / 1000);
        tv.tv_usec = static_cast<long>((t.count() % 1000) * 1000);
        ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    }

    /// Raw access for tests that misbehave (plaintext on the socket, half a record…).
    [[nodiscard]] int fd() const noexcept { return fd_; }
    [[nodiscard]] SSL* ssl() const noexcept { return ssl_; }

private:
    void open_socket(std::uint16_t port, std::chrono::milliseconds timeout) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd_ < 0) throw std::runtime_error("socket failed");
        set_timeout(timeout);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_port = htons(port);
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
            const int e = errno;
            release();
            throw std::runtime_error(std::string("connect failed: ") + std::strerror(e));
        }
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }

    void setup(const tls_client_options& options) {
        const auto fail = [](const std::string& what) {
            throw std::runtime_error("tls_client: " + what + ": " + tls_detail::openssl_errors());
        };
        ERR_clear_error();
        context_ = SSL_CTX_new(TLS_client_method());
        if (context_ == nullptr) fail("SSL_CTX_new");
        if (options.max_version != 0) {
            if (SSL_CTX_set_max_proto_version(context_, options.max_version) != 1) {
                fail("max version");
            }
            if (options.max_version < TLS1_2_VERSION) {
                SSL_CTX_set_security_level(context_, 0);
                if (SSL_CTX_set_cipher_list(context_, "DEFAULT:@SECLEVEL=0") != 1) {
                    fail("ciphers");
                }
            }
        }
        if (!options.ca_file.empty()) {
            if (SSL_CTX_load_verify_locations(context_, options.ca_file.c_str(), nullptr) != 1) {
                fail("loading " + options.ca_file);
            }
            SSL_CTX_set_verify(context_, SSL_VERIFY_PEER, nullptr);
        }
        if (!options.certificate_file.empty()) {
            const std::string& key =
                options.key_file.empty() ? options.certificate_file : options.key_file;
            if (SSL_CTX_use_certificate_chain_file(context_, options.certificate_file.c_str()) !=
                    1 ||
                SSL_CTX_use_PrivateKey_file(context_, key.c_str(), SSL_FILETYPE_PEM) != 1) {
                fail("loading " + options.certificate_file);
            }
        }
        if (!options.alpn.empty()) {
            std::string wire;  // length-prefixed names
            for (const auto& name : options.alpn) {
                wire.push_back(static_cast<char>(name.size()));
                wire += name;
            }
            // Unlike most of OpenSSL, set_alpn_protos returns 0 on success.
            if (SSL_CTX_set_alpn_protos(context_,
                                        reinterpret_cast<const unsigned char*>(wire.data()),
                                        static_cast<unsigned>(wire.size())) != 0) {
                fail("ALPN");
            }
        }
        ssl_ = SSL_new(context_);
        if (ssl_ == nullptr) fail("SSL_new");
        if (!options.server_name.empty()) {
            if (SSL_set_tlsext_host_name(ssl_, options.server_name.c_str()) != 1) fail("SNI");
            if (!options.ca_file.empty() && SSL_set1_host(ssl_, options.server_name.c_str()) != 1) {
                fail("host name");
            }
        }
        if (options.resume != nullptr && SSL_set_session(ssl_, options.resume) != 1) {
            fail("SSL_set_session");
        }
        // A blocking socket: OpenSSL's socket BIO reads and writes it directly, and the
        // receive timeout surfaces as SSL_ERROR_WANT_READ.
        if (SSL_set_fd(ssl_, fd_) != 1) fail("SSL_set_fd");
        SSL_set_connect_state(ssl_);
    }

    // Records why a handshake, write or read returning `result` failed; returns how the
    // stream stands (timeout, eof or reset).
    read_status note_failure(int result) {
        const int saved_errno = errno;
        const int error = SSL_get_error(ssl_, result);
        if (error == SSL_ERROR_WANT_READ || error == SSL_ERROR_WANT_WRITE) {
            ERR_clear_error();
            error_ = "timed out";
            return read_status::timeout;
        }
        if (error == SSL_ERROR_ZERO_RETURN) {
            error_ = "the server sent close_notify";
            return read_status::eof;
        }
        const unsigned long code = ERR_peek_error();
        error_ = tls_detail::openssl_errors();
        if (error == SSL_ERROR_SYSCALL) {
            // OpenSSL 3 reports a TCP EOF without close_notify as SSL_ERROR_SSL (below);
            // SYSCALL with errno 0 is the same from older paths.
            if (saved_errno == 0) {
                if (error_.empty()) error_ = "EOF without close_notify";
                return read_status::eof;
            }
            if (error_.empty()) error_ = std::strerror(saved_errno);
            return read_status::reset;
        }
        if (ERR_GET_REASON(code) == SSL_R_UNEXPECTED_EOF_WHILE_READING) return read_status::eof;
        if (const long verify = SSL_get_verify_result(ssl_); verify != X509_V_OK) {
            error_ += std::string(" (server certificate: ") +
                      X509_verify_cert_error_string(verify) + ")";
        }
        return read_status::reset;
    }

    void release() noexcept {
        if (ssl_ != nullptr) SSL_free(std::exchange(ssl_, nullptr));
        if (context_ != nullptr) SSL_CTX_free(std::exchange(context_, nullptr));
        if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    }

    int fd_ = -1;
    SSL_CTX* context_ = nullptr;
    SSL* ssl_ = nullptr;  // uses fd_ without owning it
    std::string buffer_;
    read_status status_ = read_status::ok;
    std::string error_;
};

// --- A plaintext door to a TLS server -----------------------------------------------------------

/// Lets a plain-socket client (ws_client, client) talk to a TLS server: listens on 127.0.0.1
/// (port 0), accepts one connection, and relays its bytes both ways over a tls_client whose
/// handshake is done in the constructor. ws_client builds its own `client` from a port, so this
/// is how WebSocket tests run over TLS without a second WebSocket client. When either side
/// closes, the relay closes the other (sending close_notify to the server); it never blocks on
/// one direction while the other has bytes.
class tls_relay {
public:
    /// Connects to the server and completes the handshake; throws std::runtime_error with
    /// OpenSSL's reason when it fails.
    explicit tls_relay(std::uint16_t server_port, const tls_client_options& options = {},
                       std::chrono::milliseconds timeout = 5000ms)
        : upstream_(server_port, options, timeout) {
        if (!upstream_.handshake()) {
            throw std::runtime_error("tls_relay: handshake failed: " + upstream_.last_error());
        }
        alpn_ = upstream_.alpn();
        listener_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in addr{};
        addr.sin_family = AF_INET;
        addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t length = sizeof addr;
        if (listener_ < 0 || ::bind(listener_, reinterpret_cast<sockaddr*>(&addr), length) != 0 ||
            ::listen(listener_, 1) != 0 ||
            ::getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &length) != 0 ||
            ::pipe2(stop_, O_CLOEXEC) != 0) {
            const int e = errno;
            close_all();
            throw std::runtime_error(std::string("tls_relay: ") + std::strerror(e));
        }
        port_ = ntohs(addr.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    tls_relay(const tls_relay&) = delete;
    tls_relay& operator=(const tls_relay&) = delete;
    ~tls_relay() {
        (void)!::write(stop_[1], "x", 1);
        thread_.join();
        close_all();
    }

    /// Where the plain client connects.
    [[nodiscard]] std::uint16_t port() const noexcept { return port_; }
    /// What ALPN selected in the relay's handshake.
    [[nodiscard]] const std::string& alpn() const noexcept { return alpn_; }

private:
    static constexpr std::size_t limit = 1 << 20;  // bytes buffered per direction

    void run() {
        pollfd waiting[2] = {{listener_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
        while (::poll(waiting, 2, -1) < 0 && errno == EINTR) {
        }
        if ((waiting[1].revents & POLLIN) != 0) return;
        plain_ = ::accept4(listener_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (plain_ < 0) return;
        const int tls = upstream_.fd();
        ::fcntl(tls, F_SETFL, ::fcntl(tls, F_GETFL) | O_NONBLOCK);
        relay(upstream_.ssl(), tls);
        // The plain client sees the end as EOF (the destructor joins before closing anything,
        // so the thread may close it).
        ::shutdown(plain_, SHUT_WR);
        ::close(std::exchange(plain_, -1));
    }

    void relay(SSL* ssl, int tls) {
        std::string to_client;  // decrypted, not yet taken by the plain socket
        std::string to_server;  // from the plain socket, not yet handed to SSL_write
        std::string writing;    // handed to SSL_write: retried unchanged until it succeeds
        bool server_done = false;
        bool client_done = false;
        bool close_notify_sent = false;
        char chunk[16384];
        for (;;) {
            short tls_events = 0;
            bool progress = true;
            while (progress) {
                progress = false;
                tls_events = 0;
                if (!server_done && to_client.size() < limit) {
                    ERR_clear_error();  // SSL_get_error reads the queue
                    const int n = SSL_read(ssl, chunk, sizeof chunk);
                    if (n > 0) {
                        to_client.append(chunk, static_cast<std::size_t>(n));
                        progress = true;
                    } else if (!wants(ssl, n, tls_events)) {
                        server_done = true;  // close_notify, EOF, reset or alert
                        progress = true;
                    }
                }
                if (!to_client.empty()) {
                    const ssize_t n = ::send(plain_, to_client.data(), to_client.size(),
                                             MSG_NOSIGNAL | MSG_DONTWAIT);
                    if (n > 0) {
                        to_client.erase(0, static_cast<std::size_t>(n));
                        progress = true;
                    } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                        return;  // the plain client has gone
                    }
                }
                if (!client_done && to_server.size() < limit) {
                    const ssize_t n = ::recv(plain_, chunk, sizeof chunk, MSG_DONTWAIT);
                    if (n > 0) {
                        to_server.append(chunk, static_cast<std::size_t>(n));
                        progress = true;
                    } else if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK &&
                                          errno != EINTR)) {
                        client_done = true;
                        progress = true;
                    }
                }
                if (writing.empty() && !to_server.empty()) {
                    const std::size_t size = std::min<std::size_t>(to_server.size(), 16384);
                    writing = to_server.substr(0, size);
                    to_server.erase(0, size);
                }
                if (!writing.empty() && !server_done) {
                    ERR_clear_error();
                    const int n = SSL_write(ssl, writing.data(), static_cast<int>(writing.size()));
                    if (n > 0) {
                        writing.clear();
                        progress = true;
                    } else if (!wants(ssl, n, tls_events)) {
                        server_done = true;
                        progress = true;
                    }
                }
            }
            if (server_done && to_client.empty()) return;
            if (client_done && !server_done && !close_notify_sent && writing.empty() &&
                to_server.empty()) {
                // Keep relaying whatever the server still sends until it closes.
                ERR_clear_error();
                (void)SSL_shutdown(ssl);
                ::shutdown(tls, SHUT_WR);
                close_notify_sent = true;
            }
            const bool take = !client_done && to_server.size() < limit;
            pollfd fds[3] = {
                {plain_,
                 static_cast<short>((take ? POLLIN : 0) | (to_client.empty() ? 0 : POLLOUT)), 0},
                {tls, server_done ? short{0} : tls_events, 0},
                {stop_[0], POLLIN, 0},
            };
            while (::poll(fds, 3, -1) < 0 && errno == EINTR) {
            }
            if ((fds[2].revents & POLLIN) != 0) return;
        }
    }

    // Whether a non-positive SSL_read/SSL_write result only means "wait"; adds what to wait for.
    static bool wants(SSL* ssl, int result, short& events) {
        switch (SSL_get_error(ssl, result)) {
            case SSL_ERROR_WANT_READ: events |= POLLIN; return true;
            case SSL_ERROR_WANT_WRITE: events |= POLLOUT; return true;
            default: return false;
        }
    }

    void close_all() noexcept {
        for (int* fd : {&listener_, &plain_, &stop_[0], &stop_[1]}) {
            if (*fd >= 0) ::close(std::exchange(*fd, -1));
        }
    }

    tls_client upstream_;
    std::string alpn_;
    int listener_ = -1;
    int plain_ = -1;
    int stop_[2] = {-1, -1};
    std::uint16_t port_ = 0;
    std::thread thread_;
};

}  // namespace itest
