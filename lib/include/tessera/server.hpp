#pragma once
/// `server` and `serve`: any tessera app over HTTP/1.1 on libuv.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/http1_parser.hpp"
#include "tessera/log.hpp"

namespace tessera {

/// Whether the server runs the app's lifespan (uvicorn's `--lifespan`).
enum class lifespan_mode {
    automatic,  ///< run it; an app that does not speak lifespan is tolerated
    on,         ///< run it; an app that does not speak lifespan is an error
    off         ///< never run it
};

/// Everything about how a server runs, with production defaults (uvicorn's where it has one).
struct server_options {
    std::string host = "127.0.0.1";
    std::uint16_t port = 8000;  ///< 0 picks a free port (see `server::port()`)
    /// Listen on this Unix socket path instead of TCP when set.
    std::string unix_socket;
    /// Loops, each on its own thread, sharing the port with SO_REUSEPORT.
    unsigned workers = 1;
    int backlog = 2048;

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
    bool access_log = true;
    log_sink sink;  ///< where the access log and server messages go (dropped when empty)
};

/// A running HTTP/1.1 server for one app. `start()` binds, runs the lifespan startup and starts
/// serving on `workers` threads; `stop()` shuts down gracefully (stops accepting, lets in-flight
/// requests finish up to `graceful_timeout`, tells streaming responses the client is going,
/// then runs lifespan shutdown). For programs that just run, `serve` does all of it and handles
/// SIGINT/SIGTERM. The app is shared read-only by every worker.
class server {
public:
    server(any_app app, server_options options);
    server(const server&) = delete;
    server& operator=(const server&) = delete;
    ~server();

    /// Binds and starts serving on worker threads; returns once connections are accepted.
    /// Throws std::system_error when the address cannot be bound, lifespan_failure when startup
    /// fails.
    void start();
    /// Graceful shutdown; returns when everything has stopped. Safe from any thread, and to call
    /// twice (the second call finishes at once, dropping what is left).
    void stop();
    /// Asks for a graceful shutdown without waiting for it (signal handlers, other threads);
    /// `wait()` then performs it.
    void request_stop() noexcept;
    /// Blocks until the server has stopped (by `stop()`, a signal, or `limit_max_requests`).
    void wait();
    /// The bound TCP port (useful with port 0).
    [[nodiscard]] std::uint16_t port() const noexcept;
    [[nodiscard]] const server_options& options() const noexcept;

    struct impl;

private:
    std::unique_ptr<impl> impl_;
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
