// The libuv HTTP/1.1 server: workers (one loop per thread sharing the port with SO_REUSEPORT),
// connections driving the sans-IO parser and serializer, and the per-request exchange with the
// app. Only this file touches TCP handles.
//
// Memory per connection is what an idle keep-alive connection needs: its handle, a timer, the
// parser and a few flags. Reads land in the worker's one read buffer; only bytes a request has
// not consumed yet are copied into the connection. The request's state (scope, exchange,
// coroutine) exists while a request is in flight.
#include "tessera/server.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
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
#include "tessera/http1_serializer.hpp"
#include "tessera/http_exchange.hpp"
#include "tessera/loop.hpp"
#include "tessera/percent.hpp"
#include "tessera/proxy_headers.hpp"
#include "tessera/status.hpp"

namespace tessera {

namespace {

constexpr std::size_t read_buffer_size = 64 * 1024;

struct worker;
struct connection;
struct connection_io;

std::string uv_message(const char* what, int rc) {
    return std::string(what) + ": " + uv_strerror(rc);
}

}  // namespace

// ---- server-wide state ------------------------------------------------------------------

struct server::impl {
    any_app app;
    server_options options;
    proxy_trust trust;
    std::shared_ptr<state> app_state = std::make_shared<state>();
    std::vector<std::unique_ptr<worker>> workers;
    std::uint16_t bound_port = 0;

    std::atomic<std::size_t> connections{0};
    std::atomic<std::size_t> requests{0};
    std::atomic<bool> stopping{false};

    std::mutex mutex;
    std::condition_variable changed;
    bool started = false;
    bool stopped = false;
    std::thread limit_stopper;  // stops the server when limit_max_requests is reached

    // Lifespan, run on worker 0's loop.
    struct lifespan_state;
    std::unique_ptr<lifespan_state> lifespan;

    void log(log_level level, std::string_view message) const {
        emit(options.sink, level, "server", message);
    }
    void request_served();
};

// ---- per-worker state -------------------------------------------------------------------

namespace {

struct worker {
    server::impl* shared = nullptr;
    unsigned index = 0;
    uv_os_sock_t listen_fd = -1;
    std::thread thread;
    event_loop* loop = nullptr;
    uv_loop_t* uv = nullptr;
    union {
        uv_tcp_t tcp;
        uv_pipe_t pipe;
    } listener{};
    bool listening = false;
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
    bool read_buffer_busy = false;

    // The `date` value, formatted once per second per loop.
    std::time_t date_second = 0;
    http1::http_date_buffer date{};

    std::mutex ready_mutex;
    std::condition_variable ready_cv;
    bool ready = false;
    std::exception_ptr failure;

    std::string_view current_date() {
        const std::time_t now = std::time(nullptr);
        if (now != date_second) {
            date_second = now;
            date = http1::format_http_date(now);
        }
        return date.view();
    }

    void defer(connection* c);
    void run_deferred();
    void sweep();
    void begin_drain();
    void maybe_finish_drain();
    void drop_all();
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
    std::chrono::steady_clock::time_point started;
    std::uint64_t bytes_out = 0;
    bool head_written = false;  // the app's response head was accepted by the serializer
    int server_status = 0;      // the server answered for the app (500), for the access log
    cancellation_state cancellation;
    detail::driver runner;
};

enum class timer_mode { none, keep_alive, header, body, write };

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
        if (rc != 0) return;
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
            auto& host = out->host;
            host.clear();
            for (std::size_t i = 0; i < 4; ++i) {
                if (i) host.push_back('.');
                const unsigned value = bytes[i];
                if (value >= 100) host.push_back(static_cast<char>('0' + value / 100));
                if (value >= 10) host.push_back(static_cast<char>('0' + value / 10 % 10));
                host.push_back(static_cast<char>('0' + value % 10));
            }
            return;
        }
        char text[INET6_ADDRSTRLEN] = {};
        ::inet_ntop(family, bytes.data(), text, sizeof text);
        out->host.assign(text);
    }
};

struct connection_io {
    explicit connection_io(const http1::parser_limits& limits) : parser(limits) {}

    http1::request_parser parser;
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
};

struct connection {
    worker* owner;
    uv_tcp_t tcp{};
    std::uint64_t deadline = 0;  // loop time (ms) at which `mode`'s timeout fires
    timer_mode mode = timer_mode::none;
    connection* prev = nullptr;
    connection* next = nullptr;
    int handles_open = 0;  // tcp and timer; freed when both closed and no request runs
    bool closing = false;
    bool peer_gone = false;
    bool reading = false;
    bool in_round = false;        // inside a read callback's processing
    bool close_after_flush = false;
    bool deferred = false;
    bool in_request = false;  // a request_state is live
    bool writing = false;
    bool starting = false;  // inside start_request: a synchronous app's completion needs no defer
    compact_address client, local;
    // Everything a connection needs only while it reads, writes or serves a request. Idle
    // keep-alive connections give it back to the worker's pool, so they hold only the handle
    // and these few fields.
    std::unique_ptr<connection_io> io;

    explicit connection(worker* w) : owner(w) {}
    connection_io& use_io();
    void release_io_if_idle();

    // --- lifetime ---
    void close();
    void maybe_free();

    // --- reading ---
    void start_reading();
    void stop_reading();
    void on_read(ssize_t nread, const uv_buf_t* buf);
    void process();
    void keep_unconsumed();
    bool parse_body_piece();

    // --- requests ---
    void start_request();
    void finish_request();
    static detail::driver run_app(connection& self, request_state& req);
    task<event> receive_event();
    task<void> send_event(event e);
    void write_simple_response(int status, std::string_view body, bool close_connection);
    void close_after_writing();
    void fail_request(std::string_view why);
    void access_log(const request_state& req) const;

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

    // Resume the app inline, from the top of a loop callback, under its request's watchdog label
    // (restored afterwards, so no label outlives its request).
    void wake_receiver() {
        if (auto waiter = std::exchange(io->receive_waiter, {})) {
            io->receive_cancel.unregister();
            const detail::resumption_activity label(io->request ? io->request->activity : std::string_view{});
            waiter.resume();
        }
    }
    void wake_drainer() {
        if (auto waiter = std::exchange(io->drain_waiter, {})) {
            io->drain_cancel.unregister();
            const detail::resumption_activity label(io->request ? io->request->activity : std::string_view{});
            waiter.resume();
        }
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

void connection::close() {
    if (closing) return;
    closing = true;
    disarm();
    stop_reading();
    peer_gone = true;
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
    uv_close(reinterpret_cast<uv_handle_t*>(&tcp), on_closed);
    // A request still running learns the client has gone: receive yields disconnect and send
    // throws; it unwinds on its own and the connection is freed after it. Resumed from the loop:
    // close() may be running inside the app's own code.
    if (!io) {
        owner->maybe_finish_drain();
        return;
    }
    if (auto waiter = std::exchange(io->receive_waiter, {})) {
        io->receive_cancel.unregister();
        owner->loop->post(waiter);
    }
    if (auto waiter = std::exchange(io->drain_waiter, {})) {
        io->drain_cancel.unregister();
        owner->loop->post(waiter);
    }
}

void connection::maybe_free() {
    if (handles_open > 0 || deferred) return;
    if (in_request && io && io->request && !io->request->app_done) return;
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
        reinterpret_cast<uv_stream_t*>(&tcp),
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
    uv_read_stop(reinterpret_cast<uv_stream_t*>(&tcp));
}

void connection::on_read(ssize_t nread, const uv_buf_t* buf) {
    if (nread > 0) use_io();
    if (nread < 0) {
        // EOF or error: the client is gone. A request in flight sees a disconnect.
        close();
        return;
    }
    if (nread == 0) return;
    const std::string_view fresh(buf->base, static_cast<std::size_t>(nread));
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
    if (!closing) {
        keep_unconsumed();
        flush();
        release_io_if_idle();
    }
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
    // Fix: nothing more is parsed once the connection is to close after its last response
    // (Connection: close, an error answered, shutdown). When that response could not be
    // written at once, the loop went on to serve the next pipelined request before closing.
    while (!closing && !close_after_flush) {
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
            case http1::event_kind::body:
                req.piece.emplace(result.body);
                return true;
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

// ---- connection: requests ------------------------------------------------------------------

void connection::start_request() {
    const auto& head = io->parser.head();
    const auto& options = owner->shared->options;
    if (!io->request) io->request = std::make_unique<request_state>();
    auto& req = *io->request;
    auto& s = req.request_scope;
    s.type = scope_type::http;
    s.http_version = std::string(head.http_version());
    s.method.assign(head.method);
    s.scheme = "http";
    s.raw_path.assign(options.root_path).append(head.path);
    s.path.clear();
    s.path.append(options.root_path);
    percent_decode_append(s.path, head.path);
    s.query_string.assign(head.query);
    s.root_path = options.root_path;
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
    s.app_state = owner->shared->app_state;
    if (options.proxy_headers && s.client) {
        apply_proxy_headers(owner->shared->trust, s);
    }

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
    req.started = std::chrono::steady_clock::now();
    req.activity.assign(s.method).append(" ").append(head.path);
    if (!req.more_body) {
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

detail::driver connection::run_app(connection& self, request_state& req) {
    receive_member<connection, &connection::receive_event> receive_impl{&self};
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
    auto& req = *io->request;
    if (peer_gone) co_return http::disconnect{};
    if (!req.body_finished_sent) {
        if (req.exchange->take_continue_due()) {
            io->batch.append_copy(http1::continue_response);
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

task<void> connection::send_event(event e) {
    if (peer_gone || closing) throw client_disconnected();
    auto& req = *io->request;
    const auto out = req.exchange->on_send(e);
    const auto& options = owner->shared->options;
    switch (out.what) {
        case exchange_output::kind::head: {
            const bool keep = req.keep_alive && !req.exchange->closes_connection();
            const http1::response_head head{
                .status = out.status,
                .fields = out.fields,
                .framing = out.framing,
                .content_length = out.content_length,
                .keep_alive = keep,
                .http10 = req.request_scope.http_version == "1.0",
                .date = options.date_header ? owner->current_date() : std::string_view{},
                .server = options.server_header ? std::string_view(options.server_name)
                                                : std::string_view{},
            };
            if (!keep) req.keep_alive = false;
            const auto error = http1::write_response_head(head, io->batch);
            if (error != http1::head_error::none) {
                throw protocol_error("the app's response head is invalid: " +
                                     std::string(http1::to_string(error)));
            }
            req.head_written = true;
            break;
        }
        case exchange_output::kind::body: {
            const auto framing = req.exchange->framing();
            http1::write_body(framing, out.bytes, out.last, io->batch);
            req.bytes_out += out.bytes.size();
            break;
        }
        case exchange_output::kind::file:
            // sendfile arrives with the static files issue.
            throw protocol_error("http.response.pathsend is not supported by the server yet");
        case exchange_output::kind::nothing: break;
    }
    if (out.last) {
        req.response_complete = true;
        if (io->receive_waiter) owner->loop->post(std::exchange(io->receive_waiter, {}));
    }
    // Inside a read round small responses wait for the round's one write (pipelined responses
    // coalesce); anything borrowed from the app, or outside a round, goes out now.
    if (!in_round || out.bytes.size() >= 512 || queued() >= options.write_high_water) flush();
    while (!closing && queued() >= options.write_high_water) {
        co_await wait_slot{*this, io->drain_waiter, io->drain_cancel, io->drain_cancelled};
    }
    if (closing) throw client_disconnected();
    // Fix: the app's body bytes are only valid until this send completes. flush() returns
    // early while a write is in progress, leaving them borrowed in `batch` below the high
    // water mark; writev later read freed memory. Copy whatever is still borrowed.
    if (!io->batch.empty()) io->batch.own();
}

void connection::write_simple_response(int status, std::string_view body, bool close_connection) {
    use_io();
    const tessera::headers fields{{"content-type", "text/plain; charset=utf-8"}};
    const auto& options = owner->shared->options;
    const http1::response_head head{
        .status = status,
        .fields = &fields,
        .framing = body_framing::content_length,
        .content_length = body.size(),
        .keep_alive = !close_connection,
        .http10 = false,
        .date = options.date_header ? owner->current_date() : std::string_view{},
        .server = options.server_header ? std::string_view(options.server_name)
                                        : std::string_view{},
    };
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

void connection::finish_request() {
    auto& req = *io->request;
    in_request = false;
    const auto problem = req.exchange->on_app_return();
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
    if (problem || !req.exchange->complete()) {
        // The framing cannot be completed: the client must see the connection end. Fix: after
        // what the app did send — close() alone dropped bytes still queued in this round, so
        // the client saw no response at all instead of a truncated one.
        close_after_writing();
        return;
    }
    access_log(req);
    if (!req.keep_alive || req.more_body || owner->draining) {
        close_after_writing();
        return;
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
        if (close_after_flush) close();
        return;
    }
    if (io->batch.empty()) {
        if (close_after_flush) close();
        return;
    }
    auto* stream = reinterpret_cast<uv_stream_t*>(&tcp);
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
            close();
        } else if (io->drain_waiter) {
            owner->loop->post(std::exchange(io->drain_waiter, {}));
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
    if (!closing && queued() < owner->shared->options.write_high_water) wake_drainer();
    // A request whose body is waiting to be read resumes reading once the client drained.
    if (!closing && !in_request) {
        if (io->input.empty() && mode == timer_mode::none) {
            arm(timer_mode::keep_alive, owner->shared->options.keep_alive_timeout);
        }
        release_io_if_idle();
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
void connection::release_io_if_idle() {
    if (!io || closing || in_request || writing || !io->input.empty() || !io->batch.empty() ||
        !io->parser.idle() || io->receive_waiter || io->drain_waiter) {
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

void worker::begin_drain() {
    if (draining) return;
    draining = true;
    if (listening) {
        listening = false;
        uv_close(reinterpret_cast<uv_handle_t*>(&listener), nullptr);
    }
    // Idle connections close now; busy ones close after their response; streaming responses
    // waiting for a disconnect are told the client is going.
    for (connection* c = connections; c;) {
        connection* next = c->next;
        if (!c->in_request) {
            c->close();
        } else {
            c->io->request->keep_alive = false;
            if (c->io->receive_waiter && c->io->request->body_finished_sent) {
                loop->post(std::exchange(c->io->receive_waiter, {}));
            }
        }
        c = next;
    }
    maybe_finish_drain();
}

// Closes every connection. Fix: requests still running are cancelled too — an app waiting
// on a timer (or anything cancellable) past the graceful timeout otherwise stayed suspended
// after its loop was gone, leaking its coroutine, connection and scope.
void worker::drop_all() {
    for (connection* c = connections; c;) {
        connection* next = c->next;
        if (c->in_request && c->io->request && !c->io->request->app_done) {
            c->io->request->cancellation.cancel();
        }
        c->close();
        c = next;
    }
}

void worker::maybe_finish_drain() {
    // Every connection freed: closed, and no request of theirs still running.
    if (!draining || connections != nullptr) return;
    uv_timer_stop(&shutdown_timer);
    loop->stop();
}

}  // namespace

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
        co_return;
    }
    static detail::driver run(lifespan_state& self) {
        receive_member<lifespan_state, &lifespan_state::next> r{&self};
        send_member<lifespan_state, &lifespan_state::on_send> sd{&self};
        try {
            co_await self.shared->app(self.lifespan_scope, receive(r), send(sd));
        } catch (...) {
            self.error = std::current_exception();
        }
        std::lock_guard lock(self.mutex);
        self.app_done = true;
        self.changed.notify_all();
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
};

void server::impl::request_served() {
    const auto served = requests.fetch_add(1, std::memory_order_relaxed) + 1;
    if (options.limit_max_requests != 0 && served == options.limit_max_requests) {
        log(log_level::info, "maximum request limit reached; shutting down");
        std::lock_guard lock(mutex);
        stopping = true;
        changed.notify_all();
    }
}

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
    if (::bind(fd, reinterpret_cast<sockaddr*>(&storage), length) != 0 ||
        ::listen(fd, options.backlog) != 0) {
        const int error = errno;
        ::close(fd);
        throw std::system_error(error, std::generic_category(),
                                "cannot listen on " + options.host + ":" + std::to_string(port));
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
        uv_tcp_init(w->uv, &c->tcp);
        c->tcp.data = c;
        c->handles_open = 1;
        c->next = w->connections;
        if (w->connections) w->connections->prev = c;
        w->connections = c;
        ++w->open;
        const auto count = w->shared->connections.fetch_add(1, std::memory_order_relaxed) + 1;
        if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&c->tcp)) != 0) {
            c->close();
            return;
        }
        uv_tcp_nodelay(&c->tcp, 1);
        c->client.capture(&c->tcp, false);
        c->local.capture(&c->tcp, true);
        const auto limit = w->shared->options.limit_concurrency;
        if (limit != 0 && count > limit) {
            c->write_simple_response(503, "Service Unavailable", true);
            return;
        }
        c->arm(timer_mode::keep_alive, w->shared->options.keep_alive_timeout);
        c->start_reading();
    });
}

void run_worker(worker* w) {
    try {
        event_loop loop(event_loop_options{.sink = w->shared->options.sink});
        w->loop = &loop;
        w->uv = static_cast<uv_loop_t*>(loop.native_handle());
        uv_idle_init(w->uv, &w->deferred_runner);
        w->deferred_runner.data = w;
        uv_timer_init(w->uv, &w->shutdown_timer);
        w->shutdown_timer.data = w;
        uv_unref(reinterpret_cast<uv_handle_t*>(&w->shutdown_timer));
        uv_timer_init(w->uv, &w->sweep_timer);
        w->sweep_timer.data = w;
        {
            // Sweep often enough for the shortest timeout to fire within a quarter of itself.
            const auto& o = w->shared->options;
            auto shortest = std::min({o.header_timeout, o.body_timeout, o.keep_alive_timeout,
                                      o.write_timeout});
            const auto period = std::clamp<std::int64_t>(shortest.count() / 4, 5, 250);
            uv_timer_start(
                &w->sweep_timer,
                [](uv_timer_t* t) {
                    auto* self = static_cast<worker*>(t->data);
                    self->loop->guarded([&] { self->sweep(); });
                },
                static_cast<std::uint64_t>(period), static_cast<std::uint64_t>(period));
            uv_unref(reinterpret_cast<uv_handle_t*>(&w->sweep_timer));
        }
        uv_tcp_init(w->uv, &w->listener.tcp);
        w->listener.tcp.data = w;
        if (int rc = uv_tcp_open(&w->listener.tcp, w->listen_fd); rc != 0) {
            throw std::runtime_error(uv_message("uv_tcp_open", rc));
        }
        if (int rc = uv_listen(reinterpret_cast<uv_stream_t*>(&w->listener.tcp),
                               w->shared->options.backlog, &on_new_connection);
            rc != 0) {
            throw std::runtime_error(uv_message("uv_listen", rc));
        }
        w->listening = true;
        {
            std::lock_guard lock(w->ready_mutex);
            w->ready = true;
        }
        w->ready_cv.notify_all();
        loop.run();
        // Stopped: close what is left (connections dropped at the graceful timeout included).
        w->drop_all();
        if (w->listening) {
            uv_close(reinterpret_cast<uv_handle_t*>(&w->listener), nullptr);
            w->listening = false;
        }
        uv_close(reinterpret_cast<uv_handle_t*>(&w->deferred_runner), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&w->shutdown_timer), nullptr);
        uv_close(reinterpret_cast<uv_handle_t*>(&w->sweep_timer), nullptr);
        // Let requests unwind (their clients are gone) and handles finish closing.
        for (int round = 0; round < 1000 && uv_loop_alive(w->uv); ++round) {
            uv_run(w->uv, UV_RUN_NOWAIT);
            if (!w->deferred.empty()) w->run_deferred();
        }
        w->loop = nullptr;
    } catch (...) {
        std::lock_guard lock(w->ready_mutex);
        w->failure = std::current_exception();
        w->ready = true;
        w->ready_cv.notify_all();
    }
}
}  // namespace

server::server(any_app app, server_options options) : impl_(std::make_unique<impl>()) {
    if (!app) throw std::invalid_argument("server: no app");
    if (options.workers == 0) throw std::invalid_argument("server: workers must be at least 1");
    if (!options.unix_socket.empty()) {
        throw std::invalid_argument("server: Unix sockets are not supported yet");
    }
    impl_->app = std::move(app);
    impl_->trust = proxy_trust(options.forwarded_allow_ips);
    impl_->options = std::move(options);
}

server::~server() {
    try {
        stop();
    } catch (...) {
    }
}

void server::start() {
    auto& s = *impl_;
    if (s.started) throw std::logic_error("server: already started");
    // Lifespan first: no connection is accepted before startup completes.
    if (s.options.lifespan != lifespan_mode::off) {
        s.lifespan = std::make_unique<impl::lifespan_state>();
        s.lifespan->shared = &s;
        s.lifespan->lifespan_scope.type = scope_type::lifespan;
        s.lifespan->lifespan_scope.app_state = s.app_state;
        s.lifespan->start();
        auto& life = *s.lifespan;
        if (life.startup_failed || (life.app_done && !life.started &&
                                    s.options.lifespan == lifespan_mode::on)) {
            std::string why = life.startup_failed ? life.failure : "the app does not support lifespan";
            if (life.error) {
                try {
                    std::rethrow_exception(life.error);
                } catch (const std::exception& e) {
                    why = e.what();
                } catch (...) {
                }
            }
            life.shutdown(s.options.graceful_timeout);
            s.lifespan.reset();
            throw lifespan_failure("lifespan startup failed: " + (why.empty() ? "no reason given" : why));
        }
    }
    std::uint16_t port = s.options.port;
    for (unsigned i = 0; i < s.options.workers; ++i) {
        auto w = std::make_unique<worker>();
        w->shared = &s;
        w->index = i;
        w->listen_fd = open_listener(s.options, port);
        if (i == 0) port = bound_port_of(w->listen_fd);
        s.workers.push_back(std::move(w));
    }
    s.bound_port = port;
    for (auto& w : s.workers) {
        w->thread = std::thread(run_worker, w.get());
        std::unique_lock lock(w->ready_mutex);
        w->ready_cv.wait(lock, [&] { return w->ready; });
        if (w->failure) {
            lock.unlock();
            stop();
            std::rethrow_exception(w->failure);
        }
    }
    s.started = true;
    s.log(log_level::info, "listening on http://" + s.options.host + ":" + std::to_string(port));
}

void server::stop() {
    auto& s = *impl_;
    {
        std::lock_guard lock(s.mutex);
        if (s.stopped) return;
        s.stopped = true;
        s.stopping = true;
        s.changed.notify_all();
    }
    for (auto& w : s.workers) {
        if (!w->thread.joinable()) continue;
        worker* raw = w.get();
        const auto timeout = s.options.graceful_timeout;
        // Post only while the worker's loop exists (its thread clears `loop` on exit).
        std::lock_guard lock(raw->ready_mutex);
        if (raw->loop && !raw->failure) {
            raw->loop->post([raw, timeout] {
                raw->begin_drain();
                uv_ref(reinterpret_cast<uv_handle_t*>(&raw->shutdown_timer));
                uv_timer_start(
                    &raw->shutdown_timer,
                    [](uv_timer_t* t) {
                        // Past the graceful timeout: drop what is left.
                        auto* self = static_cast<worker*>(t->data);
                        self->drop_all();
                        self->loop->stop();
                    },
                    static_cast<std::uint64_t>(timeout.count()), 0);
            });
        }
    }
    for (auto& w : s.workers) {
        if (w->thread.joinable()) w->thread.join();
    }
    if (s.lifespan) {
        s.lifespan->shutdown(s.options.graceful_timeout);
        s.lifespan.reset();
    }
    if (s.limit_stopper.joinable() && s.limit_stopper.get_id() != std::this_thread::get_id()) {
        s.limit_stopper.join();
    }
}

void server::wait() {
    auto& s = *impl_;
    std::unique_lock lock(s.mutex);
    s.changed.wait(lock, [&] { return s.stopping.load(); });
    lock.unlock();
    stop();
}

std::uint16_t server::port() const noexcept { return impl_->bound_port; }
const server_options& server::options() const noexcept { return impl_->options; }

void server::request_stop() noexcept {
    std::lock_guard lock(impl_->mutex);
    impl_->stopping = true;
    impl_->changed.notify_all();
}

void serve(any_app app, server_options options, std::function<void(const server&)> on_listening) {
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
