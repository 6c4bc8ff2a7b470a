#pragma once
/// `server` and `serve`: any tessera app over HTTP/1.1 on libuv.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/headers.hpp"
#include "tessera/http1_parser.hpp"
#include "tessera/log.hpp"
#include "tessera/tls.hpp"

namespace tessera {

class event_loop;

/// Whether the server runs the app's lifespan (uvicorn's `--lifespan`).
enum class lifespan_mode {
    automatic,  ///< run it; an app that does not speak lifespan is tolerated
    on,         ///< run it; an app that does not speak lifespan is an error
    off         ///< never run it
};

/// Everything about how a server runs, with production defaults (uvicorn's where it has one).
struct server_options {
    /// An IP address to listen on: IPv4, or IPv6 ("::1"; "::" also takes IPv4 clients, which
    /// then appear as IPv4-mapped addresses such as "::ffff:127.0.0.1").
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;  ///< 0 picks a free port (see `server::port()`)
    /// Listen on this Unix socket path instead of TCP when set (`host` and `port` are then
    /// unused). A socket file left behind by a server that is gone is replaced; a live one, or
    /// anything that is not a socket, makes `start()` fail. The file is removed at stop. Scopes
    /// have no `client` and no `server` address. Serves on one loop: `workers` must be 1.
    std::string unix_socket;
    /// Permissions of the Unix socket file (connecting needs write permission): owner and group.
    unsigned unix_socket_mode = 0660;
    /// Serve on this stream socket, inherited already bound (systemd socket activation,
    /// uvicorn's `--fd`), instead of binding `host`/`port` or `unix_socket`: TCP or Unix,
    /// listening or only bound. Every worker accepts from it; the server leaves the descriptor
    /// itself open. -1: none.
    int fd = -1;
    /// Loops, each on its own thread, sharing the port with SO_REUSEPORT (or sharing `fd`).
    unsigned workers = 1;
    /// Serve on this loop instead of on threads of the server's own (embedding): a loop the
    /// caller created on its thread (`event_loop::adopt` wraps a `uv_loop_t` it owns) and runs.
    /// `workers` must be 1. See `server` for what changes; the loop must outlive the server's
    /// shutdown.
    event_loop* loop = nullptr;
    int backlog = 2048;
    /// HTTPS and WSS when `tls.certificate_file` is set (uvicorn's `--ssl-*`): scopes then say
    /// `https` and `wss`. Certificates are loaded by the constructor, which throws when they
    /// cannot be. See docs/server.md, "TLS".
    tls_options tls;

    http1::parser_limits limits;  ///< request line 414, header section 431, body 413
    std::chrono::milliseconds header_timeout{10'000};     ///< a request head must arrive in this
    std::chrono::milliseconds body_timeout{30'000};       ///< longest wait for more body bytes
    std::chrono::milliseconds keep_alive_timeout{5'000};  ///< idle keep-alive connections close
    std::chrono::milliseconds write_timeout{30'000};      ///< a write stalled this long: drop
    std::chrono::milliseconds graceful_timeout{30'000};   ///< shutdown waits this for requests

    /// Connections served at once per server; more are answered 503 and closed (0: no limit).
    std::size_t limit_concurrency = 0;
    /// Requests served before the server shuts down gracefully (0: no limit).
    std::size_t limit_max_requests = 0;
    /// Bytes queued for a connection above which `send` waits for the client to read.
    std::size_t write_high_water = 256 * 1024;

    /// WebSocket: the largest message accepted (after reassembly and decompression); a larger
    /// one closes the connection with 1009. Must be > 0.
    std::size_t ws_max_message_size = 16 * 1024 * 1024;
    /// WebSocket keepalive: a ping is sent after this long without one (0: never).
    std::chrono::milliseconds ws_ping_interval{20'000};
    /// A ping not answered within this closes the connection with 1011 (0: never).
    std::chrono::milliseconds ws_ping_timeout{20'000};
    /// After the server's close frame, the client's answer is awaited this long before the
    /// TCP connection is dropped. Must be > 0.
    std::chrono::milliseconds ws_close_timeout{10'000};
    /// Negotiate permessage-deflate (RFC 7692) when a client offers it.
    bool ws_per_message_deflate = true;

    lifespan_mode lifespan = lifespan_mode::automatic;
    /// Prefix a proxy consumed: the scope's root_path, and prepended to its path.
    std::string root_path;
    /// Honour X-Forwarded-For/-Proto/-Host and `Forwarded` (RFC 7239) from these peers only
    /// (IP addresses or CIDR ranges; "*" trusts everyone).
    std::vector<std::string> forwarded_allow_ips{"127.0.0.1"};
    bool proxy_headers = true;

    bool date_header = true;
    bool server_header = true;
    std::string server_name = "tessera";
    /// Fields added to every response the server writes (uvicorn's `--header`): the app's, the
    /// server's own errors, and WebSocket handshakes and denials. A field the app's response
    /// names is left out, so the app's own wins. A `server` or `date` here replaces the
    /// server's. Framing and hop-by-hop fields (`content-length`, `transfer-encoding`,
    /// `connection`, `keep-alive`, `upgrade`, `te`, `trailer`) are refused.
    tessera::headers default_headers;
    bool access_log = true;
    log_sink sink;  ///< where the access log and server messages go (dropped when empty)
};

/// A running HTTP/1.1 server for one app. `start()` binds, runs the lifespan startup and starts
/// serving on `workers` threads; `stop()` shuts down gracefully (stops accepting, lets in-flight
/// requests finish up to `graceful_timeout`, tells streaming responses the client is going,
/// then runs lifespan shutdown). For programs that just run, `serve` does all of it and handles
/// SIGINT/SIGTERM. The app is shared read-only by every worker.
///
/// Embedding (`server_options::loop` set): everything runs on the caller's loop, lifespan
/// included, and nothing blocks. `start()` (on the loop's thread) binds and returns; the caller
/// runs its loop; `request_stop()` (any thread) begins the graceful shutdown, which proceeds as
/// the loop runs; the `on_stopped` handler is called on the loop's thread once everything,
/// every libuv handle of the server included, is closed. Destroying a server that is still
/// running requests the shutdown too; it then completes on the loop without calling the handler.
class server {
public:
    /// What `on_stopped` receives: null after an ordinary shutdown, or the error that stopped
    /// the server (a lifespan startup that failed after `start()` returned, as
    /// `lifespan_failure`).
    using stopped_handler = std::function<void(std::exception_ptr)>;

    /// Throws std::invalid_argument for options that cannot work (no app, no workers, a Unix
    /// socket or a caller's loop with more than one worker, a socket path too long, a zero
    /// `ws_max_message_size` or `ws_close_timeout`, a negative WebSocket interval).
    server(any_app app, server_options options);
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server();

    /// Binds and starts serving on worker threads; returns once connections are accepted.
    /// Throws std::system_error when the address cannot be bound, lifespan_failure when startup
    /// fails. Embedded: call on the loop's thread; returns once the socket listens, without
    /// running the loop. Connections are accepted once the lifespan startup completed (they wait
    /// in the listen backlog until then); a startup that fails before `start()` returns throws,
    /// a later failure stops the server and goes to `on_stopped`.
    void start();
    /// Graceful shutdown; returns when everything has stopped. Safe from any thread, and to call
    /// twice (the second call finishes at once, dropping what is left). Embedded: from the
    /// loop's thread it would wait for itself, so it throws std::logic_error (use
    /// `request_stop()` and `on_stopped`); from another thread it requests and waits.
    void stop();
    /// Asks for a graceful shutdown without waiting for it (signal handlers, other threads);
    /// `wait()` then performs it. Embedded: the shutdown then runs on the loop by itself.
    void request_stop() noexcept;
    /// Blocks until the server has stopped (by `stop()`, a signal, or `limit_max_requests`).
    /// Not for embedded servers (std::logic_error): their loop's thread must not block.
    void wait();
    /// Sets the handler called once the server has stopped completely (set it before `start()`).
    /// Embedded: on the loop's thread, after the last handle closed, so the caller may end its
    /// loop there. Otherwise: on the thread that completed `stop()` or `wait()`.
    void on_stopped(stopped_handler handler);
    /// The bound TCP port (useful with port 0); 0 on a Unix socket.
    [[nodiscard]] std::uint16_t port() const noexcept;
    [[nodiscard]] const server_options& options() const noexcept;

    struct impl;

private:
    std::shared_ptr<impl> impl_;  // shared: an embedded server's shutdown may outlive `server`
};

/// The app's lifespan startup failed: the server does not start.
class lifespan_failure : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Runs `app` until SIGINT or SIGTERM (a second signal exits at once). `on_listening`, if
/// given, is called once connections are accepted (the echo example prints its URL there).
void serve(any_app app, server_options options, std::function<void(const server&)> on_listening = {});

}  // namespace tessera
