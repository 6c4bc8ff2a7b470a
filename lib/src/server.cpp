// The libuv HTTP/1.1 server: workers (one loop per thread sharing the port with SO_REUSEPORT,
// or the caller's loop when embedded), connections over TCP or a Unix socket driving the
// sans-IO parser and serializer, the per-request exchange with the app, and file bodies sent
// with sendfile. Only this file touches stream handles.
//
// Memory per connection is what an idle keep-alive connection needs: its handle, the parser
// state pointer and a few flags. Reads land in the worker's one read buffer; only bytes a
// request has not consumed yet are copied into the connection. The request's state (scope,
// exchange, coroutine) exists while a request is in flight.
#include "tessera/server.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>
#include <uv.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstring>
#include <ctime>
#include <mutex>
#include <optional>
#include <system_error>
#include <thread>

#include "tessera/cancellation.hpp"
#include "tessera/detail/driver.hpp"
#include "tessera/detail/spare_fields.hpp"
#include "tessera/http1_serializer.hpp"
#include "tessera/http_exchange.hpp"
#include "tessera/loop.hpp"
#include "tessera/percent.hpp"
#include "tessera/proxy_headers.hpp"
#include "tessera/status.hpp"
#include "tessera/websocket_exchange.hpp"
#include "tessera/ws/handshake.hpp"
#include "tessera/ws/protocol.hpp"
#include "refresh.hpp"

namespace tessera {

using detail::refresh;

namespace {

constexpr std::size_t read_buffer_size = 64 * 1024;
// A request body the app answered without reading is read and dropped, keeping the connection,
// when no more than this is left of it (uvicorn drains any amount; the bound keeps a client from
// making the server read an upload nobody wants: beyond it the response says
// `connection: close`).
constexpr std::uint64_t unread_body_drain_limit = 64 * 1024;
// One sendfile call is asked for at most max(write_high_water, this) bytes: the socket takes
// what it has room for and the rest waits for it to drain.
constexpr std::size_t min_sendfile_chunk = 64 * 1024;
// Over TLS a file is read in chunks of this size and encrypted (sendfile cannot encrypt).
constexpr std::size_t tls_file_chunk = 64 * 1024;
// WebSocket messages the app has not received yet: parsing (and so reading) pauses once this
// many, or this many bytes, are waiting, so a client cannot make the server buffer more than
// these plus one message and one read buffer.
constexpr std::size_t ws_inbox_messages = 32;
constexpr std::size_t ws_inbox_bytes = 64 * 1024;

struct worker;
struct connection;
struct connection_io;
struct file_transfer;
void on_new_connection(uv_stream_t* listener, int status);

// The path of a Unix socket the server created, and which file it was, so that stopping
// removes that socket and never one a later server put at the same path.
struct unix_socket_file {
    std::string path;
    dev_t device = 0;
    ino_t inode = 0;
    bool bound = false;

    void remove() noexcept {
        if (!bound) return;
        bound = false;
        struct stat info {};
        if (::lstat(path.c_str(), &info) == 0 && S_ISSOCK(info.st_mode) &&
            info.st_dev == device && info.st_ino == inode) {
            ::unlink(path.c_str());
        }
    }
};

std::string uv_message(const char* what, int rc) {
    return std::string(what) + ": " + uv_strerror(rc);
}

}  // namespace

// ---- server-wide state ------------------------------------------------------------------

struct server::impl : std::enable_shared_from_this<server::impl> {
    any_app app;
    server_options options;
    proxy_trust trust;
    std::optional<tls_context> tls;  // set when options.tls is enabled
    std::shared_ptr<state> app_state = std::make_shared<state>();
    std::vector<std::unique_ptr<worker>> workers;
    std::uint16_t bound_port = 0;
    unix_socket_file socket_file;
    bool inherited_unix = false;  // options.fd is a Unix socket
    stopped_handler on_stopped;

    std::atomic<std::size_t> connections{0};
    std::atomic<std::size_t> requests{0};
    std::atomic<bool> stopping{false};

    std::mutex mutex;
    std::condition_variable changed;
    bool started = false;
    bool stopped = false;
    std::thread limit_stopper;  // stops the server when limit_max_requests is reached

    // Lifespan: on its own thread, or on the caller's loop when embedded.
    struct lifespan_state;
    std::unique_ptr<lifespan_state> lifespan;

    // Embedded: the shutdown steps run on the caller's loop as it runs them; `self` keeps this
    // alive until the last one, even when the `server` object is destroyed first (`orphaned`:
    // nobody to tell then).
    enum class phase : std::uint8_t { idle, starting, serving, draining, closing, stopped };
    phase embedded_phase = phase::idle;
    std::shared_ptr<impl> self;
    std::atomic<bool> orphaned{false};
    std::exception_ptr stop_error;  // why an embedded server stopped by itself
    bool start_failed = false;      // start() threw: its cleanup tells nobody

    [[nodiscard]] bool embedded() const noexcept { return options.loop != nullptr; }
    void log(log_level level, std::string_view message) const {
        emit(options.sink, level, "server", message);
    }
    void request_served();

    void open_worker_listener(worker& w, std::uint16_t port);
    void start_threaded();
    void start_embedded();
    void stop_threaded();
    void on_lifespan_changed();         // embedded: startup or shutdown progressed
    void begin_embedded_stop();         // on the loop
    void on_embedded_drained();         // every connection is gone
    void on_embedded_lifespan_done();   // lifespan shutdown finished (or timed out)
    void on_embedded_handles_closed();  // the worker's handles are closed: done
    void notify_stopped(std::exception_ptr error);
};

// ---- per-worker state -------------------------------------------------------------------

namespace {

struct worker {
    server::impl* shared = nullptr;
    unsigned index = 0;
    uv_os_sock_t listen_fd = -1;
    bool pipe = false;      // the listener (and so every connection) is a Unix socket
    bool embedded = false;  // on the caller's loop: no thread, teardown by callbacks
    std::thread thread;
    event_loop* loop = nullptr;
    uv_loop_t* uv = nullptr;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } listener{};
    bool listener_open = false;  // the listener handle is initialised and not closed yet
    bool listening = false;
    bool drained_reported = false;
    int handles_closing = 0;  // embedded teardown: handles whose close callback is pending
    uv_idle_t deferred_runner{};
    std::vector<connection*> deferred;  // connections to continue outside the current callback
    uv_timer_t shutdown_timer{};
    // One timer per worker checks every connection's deadline, instead of a timer per
    // connection: arming a timeout is two stores, and an idle connection holds no timer handle.
    uv_timer_t sweep_timer{};
    std::vector<std::unique_ptr<connection_io>> io_pool;
    connection* connections = nullptr;  // intrusive list of open connections
    std::size_t open = 0;
    bool draining = false;
    std::unique_ptr<char[]> read_buffer{new char[read_buffer_size]};
    // TLS: what a read decrypts to, as read_buffer holds a plain connection's bytes (allocated
    // on first use: a server without TLS never has one).
    std::unique_ptr<char[]> plaintext_buffer;
    char* tls_buffer() {
        if (!plaintext_buffer) plaintext_buffer.reset(new char[read_buffer_size]);
        return plaintext_buffer.get();
    }

    // The `date` value, formatted once per second per loop.
    std::time_t date_second = 0;
    http1::http_date_buffer date{};

    std::mutex ready_mutex;
    std::condition_variable ready_cv;
    bool ready = false;
    std::exception_ptr failure;

    // The loop's cached time (no system call) tells whether the wall clock needs asking: every
    // response written in one loop turn shares one check.
    std::uint64_t date_checked_at = ~std::uint64_t{0};

    std::string_view current_date() {
        const std::uint64_t loop_now = uv_now(uv);
        if (loop_now != date_checked_at) {
            date_checked_at = loop_now;
            const std::time_t now = std::time(nullptr);
            if (now != date_second) {
                date_second = now;
                date = http1::format_http_date(now);
            }
        }
        return date.view();
    }

    // What every response head gets from the server rather than the app: `date`, `server`
    // and the default fields, as the options say.
    void stamp(http1::response_head& head) {
        const server_options& options = shared->options;
        if (options.date_header) head.date = current_date();
        if (options.server_header) head.server = options.server_name;
        if (!options.default_headers.empty()) head.defaults = &options.default_headers;
    }

    uv_stream_t* listener_stream() noexcept { return reinterpret_cast<uv_stream_t*>(&listener); }

    void open_handles(event_loop& on);  // timers, the idle runner and the listener; throws
    void start_listening();             // throws
    void close_listener();
    void close_handles_embedded();      // embedded teardown: closes the rest, then reports
    void defer(connection* c);
    void run_deferred();
    void sweep();
    void begin_drain(std::chrono::milliseconds graceful);
    void maybe_finish_drain();
    void drop_all();
    void on_shutdown_timer();
};

// What a WebSocket connection's timer is waiting for (checked by the worker's sweep, like the
// HTTP deadlines: no timer handle per connection).
enum class ws_timer : std::uint8_t { none, ping, pong, close };

// One WebSocket connection: the app-event rules, the frame protocol once accepted, and where
// the app waits. Lives in the request_state from the upgrade request until the connection is
// freed.
//
// Everything an open WebSocket keeps between messages is here, not in connection_io: an idle
// one (nothing to parse, queue or write) gives its I/O state back to the worker's pool, and the
// app's suspended `receive` must still be found — and cancelled — through stable addresses.
struct ws_session {
    explicit ws_session(const scope& s) : exchange(s) {}

    websocket_exchange exchange;
    std::optional<ws::protocol> proto;  // from the 101 on
    // The app waiting in `receive` (a message or the disconnect) or in `send` (backpressure).
    std::coroutine_handle<> receive_waiter{};
    std::coroutine_handle<> drain_waiter{};
    cancellation_callback receive_cancel, drain_cancel;
    bool receive_cancelled = false, drain_cancelled = false;
    std::uint64_t deadline = 0;  // loop time (ms) at which `timer` fires
    std::uint32_t pings = 0;     // the keepalive ping's payload: a counter
    ws_timer timer = ws_timer::none;
    body_framing denial_framing = body_framing::none;
    bool upgraded = false;  // the 101 is queued
};

// One request in flight: what the app sees and the exchange rules. Reused by the connection
// for each request, so a keep-alive connection does not reallocate it.
struct request_state {
    scope request_scope;
    std::optional<http_exchange> exchange;
    std::optional<std::string> piece;  // a body piece parsed but not yet received by the app
    bool more_body = true;             // the parser has not reached the end of the body
    bool body_finished_sent = false;   // the app received the last body event
    bool app_done = false;
    bool response_complete = false;
    bool keep_alive = true;
    std::exception_ptr error;
    std::string activity;
    std::chrono::steady_clock::time_point started;  // set only when the access log is on
    std::uint64_t bytes_out = 0;
    bool head_written = false;  // the app's response head was accepted by the serializer
    int server_status = 0;      // the server answered for the app (500), for the access log

    // The request body as the parser frames it, to decide whether an unread rest can be
    // drained (keeping the connection) or the response must say `connection: close`.
    http1::body_kind body_kind = http1::body_kind::none;
    std::uint64_t content_length = 0;
    std::uint64_t body_parsed = 0;
    bool expect_continue = false;
    bool continue_sent = false;

    // The head is queued at `head_mark` in the batch and nothing has been written since: a file
    // body can still turn it into a 500 (file missing) or give it a content-length.
    std::size_t head_mark = 0;
    bool head_retractable = false;
    bool abort_after = false;  // the body could not be completed: close after what was sent
    bool file_active = false;  // a file body is on its way; the app waits in `send`
    std::exception_ptr file_error;  // why the file could not be sent (thrown from `send`)

    cancellation_state cancellation;
    detail::driver runner;
    std::unique_ptr<ws_session> ws;  // a WebSocket connection's state (null for HTTP)
};

enum class timer_mode : std::uint8_t { none, keep_alive, header, body, write };

// ".0" to ".255": an IPv4 address is four of these, the first without its dot.
struct octet_text {
    std::array<char, 4> text{};
    std::uint8_t size = 0;
};
constexpr std::array<octet_text, 256> octet_texts = [] {
    std::array<octet_text, 256> table{};
    for (unsigned value = 0; value < 256; ++value) {
        auto& entry = table[value];
        entry.text[entry.size++] = '.';
        if (value >= 100) entry.text[entry.size++] = static_cast<char>('0' + value / 100);
        if (value >= 10) entry.text[entry.size++] = static_cast<char>('0' + value / 10 % 10);
        entry.text[entry.size++] = static_cast<char>('0' + value % 10);
    }
    return table;
}();

// A peer or local address in 20 bytes; formatted only when a request needs it.
struct compact_address {
    std::array<unsigned char, 16> bytes{};
    std::uint16_t port = 0;
    std::uint8_t family = 0;  // 0: unknown

    void capture(uv_tcp_t* tcp, bool local_side) {
        sockaddr_storage storage{};
        int len = sizeof storage;
        const int rc =
            local_side ? uv_tcp_getsockname(tcp, reinterpret_cast<sockaddr*>(&storage), &len)
                       : uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&storage), &len);
        if (rc == 0) assign(storage);
    }
    // An IPv4 or IPv6 socket address; another family leaves this unknown.
    void assign(const sockaddr_storage& storage) {
        if (storage.ss_family == AF_INET) {
            const auto* in = reinterpret_cast<const sockaddr_in*>(&storage);
            std::memcpy(bytes.data(), &in->sin_addr, 4);
            port = ntohs(in->sin_port);
            family = AF_INET;
        } else if (storage.ss_family == AF_INET6) {
            const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&storage);
            std::memcpy(bytes.data(), &in6->sin6_addr, 16);
            port = ntohs(in6->sin6_port);
            family = AF_INET6;
        }
    }
    // Formats into `out`, reusing its storage. IPv4 is formatted by hand: inet_ntop formats
    // with sprintf, which showed up in profiles at several percent of a pipelined request.
    void format_into(std::optional<address>& out) const {
        if (family == 0) {
            out.reset();
            return;
        }
        if (!out) out.emplace();
        out->port = port;
        if (family == AF_INET) {
            // Into a local buffer, then one assign (within the string's inline capacity). Each
            // byte's digits come from a table: dividing per digit cost half of this function.
            char text[16];
            char* p = text;
            for (std::size_t i = 0; i < 4; ++i) {
                const octet_text& digits = octet_texts[bytes[i]];
                std::memcpy(p, digits.text.data(), 4);  // '.' and up to 3 digits; 4 is cheaper
                p += digits.size;                         // than a variable-length copy
            }
            out->host.assign(text + 1, static_cast<std::size_t>(p - text - 1));  // no first '.'
            return;
        }
        char text[INET6_ADDRSTRLEN] = {};
        ::inet_ntop(family, bytes.data(), text, sizeof text);
        out->host.assign(text);
    }
};

struct connection_io {
    explicit connection_io(const http1::parser_limits& limits) : parser(limits) {}

    http1::request_parser parser;   // HTTP only: unused (reset) once a WebSocket is upgraded
    std::string pending;            // unconsumed input kept between reads
    std::size_t pending_offset = 0;
    std::string_view input;         // the unconsumed input being processed right now

    http1::write_batch batch;       // bytes waiting to be written
    http1::write_batch inflight;    // bytes of the uv_write in progress (stable while it runs)
    uv_write_t write_request{};
    std::vector<uv_buf_t> write_bufs;

    std::unique_ptr<request_state> request;
    std::coroutine_handle<> receive_waiter{};
    std::coroutine_handle<> drain_waiter{};
    cancellation_callback receive_cancel, drain_cancel;
    bool receive_cancelled = false, drain_cancelled = false;

    // A WebSocket's messages the app has not received yet (at most ws_inbox_messages: a vector,
    // as an empty std::deque allocates over 500 bytes). Here rather than in the session: a
    // WebSocket keeps its I/O state while any wait, and its capacity goes back to the pool with it.
    std::vector<websocket::receive> ws_inbox;
    std::size_t ws_inbox_bytes = 0;
    // A WebSocket handshake's key and offered extensions until the app answers it (copies: the
    // scope's headers may change under proxy handling). Here, not in the session: a WebSocket
    // keeps its I/O state until it is upgraded.
    std::string ws_key;
    std::vector<std::string> ws_extensions;

    // Nothing is written while set: a file body is being opened (its head may still change) or
    // sent (nothing may overtake its bytes).
    bool hold_output = false;
    // The app answered without reading the whole body: the rest is read and dropped before the
    // next request.
    bool discarding_body = false;
    file_transfer* file = nullptr;  // the file body on its way (see file_transfer)
};

struct connection {
    worker* owner;
    // TCP or Unix socket; the union costs nothing over a uv_tcp_t here because the flags below
    // are bits (sizeof(connection) is 360 bytes either way). A TCP connection's TLS session
    // (HTTPS) takes the bytes by which a uv_pipe_t outgrows a uv_tcp_t, so TLS makes no
    // connection larger (and is offered over TCP only).
    struct tcp_stream {
        uv_tcp_t tcp;
        tls_session* tls;  // owned (freed with the connection); null: plain HTTP
    };
    union stream_handle {
        tcp_stream tcp;
        uv_pipe_t pipe;
    } handle{};
    static_assert(sizeof(tcp_stream) <= sizeof(uv_pipe_t));
    std::uint64_t deadline = 0;  // loop time (ms) at which `mode`'s timeout fires
    connection* prev = nullptr;
    connection* next = nullptr;
    // Everything a connection needs only while it reads, writes or serves a request. Idle
    // keep-alive connections and idle WebSockets give it back to the worker's pool, so they hold
    // only the handle and these few fields.
    std::unique_ptr<connection_io> io;
    // A WebSocket's request state (its scope, the app's coroutine, its session), moved here out
    // of `io` at the upgrade so that `io` can go back to the pool while the WebSocket is idle.
    std::unique_ptr<request_state> ws_request;
    compact_address client, local;
    std::uint8_t handles_open = 0;  // the stream; freed when closed and no request runs
    timer_mode mode = timer_mode::none;
    bool closing : 1 = false;
    bool peer_gone : 1 = false;
    bool reading : 1 = false;
    bool in_round : 1 = false;  // inside a read callback's processing
    bool close_after_flush : 1 = false;
    bool deferred : 1 = false;
    bool in_request : 1 = false;  // a request_state is live
    bool writing : 1 = false;
    bool starting : 1 = false;  // inside start_request: a synchronous app's completion needs no defer
    bool websocket : 1 = false;  // upgraded to (or asking for) a WebSocket: no more HTTP here

    explicit connection(worker* w) : owner(w) {}
    ~connection();
    connection(const connection&) = delete;
    connection& operator=(const connection&) = delete;
    uv_stream_t* stream() noexcept { return reinterpret_cast<uv_stream_t*>(&handle); }
    // This connection's TLS state: null for plain HTTP (and for every Unix socket).
    [[nodiscard]] tls_session* tls() const noexcept;
    connection_io& use_io();
    void release_io_if_idle();
    // The request in flight: a WebSocket's (held by the connection), else the HTTP one in `io`.
    [[nodiscard]] request_state* request() const noexcept {
        if (ws_request) return ws_request.get();
        return io ? io->request.get() : nullptr;
    }
    // The WebSocket session; null for HTTP (and before a handshake is found valid).
    [[nodiscard]] ws_session* session() const noexcept {
        return ws_request ? ws_request->ws.get() : nullptr;
    }

    // --- lifetime ---
    void close();
    void maybe_free();

    // --- reading ---
    void start_reading();
    void stop_reading();
    void on_read(ssize_t nread, const uv_buf_t* buf);
    bool decrypt(std::string_view& bytes, bool& peer_closed);
    void fail_tls();
    bool seal_batch();
    void close_after_close_notify();
    void process();
    void keep_unconsumed();
    bool parse_body_piece();
    bool discard_body();

    // --- requests ---
    void start_request();
    void finish_request();
    static detail::driver run_app(connection& self, request_state& req);
    task<event> receive_event();
    task<void> send_event(event e);
    /// What an HTTP send still waits for once its event is in the write batch.
    enum class send_wait { nothing, file, drain };
    send_wait write_http_event(const event& e);
    send_wait complete_http_send(bool head, bool last, std::size_t bytes);
    task<void> finish_file_send();
    task<void> drain_send();
    void write_simple_response(int status, std::string_view body, bool close_connection,
                               const tessera::headers* extra = nullptr);

    // --- WebSocket ---
    bool start_websocket(const ws::handshake_request& hs);
    void process_websocket();
    task<event> ws_receive();
    websocket::receive take_ws_message();
    task<void> ws_send(event e);
    send_wait write_ws_event(const event& e);
    void finish_ws_send(bool message);
    task<void> ws_drain_send(bool message);
    void write_ws_accept(ws_session& ws, const websocket_output& out);
    void ws_close_sent();
    void ws_arm(ws_timer t, std::chrono::milliseconds after);
    void on_ws_timer();
    void finish_websocket();
    void log_app_failure(const request_state& req, const std::optional<std::string>& problem);
    void close_after_writing();
    void access_log(const request_state& req) const;
    void ws_access_log(const request_state& req, std::string_view outcome) const;

    // --- file bodies (sendfile) ---
    void begin_file(const http::response_file& source);
    void on_file_step(ssize_t result, bool regular, std::uint64_t size);
    void start_file_body(std::uint64_t bytes);
    void start_sendfile();
    void on_sendfile_done(ssize_t result);
    void wait_writable();
    void on_writable(int status);
    void file_failed_before_body(std::exception_ptr error);
    void file_failed_mid_body(std::string_view why);
    void end_file(std::exception_ptr error);
    void detach_file() noexcept;

    // --- writing ---
    void flush();
    void on_write_done(int status);
    [[nodiscard]] std::size_t queued() const noexcept {
        return io ? io->batch.size() + io->inflight.size() : 0;
    }

    // --- timers ---
    void arm(timer_mode m, std::chrono::milliseconds after);
    void disarm();
    void on_timer();

    // Where the app waits in `receive` and in `send`: a WebSocket's session, or the HTTP
    // request's I/O state.
    std::coroutine_handle<>& receive_waiter() noexcept {
        ws_session* ws = session();
        return ws ? ws->receive_waiter : io->receive_waiter;
    }
    std::coroutine_handle<>& drain_waiter() noexcept {
        ws_session* ws = session();
        return ws ? ws->drain_waiter : io->drain_waiter;
    }

    // Resume the app inline, from the top of a loop callback, under its request's watchdog label
    // (restored afterwards, so no label outlives its request).
    void wake_receiver() {
        ws_session* ws = session();
        if (auto waiter = std::exchange(receive_waiter(), {})) {
            (ws ? ws->receive_cancel : io->receive_cancel).unregister();
            const request_state* req = request();
            const detail::resumption_activity label(req ? req->activity : std::string_view{});
            waiter.resume();
        }
    }
    void wake_drainer() {
        ws_session* ws = session();
        if (auto waiter = std::exchange(drain_waiter(), {})) {
            (ws ? ws->drain_cancel : io->drain_cancel).unregister();
            const request_state* req = request();
            const detail::resumption_activity label(req ? req->activity : std::string_view{});
            waiter.resume();
        }
    }
};

// 360, not 352, since `ws_request`: glibc serves both from the same 368-byte chunk (a request
// plus its 8-byte header, rounded up to 16), so an idle keep-alive connection costs no more.
static_assert(sizeof(connection) <= 360, "an idle connection must not grow (see docs/server.md)");

// A file body going out with sendfile (http.response.pathsend): opened, measured and sent on
// the thread pool so the loop never waits for the disk. Owned by the connection's I/O state;
// when the connection closes while one of its requests is on the thread pool, it is detached
// (`conn` null) and frees itself, closing its descriptors, when that request ends.
//
// sendfile(2) is called directly rather than through uv_fs_sendfile: libuv 1.44 first tries
// copy_file_range, which refuses sockets, and then falls back to a read/write loop that waits in
// poll() without a timeout when the socket is full, holding a thread-pool thread for as long as
// the client does not read. sendfile(2) on the non-blocking socket returns EAGAIN instead, and
// the loop waits for room (writable_watch) under the write timeout.
struct file_transfer {
    enum class stage : std::uint8_t { open, stat, send };

    uv_fs_t fs{};      // open, then fstat
    uv_work_t work{};  // one sendfile call
    connection* conn = nullptr;
    http::response_file source;  // a copy: the app's event is gone once its send returns
    uv_file file = -1;
    // A duplicate of the connection's descriptor, so that a sendfile running on the pool never
    // writes to a descriptor number the loop closed and reused meanwhile.
    int socket = -1;
    stage at = stage::open;
    bool in_flight = false;          // `fs` or `work` is on the thread pool
    bool chunked = false;            // sent as the one chunk of a chunked body
    bool waiting_for_flush = false;  // the head is being written; sendfile starts after it
    std::uint64_t total = 0, offset = 0, remaining = 0, asked = 0;
    ssize_t sent = 0;  // the last sendfile's result: bytes, or -errno
    struct writable_watch* watch = nullptr;
    // TLS: the bytes must be encrypted, so the pool reads a chunk (pread) into this buffer and
    // the loop writes it through the session instead of sendfile.
    std::unique_ptr<char[]> tls_chunk;

    static void on_fs(uv_fs_t* request);
    static void send_chunk(uv_work_t* request);  // on a thread-pool thread
    static void on_sent(uv_work_t* request, int status);
    void close_descriptors() noexcept {
        if (file >= 0) ::close(std::exchange(file, -1));
        if (socket >= 0) ::close(std::exchange(socket, -1));
    }
};

// Waits for the socket to take more bytes while a file is sent: a poll handle on a duplicate of
// the connection's descriptor (libuv allows one watcher per descriptor, and the stream has its
// own). Heap-allocated; its close callback closes the duplicate and frees it.
struct writable_watch {
    uv_poll_t poll{};
    int fd = -1;
    connection* conn = nullptr;  // null once closed

    static void close(writable_watch* watch) noexcept {
        watch->conn = nullptr;
        uv_close(reinterpret_cast<uv_handle_t*>(&watch->poll), [](uv_handle_t* h) {
            auto* self = static_cast<writable_watch*>(h->data);
            ::close(self->fd);
            delete self;
        });
    }
};

// ---- awaiters used by the app-facing receive/send -----------------------------------------

struct wait_slot {
    connection& c;
    std::coroutine_handle<>& slot;
    cancellation_callback& cancel;
    bool& cancelled;
    [[nodiscard]] bool await_ready() const noexcept { return false; }
    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> self) {
        cancelled = false;
        slot = self;
        cancel.register_on(ambient_cancellation(self), &on_cancel, this);
    }
    void await_resume() {
        cancel.unregister();
        if (cancelled) throw operation_cancelled{};
    }
    static void on_cancel(void* raw) noexcept {
        auto* self = static_cast<wait_slot*>(raw);
        self->cancelled = true;
        // Resume through the worker's deferred queue: cancel() may run deep inside other code.
        auto handle = std::exchange(self->slot, {});
        if (handle) {
            self->c.owner->loop->post(handle);
        }
    }
};

// ---- connection: lifetime ------------------------------------------------------------------

connection::~connection() {
    if (!owner->pipe) delete handle.tcp.tls;
}

tls_session* connection::tls() const noexcept { return owner->pipe ? nullptr : handle.tcp.tls; }

void connection::close() {
    if (closing) return;
    closing = true;
    disarm();
    stop_reading();
    peer_gone = true;
    if (ws_session* ws = session()) {
        // The app's receive yields the disconnect (1006 unless a close frame said otherwise).
        ws->exchange.on_client_gone();
        ws->timer = ws_timer::none;
    }
    // Fix: the connection stays in the worker's list until it is freed (maybe_free), not only
    // until it closes. A request still running on a closed connection (its client left) was
    // invisible to shutdown: the drain ended at once and the forced stop could not cancel it,
    // so its coroutine outlived the loop.
    --owner->open;
    owner->shared->connections.fetch_sub(1, std::memory_order_relaxed);
    auto on_closed = [](uv_handle_t* h) {
        auto* self = static_cast<connection*>(h->data);
        --self->handles_open;
        self->maybe_free();
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&handle), on_closed);
    // A request still running learns the client has gone: receive yields disconnect and send
    // throws; it unwinds on its own and the connection is freed after it. Resumed from the loop:
    // close() may be running inside the app's own code. (A WebSocket's app waits in its
    // session, which an idle WebSocket keeps without `io`.)
    // Each of the four places an app may wait is woken the same way: no longer cancellable,
    // resumed from the loop's top.
    const auto wake_later = [this](std::coroutine_handle<>& waiter, cancellation_callback& cancel) {
        if (auto handle = std::exchange(waiter, {})) {
            cancel.unregister();
            owner->loop->post(handle);
        }
    };
    if (ws_session* ws = session()) {
        wake_later(ws->receive_waiter, ws->receive_cancel);
        wake_later(ws->drain_waiter, ws->drain_cancel);
    }
    if (!io) {
        owner->maybe_finish_drain();
        return;
    }
    detach_file();
    wake_later(io->receive_waiter, io->receive_cancel);
    wake_later(io->drain_waiter, io->drain_cancel);
}

void connection::maybe_free() {
    if (handles_open > 0 || deferred) return;
    if (const request_state* req = request(); in_request && req && !req->app_done) return;
    if (prev) {
        prev->next = next;
    } else if (owner->connections == this) {
        owner->connections = next;
    }
    if (next) next->prev = prev;
    worker* w = owner;
    delete this;
    w->maybe_finish_drain();
}

// ---- connection: reading -------------------------------------------------------------------

void connection::start_reading() {
    if (reading || closing) return;
    reading = true;
    uv_read_start(
        stream(),
        [](uv_handle_t* h, std::size_t, uv_buf_t* buf) {
            auto* self = static_cast<connection*>(h->data);
            auto* w = self->owner;
            // One read buffer per loop: reads are processed before the next one is handed out.
            buf->base = w->read_buffer.get();
            buf->len = read_buffer_size;
        },
        [](uv_stream_t* s, ssize_t nread, const uv_buf_t* buf) {
            auto* self = static_cast<connection*>(s->data);
            self->owner->loop->guarded([&] { self->on_read(nread, buf); });
        });
}

void connection::stop_reading() {
    if (!reading) return;
    reading = false;
    uv_read_stop(stream());
}

void connection::on_read(ssize_t nread, const uv_buf_t* buf) {
    if (nread > 0) use_io();
    if (nread < 0) {
        // EOF or error: the client is gone. A request in flight sees a disconnect.
        close();
        return;
    }
    if (nread == 0) return;
    std::string_view fresh(buf->base, static_cast<std::size_t>(nread));
    bool peer_closed = false;  // TLS close_notify: the client sends nothing more
    if (tls()) {
        if (!decrypt(fresh, peer_closed)) {
            fail_tls();
            return;
        }
        if (fresh.empty() && io->pending_offset >= io->pending.size()) {
            // Handshake messages only: their answers go out now.
            if (peer_closed) {
                close();
                return;
            }
            flush();
            release_io_if_idle();
            return;
        }
    }
    if (io->pending_offset < io->pending.size()) {
        io->pending.append(fresh);
        io->input = std::string_view(io->pending).substr(io->pending_offset);
    } else {
        io->pending.clear();
        io->pending_offset = 0;
        io->input = fresh;  // parse straight from the loop's buffer
    }
    in_round = true;
    process();
    in_round = false;
    if (peer_closed) {
        close();  // as a TCP end of file after these bytes
        return;
    }
    if (!closing) {
        keep_unconsumed();
        flush();
        release_io_if_idle();
    }
}

// TLS: the ciphertext that arrived becomes `bytes`, the plaintext it completes, in the worker's
// TLS buffer. Plaintext never outgrows the ciphertext it came from, but a record begun by an
// earlier read can complete in this one, so more than the buffer holds is appended to
// `pending` as the read path keeps unconsumed bytes. False when the session failed.
bool connection::decrypt(std::string_view& bytes, bool& peer_closed) {
    tls()->feed(bytes);
    char* buffer = owner->tls_buffer();
    std::size_t size = 0;
    for (;;) {
        if (size == read_buffer_size) {
            if (io->pending_offset >= io->pending.size()) {
                io->pending.clear();
                io->pending_offset = 0;
            }
            io->pending.append(buffer, size);
            size = 0;
        }
        const auto result = tls()->read({buffer + size, read_buffer_size - size});
        if (result.status == tls_session::read_status::data) {
            size += result.bytes;
            continue;
        }
        if (result.status == tls_session::read_status::failed) return false;
        peer_closed = result.status == tls_session::read_status::closed;
        break;
    }
    bytes = std::string_view(buffer, size);
    return true;
}

// A failed handshake (or a corrupt record): the alert OpenSSL queued is sent, then the
// connection closes. Logged at debug level: scanners and clients that distrust the
// certificate do this all day.
void connection::fail_tls() {
    if (owner->shared->options.sink) owner->shared->log(log_level::debug, "TLS: " + tls()->error());
    stop_reading();
    close_after_flush = true;
    flush();
}

// Moves bytes not yet consumed out of the loop's read buffer (or compacts `pending`), so an idle
// connection keeps nothing and a partial one keeps only its partial bytes.
void connection::keep_unconsumed() {
    if (!io) return;
    if (io->input.empty()) {
        io->pending.clear();
        io->pending_offset = 0;
        if (io->pending.capacity() > 4096) std::string().swap(io->pending);
        io->input = {};
        return;
    }
    if (io->input.data() >= io->pending.data() && io->input.data() < io->pending.data() + io->pending.size()) {
        const std::size_t offset = static_cast<std::size_t>(io->input.data() - io->pending.data());
        if (offset > 0) {
            io->pending.erase(0, offset);
        }
    } else {
        io->pending.assign(io->input);
    }
    io->pending_offset = 0;
    io->input = io->pending;
}

// Parses what arrived as far as the connection may go: request heads start requests, body bytes
// are handed to an app waiting in receive, and everything else stays buffered (reading pauses)
// until the app asks for it or its response is complete.
void connection::process() {
    use_io();
    if (websocket) {
        process_websocket();
        return;
    }
    // Fix: nothing more is parsed once the connection is to close after its last response
    // (Connection: close, an error answered, shutdown). When that response could not be
    // written at once, the loop went on to serve the next pipelined request before closing.
    while (!closing && !close_after_flush) {
        if (io->discarding_body) {
            if (!discard_body()) return;
            continue;
        }
        if (in_request) {
            auto& req = *io->request;
            // Fix: an app that answered without reading the whole body used to leave the
            // connection stuck here (never finished, never closed); finish it first.
            if (req.app_done) {
                finish_request();
                continue;
            }
            if (req.more_body) {
                if (!io->receive_waiter || req.piece) {
                    // The app is not asking for body now: stop reading, keep the bytes.
                    if (!io->input.empty() || !reading) stop_reading();
                    return;
                }
                if (!parse_body_piece()) {
                    if (closing || close_after_flush) return;  // a body error was answered
                    start_reading();
                    arm(timer_mode::body, owner->shared->options.body_timeout);
                    return;
                }
                wake_receiver();
                continue;
            }
            // The body is in; the next request waits until this response is complete
            // (responses in order). Reading goes on, so a client that leaves is noticed (and a
            // streaming response stops), but pipelined bytes are buffered only up to a bound.
            if (io->input.size() >= read_buffer_size) {
                stop_reading();
            } else {
                start_reading();
            }
            return;
        }
        if (owner->draining && io->input.empty()) {
            close();
            return;
        }
        const auto result = io->parser.parse(io->input);
        io->input.remove_prefix(result.consumed);
        switch (result.kind) {
            case http1::event_kind::need_more:
                start_reading();
                if (io->input.empty()) {
                    arm(timer_mode::keep_alive, owner->shared->options.keep_alive_timeout);
                } else if (mode != timer_mode::header) {
                    // Measured from the first byte of the head: a client trickling bytes does not
                    // extend it (slowloris).
                    arm(timer_mode::header, owner->shared->options.header_timeout);
                }
                return;
            case http1::event_kind::head:
                disarm();
                start_request();
                if (websocket) {
                    // An upgrade: no more HTTP on this connection.
                    if (!closing) process_websocket();
                    return;
                }
                continue;
            case http1::event_kind::error: {
                const auto& error = io->parser.error();
                write_simple_response(error.status, reason_phrase(error.status), true);
                return;
            }
            default:
                // Body and completion events only occur inside a request.
                return;
        }
    }
}

// Parses the next body piece into the request. False when more bytes are needed.
bool connection::parse_body_piece() {
    auto& req = *io->request;
    for (;;) {
        const auto result = io->parser.parse(io->input);
        io->input.remove_prefix(result.consumed);
        switch (result.kind) {
            case http1::event_kind::body: {
                // Copied once, with room after the bytes for a JSON parser's read-ahead
                // (simdjson reads up to 64 bytes past the end): request::json() then parses
                // the body where it lies instead of copying it into a padded buffer.
                constexpr std::size_t parser_padding = 64;
                auto& piece = req.piece.emplace();
                piece.reserve(result.body.size() + parser_padding);
                piece.assign(result.body);
                req.body_parsed += result.body.size();
                return true;
            }
            case http1::event_kind::trailers: continue;  // not surfaced to apps (ASGI has none)
            case http1::event_kind::message_complete:
            case http1::event_kind::upgrade:
                // Upgrades arrive with the WebSocket issue; until then the request is served as
                // plain HTTP and the connection continues.
                if (result.kind == http1::event_kind::upgrade) io->parser.resume();
                req.more_body = false;
                req.piece.emplace();
                return true;
            case http1::event_kind::need_more: return false;
            case http1::event_kind::error: {
                const auto& error = io->parser.error();
                req.keep_alive = false;
                if (!req.exchange->started()) {
                    // The app is still reading: answer for it and let it see a disconnect.
                    write_simple_response(error.status, reason_phrase(error.status), true);
                } else {
                    close();
                }
                return false;
            }
            case http1::event_kind::head: return false;  // cannot happen mid-body
        }
    }
}

// Reads and drops the rest of a body the app did not read (at most unread_body_drain_limit
// bytes: a larger rest made the response say `connection: close`). True once it is gone and
// the next request may be parsed; false when more bytes must arrive or the connection closed.
bool connection::discard_body() {
    for (;;) {
        const auto result = io->parser.parse(io->input);
        io->input.remove_prefix(result.consumed);
        switch (result.kind) {
            case http1::event_kind::body:
            case http1::event_kind::trailers: continue;
            case http1::event_kind::upgrade:
                io->parser.resume();
                [[fallthrough]];
            case http1::event_kind::message_complete:
                io->discarding_body = false;
                return true;
            case http1::event_kind::need_more:
                start_reading();
                arm(timer_mode::body, owner->shared->options.body_timeout);
                return false;
            case http1::event_kind::error:
            case http1::event_kind::head:
                // The response is out; a malformed rest only ends the connection.
                close();
                return false;
        }
    }
}

// Whether the rest of a request body the app may leave unread can be drained after the response
// (the connection then stays open) — decided when the response head is written.
bool unread_body_drainable(const request_state& req) noexcept {
    // A client waiting for `100 Continue` may send the body or not once it has the final
    // response: the next bytes cannot be told apart, so the connection closes.
    if (req.expect_continue && !req.continue_sent) return false;
    return req.body_kind == http1::body_kind::content_length &&
           req.content_length - req.body_parsed <= unread_body_drain_limit;
}

// ---- connection: requests ------------------------------------------------------------------

void connection::start_request() {
    const auto& head = io->parser.head();
    const auto& options = owner->shared->options;
    if (!io->request) io->request = std::make_unique<request_state>();
    auto& req = *io->request;
    auto& s = req.request_scope;
    s.type = scope_type::http;
    // The scope is reused from the connection's previous request, whose values these mostly
    // repeat (GET, 1.1, http): comparing is cheaper than assigning.
    refresh(s.http_version, head.http_version());
    refresh(s.method, head.method);
    refresh(s.scheme, tls() ? "https" : "http");
    if (options.root_path.empty()) {
        refresh(s.raw_path, head.path);
    } else {
        s.raw_path.assign(options.root_path).append(head.path);
    }
    if (options.root_path.empty() && head.path.find('%') == std::string_view::npos) {
        refresh(s.path, head.path);  // nothing to decode: usually the previous request's path
    } else {
        s.path.assign(options.root_path);
        percent_decode_append(s.path, head.path);
    }
    refresh(s.query_string, head.query);
    refresh(s.root_path, options.root_path);
    {
        // Reuse the previous request's field strings where possible.
        std::vector<header_field> fields = s.headers.release();
        http1::to_header_fields(head.headers, fields);
        s.headers = tessera::headers(std::move(fields));
    }
    if (head.form == http1::target_form::absolute && !head.authority.empty() &&
        !s.headers.contains("host")) {
        s.headers.append("host", head.authority);
    }
    client.format_into(s.client);
    local.format_into(s.server);
    s.subprotocols.clear();
    s.path_params = {};
    s.state.clear();
    s.extensions.clear();
    // ASGI's tls extension: the handshake's facts, worked out once per connection.
    if (tls_session* session = tls()) s.extensions.set<const tls_info*>(&session->info());
    s.app_state = owner->shared->app_state;
    // An upgrade to WebSocket: validated here (RFC 6455 §4.2.1); a malformed one is answered
    // 400 or 426 without the app.
    ws::handshake_request hs;
    if (head.upgrade || !head.upgrade_protocols.empty()) {
        hs = ws::validate_handshake(s.method, s.http_version, s.headers);
        if (hs.status == ws::handshake_status::ok) {
            s.type = scope_type::websocket;
            s.scheme = tls() ? "wss" : "ws";
            s.subprotocols = hs.subprotocols;
        }
    }
    if (options.proxy_headers) {
        apply_proxy_headers(owner->shared->trust, s);
    }
    req.ws.reset();
    if (hs.status != ws::handshake_status::not_websocket && start_websocket(hs)) return;

    req.exchange.emplace(s);
    req.piece.reset();
    req.more_body = head.body != http1::body_kind::none;
    req.body_finished_sent = false;
    req.app_done = false;
    req.response_complete = false;
    req.keep_alive = head.keep_alive && !owner->draining;
    req.error = nullptr;
    req.bytes_out = 0;
    req.head_written = false;
    req.server_status = 0;
    req.body_kind = head.body;
    req.content_length = head.content_length;
    req.body_parsed = 0;
    req.expect_continue = head.expect_continue;
    req.continue_sent = false;
    req.head_mark = 0;
    req.head_retractable = false;
    req.abort_after = false;
    req.file_active = false;
    req.file_error = nullptr;
    // Only the access log reads the start time: no clock read per request without it.
    if (options.access_log && options.sink) req.started = std::chrono::steady_clock::now();
    req.activity.assign(s.method);
    req.activity.push_back(' ');
    req.activity.append(head.path);
    if (req.ws) {
        // The handshake ends the HTTP exchange: the parser stays paused at its upgrade event,
        // and every later byte is a WebSocket frame.
        const auto result = io->parser.parse(io->input);
        if (result.kind == http1::event_kind::message_complete ||
            result.kind == http1::event_kind::upgrade) {
            io->input.remove_prefix(result.consumed);
        }
        req.more_body = false;
        req.body_finished_sent = true;
    } else if (!req.more_body) {
        // A request without a body still ends with a message_complete event; consume it.
        const auto result = io->parser.parse(io->input);
        if (result.kind == http1::event_kind::message_complete ||
            result.kind == http1::event_kind::upgrade) {
            io->input.remove_prefix(result.consumed);
            if (result.kind == http1::event_kind::upgrade) io->parser.resume();
        }
    }
    in_request = true;
    req.runner = run_app(*this, req);
    starting = true;
    req.runner.start();
    starting = false;
}

// The app's `receive`: a WebSocket's app waits in ws_receive itself rather than through
// receive_event, so an idle WebSocket holds one suspended coroutine frame fewer (384 bytes).
struct app_receiver {
    connection* self;
    task<event> operator()() const {
        return self->websocket ? self->ws_receive() : self->receive_event();
    }
};

detail::driver connection::run_app(connection& self, request_state& req) {
    app_receiver receive_impl{&self};
    send_member<connection, &connection::send_event> send_impl{&self};
    try {
        const activity_scope label(req.activity);
        co_await in_scope(self.owner->shared->app(req.request_scope, receive(receive_impl),
                                                  send(send_impl)),
                          &req.cancellation);
    } catch (...) {
        req.error = std::current_exception();
    }
    req.app_done = true;
    // What comes next (the next pipelined request, a keep-alive wait, freeing a connection
    // whose client left) runs outside this coroutine, which is finishing.
    // (An app that completed inside start_request is followed up by process() itself.)
    if (!self.starting) self.owner->defer(&self);
}

task<event> connection::receive_event() {
    if (websocket) co_return co_await ws_receive();
    auto& req = *io->request;
    if (peer_gone) co_return http::disconnect{};
    if (!req.body_finished_sent) {
        if (req.exchange->take_continue_due()) {
            io->batch.append_copy(http1::continue_response);
            req.continue_sent = true;
            flush();
        }
        if (!req.piece && req.more_body && !parse_body_piece()) {
            // A body error was answered (close_after_flush): no more body will come.
            if (closing || close_after_flush) co_return http::disconnect{};
            // Nothing buffered: wait for the client, with reading on and the body timeout armed.
            start_reading();
            arm(timer_mode::body, owner->shared->options.body_timeout);
            co_await wait_slot{*this, io->receive_waiter, io->receive_cancel, io->receive_cancelled};
            if (peer_gone || !req.piece) co_return http::disconnect{};
        }
        http::request piece(std::move(*req.piece), req.more_body);
        req.piece.reset();
        if (!piece.more_body) req.body_finished_sent = true;
        co_return piece;
    }
    // After the body, receive waits until the client goes, the response is complete, or the
    // server shuts down (which streaming responses take as the client going).
    if (!req.response_complete && !owner->draining) {
        co_await wait_slot{*this, io->receive_waiter, io->receive_cancel, io->receive_cancelled};
    }
    co_return http::disconnect{};
}

// Most sends finish at once: the event becomes bytes in the write batch, and the app gets a
// ready task (no coroutine frame: two per request otherwise, 5% of a plaintext request's
// cost). Only a file body and write backpressure wait, in coroutines of their own. Errors still
// reach the app at its co_await.
task<void> connection::send_event(event e) {
    if (websocket) return ws_send(std::move(e));
    try {
        const send_wait wait = write_http_event(e);
        // The head is in the batch now: its fields go back to the thread's spare, for the
        // next response built here to fill without allocating.
        if (auto* start = std::get_if<http::response_start>(&e)) {
            detail::keep_spare_fields(start->headers.release());
        }
        switch (wait) {
            case send_wait::nothing: break;
            case send_wait::file: return finish_file_send();
            case send_wait::drain: return drain_send();
        }
    } catch (...) {
        return failed_task(std::current_exception());
    }
    return task<void>::ready();
}

connection::send_wait connection::write_http_event(const event& e) {
    if (peer_gone || closing) throw client_disconnected();
    auto& req = *io->request;
    const auto out = req.exchange->on_send(e);
    switch (out.what) {
        case exchange_output::kind::head: {
            bool keep = req.keep_alive && !req.exchange->closes_connection();
            // A body the app may leave unread is drained afterwards only when little is left of
            // it; otherwise the client learns now that the connection ends with this response.
            if (keep && req.more_body && !unread_body_drainable(req)) keep = false;
            http1::response_head head{
                .status = out.status,
                .fields = out.fields,
                .framing = out.framing,
                .content_length = out.content_length,
                .keep_alive = keep,
                .http10 = req.request_scope.http_version == "1.0",
            };
            owner->stamp(head);
            if (!keep) req.keep_alive = false;
            req.head_mark = io->batch.size();
            const auto error = http1::write_response_head(head, io->batch);
            if (error != http1::head_error::none) {
                throw protocol_error("the app's response head is invalid: " +
                                     std::string(http1::to_string(error)));
            }
            req.head_written = true;
            req.head_retractable = true;
            break;
        }
        case exchange_output::kind::body: {
            const auto framing = req.exchange->framing();
            http1::write_body(framing, out.bytes, out.last, io->batch);
            req.bytes_out += out.bytes.size();
            break;
        }
        case exchange_output::kind::file:
            if (!out.file) break;  // HEAD, or a status without a body: nothing to send
            begin_file(*out.file);  // copies what it needs of the event
            return send_wait::file;
        case exchange_output::kind::nothing: break;
    }
    return complete_http_send(out.what == exchange_output::kind::head, out.last, out.bytes.size());
}

// After an event's bytes are in the batch: note a complete response, decide when the batch
// goes out, and whether the send must wait for the client to read.
connection::send_wait connection::complete_http_send(bool head, bool last, std::size_t bytes) {
    auto& req = *io->request;
    const auto& options = owner->shared->options;
    if (last) {
        req.response_complete = true;
        if (io->receive_waiter) owner->loop->post(std::exchange(io->receive_waiter, {}));
    }
    if (head) {
        // The head waits for the first body bytes, or for the app to pause (the deferred round
        // writes it), so that a file body can still retract it (a missing file is a 500) or
        // give it a content-length.
        if (!in_round) owner->defer(this);
    } else if (!in_round || bytes >= 512 || queued() >= options.write_high_water) {
        // Inside a read round small responses wait for the round's one write (pipelined
        // responses coalesce); anything borrowed from the app, or outside a round, goes out now.
        flush();
    }
    if (!closing && queued() >= options.write_high_water) return send_wait::drain;
    if (closing) throw client_disconnected();
    // Fix: the app's body bytes are only valid until this send completes. flush() returns
    // early while a write is in progress, leaving them borrowed in `batch` below the high
    // water mark; writev later read freed memory. Copy whatever is still borrowed.
    if (!io->batch.empty()) io->batch.own();
    return send_wait::nothing;
}

// A file body: the send completes when the file has been written (or has failed).
task<void> connection::finish_file_send() {
    auto& req = *io->request;
    try {
        while (req.file_active && !closing) {
            wait_slot slot{*this, io->drain_waiter, io->drain_cancel, io->drain_cancelled};
            co_await slot;
        }
    } catch (const operation_cancelled&) {
        // The app stops waiting, but the file's bytes are already on their way: the
        // response cannot be completed, nor anything sent after it.
        if (req.file_active) close();
        throw;
    }
    if (closing) throw client_disconnected();
    if (req.file_error) std::rethrow_exception(std::exchange(req.file_error, nullptr));
    if (complete_http_send(false, true, 0) == send_wait::drain) co_await drain_send();
}

// Write backpressure: the send completes once the client has read enough. The app's body
// bytes stay borrowed meanwhile (they are valid until the send completes), so a large body
// is not copied.
task<void> connection::drain_send() {
    while (!closing && queued() >= owner->shared->options.write_high_water) {
        wait_slot slot{*this, io->drain_waiter, io->drain_cancel, io->drain_cancelled};
        co_await slot;
    }
    if (closing) throw client_disconnected();
    if (!io->batch.empty()) io->batch.own();
}

void connection::write_simple_response(int status, std::string_view body, bool close_connection,
                                       const tessera::headers* extra) {
    use_io();
    tessera::headers fields{{"content-type", "text/plain; charset=utf-8"}};
    if (extra) {
        for (const auto& field : *extra) fields.append(field.name, field.value);
    }
    http1::response_head head{
        .status = status,
        .fields = &fields,
        .framing = body_framing::content_length,
        .content_length = body.size(),
        .keep_alive = !close_connection,
        .http10 = false,
    };
    owner->stamp(head);
    (void)http1::write_response_head(head, io->batch);
    io->batch.append_copy(body);
    if (close_connection) {
        close_after_flush = true;
        stop_reading();
    }
    flush();
}

void connection::access_log(const request_state& req) const {
    const auto& options = owner->shared->options;
    if (!options.access_log || !options.sink) return;
    const auto elapsed = std::chrono::duration<double, std::milli>(
                             std::chrono::steady_clock::now() - req.started)
                             .count();
    const auto& s = req.request_scope;
    char timing[32];
    std::snprintf(timing, sizeof timing, "%.2fms", elapsed);
    std::string line;
    line.reserve(96);
    line.append(s.client ? s.client->to_string() : std::string("-"));
    line.append(" - \"").append(s.method).append(" ").append(s.raw_path);
    if (!s.query_string.empty()) line.append("?").append(s.query_string);
    line.append(" HTTP/").append(s.http_version).append("\" ");
    line.append(std::to_string(req.server_status != 0 ? req.server_status
                                                        : req.exchange->status()))
        .append(" ");
    line.append(std::to_string(req.bytes_out)).append(" ").append(timing);
    emit(options.sink, log_level::info, "access", line);
}

// Logs an exception the app raised (not a disconnect) or, when it did not, its misuse.
void connection::log_app_failure(const request_state& req,
                                 const std::optional<std::string>& problem) {
    if (req.error) {
        bool disconnect = false;
        std::string what = "unknown exception";
        try {
            std::rethrow_exception(req.error);
        } catch (const client_disconnected&) {
            disconnect = true;
        } catch (const operation_cancelled&) {
            disconnect = peer_gone;
            what = "operation cancelled";
        } catch (const std::exception& e) {
            what = e.what();
        } catch (...) {
        }
        if (!disconnect) {
            owner->shared->log(log_level::error, "exception in the app while serving " +
                                                     req.activity + ": " + what);
        }
    } else if (problem && !peer_gone) {
        owner->shared->log(log_level::error, req.activity + ": " + *problem);
    }
}

void connection::finish_request() {
    auto& req = *io->request;
    in_request = false;
    const auto problem = req.exchange->on_app_return();
    log_app_failure(req, problem);
    owner->shared->request_served();
    if (closing) return;
    if (!req.exchange->started() || !req.head_written) {
        // Nothing was sent: answer 500. The body may be unread, so the connection closes.
        // Fix: also when the app's head was rejected by the serializer (a CR/LF in a value):
        // the exchange counts as started, but nothing reached the wire, so a 500 still can.
        // The access log reports the 500 (it logged the exchange's status, 0 or the app's).
        constexpr std::string_view body = "Internal Server Error";
        write_simple_response(500, body, true);
        req.server_status = 500;
        req.bytes_out = body.size();
        access_log(req);
        return;
    }
    if (problem || !req.exchange->complete() || req.abort_after) {
        // The framing cannot be completed: the client must see the connection end. Fix: after
        // what the app did send — close() alone dropped bytes still queued in this round, so
        // the client saw no response at all instead of a truncated one.
        close_after_writing();
        return;
    }
    access_log(req);
    if (!req.keep_alive || owner->draining ||
        (req.more_body && !unread_body_drainable(req))) {
        close_after_writing();
        return;
    }
    // Fix: a body the app did not read used to close the connection after a response that had
    // promised to keep it. The rest (a bounded amount, see unread_body_drainable) is read and
    // dropped, then the next request is served, as uvicorn does.
    if (req.more_body) io->discarding_body = true;
}

// ---- connection: WebSocket -----------------------------------------------------------------
//
// An upgrade request runs the app with a WebSocket scope; websocket_exchange says what each of
// its events means (as http_exchange does for HTTP) and ws::protocol turns frames into messages
// and back. The connection never returns to HTTP: it closes after the closing handshake, a
// refusal, or a denial response. Keepalive pings and the close handshake's timeout are
// deadlines checked by the worker's sweep.

// One access-log line per handshake the app answered, worded as uvicorn's:
// `127.0.0.1:50000 - "WebSocket /chat?room=1" [accepted]`, or the status it got instead (403 for
// a close before accepting, a denial response's status, 500 when the app never answered).
void connection::ws_access_log(const request_state& req, std::string_view outcome) const {
    const auto& options = owner->shared->options;
    if (!options.access_log || !options.sink) return;
    const auto& s = req.request_scope;
    std::string line;
    line.reserve(64);
    line.append(s.client ? s.client->to_string() : std::string("-"));
    line.append(" - \"WebSocket ").append(s.raw_path);
    if (!s.query_string.empty()) line.append("?").append(s.query_string);
    line.append("\" ").append(outcome);
    emit(options.sink, log_level::info, "access", line);
}

// Sets up the WebSocket session for a valid handshake (false: the app runs), or answers a
// malformed one without the app (true).
bool connection::start_websocket(const ws::handshake_request& hs) {
    auto& req = *io->request;
    const auto& head = io->parser.head();
    if (hs.status == ws::handshake_status::ok && head.body == http1::body_kind::none) {
        websocket = true;
        // The connection holds the request from now on (the object stays where it is, so the
        // caller's references remain valid): `io` may go back to the pool while it is idle.
        ws_request = std::move(io->request);
        req.ws = std::make_unique<ws_session>(req.request_scope);
        io->ws_key.assign(hs.key);
        io->ws_extensions.clear();
        for (const auto value : hs.extensions) io->ws_extensions.emplace_back(value);
        return false;
    }
    const int status = hs.status == ws::handshake_status::upgrade_required ? 426 : 400;
    std::string body(hs.status == ws::handshake_status::ok ? "a WebSocket handshake has no body"
                                                           : hs.reason);
    if (status == 426) {
        const tessera::headers version{{"sec-websocket-version", std::string(ws::supported_version)}};
        write_simple_response(status, body, true, &version);
    } else {
        write_simple_response(status, body, true);
    }
    return true;
}

void connection::process_websocket() {
    auto& req = *ws_request;
    auto& ws = *req.ws;
    if (in_request && req.app_done) finish_websocket();
    if (closing || close_after_flush) return;
    if (!ws.upgraded) {
        // The app has not answered the handshake: frames a client sends at once wait (bounded);
        // reading goes on so that a client leaving is noticed.
        if (io->input.size() >= read_buffer_size) {
            stop_reading();
        } else {
            start_reading();
        }
        return;
    }
    auto& proto = *ws.proto;
    bool more = true;
    while (more && !proto.closed() && !io->input.empty()) {
        // Read backpressure: messages the app has not received stop the parsing (and so the
        // reading) until it catches up. Once the app has closed or returned, messages are
        // dropped and parsing goes on to find the client's close.
        const bool app_listening = in_request && !proto.close_sent();
        if (app_listening && !io->ws_inbox.empty() &&
            (io->ws_inbox.size() >= ws_inbox_messages || io->ws_inbox_bytes >= ws_inbox_bytes)) {
            stop_reading();
            return;
        }
        // The input is this worker's read buffer or the connection's pending string: ours to
        // unmask in place.
        const std::span<char> input(const_cast<char*>(io->input.data()), io->input.size());
        const ws::protocol_result r = proto.parse(input, io->batch);
        io->input.remove_prefix(r.consumed);
        switch (r.kind) {
            case ws::protocol_event::need_more: more = false; break;
            case ws::protocol_event::message: {
                std::string data = proto.take_message();
                if (app_listening) {
                    io->ws_inbox_bytes += data.size();
                    io->ws_inbox.emplace_back(std::move(data), proto.is_binary());
                    wake_receiver();
                }
                break;
            }
            case ws::protocol_event::ping: break;  // the pong is queued
            case ws::protocol_event::pong:
                if (ws.timer == ws_timer::pong) {
                    ws_arm(ws_timer::ping, owner->shared->options.ws_ping_interval);
                }
                break;
            case ws::protocol_event::close:
            case ws::protocol_event::fail:
                // The client's close (its echo is queued), or a violation failing the connection
                // (a close with its code is queued): the app's receive yields that code.
                ws.exchange.on_client_close(proto.close_code(), std::string(proto.close_reason()));
                wake_receiver();
                break;
        }
        if (closing || close_after_flush) return;
    }
    if (proto.closed()) {
        // Both closes exchanged (or the connection failed): the server closes TCP first.
        close_after_writing();
        return;
    }
    start_reading();
}

task<event> connection::ws_receive() {
    for (;;) {
        auto& ws = *session();
        // No `io`: an idle WebSocket, nothing waiting.
        switch (ws.exchange.next_receive(io && !io->ws_inbox.empty())) {
            case websocket_receive_step::connect: co_return websocket::connect{};
            case websocket_receive_step::message: co_return take_ws_message();
            case websocket_receive_step::disconnect: co_return ws.exchange.disconnect_event();
            case websocket_receive_step::wait: break;
        }
        wait_slot slot{*this, ws.receive_waiter, ws.receive_cancel, ws.receive_cancelled};
        co_await slot;
    }
}

// Out of ws_receive so that its frame, held by every idle WebSocket, has no message in it.
websocket::receive connection::take_ws_message() {
    websocket::receive message = std::move(io->ws_inbox.front());
    io->ws_inbox.erase(io->ws_inbox.begin());
    io->ws_inbox_bytes -= message.data.size();
    // Parsing paused for the app: go on from the loop's top. So too when the app took the last
    // message outside a read's round, whose end would otherwise have given back the I/O state
    // of a WebSocket now idle.
    if (!closing && !close_after_flush && session()->upgraded &&
        (!reading || (!in_round && io->ws_inbox.empty()))) {
        owner->defer(this);
    }
    return message;
}

// As for HTTP, a send finishes at once unless the client is slow to read: no coroutine frame
// for the common case, and errors still reach the app at its co_await.
task<void> connection::ws_send(event e) {
    bool message = false;
    try {
        message = std::holds_alternative<websocket::send>(e);
        if (write_ws_event(e) == send_wait::nothing) return task<void>::ready();
    } catch (...) {
        return failed_task(std::current_exception());
    }
    return ws_drain_send(message);
}

connection::send_wait connection::write_ws_event(const event& e) {
    auto& req = *ws_request;
    auto& ws = *req.ws;
    use_io();  // an idle WebSocket takes its I/O state back from the pool
    const websocket_output out = ws.exchange.on_send(e);  // throws on misuse or a client gone
    const auto& options = owner->shared->options;
    switch (out.what) {
        case websocket_output::kind::nothing: return send_wait::nothing;
        case websocket_output::kind::accept:
            if (closing) throw client_disconnected();
            ws_access_log(req, "[accepted]");
            write_ws_accept(ws, out);
            break;
        case websocket_output::kind::reject:
            // Closed before accepting: 403, as uvicorn answers.
            if (!closing) write_simple_response(403, {}, true);
            req.server_status = 403;
            ws_access_log(req, "403");
            return send_wait::nothing;
        case websocket_output::kind::denial: {
            if (closing) throw client_disconnected();
            const exchange_output& piece = out.response;
            if (piece.what == exchange_output::kind::head) {
                http1::response_head head{
                    .status = piece.status,
                    .fields = piece.fields,
                    .framing = piece.framing,
                    .content_length = piece.content_length,
                    .keep_alive = false,
                    .http10 = false,
                };
                owner->stamp(head);
                ws.denial_framing = piece.framing;
                const auto error = http1::write_response_head(head, io->batch);
                if (error != http1::head_error::none) {
                    throw protocol_error("the app's denial response head is invalid: " +
                                         std::string(http1::to_string(error)));
                }
                req.server_status = piece.status;
                ws_access_log(req, std::to_string(piece.status));
            } else if (piece.what == exchange_output::kind::body) {
                http1::write_body(ws.denial_framing, piece.bytes, piece.last, io->batch);
            }
            if (piece.last) {
                close_after_writing();
                return send_wait::nothing;
            }
            break;
        }
        case websocket_output::kind::message:
            if (closing || !ws.proto) throw client_disconnected();
            if (ws.proto->send_message(out.data, out.binary, io->batch) !=
                ws::send_status::sent) {
                throw client_disconnected();  // the connection failed meanwhile
            }
            break;
        case websocket_output::kind::close:
            if (closing || !ws.proto) return send_wait::nothing;
            (void)ws.proto->send_close(out.code, out.reason, io->batch);
            ws_close_sent();
            return send_wait::nothing;
    }
    flush();
    // Write backpressure, as for HTTP bodies: wait while the client has not read enough.
    if (!closing && queued() >= options.write_high_water) return send_wait::drain;
    finish_ws_send(out.what == websocket_output::kind::message);
    return send_wait::nothing;
}

void connection::finish_ws_send(bool message) {
    if (closing && message) throw client_disconnected();
    // The app's bytes are valid only until this send completes.
    if (io && !io->batch.empty()) io->batch.own();
    // Sent from outside a read's round (the app woke on its own, e.g. a timer): the I/O state
    // taken for this send goes back from the loop's top once it is all written. Never here:
    // the callers up this stack may be using it.
    if (!in_round && !closing && io && !writing && io->batch.empty()) owner->defer(this);
}

task<void> connection::ws_drain_send(bool message) {
    auto& ws = *ws_request->ws;
    while (!closing && queued() >= owner->shared->options.write_high_water) {
        wait_slot slot{*this, ws.drain_waiter, ws.drain_cancel, ws.drain_cancelled};
        co_await slot;
    }
    finish_ws_send(message);
}

// The 101 (with the subprotocol, the agreed compression and the app's extra fields), then the
// frame protocol starts; frames that came with the handshake are parsed from the loop's top.
void connection::write_ws_accept(ws_session& ws, const websocket_output& out) {
    const auto& options = owner->shared->options;
    ws::deflate_options deflate_settings;
    deflate_settings.enabled = options.ws_per_message_deflate;
    std::optional<ws::deflate_agreement> deflate;
    if (deflate_settings.enabled && !io->ws_extensions.empty()) {
        const std::vector<std::string_view> offers(io->ws_extensions.begin(),
                                                   io->ws_extensions.end());
        deflate = ws::negotiate_deflate(offers, deflate_settings);
    }
    const tessera::headers fields = ws::accept_headers(
        io->ws_key, out.subprotocol ? std::string_view(*out.subprotocol) : std::string_view{},
        deflate ? std::string_view(deflate->response) : std::string_view{}, *out.fields);
    // The exchange has checked the app's fields; the handshake's own `connection: Upgrade`
    // keeps the head from adding a `connection` field of its own.
    http1::response_head head{.status = 101, .fields = &fields};
    owner->stamp(head);
    const auto error = http1::write_response_head(head, io->batch);
    if (error != http1::head_error::none) {
        throw protocol_error("the app's websocket.accept head is invalid: " +
                             std::string(http1::to_string(error)));
    }
    ws.proto.emplace(ws::protocol_options{
        .role = ws::role::server,
        .max_message_size = options.ws_max_message_size,
        .deflate = deflate ? std::optional<ws::deflate_params>(deflate->params) : std::nullopt,
        .compression = deflate_settings,
    });
    ws.upgraded = true;
    ws_request->server_status = 101;
    io->ws_extensions.clear();
    if (options.ws_ping_interval.count() > 0) ws_arm(ws_timer::ping, options.ws_ping_interval);
    if (owner->draining) {
        // Accepted while the server shuts down: closed at once, as the others were.
        ws.exchange.on_client_close(1001, "server shutting down");
        (void)ws.proto->send_close(1001, "server shutting down", io->batch);
        ws_close_sent();
        return;
    }
    flush();
    owner->defer(this);
}

// This end's close frame is queued: once the client's close has arrived too, the connection
// ends after writing; otherwise the client's answer is awaited, up to ws_close_timeout.
void connection::ws_close_sent() {
    auto& ws = *session();
    if (ws.proto->closed()) {
        close_after_writing();
        return;
    }
    ws_arm(ws_timer::close, owner->shared->options.ws_close_timeout);
    flush();
    if (!closing) start_reading();
}

void connection::ws_arm(ws_timer t, std::chrono::milliseconds after) {
    auto& ws = *session();
    ws.timer = t;
    ws.deadline = uv_now(owner->uv) + static_cast<std::uint64_t>(after.count());
}

void connection::on_ws_timer() {
    auto& ws = *session();
    const auto& options = owner->shared->options;
    switch (std::exchange(ws.timer, ws_timer::none)) {
        case ws_timer::none: return;
        case ws_timer::ping: {
            if (ws.proto->close_sent()) return;
            use_io();  // an idle WebSocket's is in the pool
            const std::uint32_t n = ++ws.pings;
            char payload[4];
            std::memcpy(payload, &n, sizeof payload);
            (void)ws.proto->send_ping(std::string_view(payload, sizeof payload), io->batch);
            flush();
            if (options.ws_ping_timeout.count() > 0) {
                ws_arm(ws_timer::pong, options.ws_ping_timeout);
            } else {
                ws_arm(ws_timer::ping, options.ws_ping_interval);
            }
            release_io_if_idle();  // the ping went out at once: idle again
            return;
        }
        case ws_timer::pong:
            // The client no longer answers: fail with 1011 (as the websockets library does) and
            // drop the connection without waiting for a close it will not send.
            (void)ws.proto->send_close(1011, "keepalive ping timeout", use_io().batch);
            ws.exchange.on_client_gone();
            if (ws.receive_waiter) owner->loop->post(std::exchange(ws.receive_waiter, {}));
            // A client that stopped reading may never take the close frame: bounded too.
            ws_arm(ws_timer::close, options.ws_close_timeout);
            close_after_writing();
            return;
        case ws_timer::close:
            close();  // the client never answered our close
            return;
    }
}

void connection::finish_websocket() {
    auto& req = *ws_request;
    auto& ws = *req.ws;
    use_io();
    in_request = false;
    const websocket_ending ending = ws.exchange.on_app_return(req.error != nullptr);
    log_app_failure(req, ending.problem);
    owner->shared->request_served();
    io->ws_inbox.clear();
    io->ws_inbox_bytes = 0;
    if (closing) return;
    switch (ending.what) {
        case websocket_ending::kind::respond_500:
            write_simple_response(500, "Internal Server Error", true);
            req.server_status = 500;
            ws_access_log(req, "500");
            return;
        case websocket_ending::kind::close:
            (void)ws.proto->send_close(ending.code, {}, io->batch);
            ws_close_sent();
            return;
        case websocket_ending::kind::drop: close_after_writing(); return;
        case websocket_ending::kind::nothing:
            if (!ws.upgraded || ws.proto->closed()) close_after_writing();
            return;  // otherwise the client's close is awaited (ws_timer::close)
    }
}

// ---- connection: writing -------------------------------------------------------------------

// Sends what is queued, then closes: no further request is read on this connection.
void connection::close_after_writing() {
    close_after_flush = true;
    stop_reading();
    flush();
    if (!writing && (!io || io->batch.empty())) close();
}

void connection::flush() {
    if (closing || writing) return;
    if (!io) {
        if (close_after_flush) close_after_close_notify();
        return;
    }
    if (io->hold_output) return;
    if (tls() && !seal_batch()) {
        close();
        return;
    }
    if (io->batch.empty()) {
        if (close_after_flush) close_after_close_notify();
        return;
    }
    // Bytes leave the batch now: a response head among them can no longer be taken back.
    if (io->request) io->request->head_retractable = false;
    auto* stream = this->stream();
    auto segments = io->batch.segments();
    io->write_bufs.clear();
    for (auto segment : segments) {
        io->write_bufs.push_back(uv_buf_init(const_cast<char*>(segment.data()),
                                         static_cast<unsigned>(segment.size())));
    }
    // Most responses go out at once, straight from where they are (one writev).
    const int written = uv_try_write(stream, io->write_bufs.data(),
                                     static_cast<unsigned>(io->write_bufs.size()));
    if (written > 0) {
        io->batch.consume(static_cast<std::size_t>(written));
    } else if (written < 0 && written != UV_EAGAIN) {
        close();
        return;
    }
    if (io->batch.empty()) {
        if (close_after_flush) {
            close_after_close_notify();
        } else if (drain_waiter()) {
            owner->loop->post(std::exchange(drain_waiter(), {}));
        }
        return;
    }
    // The socket is full: queue the rest. It must reference neither the app's memory nor the
    // batch's growing buffer, so it moves to `inflight`, which stays untouched until written.
    io->batch.own();
    std::swap(io->batch, io->inflight);
    segments = io->inflight.segments();
    io->write_bufs.clear();
    for (auto segment : segments) {
        io->write_bufs.push_back(uv_buf_init(const_cast<char*>(segment.data()),
                                         static_cast<unsigned>(segment.size())));
    }
    io->write_request.data = this;
    writing = true;
    const int rc = uv_write(&io->write_request, stream, io->write_bufs.data(),
                            static_cast<unsigned>(io->write_bufs.size()),
                            [](uv_write_t* req, int status) {
                                auto* self = static_cast<connection*>(req->data);
                                self->owner->loop->guarded([&] { self->on_write_done(status); });
                            });
    if (rc != 0) {
        writing = false;
        io->inflight.clear();
        close();
        return;
    }
    arm(timer_mode::write, owner->shared->options.write_timeout);
}

// TLS: the batch's plaintext goes through the session, and the batch then holds the ciphertext
// to write (the handshake's messages and alerts too), made straight into the batch's own
// buffer. The app's bytes are encrypted here, in order, so nothing borrowed outlives the call.
// Only flush calls it, just before writing: whatever it leaves in the batch is written or moved
// to `inflight` before anything else is appended, so the batch never holds ciphertext that a
// later call would take for plaintext.
bool connection::seal_batch() {
    auto& batch = io->batch;
    if (!batch.empty()) {
        for (const std::string_view segment : batch.segments()) {
            if (!tls()->write(segment)) return false;
        }
        batch.clear();
    }
    if (const std::size_t n = tls()->output_size(); n > 0) {
        (void)tls()->take_output({batch.append_space(n), n});
    }
    return true;
}

// Closes a connection whose last bytes are written; over TLS it first says close_notify, so the
// client can tell the end from a truncation. Best effort: a client that does not read it loses
// nothing it needed, since HTTP framing already ended the response.
void connection::close_after_close_notify() {
    if (tls() && tls()->handshake_complete()) {
        tls()->close_notify();
        char alert[64];
        const std::size_t n = tls()->take_output(alert);
        if (n > 0) {
            uv_buf_t piece = uv_buf_init(alert, static_cast<unsigned>(n));
            (void)uv_try_write(stream(), &piece, 1);
        }
    }
    close();
}

void connection::on_write_done(int status) {
    writing = false;
    io->inflight.clear();
    if (closing) {
        maybe_free();
        return;
    }
    if (status < 0) {
        close();
        return;
    }
    if (mode == timer_mode::write) disarm();
    flush();
    // A file body starts once what was queued before it (its head) is written.
    if (!closing && io->file && io->file->waiting_for_flush && !writing && io->batch.empty()) {
        io->file->waiting_for_flush = false;
        start_sendfile();
    }
    if (!closing && queued() < owner->shared->options.write_high_water) wake_drainer();
    // A request whose body is waiting to be read resumes reading once the client drained.
    if (!closing && !in_request && !websocket) {
        if (io->input.empty() && mode == timer_mode::none) {
            arm(timer_mode::keep_alive, owner->shared->options.keep_alive_timeout);
        }
        release_io_if_idle();
    } else if (!closing && websocket) {
        release_io_if_idle();  // the WebSocket's last bytes are out
    }
}

// ---- connection: file bodies ----------------------------------------------------------------
//
// http.response.pathsend: the file is opened and measured on the thread pool while the head
// waits in the batch (nothing is written meanwhile, so a missing file can still be answered
// with a 500, and a head without a content-length can be given one). Then the head goes out
// and sendfile sends the range in chunks on the thread pool, each as large as the socket
// takes; when it is full, a poll on the socket waits for room, under the write timeout. The
// app's `send` returns when the last byte is handed to the kernel, so pipelined responses
// after it stay in order.

void file_transfer::on_fs(uv_fs_t* request) {
    auto* self = static_cast<file_transfer*>(request->data);
    self->in_flight = false;
    const ssize_t result = request->result;
    bool regular = false;
    std::uint64_t size = 0;
    if (self->at == stage::open && result >= 0) self->file = static_cast<uv_file>(result);
    if (self->at == stage::stat && result == 0) {
        regular = S_ISREG(request->statbuf.st_mode);
        size = request->statbuf.st_size;
    }
    uv_fs_req_cleanup(request);
    if (!self->conn) {
        // The connection closed while this request ran: nobody wants the file any more.
        self->close_descriptors();
        delete self;
        return;
    }
    connection* c = self->conn;
    c->owner->loop->guarded([&] { c->on_file_step(result, regular, size); });
}

void file_transfer::send_chunk(uv_work_t* request) {
    auto* self = static_cast<file_transfer*>(request->data);
    auto at = static_cast<off_t>(self->offset);
    ssize_t n;
    do {
        const auto asked = static_cast<std::size_t>(self->asked);
        n = self->tls_chunk ? ::pread(self->file, self->tls_chunk.get(), asked, at)
                            : ::sendfile(self->socket, self->file, &at, asked);
    } while (n < 0 && errno == EINTR);
    self->sent = n >= 0 ? n : -static_cast<ssize_t>(errno);
}

void file_transfer::on_sent(uv_work_t* request, int status) {
    auto* self = static_cast<file_transfer*>(request->data);
    self->in_flight = false;
    if (!self->conn) {
        self->close_descriptors();
        delete self;
        return;
    }
    connection* c = self->conn;
    const ssize_t result = status < 0 ? status : self->sent;
    c->owner->loop->guarded([&] { c->on_sendfile_done(result); });
}

void connection::begin_file(const http::response_file& source) {
    auto& req = *io->request;
    auto* transfer = new file_transfer;
    transfer->conn = this;
    transfer->source = source;
    transfer->fs.data = transfer;
    io->file = transfer;
    io->hold_output = true;
    req.file_active = true;
    req.file_error = nullptr;
    const int rc = uv_fs_open(owner->uv, &transfer->fs, transfer->source.path.c_str(),
                              O_RDONLY | O_CLOEXEC, 0, &file_transfer::on_fs);
    if (rc < 0) {
        uv_fs_req_cleanup(&transfer->fs);
        file_failed_before_body(std::make_exception_ptr(std::system_error(
            -rc, std::generic_category(), "cannot open " + transfer->source.path)));
        return;
    }
    transfer->in_flight = true;
}

void connection::on_file_step(ssize_t result, bool regular, std::uint64_t size) {
    auto* transfer = io->file;
    const auto& path = transfer->source.path;
    switch (transfer->at) {
        case file_transfer::stage::open: {
            if (result < 0) {
                file_failed_before_body(std::make_exception_ptr(std::system_error(
                    static_cast<int>(-result), std::generic_category(), "cannot open " + path)));
                return;
            }
            transfer->at = file_transfer::stage::stat;
            const int rc = uv_fs_fstat(owner->uv, &transfer->fs, transfer->file, &file_transfer::on_fs);
            if (rc < 0) {
                uv_fs_req_cleanup(&transfer->fs);
                file_failed_before_body(std::make_exception_ptr(
                    std::system_error(-rc, std::generic_category(), "cannot stat " + path)));
                return;
            }
            transfer->in_flight = true;
            return;
        }
        case file_transfer::stage::stat: {
            if (result < 0 || !regular) {
                const int code = result < 0 ? static_cast<int>(-result) : EISDIR;
                file_failed_before_body(std::make_exception_ptr(std::system_error(
                    code, std::generic_category(),
                    result < 0 ? "cannot stat " + path : "not a regular file: " + path)));
                return;
            }
            std::uint64_t bytes = 0;
            try {
                bytes = io->request->exchange->on_file_opened(transfer->source, size);
            } catch (...) {
                file_failed_before_body(std::current_exception());
                return;
            }
            start_file_body(bytes);
            return;
        }
        case file_transfer::stage::send: return;  // sendfile reports to on_sendfile_done
    }
}

// The file can be sent: settle the head (give it a content-length when it has not gone out
// and said chunked, or frame the file as one chunk), write it, then start sendfile.
void connection::start_file_body(std::uint64_t bytes) {
    auto& req = *io->request;
    auto* transfer = io->file;
    transfer->total = bytes;
    transfer->offset = transfer->source.offset;
    transfer->remaining = bytes;
    if (req.exchange->framing() == body_framing::chunked) {
        constexpr std::string_view chunked_line = "\r\ntransfer-encoding: chunked\r\n";
        std::string head;
        if (req.head_retractable && req.exchange->body_bytes_sent() == bytes) {
            // Nothing but the head is queued for this response (no body bytes before the file).
            // The serializer wrote its own framing line (it drops the app's): replace it.
            head = io->batch.to_string().substr(req.head_mark);
        }
        const auto at = head.find(chunked_line);
        if (at != std::string::npos) {
            std::string length_line = "\r\ncontent-length: " + std::to_string(bytes) + "\r\n";
            head.replace(at, chunked_line.size(), length_line);
            io->batch.truncate(req.head_mark);
            io->batch.append_copy(head);
        } else {
            transfer->chunked = true;
            if (bytes > 0) io->batch.append_copy(http1::make_chunk_header(bytes).view());
        }
    }
    io->hold_output = false;
    if (bytes == 0) {
        if (transfer->chunked) io->batch.append_copy(http1::last_chunk);
        end_file(nullptr);
        return;
    }
    transfer->at = file_transfer::stage::send;
    flush();
    if (closing) return;
    if (writing || !io->batch.empty()) {
        transfer->waiting_for_flush = true;  // on_write_done starts the sendfile
        return;
    }
    start_sendfile();
}

void connection::start_sendfile() {
    auto* transfer = io->file;
    if (tls()) {
        if (!transfer->tls_chunk) transfer->tls_chunk.reset(new char[tls_file_chunk]);
        transfer->asked = std::min<std::uint64_t>(transfer->remaining, tls_file_chunk);
    } else {
        if (transfer->socket < 0) {
            uv_os_fd_t socket_fd = -1;
            uv_fileno(reinterpret_cast<uv_handle_t*>(&handle), &socket_fd);
            transfer->socket = ::fcntl(socket_fd, F_DUPFD_CLOEXEC, 0);
            if (transfer->socket < 0) {
                file_failed_mid_body("cannot duplicate the socket");
                return;
            }
        }
        const auto chunk = std::max(owner->shared->options.write_high_water, min_sendfile_chunk);
        transfer->asked = std::min<std::uint64_t>(transfer->remaining, chunk);
    }
    io->hold_output = true;
    transfer->work.data = transfer;
    const int rc = uv_queue_work(owner->uv, &transfer->work, &file_transfer::send_chunk,
                                 &file_transfer::on_sent);
    if (rc < 0) {
        file_failed_mid_body("cannot queue sendfile");
        return;
    }
    transfer->in_flight = true;
}

void connection::on_sendfile_done(ssize_t result) {
    auto& req = *io->request;
    auto* transfer = io->file;
    if (result > 0) {
        const auto sent = static_cast<std::uint64_t>(result);
        if (transfer->tls_chunk) {
            // Read, not sent: the chunk goes out through the session like any body bytes. A
            // copy, because the transfer (and its buffer) may end before the next flush; it
            // costs a fraction of encrypting the same bytes.
            io->hold_output = false;
            io->batch.append_copy({transfer->tls_chunk.get(), static_cast<std::size_t>(sent)});
        }
        transfer->offset += sent;
        transfer->remaining -= sent;
        req.bytes_out += sent;
        if (transfer->remaining == 0) {
            if (transfer->chunked) {
                io->batch.append_copy("\r\n");
                io->batch.append_copy(http1::last_chunk);
            }
            end_file(nullptr);
            return;
        }
        if (transfer->tls_chunk) {
            // The next chunk is read once this one is written (the buffer is reused).
            flush();
            if (closing) return;
            if (writing || !io->batch.empty()) {
                transfer->waiting_for_flush = true;
            } else {
                start_sendfile();
            }
            return;
        }
        // Less than asked: the socket is full (or the file ended; the next call says which).
        if (sent < transfer->asked) {
            wait_writable();
        } else {
            start_sendfile();
        }
        return;
    }
    if (result == -EAGAIN || result == -EWOULDBLOCK) {
        wait_writable();
        return;
    }
    if (result == 0) {
        owner->shared->log(log_level::error,
                           req.activity + ": " + transfer->source.path + " ended " +
                               std::to_string(transfer->remaining) +
                               " bytes early; the connection is closed");
        file_failed_mid_body("the file is shorter than when it was opened");
        return;
    }
    file_failed_mid_body("sendfile failed");  // the client went away, mostly
}

void connection::wait_writable() {
    auto* transfer = io->file;
    if (!transfer->watch) {
        uv_os_fd_t socket_fd = -1;
        uv_fileno(reinterpret_cast<uv_handle_t*>(&handle), &socket_fd);
        const int copy = ::fcntl(socket_fd, F_DUPFD_CLOEXEC, 0);
        if (copy < 0) {
            file_failed_mid_body("cannot watch the socket");
            return;
        }
        auto* watch = new writable_watch;
        watch->fd = copy;
        if (uv_poll_init(owner->uv, &watch->poll, copy) != 0) {
            ::close(copy);
            delete watch;
            file_failed_mid_body("cannot watch the socket");
            return;
        }
        watch->poll.data = watch;
        transfer->watch = watch;
    }
    transfer->watch->conn = this;
    uv_poll_start(&transfer->watch->poll, UV_WRITABLE, [](uv_poll_t* poll, int status, int) {
        auto* watch = static_cast<writable_watch*>(poll->data);
        uv_poll_stop(poll);
        if (connection* c = watch->conn) {
            c->owner->loop->guarded([&] { c->on_writable(status); });
        }
    });
    arm(timer_mode::write, owner->shared->options.write_timeout);
}

void connection::on_writable(int status) {
    if (mode == timer_mode::write) disarm();
    if (status < 0) {
        file_failed_mid_body("the socket failed");
        return;
    }
    start_sendfile();
}

// Nothing of the file was sent. A head still in the batch is taken back (the app's exception,
// thrown from its `send`, then becomes a 500); one already written can only end with the
// connection, after whatever was queued.
void connection::file_failed_before_body(std::exception_ptr error) {
    auto& req = *io->request;
    if (req.head_retractable) {
        io->batch.truncate(req.head_mark);
        req.head_written = false;
        req.head_retractable = false;
    } else {
        req.abort_after = true;
        req.keep_alive = false;
    }
    end_file(std::move(error));
}

// Part of the file went out: the framing cannot be completed, so the connection ends now (the
// app's `send` throws client_disconnected).
void connection::file_failed_mid_body(std::string_view why) {
    if (io && io->request && owner->shared->options.sink) {
        owner->shared->log(log_level::debug, io->request->activity + ": file body stopped: " +
                                                 std::string(why));
    }
    close();
}

// The transfer is over (sent, or failed with `error`): the file is closed and the app resumes.
void connection::end_file(std::exception_ptr error) {
    auto* transfer = std::exchange(io->file, nullptr);
    if (transfer->watch) writable_watch::close(std::exchange(transfer->watch, nullptr));
    transfer->close_descriptors();
    delete transfer;
    io->hold_output = false;
    auto& req = *io->request;
    req.file_active = false;
    req.file_error = std::move(error);
    // What was held back goes out before the app continues (it may answer the next request).
    flush();
    if (!closing) wake_drainer();
}

// The connection closes while a file is on its way: stop watching the socket, and let a
// request still on the thread pool clean up after itself.
void connection::detach_file() noexcept {
    if (!io || !io->file) return;
    auto* transfer = std::exchange(io->file, nullptr);
    if (transfer->watch) writable_watch::close(std::exchange(transfer->watch, nullptr));
    io->hold_output = false;
    if (io->request) io->request->file_active = false;
    if (transfer->in_flight) {
        transfer->conn = nullptr;  // on_fs or on_sent frees it
    } else {
        transfer->close_descriptors();
        delete transfer;
    }
}

// ---- connection: timers --------------------------------------------------------------------

void connection::arm(timer_mode m, std::chrono::milliseconds after) {
    if (closing) return;
    mode = m;
    deadline = uv_now(owner->uv) + static_cast<std::uint64_t>(after.count());
}

void connection::disarm() { mode = timer_mode::none; }

void connection::on_timer() {
    // Any timeout drops the connection: an idle keep-alive, a head or body that does not arrive
    // in time, or a client that stopped reading. Everyone else keeps being served.
    mode = timer_mode::none;
    close();
}

// ---- connection: I/O state -----------------------------------------------------------------

connection_io& connection::use_io() {
    if (!io) {
        auto& pool = owner->io_pool;
        if (!pool.empty()) {
            io = std::move(pool.back());
            pool.pop_back();
        } else {
            io = std::make_unique<connection_io>(owner->shared->options.limits);
        }
    }
    return *io;
}

// An idle keep-alive connection (no request, no unconsumed input, nothing to write) returns its
// I/O state to the worker's pool: 10,000 idle connections then cost their handles, not 10,000
// parsers, buffers and request states. The pool is bounded; warm objects keep their capacity,
// so busy connections do not reallocate.
//
// So does an upgraded WebSocket with nothing to parse, queue or write and no message waiting
// for its app: what it keeps between messages (the protocol state, where its app waits) is in
// its session, and a partial frame's bytes are kept by the protocol. Its parser is reset: it
// stayed paused at the upgrade and is never used again on this connection.
void connection::release_io_if_idle() {
    if (!io || closing || writing || !io->input.empty() || !io->batch.empty() || io->file) return;
    if (websocket) {
        const ws_session* ws = session();
        if (!ws || !ws->upgraded || close_after_flush || in_round || !io->ws_inbox.empty() ||
            io->hold_output) {
            return;
        }
    } else if (in_request || !io->parser.idle() || io->receive_waiter || io->drain_waiter ||
               io->discarding_body) {
        return;
    }
    if (io->request) {
        if (io->request->cancellation.is_cancelled()) {
            io->request.reset();
        } else {
            io->request->runner = {};  // the finished coroutine frame goes back to the cache
        }
    }
    io->parser.reset();
    io->pending.clear();
    if (io->pending.capacity() > 4096) std::string().swap(io->pending);
    io->pending_offset = 0;
    io->input = {};
    if (owner->io_pool.size() < 256) owner->io_pool.push_back(std::move(io));
    io.reset();
}

// ---- worker ------------------------------------------------------------------------------

void worker::sweep() {
    const std::uint64_t now = uv_now(uv);
    for (connection* c = connections; c;) {
        connection* next = c->next;
        if (!c->closing && c->mode != timer_mode::none && now >= c->deadline) c->on_timer();
        if (const ws_session* ws = c->session(); ws && !c->closing) {
            if (ws->timer != ws_timer::none && now >= ws->deadline) c->on_ws_timer();
        }
        c = next;
    }
}

void worker::defer(connection* c) {
    if (c->deferred) return;
    c->deferred = true;
    deferred.push_back(c);
    if (deferred.size() == 1) {
        uv_idle_start(&deferred_runner, [](uv_idle_t* idle) {
            auto* self = static_cast<worker*>(idle->data);
            self->loop->guarded([&] { self->run_deferred(); });
        });
    }
}

void worker::run_deferred() {
    std::vector<connection*> ready;
    ready.swap(deferred);
    uv_idle_stop(&deferred_runner);
    for (auto* c : ready) {
        c->deferred = false;
        if (c->closing) {
            c->maybe_free();
            continue;
        }
        c->in_round = true;
        c->process();
        c->in_round = false;
        if (!c->closing) {
            c->keep_unconsumed();
            c->flush();
            c->release_io_if_idle();
        }
    }
}

void worker::open_handles(event_loop& on) {
    loop = &on;
    uv = static_cast<uv_loop_t*>(on.native_handle());
    uv_idle_init(uv, &deferred_runner);
    deferred_runner.data = this;
    uv_timer_init(uv, &shutdown_timer);
    shutdown_timer.data = this;
    uv_unref(reinterpret_cast<uv_handle_t*>(&shutdown_timer));
    uv_timer_init(uv, &sweep_timer);
    sweep_timer.data = this;
    {
        // Sweep often enough for the shortest timeout to fire within a quarter of itself.
        const auto& o = shared->options;
        auto shortest = std::min({o.header_timeout, o.body_timeout, o.keep_alive_timeout,
                                  o.write_timeout, o.ws_close_timeout});
        if (o.ws_ping_interval.count() > 0) shortest = std::min(shortest, o.ws_ping_interval);
        if (o.ws_ping_timeout.count() > 0) shortest = std::min(shortest, o.ws_ping_timeout);
        const auto period = std::clamp<std::int64_t>(shortest.count() / 4, 5, 250);
        uv_timer_start(
            &sweep_timer,
            [](uv_timer_t* t) {
                auto* self = static_cast<worker*>(t->data);
                self->loop->guarded([&] { self->sweep(); });
            },
            static_cast<std::uint64_t>(period), static_cast<std::uint64_t>(period));
        uv_unref(reinterpret_cast<uv_handle_t*>(&sweep_timer));
    }
    int rc = 0;
    if (pipe) {
        uv_pipe_init(uv, &listener.pipe, 0);
        rc = uv_pipe_open(&listener.pipe, listen_fd);
    } else {
        uv_tcp_init(uv, &listener.tcp);
        rc = uv_tcp_open(&listener.tcp, listen_fd);
    }
    listener_stream()->data = this;
    listener_open = true;  // the handle exists and is closed with the others from now on
    if (rc != 0) {
        ::close(std::exchange(listen_fd, -1));
        throw std::runtime_error(uv_message(pipe ? "uv_pipe_open" : "uv_tcp_open", rc));
    }
    listen_fd = -1;  // the handle owns it now
}

void worker::start_listening() {
    if (int rc = uv_listen(listener_stream(), shared->options.backlog, &on_new_connection);
        rc != 0) {
        throw std::runtime_error(uv_message("uv_listen", rc));
    }
    listening = true;
}

void worker::close_listener() {
    listening = false;
    if (!listener_open) return;
    listener_open = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
}

// Embedded teardown: every connection is gone; close the worker's own handles and tell the
// server once their close callbacks ran (then nothing of the server is left on the loop).
void worker::close_handles_embedded() {
    auto on_closed = [](uv_handle_t* h) {
        auto* self = static_cast<worker*>(h->data);
        if (--self->handles_closing == 0) {
            server::impl* shared = self->shared;
            self->loop->post([shared] { shared->on_embedded_handles_closed(); });
        }
    };
    handles_closing = 3;
    listening = false;
    if (listener_open) {
        listener_open = false;
        ++handles_closing;
        uv_close(reinterpret_cast<uv_handle_t*>(&listener), on_closed);
    }
    uv_close(reinterpret_cast<uv_handle_t*>(&deferred_runner), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&shutdown_timer), on_closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&sweep_timer), on_closed);
}

void worker::begin_drain(std::chrono::milliseconds graceful) {
    if (draining) return;
    draining = true;
    close_listener();
    // Idle connections close now; busy ones close after their response; streaming responses
    // waiting for a disconnect are told the client is going.
    for (connection* c = connections; c;) {
        connection* next = c->next;
        if (!c->in_request) {
            c->close();
        } else if (c->websocket) {
            // Like a server going away (RFC 6455's 1001): an open WebSocket is closed, and the
            // app's receive yields the disconnect with that code. One still deciding on its
            // handshake is closed the same way if it accepts.
            auto& ws = *c->session();
            if (ws.upgraded && !ws.proto->close_sent()) {
                ws.exchange.on_client_close(1001, "server shutting down");
                (void)ws.proto->send_close(1001, "server shutting down", c->use_io().batch);
                c->ws_close_sent();
                if (ws.receive_waiter) loop->post(std::exchange(ws.receive_waiter, {}));
            }
        } else {
            c->io->request->keep_alive = false;
            if (c->io->receive_waiter && c->io->request->body_finished_sent) {
                loop->post(std::exchange(c->io->receive_waiter, {}));
            }
        }
        c = next;
    }
    // Past the graceful timeout, what is left is dropped.
    uv_ref(reinterpret_cast<uv_handle_t*>(&shutdown_timer));
    uv_timer_start(
        &shutdown_timer,
        [](uv_timer_t* t) {
            auto* self = static_cast<worker*>(t->data);
            self->loop->guarded([&] { self->on_shutdown_timer(); });
        },
        static_cast<std::uint64_t>(graceful.count()), 0);
    maybe_finish_drain();
}

void worker::on_shutdown_timer() {
    if (embedded && shared->embedded_phase == server::impl::phase::closing) {
        // The lifespan shutdown outlived the graceful timeout: stop waiting for it.
        shared->on_embedded_lifespan_done();
        return;
    }
    drop_all();
    // Threaded: the loop stops now; what is left unwinds in run_worker. Embedded: the dropped
    // requests unwind as the caller's loop runs, and the last one freed ends the drain.
    if (!embedded) loop->stop();
}

// Closes every connection. Fix: requests still running are cancelled too — an app waiting
// on a timer (or anything cancellable) past the graceful timeout otherwise stayed suspended
// after its loop was gone, leaking its coroutine, connection and scope.
void worker::drop_all() {
    for (connection* c = connections; c;) {
        connection* next = c->next;
        if (request_state* req = c->request(); c->in_request && req && !req->app_done) {
            req->cancellation.cancel();
        }
        c->close();
        c = next;
    }
}

void worker::maybe_finish_drain() {
    // Every connection freed: closed, and no request of theirs still running.
    if (!draining || connections != nullptr || drained_reported) return;
    drained_reported = true;
    uv_timer_stop(&shutdown_timer);
    if (embedded) {
        // Reported from the loop's top: this runs inside a connection's close callback.
        server::impl* s = shared;
        loop->post([s] { s->on_embedded_drained(); });
    } else {
        loop->stop();
    }
}

}  // namespace

// ---- lifespan}  // namespace

// ---- lifespan ------------------------------------------------------------------------------

struct server::impl::lifespan_state {
    server::impl* shared = nullptr;
    scope lifespan_scope;
    bool startup_sent = false;
    bool shutdown_requested = false;
    bool started = false, startup_failed = false, stopped = false, app_done = false;
    std::string failure;
    std::exception_ptr error;
    std::coroutine_handle<> waiter{};
    std::unique_ptr<event_loop> loop;
    std::thread thread;
    std::mutex mutex;
    std::condition_variable changed;
    detail::driver runner;
    // Embedded: runs on the caller's loop, and reports progress by posting this there.
    event_loop* embedded_loop = nullptr;

    struct waiter_awaiter {
        lifespan_state* self;
        bool await_ready() const noexcept { return self->shutdown_requested; }
        void await_suspend(std::coroutine_handle<> h) noexcept { self->waiter = h; }
        void await_resume() const noexcept {}
    };

    task<event> next() {
        if (!startup_sent) {
            startup_sent = true;
            co_return lifespan::startup{};
        }
        co_await waiter_awaiter{this};
        co_return lifespan::shutdown{};
    }
    task<void> on_send(event e) {
        {
            std::lock_guard lock(mutex);
            if (std::holds_alternative<lifespan::startup_complete>(e)) {
                started = true;
            } else if (auto* f = std::get_if<lifespan::startup_failed>(&e)) {
                startup_failed = true;
                failure = f->message;
            } else if (std::holds_alternative<lifespan::shutdown_complete>(e)) {
                stopped = true;
            } else if (auto* f2 = std::get_if<lifespan::shutdown_failed>(&e)) {
                stopped = true;
                failure = f2->message;
            }
            changed.notify_all();
        }
        report();
        co_return;
    }
    // Embedded: the server acts on the change from the loop's top, not inside the app's send.
    void report() {
        if (!embedded_loop) return;
        server::impl* s = shared;
        embedded_loop->post([s] { s->on_lifespan_changed(); });
    }
    static detail::driver run(lifespan_state& self) {
        receive_member<lifespan_state, &lifespan_state::next> r{&self};
        send_member<lifespan_state, &lifespan_state::on_send> sd{&self};
        try {
            co_await self.shared->app(self.lifespan_scope, receive(r), send(sd));
        } catch (...) {
            self.error = std::current_exception();
        }
        {
            std::lock_guard lock(self.mutex);
            self.app_done = true;
            self.changed.notify_all();
        }
        self.report();
    }

    // Runs on its own thread with its own loop for the whole life of the server: the app's
    // lifespan coroutine stays suspended there between startup and shutdown.
    void start() {
        thread = std::thread([this] {
            loop = std::make_unique<event_loop>(event_loop_options{.sink = shared->options.sink});
            loop->hold();  // alive until shutdown is requested
            runner = run(*this);
            runner.start();
            loop->run();
            runner = {};
            loop.reset();
        });
        std::unique_lock lock(mutex);
        changed.wait(lock, [&] { return started || startup_failed || app_done; });
    }
    // Embedded: starts on the caller's loop (the app runs until its first suspension now).
    void start_on(event_loop& on) {
        embedded_loop = &on;
        runner = run(*this);
        runner.start();
    }
    void shutdown(std::chrono::milliseconds limit) {
        {
            std::unique_lock lock(mutex);
            if (!loop) return;
        }
        loop->post([this] {
            shutdown_requested = true;
            if (auto w = std::exchange(waiter, {})) w.resume();
            loop->release();
        });
        std::unique_lock lock(mutex);
        changed.wait_for(lock, limit, [&] { return stopped || app_done; });
        lock.unlock();
        thread.join();
    }
    // Embedded: asks for the shutdown; on_lifespan_changed hears when it is done.
    void request_shutdown() {
        shutdown_requested = true;
        if (auto w = std::exchange(waiter, {})) w.resume();
    }
    [[nodiscard]] bool startup_decided() const noexcept {
        return started || startup_failed || app_done;
    }
    // Whether startup failed (with `why`), by the mode's rules.
    [[nodiscard]] bool startup_failed_for(lifespan_mode mode, std::string& why) const {
        if (!startup_failed && !(app_done && !started && mode == lifespan_mode::on)) return false;
        why = startup_failed ? failure : "the app does not support lifespan";
        if (error) {
            try {
                std::rethrow_exception(error);
            } catch (const std::exception& e) {
                why = e.what();
            } catch (...) {
            }
        }
        if (why.empty()) why = "no reason given";
        return true;
    }
};

// ---- server --------------------------------------------------------------------------------

namespace {
// A listening socket with SO_REUSEPORT set before bind, so every worker has its own and the
// kernel spreads connections between them.
uv_os_sock_t open_listener(const server_options& options, std::uint16_t port) {
    sockaddr_storage storage{};
    int family = AF_INET;
    socklen_t length = sizeof(sockaddr_in);
    if (uv_ip4_addr(options.host.c_str(), port, reinterpret_cast<sockaddr_in*>(&storage)) != 0) {
        if (uv_ip6_addr(options.host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&storage)) !=
            0) {
            throw std::system_error(EINVAL, std::generic_category(),
                                    "server: not an IP address: " + options.host);
        }
        family = AF_INET6;
        length = sizeof(sockaddr_in6);
    }
    const int fd = ::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    const int one = 1;
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    ::setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    if (family == AF_INET6) {
        // "::" serves IPv4 clients too (as IPv4-mapped addresses), whatever the system default.
        const int zero = 0;
        ::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
        ::listen(fd, options.backlog) != 0) {
        const int error = errno;
        ::close(fd);
        throw std::system_error(error, std::generic_category(),
                                "cannot listen on " + options.host + ":" + std::to_string(port));
    }
    return fd;
}

sockaddr_un unix_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.c_str(), path.size() + 1);  // length checked up front
    return address;
}

// A socket file at `path` that nobody accepts on any more (a server that crashed) is removed,
// as asyncio and uvicorn do; a live one, or a file that is not a socket, is left alone and
// refused.
void remove_stale_socket(const std::string& path) {
    struct stat info {};
    if (::lstat(path.c_str(), &info) != 0) {
        if (errno == ENOENT) return;
        throw std::system_error(errno, std::generic_category(), "cannot inspect " + path);
    }
    if (!S_ISSOCK(info.st_mode)) {
        throw std::system_error(EEXIST, std::generic_category(),
                                "cannot listen on " + path + ": it exists and is not a socket");
    }
    const int probe = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0) throw std::system_error(errno, std::generic_category(), "socket");
    const auto address = unix_address(path);
    const int rc = ::connect(probe, reinterpret_cast<const sockaddr*>(&address), sizeof address);
    const int error = rc == 0 ? 0 : errno;
    ::close(probe);
    if (error != ECONNREFUSED && error != ENOENT) {
        throw std::system_error(EADDRINUSE, std::generic_category(),
                                "cannot listen on " + path + ": another server is listening on it");
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        throw std::system_error(errno, std::generic_category(), "cannot remove stale " + path);
    }
}

uv_os_sock_t open_unix_listener(const server_options& options, unix_socket_file& file) {
    const std::string& path = options.unix_socket;
    remove_stale_socket(path);
    const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) throw std::system_error(errno, std::generic_category(), "socket");
    const auto address = unix_address(path);
    if (::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
        const int error = errno;
        ::close(fd);
        throw std::system_error(error, std::generic_category(), "cannot listen on " + path);
    }
    struct stat info {};
    file.path = path;
    if (::lstat(path.c_str(), &info) == 0) {
        file.device = info.st_dev;
        file.inode = info.st_ino;
        file.bound = true;
    }
    // The mode is set before listen(): nobody can connect before then, whatever the umask
    // gave the file at bind().
    if (::chmod(path.c_str(), static_cast<mode_t>(options.unix_socket_mode)) != 0 ||
        ::listen(fd, options.backlog) != 0) {
        const int error = errno;
        ::close(fd);
        file.remove();
        throw std::system_error(error, std::generic_category(), "cannot listen on " + path);
    }
    return fd;
}

std::uint16_t bound_port_of(uv_os_sock_t fd) {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length);
    if (storage.ss_family == AF_INET6) {
        return ntohs(reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port);
    }
    return ntohs(reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
}

void on_new_connection(uv_stream_t* listener, int status) {
    auto* w = static_cast<worker*>(listener->data);
    if (status < 0) return;
    w->loop->guarded([&] {
        auto* c = new connection(w);
        if (w->pipe) {
            uv_pipe_init(w->uv, &c->handle.pipe, 0);
        } else {
            uv_tcp_init(w->uv, &c->handle.tcp.tcp);
        }
        c->stream()->data = c;
        c->handles_open = 1;
        c->next = w->connections;
        if (w->connections) w->connections->prev = c;
        w->connections = c;
        ++w->open;
        const auto count = w->shared->connections.fetch_add(1, std::memory_order_relaxed) + 1;
        if (uv_accept(listener, c->stream()) != 0) {
            c->close();
            return;
        }
        // A Unix socket's peer has no address: the scope's client and server stay empty (as
        // in uvicorn).
        if (!w->pipe) {
            uv_tcp_nodelay(&c->handle.tcp.tcp, 1);
            c->client.capture(&c->handle.tcp.tcp, false);
            c->local.capture(&c->handle.tcp.tcp, true);
        }
        const auto limit = w->shared->options.limit_concurrency;
        if (limit != 0 && count > limit) {
            // Over TLS the 503 could only follow a whole handshake, the very work the limit
            // is there to refuse: the connection is closed instead.
            if (w->shared->tls) {
                c->close();
            } else {
                c->write_simple_response(503, "Service Unavailable", true);
            }
            return;
        }
        if (w->shared->tls) c->handle.tcp.tls = new tls_session(*w->shared->tls);
        c->arm(timer_mode::keep_alive, w->shared->options.keep_alive_timeout);
        c->start_reading();
    });
}

void run_worker(worker* w) {
    try {
        event_loop loop(event_loop_options{.sink = w->shared->options.sink});
        w->open_handles(loop);
        w->start_listening();
        {
            std::lock_guard lock(w->ready_mutex);
            w->ready = true;
        }
        w->ready_cv.notify_all();
        loop.run();
        // Stopped: close what is left (connections dropped at the graceful timeout included).
        w->drop_all();
        w->close_listener();
        uv_close(reinterpret_cast<uv_handle_t*>(&w->deferred_runner), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&w->shutdown_timer), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&w->sweep_timer), nullptr);
        // Let requests unwind (their clients are gone) and handles finish closing.
        for (int round = 0; round < 1000 && uv_loop_alive(w->uv); ++round) {
            uv_run(w->uv, UV_RUN_NOWAIT);
            if (!w->deferred.empty()) w->run_deferred();
        }
        std::lock_guard lock(w->ready_mutex);
        w->loop = nullptr;
    } catch (...) {
        std::lock_guard lock(w->ready_mutex);
        w->loop = nullptr;
        w->failure = std::current_exception();
        w->ready = true;
        w->ready_cv.notify_all();
    }
}

// Checked once here, like server_name: the serializer trusts the defaults on every response.
void check_default_headers(const tessera::headers& fields) {
    static constexpr std::string_view owned[] = {"content-length", "transfer-encoding",
                                                 "connection", "keep-alive", "upgrade", "te",
                                                 "trailer"};
    for (const header_field& f : fields) {
        if (!http1::is_token(f.name)) {
            throw std::invalid_argument("server: default_headers has an invalid name '" +
                                        f.name + "'");
        }
        if (!http1::is_field_value(f.value)) {
            throw std::invalid_argument("server: default_headers' '" + f.name +
                                        "' holds a control character");
        }
        for (const std::string_view name : owned) {
            if (iequals(f.name, name)) {
                throw std::invalid_argument("server: default_headers may not set '" + f.name +
                                            "': the server decides it per response");
            }
        }
    }
}

// The family of `fd`, checked to be a stream socket bound to an address of a family served.
int inherited_socket_family(int fd) {
    int type = 0;
    socklen_t size = sizeof type;
    if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &size) != 0) {
        throw std::invalid_argument("server: fd " + std::to_string(fd) +
                                    " is not a socket: " + std::strerror(errno));
    }
    if (type != SOCK_STREAM) {
        throw std::invalid_argument("server: fd " + std::to_string(fd) +
                                    " is not a stream socket");
    }
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    if (::getsockname(fd, reinterpret_cast<sockaddr*>(&storage), &length) != 0) {
        throw std::invalid_argument("server: fd " + std::to_string(fd) + ": " +
                                    std::strerror(errno));
    }
    const int family = storage.ss_family;
    if (family != AF_INET && family != AF_INET6 && family != AF_UNIX) {
        throw std::invalid_argument("server: fd " + std::to_string(fd) +
                                    " is neither a TCP nor a Unix socket");
    }
    return family;
}

std::string web_url(const server_options& o, const address& where) {
    return (o.tls.enabled() ? "https://" : "http://") + where.to_string();
}

// Where the inherited socket is bound, as a URL.
std::string inherited_socket_url(const server_options& o) {
    sockaddr_storage storage{};
    socklen_t length = sizeof storage;
    ::getsockname(o.fd, reinterpret_cast<sockaddr*>(&storage), &length);
    const std::string which = " (fd " + std::to_string(o.fd) + ")";
    if (storage.ss_family == AF_UNIX) {
        const auto& un = reinterpret_cast<const sockaddr_un&>(storage);
        const std::size_t path_size = length > offsetof(sockaddr_un, sun_path)
                                          ? length - offsetof(sockaddr_un, sun_path)
                                          : 0;
        return "unix:" + std::string(un.sun_path, strnlen(un.sun_path, path_size)) + which;
    }
    compact_address bound;
    bound.assign(storage);  // TCP: the constructor checked the family
    std::optional<address> where;
    bound.format_into(where);
    return web_url(o, where.value_or(address{})) + which;
}

std::string listening_url(const server_options& o, std::uint16_t port) {
    if (o.fd >= 0) return inherited_socket_url(o);
    if (!o.unix_socket.empty()) return "unix:" + o.unix_socket;
    return web_url(o, address{o.host, port});
}

// The lifespan startup's verdict as an exception, or null when serving may begin.
std::exception_ptr startup_verdict(const server::impl::lifespan_state& life, lifespan_mode mode);
}  // namespace

server::server(any_app app, server_options options) : impl_(std::make_shared<impl>()) {
    if (!app) throw std::invalid_argument("server: no app");
    if (options.workers == 0) throw std::invalid_argument("server: workers must be at least 1");
    // Checked once here: the serializer trusts it on every response.
    if (!http1::is_field_value(options.server_name)) {
        throw std::invalid_argument("server: server_name holds a control character");
    }
    check_default_headers(options.default_headers);
    if (!options.unix_socket.empty()) {
        // One listener cannot be shared between loops (libuv has no SO_REUSEPORT for pipes,
        // and handing accepted sockets between loops is not worth its cost here): one loop.
        if (options.workers != 1) {
            throw std::invalid_argument("server: a Unix socket is served by one worker; got " +
                                        std::to_string(options.workers));
        }
        if (options.unix_socket.size() >= sizeof(sockaddr_un{}.sun_path)) {
            throw std::invalid_argument("server: Unix socket path longer than " +
                                        std::to_string(sizeof(sockaddr_un{}.sun_path) - 1) +
                                        " bytes: " + options.unix_socket);
        }
        if (options.unix_socket_mode > 07777) {
            throw std::invalid_argument("server: unix_socket_mode is not a file mode");
        }
        if (options.tls.enabled()) {
            // A local socket is protected by its file permissions; the TLS state lives in the
            // TCP handle's spare bytes.
            throw std::invalid_argument("server: TLS is served over TCP only, not a Unix socket");
        }
    }
    if (options.fd >= 0) {
        if (!options.unix_socket.empty()) {
            throw std::invalid_argument("server: set fd or unix_socket, not both");
        }
        impl_->inherited_unix = inherited_socket_family(options.fd) == AF_UNIX;
        if (impl_->inherited_unix && options.tls.enabled()) {
            throw std::invalid_argument("server: TLS is served over TCP only, and fd " +
                                        std::to_string(options.fd) + " is a Unix socket");
        }
    }
    if (options.loop && options.workers != 1) {
        throw std::invalid_argument(
            "server: a server on the caller's loop has no worker threads; workers must be 1");
    }
    if (options.ws_max_message_size == 0) {
        throw std::invalid_argument("server: ws_max_message_size must be at least 1 byte");
    }
    if (options.ws_ping_interval.count() < 0 || options.ws_ping_timeout.count() < 0) {
        throw std::invalid_argument("server: ws_ping_interval and ws_ping_timeout must not be "
                                    "negative (0 turns them off)");
    }
    if (options.ws_close_timeout.count() <= 0) {
        throw std::invalid_argument("server: ws_close_timeout must be positive");
    }
    impl_->app = std::move(app);
    impl_->trust = proxy_trust(options.forwarded_allow_ips);
    // Certificates load now, so a wrong path or password fails here rather than at the first
    // client's handshake.
    if (options.tls.enabled()) impl_->tls.emplace(options.tls);
    impl_->options = std::move(options);
}

server::~server() {
    if (impl_->embedded()) {
        // Nothing may block here: a running server shuts down on its loop, keeping its state
        // alive (impl::self) until the last handle closed, and tells nobody.
        impl_->orphaned = true;
        request_stop();
        return;
    }
    try {
        stop();
    } catch (...) {
    }
}

void server::on_stopped(stopped_handler handler) { impl_->on_stopped = std::move(handler); }

namespace {
// A write to a socket whose peer has gone raises SIGPIPE, which kills the process unless it is
// handled. libuv writes with writev and sendfile(2) has no MSG_NOSIGNAL, so a server must
// ignore it (as Python, and so uvicorn, does); a handler the program installed is kept.
void ignore_sigpipe_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        struct sigaction current {};
        if (::sigaction(SIGPIPE, nullptr, &current) == 0 && current.sa_handler == SIG_DFL) {
            struct sigaction ignore {};
            ignore.sa_handler = SIG_IGN;
            sigemptyset(&ignore.sa_mask);
            ::sigaction(SIGPIPE, &ignore, nullptr);
        }
    });
}
}  // namespace

void server::start() {
    auto& s = *impl_;
    ignore_sigpipe_once();
    if (s.started || s.start_failed || s.stopped) {
        throw std::logic_error("server: already started");
    }
    if (s.embedded()) {
        s.start_embedded();
    } else {
        s.start_threaded();
    }
}

namespace {
std::exception_ptr startup_verdict(const server::impl::lifespan_state& life, lifespan_mode mode) {
    std::string why;
    if (!life.startup_failed_for(mode, why)) return nullptr;
    return std::make_exception_ptr(lifespan_failure("lifespan startup failed: " + why));
}
}  // namespace

// The listening socket of one more worker: a duplicate of the inherited `fd` (each worker's
// handle closes its own, and the original stays the caller's), the Unix socket, or a TCP socket
// bound to `port` (with SO_REUSEPORT, so that every worker binds its own).
void server::impl::open_worker_listener(worker& w, std::uint16_t port) {
    if (options.fd >= 0) {
        w.pipe = inherited_unix;
        w.listen_fd = ::fcntl(options.fd, F_DUPFD_CLOEXEC, 0);
        if (w.listen_fd < 0) {
            throw std::system_error(errno, std::generic_category(),
                                    "server: duplicating fd " + std::to_string(options.fd));
        }
    } else if (!options.unix_socket.empty()) {
        w.pipe = true;
        w.listen_fd = open_unix_listener(options, socket_file);
    } else {
        w.listen_fd = open_listener(options, port);
    }
}

void server::impl::start_threaded() {
    // Lifespan first: no connection is accepted before startup completes.
    if (options.lifespan != lifespan_mode::off) {
        lifespan = std::make_unique<lifespan_state>();
        lifespan->shared = this;
        lifespan->lifespan_scope.type = scope_type::lifespan;
        lifespan->lifespan_scope.app_state = app_state;
        lifespan->start();
        if (auto failure = startup_verdict(*lifespan, options.lifespan)) {
            lifespan->shutdown(options.graceful_timeout);
            lifespan.reset();
            std::rethrow_exception(failure);
        }
    }
    std::uint16_t port = options.port;
    for (unsigned i = 0; i < options.workers; ++i) {
        auto w = std::make_unique<worker>();
        w->shared = this;
        w->index = i;
        open_worker_listener(*w, port);
        if (i == 0) port = w->pipe ? 0 : bound_port_of(w->listen_fd);
        workers.push_back(std::move(w));
    }
    bound_port = port;
    for (auto& w : workers) {
        w->thread = std::thread(run_worker, w.get());
        std::unique_lock lock(w->ready_mutex);
        w->ready_cv.wait(lock, [&] { return w->ready; });
        if (w->failure) {
            lock.unlock();
            auto failure = w->failure;
            {
                std::lock_guard state_lock(mutex);
                stopped = true;
                stopping = true;
            }
            stop_threaded();
            std::rethrow_exception(failure);
        }
    }
    started = true;
    log(log_level::info, "listening on " + listening_url(options, port));
}

// Embedded start, on the loop's thread: bind, open the worker's handles, start the lifespan on
// the loop, and listen now or once the startup completed. When it throws after the handles
// exist, they close as the loop runs (the state lives until then) and nobody is told.
void server::impl::start_embedded() {
    if (event_loop::current() != options.loop) {
        throw std::logic_error("server: start() an embedded server on its loop's thread");
    }
    auto w = std::make_unique<worker>();
    w->shared = this;
    w->embedded = true;
    open_worker_listener(*w, options.port);
    if (!w->pipe) bound_port = bound_port_of(w->listen_fd);
    workers.push_back(std::move(w));
    worker& only = *workers.front();
    auto fail = [&](std::exception_ptr error) {
        lifespan.reset();  // its coroutine is done, or destroyed where it waits
        if (only.listen_fd >= 0) ::close(std::exchange(only.listen_fd, -1));
        start_failed = true;
        embedded_phase = phase::stopped;
        bound_port = 0;
        self = shared_from_this();
        only.close_handles_embedded();  // on_embedded_handles_closed finishes the cleanup
        std::rethrow_exception(error);
    };
    try {
        only.open_handles(*options.loop);
    } catch (...) {
        fail(std::current_exception());
    }
    if (options.lifespan != lifespan_mode::off) {
        lifespan = std::make_unique<lifespan_state>();
        lifespan->shared = this;
        lifespan->lifespan_scope.type = scope_type::lifespan;
        lifespan->lifespan_scope.app_state = app_state;
        lifespan->start_on(*options.loop);
        if (auto failure = startup_verdict(*lifespan, options.lifespan)) fail(failure);
    }
    self = shared_from_this();
    {
        std::lock_guard lock(mutex);
        started = true;
    }
    embedded_phase = phase::starting;
    if (!lifespan || lifespan->startup_decided()) {
        embedded_phase = phase::serving;
        try {
            only.start_listening();
        } catch (...) {
            // Started as far as the lifespan goes: stop the ordinary way, then report.
            stop_error = std::current_exception();
            begin_embedded_stop();
            return;
        }
        log(log_level::info, "listening on " + listening_url(options, bound_port));
    }
    // Otherwise on_lifespan_changed starts listening once the startup completed.
}

void server::impl::on_lifespan_changed() {
    if (!lifespan) return;
    if (embedded_phase == phase::starting && lifespan->startup_decided()) {
        if (auto failure = startup_verdict(*lifespan, options.lifespan)) {
            log(log_level::error, "lifespan startup failed; the server stops");
            stop_error = failure;
            begin_embedded_stop();
            return;
        }
        embedded_phase = phase::serving;
        try {
            workers.front()->start_listening();
        } catch (...) {
            stop_error = std::current_exception();
            begin_embedded_stop();
            return;
        }
        log(log_level::info, "listening on " + listening_url(options, bound_port));
        return;
    }
    if (embedded_phase == phase::closing && (lifespan->stopped || lifespan->app_done)) {
        on_embedded_lifespan_done();
    }
}

void server::impl::begin_embedded_stop() {
    if (embedded_phase != phase::starting && embedded_phase != phase::serving) return;
    embedded_phase = phase::draining;
    {
        std::lock_guard lock(mutex);
        stopping = true;
    }
    workers.front()->begin_drain(options.graceful_timeout);
}

void server::impl::on_embedded_drained() {
    if (embedded_phase != phase::draining) return;
    embedded_phase = phase::closing;
    if (!lifespan || lifespan->app_done) {
        on_embedded_lifespan_done();
        return;
    }
    // The lifespan shutdown runs after the last request, bounded by the graceful timeout (the
    // worker's shutdown timer, free again now).
    auto& w = *workers.front();
    uv_ref(reinterpret_cast<uv_handle_t*>(&w.shutdown_timer));
    uv_timer_start(
        &w.shutdown_timer,
        [](uv_timer_t* t) {
            auto* self = static_cast<worker*>(t->data);
            self->loop->guarded([&] { self->on_shutdown_timer(); });
        },
        static_cast<std::uint64_t>(options.graceful_timeout.count()), 0);
    lifespan->request_shutdown();
    on_lifespan_changed();  // an app that finished at once
}

void server::impl::on_embedded_lifespan_done() {
    if (embedded_phase != phase::closing) return;
    embedded_phase = phase::stopped;  // no further lifespan reports are acted on
    if (lifespan) {
        if (!lifespan->app_done && !lifespan->stopped) {
            log(log_level::warning, "lifespan shutdown timed out");
        }
        std::string failure = lifespan->stopped ? lifespan->failure : std::string();
        if (!failure.empty()) log(log_level::error, "lifespan shutdown failed: " + failure);
        lifespan->runner = {};  // done, or destroyed where it waits (the timeout)
        lifespan.reset();
    }
    auto& w = *workers.front();
    uv_timer_stop(&w.shutdown_timer);
    w.close_handles_embedded();
}

void server::impl::on_embedded_handles_closed() {
    // Nothing of the server is left on the loop: the worker can go, and the caller may close
    // its loop once the handler returns.
    workers.clear();
    socket_file.remove();
    notify_stopped(stop_error);
    // The last reference may be this one: release it from a posted function, after every
    // member access of this call (the post's closure outlives this frame).
    options.loop->post([keep = std::move(self)] {});
}

void server::impl::notify_stopped(std::exception_ptr error) {
    // The handler runs first: a thread waiting in stop() returns after it.
    if (!orphaned && !start_failed && on_stopped) on_stopped(std::move(error));
    std::lock_guard lock(mutex);
    stopped = true;
    stopping = true;
    changed.notify_all();
}

void server::stop() {
    const auto keep = impl_;  // another thread may end an embedded server's life meanwhile
    auto& s = *keep;
    if (s.embedded()) {
        if (event_loop::current() == s.options.loop) {
            throw std::logic_error(
                "server: stop() on an embedded server's own loop would wait for itself; use "
                "request_stop() and on_stopped");
        }
        {
            std::lock_guard lock(s.mutex);
            if (!s.started || s.stopped) return;
        }
        request_stop();
        std::unique_lock lock(s.mutex);
        s.changed.wait(lock, [&] { return s.stopped; });
        return;
    }
    {
        std::lock_guard lock(s.mutex);
        if (s.stopped) return;
        s.stopped = true;
        s.stopping = true;
        s.changed.notify_all();
    }
    s.stop_threaded();
    if (s.started) {
        stopped_handler handler = s.on_stopped;
        if (handler) handler(nullptr);
    }
}

void server::impl::stop_threaded() {
    for (auto& w : workers) {
        if (!w->thread.joinable()) continue;
        worker* raw = w.get();
        const auto timeout = options.graceful_timeout;
        // Post only while the worker's loop exists (its thread clears `loop` on exit).
        std::lock_guard lock(raw->ready_mutex);
        if (raw->loop && !raw->failure) {
            raw->loop->post([raw, timeout] { raw->begin_drain(timeout); });
        }
    }
    for (auto& w : workers) {
        if (w->thread.joinable()) w->thread.join();
    }
    socket_file.remove();
    if (lifespan) {
        lifespan->shutdown(options.graceful_timeout);
        lifespan.reset();
    }
    if (limit_stopper.joinable() && limit_stopper.get_id() != std::this_thread::get_id()) {
        limit_stopper.join();
    }
}

void server::impl::request_served() {
    const auto served = requests.fetch_add(1, std::memory_order_relaxed) + 1;
    if (options.limit_max_requests != 0 && served == options.limit_max_requests) {
        log(log_level::info, "maximum request limit reached; shutting down");
        if (embedded()) {
            // On the loop already, deep inside a connection: begin from the loop's top.
            impl* s = this;
            options.loop->post([s] { s->begin_embedded_stop(); });
            return;
        }
        std::lock_guard lock(mutex);
        stopping = true;
        changed.notify_all();
    }
}

void server::wait() {
    auto& s = *impl_;
    if (s.embedded()) {
        throw std::logic_error("server: wait() blocks; an embedded server uses on_stopped");
    }
    std::unique_lock lock(s.mutex);
    s.changed.wait(lock, [&] { return s.stopping.load(); });
    lock.unlock();
    stop();
}

std::uint16_t server::port() const noexcept { return impl_->bound_port; }
const server_options& server::options() const noexcept { return impl_->options; }

void server::request_stop() noexcept {
    auto& s = *impl_;
    if (s.embedded()) {
        {
            std::lock_guard lock(s.mutex);
            if (!s.started || s.stopped) return;
        }
        try {
            // From any thread: the shutdown runs on the loop. The closure keeps the state alive
            // until it ran.
            s.options.loop->post([keep = s.shared_from_this()] { keep->begin_embedded_stop(); });
        } catch (...) {
            // Out of memory: the stop request is lost; nothing sensible is left to do.
        }
        return;
    }
    std::lock_guard lock(s.mutex);
    s.stopping = true;
    s.changed.notify_all();
}

void serve(any_app app, server_options options, std::function<void(const server&)> on_listening) {
    if (options.loop) {
        throw std::invalid_argument("serve: runs its own workers; embed a server for a loop");
    }
    // Signals are taken synchronously by one thread; the workers inherit the blocked mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    sigset_t previous;
    pthread_sigmask(SIG_BLOCK, &signals, &previous);
    server s(std::move(app), std::move(options));
    s.start();
    if (on_listening) on_listening(s);
    std::atomic<bool> finished{false};
    std::thread signal_thread([&] {
        bool asked = false;
        while (true) {
            int number = 0;
            sigwait(&signals, &number);
            if (finished) return;
            // The first signal asks for a graceful shutdown; a second one exits at once.
            if (asked) std::_Exit(128 + number);
            asked = true;
            s.request_stop();
        }
    });
    s.wait();
    finished = true;
    pthread_kill(signal_thread.native_handle(), SIGTERM);  // pending for that thread only
    signal_thread.join();
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

}  // namespace tessera
