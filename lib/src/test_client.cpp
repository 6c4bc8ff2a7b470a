// The in-memory transport. Each request gets an http_session: a scope, the request body to
// deliver, an http_exchange enforcing the same rules the server applies, and the response as it
// arrives; each WebSocket connection a websocket_run around a websocket_exchange. The app runs
// as a coroutine on the calling thread's loop; `drive` runs that loop until the test's condition
// holds, with a timer bounding every wait.
#include "tessera/testing/test_client.hpp"

#include <uv.h>

#include <deque>
#include <fstream>
#include <functional>

#include "tessera/cancellation.hpp"
#include "tessera/detail/driver.hpp"
#include "tessera/http_exchange.hpp"
#include "tessera/loop.hpp"
#include "tessera/percent.hpp"
#include "tessera/status.hpp"
#include "tessera/websocket_exchange.hpp"

namespace tessera::testing {

namespace {

// Runs the thread's loop until `done()` holds, resuming coroutines woken by the in-memory
// transport in between. Returns false when `limit` passed first. A wait that nothing can end
// (no timers, no I/O, nothing ready) also ends at `limit`, because the limit timer itself keeps
// the loop waiting; so every wait is bounded.
class waker {
public:
    void wake(std::coroutine_handle<> handle) { ready_.push_back(handle); }
    void forget(std::coroutine_handle<> handle) noexcept {
        std::erase(ready_, handle);
    }
    bool drive(const std::function<bool()>& done, std::chrono::milliseconds limit) {
        auto& loop = this_thread_loop();
        auto* uv = static_cast<uv_loop_t*>(loop.native_handle());
        struct limit_timer {
            uv_timer_t* handle = new uv_timer_t;
            bool expired = false;
            ~limit_timer() {
                uv_close(reinterpret_cast<uv_handle_t*>(handle),
                         [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
            }
        } timer;
        uv_timer_init(uv, timer.handle);
        timer.handle->data = &timer.expired;
        uv_timer_start(
            timer.handle, [](uv_timer_t* h) { *static_cast<bool*>(h->data) = true; },
            static_cast<std::uint64_t>(limit.count()), 0);
        for (;;) {
            resume_ready();
            if (done()) return true;
            if (timer.expired) return false;
            if (!ready_.empty()) continue;
            loop.run_once();
        }
    }

private:
    void resume_ready() {
        while (!ready_.empty()) {
            auto handle = ready_.front();
            ready_.erase(ready_.begin());
            handle.resume();
        }
    }
    std::vector<std::coroutine_handle<>> ready_;
};

thread_local waker transport_waker;

std::string_view status_text(int status) {
    auto phrase = reason_phrase(status);
    return phrase.empty() ? std::string_view("Unknown") : phrase;
}

// Suspends until `woken` is set by the transport, or the awaiting coroutine's scope is
// cancelled (then throws operation_cancelled).
class wait_until_woken {
public:
    explicit wait_until_woken(std::coroutine_handle<>& slot) noexcept : slot_(slot) {}
    wait_until_woken(const wait_until_woken&) = delete;
    wait_until_woken& operator=(const wait_until_woken&) = delete;
    ~wait_until_woken() {
        if (slot_ == self_ && self_) {
            transport_waker.forget(self_);
            slot_ = {};
        }
    }
    [[nodiscard]] bool await_ready() const noexcept { return false; }
    template <class Promise>
    void await_suspend(std::coroutine_handle<Promise> self) {
        self_ = self;
        slot_ = self;
        cancel_.register_on(ambient_cancellation(self), &on_cancel, this);
    }
    void await_resume() {
        cancel_.unregister();
        if (cancelled_) throw operation_cancelled{};
    }

private:
    static void on_cancel(void* raw) noexcept {
        auto* self = static_cast<wait_until_woken*>(raw);
        self->cancelled_ = true;
        if (self->slot_ == self->self_) {
            self->slot_ = {};
            transport_waker.wake(self->self_);
        }
    }
    std::coroutine_handle<>& slot_;
    std::coroutine_handle<> self_{};
    cancellation_callback cancel_;
    bool cancelled_ = false;
};

[[noreturn]] void throw_too_large(const http_session& s);

// What a server answers when the app produced nothing.
void answer_internal_error(test_response& out) {
    out.status = 500;
    out.headers = tessera::headers{{"content-type", "text/plain; charset=utf-8"},
                                   {"content-length", "21"}};
    out.content = "Internal Server Error";
}

// A name given in `given` (the client's or a request's headers) replaces the earlier fields of
// that name, but repeated fields given together are all sent (set() kept only the last one).
void override_headers(tessera::headers& h, const tessera::headers& given) {
    for (const auto name : given.keys()) h.remove(name);
    for (const auto& field : given) h.append(field.name, field.value);
}

// Lets an app whose client has gone unwind: waits (bounded) for it to return, then cancels it
// and waits again. False when it still runs; destroying its driver then unwinds it where it
// stands.
bool let_app_finish(const bool& app_done, cancellation_state& cancellation,
                    std::chrono::milliseconds limit) {
    const auto done = [&app_done] { return app_done; };
    if (transport_waker.drive(done, limit)) return true;
    cancellation.cancel();
    return transport_waker.drive(done, limit);
}

// The name and value a Set-Cookie field sets. The value is unquoted the way the server's cookie
// parser unquotes it (`"a\073b"` is `a;b`); merely stripping the quotes, as before, left the
// escapes in and broke the round trip of values with `;`, `"`, `\` or non-ASCII bytes.
std::optional<std::pair<std::string, std::string>> set_cookie_pair(std::string_view field) {
    const auto first = field.substr(0, field.find(';'));
    if (first.find('=') == std::string_view::npos) return std::nullopt;
    auto parsed = parse_cookie_header(first);
    if (parsed.size() != 1 || parsed.front().first.empty()) return std::nullopt;
    return std::move(parsed.front());
}

// Whether a Set-Cookie field expires its cookie now: Max-Age <= 0 or an expiry at the epoch (as
// delete_cookie writes). Only the attributes are looked at, never the value.
bool set_cookie_expires_now(std::string_view field) {
    const auto semicolon = field.find(';');
    if (semicolon == std::string_view::npos) return false;
    const std::string attributes = to_lower_ascii(field.substr(semicolon));
    if (attributes.find("expires=thu, 01 jan 1970") != std::string::npos) return true;
    const auto max_age = attributes.find("max-age=");
    if (max_age == std::string::npos) return false;
    const auto digits = std::string_view(attributes).substr(max_age + 8);
    return digits.starts_with('-') || digits.starts_with("0;") || digits == "0";
}

// `name=value` for a Cookie header, the value quoted as a Set-Cookie would quote it, so the
// server's parser gives back exactly the jar's bytes.
std::string cookie_pair(std::string_view name, std::string_view value) {
    try {
        return set_cookie_header_value(name, value, {.path = {}, .samesite = std::nullopt});
    } catch (const std::invalid_argument&) {
        // A name set_cookie would refuse (the test put it in the jar): send it as it is.
        std::string out(name);
        out.append("=").append(value);
        return out;
    }
}

// The bytes of a file body, checked by the exchange's rules exactly as the server checks them
// (a range past the end of the file, or a size that does not match the declared length, is
// the app's protocol error).
std::string read_file_range(http_exchange& exchange, const http::response_file& file) {
    std::ifstream in(file.path, std::ios::binary | std::ios::ate);
    if (!in) throw std::runtime_error("test_client: cannot open " + file.path);
    const auto size = static_cast<std::uint64_t>(in.tellg());
    const std::uint64_t bytes = exchange.on_file_opened(file, size);
    in.seekg(static_cast<std::streamoff>(file.offset));
    std::string out(static_cast<std::size_t>(bytes), '\0');
    in.read(out.data(), static_cast<std::streamsize>(bytes));
    out.resize(static_cast<std::size_t>(in.gcount()));
    return out;
}

}  // namespace

// One request in flight. Heap-allocated: the app holds handles into it.
struct http_session {
    scope request_scope;
    std::string body;
    std::size_t body_offset = 0;
    std::size_t body_chunk = 0;
    bool body_delivered = false;
    std::optional<http_exchange> exchange;

    int status = 0;
    tessera::headers response_headers;
    std::string received;  // body bytes not yet handed to the test
    bool head_seen = false;
    bool response_complete = false;
    bool client_gone = false;
    bool app_done = false;
    bool continue_sent = false;
    bool exceeded_max_bytes = false;  // the client hung up on a response over max_bytes
    std::exception_ptr app_error;
    std::optional<std::string> exchange_problem;

    std::size_t max_bytes = 0;
    std::chrono::milliseconds timeout{};
    bool raise_server_exceptions = true;
    std::string method;
    tessera::url url;

    std::coroutine_handle<> disconnect_waiter{};
    // Streams apply backpressure like a socket: a send that leaves more than this unread waits
    // for the reader, so an endless stream produces only as fast as the test reads.
    bool backpressure = false;
    static constexpr std::size_t high_water = 64 * 1024;
    std::coroutine_handle<> send_waiter{};
    cancellation_state app_cancellation;
    std::string activity;  // watchdog label

    detail::driver runner;

    task<event> next_event() {
        // Once the client has gone the rest of its body never comes (it used to be delivered
        // anyway to an app reading a chunked body after a disconnect).
        if (client_gone) co_return http::disconnect{};
        if (!body_delivered) {
            if (exchange->take_continue_due()) continue_sent = true;
            const std::size_t remaining = body.size() - body_offset;
            const std::size_t take =
                body_chunk == 0 ? remaining : std::min(body_chunk, remaining);
            http::request piece{body.substr(body_offset, take), false};
            body_offset += take;
            piece.more_body = body_offset < body.size();
            body_delivered = !piece.more_body;
            co_return piece;
        }
        // After the body, receive waits until the client goes or the response is complete.
        if (!client_gone && !response_complete) {
            co_await wait_until_woken(disconnect_waiter);
        }
        co_return http::disconnect{};
    }

    task<void> on_send(event e) {
        if (client_gone) throw client_disconnected();
        const auto out = exchange->on_send(e);
        switch (out.what) {
            case exchange_output::kind::head:
                status = out.status;
                response_headers = *out.fields;
                head_seen = true;
                break;
            case exchange_output::kind::body:
                received.append(out.bytes);
                break;
            case exchange_output::kind::file:
                if (out.file) {
                    const std::string bytes = read_file_range(*exchange, *out.file);
                    // As the server does: a file that is the whole body gives a head without a
                    // content-length one (it would otherwise go out chunked).
                    if (exchange->framing() == body_framing::chunked &&
                        exchange->body_bytes_sent() == bytes.size()) {
                        response_headers.remove("transfer-encoding");  // the server's framing
                        response_headers.append("content-length", std::to_string(bytes.size()));
                    }
                    received += bytes;
                }
                break;
            case exchange_output::kind::nothing: break;
        }
        if (received.size() > max_bytes) {
            exceeded_max_bytes = true;
            disconnect();
            throw client_disconnected("test_client: the response exceeded max_response_bytes");
        }
        if (out.last) {
            response_complete = true;
            wake_disconnect_waiter();
        } else if (backpressure && received.size() >= high_water) {
            co_await wait_until_woken(send_waiter);
            if (client_gone) throw client_disconnected();
        }
    }

    void wake_disconnect_waiter() {
        if (auto waiter = std::exchange(disconnect_waiter, {})) transport_waker.wake(waiter);
    }

    void wake_sender() {
        if (auto waiter = std::exchange(send_waiter, {})) transport_waker.wake(waiter);
    }

    void disconnect() {
        client_gone = true;
        wake_disconnect_waiter();
        wake_sender();
    }

    static detail::driver run(any_app app, http_session& self) {
        try {
            activity_scope label(self.activity);
            // The handles' targets live in this frame, which outlives the app's call.
            receive_member<http_session, &http_session::next_event> receive_impl{&self};
            send_member<http_session, &http_session::on_send> send_impl{&self};
            co_await in_scope(app(self.request_scope, receive(receive_impl), send(send_impl)),
                              &self.app_cancellation);
        } catch (...) {
            self.app_error = std::current_exception();
        }
        self.exchange_problem = self.exchange->on_app_return();
        self.app_done = true;
    }

    bool drive(const std::function<bool()>& done, std::chrono::milliseconds limit) {
        return transport_waker.drive(done, limit);
    }

    // Disconnects and lets the app unwind; destroys it where it stands if it will not.
    void shut_down() {
        if (app_done) return;
        disconnect();
        // Past both bounds the app ignores cancellation; destroying the driver unwinds it.
        (void)let_app_finish(app_done, app_cancellation, timeout);
    }

    ~http_session() {
        if (!app_done) {
            transport_waker.forget(disconnect_waiter);
            transport_waker.forget(send_waiter);
        }
    }
};

namespace {
[[noreturn]] void throw_too_large(const http_session& s) {
    throw std::runtime_error("test_client: the response to " + s.method + " " + s.url.str() +
                             " exceeded max_response_bytes (" + std::to_string(s.max_bytes) +
                             ")");
}
}  // namespace

// ---- test_response -----------------------------------------------------------------------

json test_response::json() const { return parse_json(content); }
std::string_view test_response::reason_phrase() const noexcept { return status_text(status); }
bool test_response::is_redirect() const noexcept {
    return (status == 301 || status == 302 || status == 303 || status == 307 || status == 308) &&
           headers.contains("location");
}
cookie_list test_response::cookies() const {
    cookie_list out;
    for (const auto& value : headers.get_all("set-cookie")) {
        if (auto cookie = set_cookie_pair(value)) out.push_back(std::move(*cookie));
    }
    return out;
}

// ---- test_stream -------------------------------------------------------------------------

test_stream::test_stream(std::unique_ptr<http_session> session) noexcept
    : session_(std::move(session)) {}
test_stream::test_stream(test_stream&&) noexcept = default;
test_stream& test_stream::operator=(test_stream&& other) noexcept {
    if (this != &other) {
        close();
        session_ = std::move(other.session_);
    }
    return *this;
}
test_stream::~test_stream() {
    try {
        close();
    } catch (...) {
        // A destructor must not throw; close() already bounded the wait.
    }
}

int test_stream::status() const noexcept { return session_->status; }
const headers& test_stream::headers() const noexcept { return session_->response_headers; }

std::optional<std::string> test_stream::next_chunk(
    std::optional<std::chrono::milliseconds> timeout) {
    auto& s = *session_;
    const bool ready = s.drive(
        [&] { return !s.received.empty() || s.response_complete || s.app_done; },
        timeout.value_or(s.timeout));
    if (!ready) throw test_timeout("test_stream: no body arrived within the timeout");
    if (s.exceeded_max_bytes) throw_too_large(s);
    if (!s.received.empty()) {
        s.wake_sender();
        return std::exchange(s.received, {});
    }
    if (s.app_done && !s.response_complete) {
        if (s.app_error && s.raise_server_exceptions) std::rethrow_exception(s.app_error);
        throw std::runtime_error("test_stream: the app ended the response early: " +
                                 s.exchange_problem.value_or("unknown reason"));
    }
    return std::nullopt;
}

std::string test_stream::read_all() {
    std::string out;
    while (auto chunk = next_chunk()) out += *chunk;
    return out;
}

void test_stream::close() {
    if (session_) session_->shut_down();
}

// ---- lifespan ----------------------------------------------------------------------------

struct lifespan_run {
    scope lifespan_scope;
    bool startup_sent = false;
    bool shutdown_requested = false;
    bool started = false;
    bool stopped = false;
    bool app_done = false;
    bool supported = true;
    std::optional<std::string> failure;
    std::exception_ptr app_error;
    std::coroutine_handle<> waiter{};
    std::chrono::milliseconds timeout{};
    cancellation_state cancellation;

    detail::driver runner;

    task<event> next_event() {
        if (!startup_sent) {
            startup_sent = true;
            co_return lifespan::startup{};
        }
        if (!shutdown_requested) co_await wait_until_woken(waiter);
        co_return lifespan::shutdown{};
    }
    task<void> on_send(event e) {
        if (std::holds_alternative<lifespan::startup_complete>(e)) {
            started = true;
        } else if (auto* failed = std::get_if<lifespan::startup_failed>(&e)) {
            failure = failed->message.empty() ? "startup failed" : failed->message;
        } else if (std::holds_alternative<lifespan::shutdown_complete>(e)) {
            stopped = true;
        } else if (auto* failed = std::get_if<lifespan::shutdown_failed>(&e)) {
            failure = failed->message.empty() ? "shutdown failed" : failed->message;
        } else {
            throw protocol_error("unexpected event on a lifespan scope: " +
                                 std::string(event_name(e)));
        }
        co_return;
    }
    static detail::driver run(any_app app, lifespan_run& self) {
        try {
            receive_member<lifespan_run, &lifespan_run::next_event> receive_impl{&self};
            send_member<lifespan_run, &lifespan_run::on_send> send_impl{&self};
            co_await in_scope(app(self.lifespan_scope, receive(receive_impl), send(send_impl)),
                              &self.cancellation);
        } catch (...) {
            self.app_error = std::current_exception();
        }
        self.app_done = true;
    }

    void shut_down() {
        if (started && app_done) report_crash();
        if (stopped || app_done || !started) return;
        shutdown_requested = true;
        if (auto w = std::exchange(waiter, {})) transport_waker.wake(w);
        const bool finished =
            transport_waker.drive([this] { return stopped || app_done || failure; }, timeout);
        if (!finished) throw test_timeout("lifespan shutdown did not complete in time");
        if (failure) throw lifespan_error(*failure);
        report_crash();
    }
    // An app that raised after a successful startup (before or during shutdown) failed its
    // lifespan; this used to pass silently.
    void report_crash() const {
        if (stopped || !app_error) return;
        try {
            std::rethrow_exception(app_error);
        } catch (const std::exception& error) {
            throw lifespan_error(std::string("the lifespan raised: ") + error.what());
        } catch (...) {
            throw lifespan_error("the lifespan raised");
        }
    }
    ~lifespan_run() {
        if (!app_done) transport_waker.forget(waiter);
    }
};

lifespan_session::lifespan_session(std::unique_ptr<lifespan_run> run) noexcept
    : run_(std::move(run)) {}
lifespan_session::lifespan_session(lifespan_session&&) noexcept = default;
lifespan_session::~lifespan_session() {
    try {
        shutdown();
    } catch (...) {
        // Destructors do not throw; call shutdown() to see failures.
    }
}
void lifespan_session::shutdown() {
    if (!run_) return;
    auto run = std::move(run_);
    run->shut_down();
}
bool lifespan_session::supported() const noexcept { return run_ && run_->supported; }

// ---- test_client -------------------------------------------------------------------------

test_client::test_client(any_app app, client_options options)
    : app_(std::move(app)), options_(std::move(options)), base_(options_.base_url),
      app_state_(std::make_shared<state>()) {
    if (!app_) throw std::invalid_argument("test_client: no app");
    if (base_.scheme().empty() || base_.hostname().empty()) {
        throw std::invalid_argument("test_client: base_url must be absolute: " +
                                    options_.base_url);
    }
}

test_client::~test_client() = default;

lifespan_session test_client::lifespan() {
    auto run = std::make_unique<lifespan_run>();
    run->lifespan_scope.type = scope_type::lifespan;
    run->lifespan_scope.app_state = app_state_;
    run->timeout = options_.timeout;
    run->runner = lifespan_run::run(app_, *run);
    run->runner.start();
    const bool answered = transport_waker.drive(
        [&] { return run->started || run->failure || run->app_done; }, options_.timeout);
    if (!answered) throw test_timeout("lifespan startup did not complete in time");
    if (run->failure) throw lifespan_error(*run->failure);
    if (!run->started) {
        // The app ended (or raised) without answering startup: it does not do lifespans.
        run->supported = false;
    }
    return lifespan_session(std::move(run));
}

void test_client::address_scope(scope& s, const tessera::url& target) const {
    std::string raw_path(target.path().empty() ? "/" : target.path());
    // A path already under root_path keeps it; "/apiary" is not under "/api" (a segment
    // boundary must follow the prefix).
    const std::string& root = options_.root_path;
    const bool under_root = raw_path.starts_with(root) &&
                            (raw_path.size() == root.size() || raw_path[root.size()] == '/');
    if (!root.empty() && !under_root) raw_path = root + raw_path;
    s.raw_path = raw_path;
    s.path = percent_decode(raw_path);
    s.root_path = options_.root_path;
    s.query_string = std::string(target.query());
    s.client = options_.client;
    const auto port = target.port().value_or(target.is_secure() ? 443 : 80);
    s.server = address{target.hostname(), port};
}

tessera::headers test_client::default_headers(const tessera::url& target,
                                              std::string_view connection) {
    std::string host(target.netloc());
    if (const auto at = host.rfind('@'); at != std::string::npos) host.erase(0, at + 1);
    // As httpx: a default port is not written ("https://h:443/" sends "Host: h").
    if (target.port() && *target.port() == (target.is_secure() ? 443 : 80)) {
        host.erase(host.rfind(':'));
    }
    tessera::headers h;
    h.append("host", host);
    h.append("accept", "*/*");
    h.append("accept-encoding", "gzip, deflate");
    h.append("connection", connection);
    h.append("user-agent", "testclient");
    return h;
}

std::string test_client::cookie_header(
    const std::vector<std::pair<std::string, std::string>>& own) const {
    std::string header;
    auto add_cookie = [&](std::string_view name, std::string_view value) {
        if (!header.empty()) header += "; ";
        header += cookie_pair(name, value);
    };
    for (const auto& [name, value] : jar_) {
        bool overridden = false;
        for (const auto& mine : own) overridden = overridden || mine.first == name;
        if (!overridden) add_cookie(name, value);
    }
    for (const auto& [name, value] : own) add_cookie(name, value);
    return header;
}

std::unique_ptr<http_session> test_client::start(std::string_view method,
                                                 const tessera::url& target,
                                                 const request_options& opts,
                                                 std::optional<std::string> body_override,
                                                 bool streaming) {
    auto session = std::make_unique<http_session>();
    auto& s = session->request_scope;
    s.type = scope_type::http;
    s.http_version = "1.1";
    s.method = std::string(method);
    s.scheme = std::string(target.scheme());
    address_scope(s, target);
    s.app_state = app_state_;

    // Body.
    std::string body;
    std::string content_type;
    if (body_override) {
        body = std::move(*body_override);
    } else if (opts.content) {
        body = *opts.content;
    } else if (opts.json) {
        body = opts.json->dump();
        content_type = "application/json";
    } else if (!opts.form.empty()) {
        for (const auto& [key, value] : opts.form) {
            if (!body.empty()) body.push_back('&');
            body += quote_plus(key);
            body.push_back('=');
            body += quote_plus(value);
        }
        content_type = "application/x-www-form-urlencoded";
    }

    // Headers: httpx's defaults, then the client's, then the request's (later ones win).
    tessera::headers h = default_headers(target, "keep-alive");
    override_headers(h, options_.headers);
    override_headers(h, opts.headers);
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        if (!h.contains("content-length") && !h.contains("transfer-encoding")) {
            h.set("content-length", std::to_string(body.size()));
        }
    }
    if (!content_type.empty() && !h.contains("content-type")) h.set("content-type", content_type);
    const std::string cookies = cookie_header(opts.cookies);
    if (!cookies.empty() && !h.contains("cookie")) h.set("cookie", cookies);
    s.headers = std::move(h);

    session->body = std::move(body);
    session->body_chunk = opts.body_chunk_size;
    session->backpressure = streaming;
    session->exchange.emplace(s);
    session->max_bytes = options_.max_response_bytes;
    session->timeout = opts.timeout.value_or(options_.timeout);
    session->raise_server_exceptions = options_.raise_server_exceptions;
    session->method = s.method;
    session->url = target;
    session->activity = s.method + " " + s.raw_path;
    session->runner = http_session::run(app_, *session);
    session->runner.start();
    return session;
}

test_response test_client::finish(http_session& s) {
    const bool finished = s.drive([&] { return s.app_done; }, s.timeout);
    if (!finished) {
        s.shut_down();
        throw test_timeout("test_client: " + s.method + " " + s.url.str() +
                           " did not complete within " + std::to_string(s.timeout.count()) +
                           " ms");
    }
    // A truncated response must not pass for a complete one (it used to come back as a 200).
    if (s.exceeded_max_bytes) throw_too_large(s);
    if (s.app_error) {
        bool ours = false;  // a disconnect we caused (response too large) is not the app's fault
        try {
            std::rethrow_exception(s.app_error);
        } catch (const client_disconnected&) {
            ours = s.client_gone;
        } catch (...) {
        }
        if (options_.raise_server_exceptions && !ours) std::rethrow_exception(s.app_error);
    } else if (s.exchange_problem && options_.raise_server_exceptions) {
        throw protocol_error(*s.exchange_problem);
    }
    test_response out;
    out.method = s.method;
    out.url = s.url;
    if (!s.head_seen) {
        answer_internal_error(out);
        return out;
    }
    out.status = s.status;
    out.headers = std::move(s.response_headers);
    out.content = std::move(s.received);
    store_cookies(out.headers);
    return out;
}

void test_client::store_cookies(const tessera::headers& response_headers) {
    for (const auto& value : response_headers.get_all("set-cookie")) {
        auto cookie = set_cookie_pair(value);
        if (!cookie) continue;
        std::erase_if(jar_, [&](const auto& item) { return item.first == cookie->first; });
        if (!set_cookie_expires_now(value)) jar_.push_back(std::move(*cookie));
    }
}

namespace {
// RFC 3986 §5.2.4: drops "." and ".." segments from an absolute path.
std::string remove_dot_segments(std::string_view path) {
    std::vector<std::string_view> segments;
    std::size_t pos = path.starts_with('/') ? 1 : 0;
    for (;;) {
        auto end = path.find('/', pos);
        const bool last = end == std::string_view::npos;
        if (last) end = path.size();
        const auto segment = path.substr(pos, end - pos);
        if (segment == "..") {
            if (!segments.empty()) segments.pop_back();
        } else if (segment != ".") {
            segments.push_back(segment);
        }
        if (last) {
            // "/a/.." and "/a/." name the directory: keep its trailing slash.
            if (segment == "." || segment == "..") segments.emplace_back();
            break;
        }
        pos = end + 1;
    }
    std::string out;
    for (const auto segment : segments) out.append("/").append(segment);
    return out.empty() ? "/" : out;
}

// Whether `target` starts with a scheme ("http:", "https:"): a ':' before any '/', '?' or '#'.
bool has_scheme(std::string_view target) noexcept {
    const auto colon = target.find(':');
    return colon != std::string_view::npos && colon > 0 &&
           colon < target.find_first_of("/?#");
}

// Resolves `target` against `base` as a browser (and httpx) resolves a link or a Location:
// absolute URLs as they are, "//host/..." with the base's scheme, "/path", "?query" and
// "relative/path" against the base, dot segments removed. The fragment is dropped.
tessera::url resolve(const tessera::url& base, std::string_view target,
                     const std::vector<std::pair<std::string, std::string>>& params) {
    target = target.substr(0, target.find('#'));
    tessera::url result;
    if (has_scheme(target)) {
        result = tessera::url(target);
    } else if (target.starts_with("//")) {
        result = tessera::url(std::string(base.scheme()) + ":" + std::string(target));
    } else {
        const auto query_at = target.find('?');
        const auto path = target.substr(0, query_at);
        std::string query(query_at == std::string_view::npos ? std::string_view{}
                                                             : target.substr(query_at + 1));
        std::string full_path;
        if (path.empty()) {
            // "?q" (or an empty reference) keeps the base path; an empty one the base query too.
            full_path = base.path().empty() ? "/" : std::string(base.path());
            if (query_at == std::string_view::npos) query = std::string(base.query());
        } else if (path.front() == '/') {
            full_path = remove_dot_segments(path);
        } else {
            // Relative to the base path's directory.
            std::string directory(base.path());
            directory.erase(directory.rfind('/') + 1);
            if (directory.empty()) directory = "/";
            full_path = remove_dot_segments(directory + std::string(path));
        }
        std::string text(base.scheme());
        text.append("://").append(base.netloc()).append(full_path);
        if (!query.empty()) text.append("?").append(query);
        result = tessera::url(text);
    }
    for (const auto& [key, value] : params) {
        std::string query(result.query());
        if (!query.empty()) query.push_back('&');
        query += quote_plus(key) + "=" + quote_plus(value);
        result = result.replace({.query = query});
    }
    return result;
}
}  // namespace

test_response test_client::request(std::string_view method, std::string_view target,
                                   request_options options) {
    auto url = resolve(base_, target, options.params);
    std::string current_method(method);
    std::optional<std::string> body_override;
    std::vector<test_response> history;
    const bool follow = options.follow_redirects.value_or(options_.follow_redirects);
    for (std::size_t hop = 0;; ++hop) {
        auto session = start(current_method, url, options, body_override, false);
        auto response = finish(*session);
        if (!follow || !response.is_redirect()) {
            response.history = std::move(history);
            return response;
        }
        if (hop >= options_.max_redirects) {
            throw std::runtime_error("test_client: more than " +
                                     std::to_string(options_.max_redirects) + " redirects");
        }
        const std::string location(*response.headers.get("location"));
        // 303 always, and 301/302 after a POST, turn into a GET without a body (as browsers and
        // httpx do); 307/308 repeat the request as it was.
        if (response.status == 303 ||
            ((response.status == 301 || response.status == 302) && current_method == "POST")) {
            if (current_method != "HEAD") current_method = "GET";
            body_override = std::string{};
            options.headers.remove("content-type");
            options.headers.remove("content-length");
        }
        const auto next = resolve(url, location, {});
        history.push_back(std::move(response));
        url = next;
    }
}

test_stream test_client::stream(std::string_view method, std::string_view target,
                                request_options options) {
    auto url = resolve(base_, target, options.params);
    auto session = start(method, url, options, std::nullopt, true);
    auto& s = *session;
    const bool started = s.drive([&] { return s.head_seen || s.app_done; }, s.timeout);
    if (!started) {
        s.shut_down();
        throw test_timeout("test_client: the response to " + s.method + " " + url.str() +
                           " did not start in time");
    }
    if (!s.head_seen) {
        if (s.app_error && options_.raise_server_exceptions) std::rethrow_exception(s.app_error);
        // As request() does: an app that returned without responding is the app's bug.
        if (s.exchange_problem && options_.raise_server_exceptions) {
            throw protocol_error(*s.exchange_problem);
        }
        s.status = 500;
        s.response_headers = tessera::headers{{"content-type", "text/plain; charset=utf-8"}};
        s.received = "Internal Server Error";
        s.response_complete = true;
    } else {
        store_cookies(s.response_headers);  // as request() does: streamed responses set cookies too
    }
    return test_stream(std::move(session));
}

}  // namespace tessera::testing

// ---- WebSocket ---------------------------------------------------------------------------

namespace tessera::testing {

// One WebSocket connection in flight: the scope, the websocket_exchange enforcing the rules the
// server applies, the messages travelling each way, and what the app answered the handshake
// with. Heap-allocated: the app holds handles into it.
struct websocket_run {
    scope ws_scope;
    std::optional<websocket_exchange> exchange;
    std::deque<websocket::receive> to_app;    // sent by the test, not yet received by the app
    std::deque<websocket::receive> from_app;  // sent by the app, not yet read by the test
    std::size_t from_app_bytes = 0;
    // The app's close, or the one the transport sent for it when it returned.
    std::optional<websocket::close> app_close;

    std::optional<std::string> subprotocol;
    tessera::headers accept_headers;
    bool rejected = false;  // closed before accepting
    int denial_status = 0;
    tessera::headers denial_headers;
    std::string denial_body;
    bool denial_complete = false;

    bool client_closed = false;  // the test closed
    bool app_done = false;
    std::exception_ptr app_error;
    bool error_reported = false;
    websocket_ending ending;

    std::chrono::milliseconds timeout{};
    bool raise_server_exceptions = true;
    std::string activity;  // watchdog label
    // Like a socket's buffer: an app that sends more than this unread waits for the test.
    static constexpr std::size_t high_water = 64 * 1024;
    std::coroutine_handle<> receive_waiter{};
    std::coroutine_handle<> send_waiter{};
    cancellation_state app_cancellation;

    detail::driver runner;

    task<event> next_event() {
        for (;;) {
            switch (exchange->next_receive(!to_app.empty())) {
                case websocket_receive_step::connect: co_return websocket::connect{};
                case websocket_receive_step::message: {
                    websocket::receive message = std::move(to_app.front());
                    to_app.pop_front();
                    co_return message;
                }
                case websocket_receive_step::disconnect: co_return exchange->disconnect_event();
                case websocket_receive_step::wait: break;
            }
            co_await wait_until_woken(receive_waiter);
        }
    }

    task<void> on_send(event e) {
        const auto out = exchange->on_send(e);
        switch (out.what) {
            case websocket_output::kind::accept:
                if (out.subprotocol) subprotocol = *out.subprotocol;
                accept_headers = *out.fields;
                break;
            case websocket_output::kind::reject:
                rejected = true;
                wake_receiver();
                break;
            case websocket_output::kind::denial:
                if (out.response.what == exchange_output::kind::head) {
                    denial_status = out.status;
                    denial_headers = *out.response.fields;
                } else {
                    denial_body.append(out.response.bytes);
                }
                if (out.response.last) {
                    denial_complete = true;
                    wake_receiver();
                }
                break;
            case websocket_output::kind::message:
                from_app.emplace_back(std::string(out.data), out.binary);
                from_app_bytes += out.data.size();
                if (from_app_bytes >= high_water) {
                    co_await wait_until_woken(send_waiter);
                    if (exchange->client_gone()) throw client_disconnected();
                }
                break;
            case websocket_output::kind::close:
                app_close.emplace(out.code, std::string(out.reason));
                // A well-behaved client answers a close at once, echoing its code.
                exchange->on_client_close(out.code, std::string(out.reason));
                wake_receiver();
                break;
            case websocket_output::kind::nothing: break;
        }
    }

    void wake_receiver() {
        if (auto waiter = std::exchange(receive_waiter, {})) transport_waker.wake(waiter);
    }
    void wake_sender() {
        if (auto waiter = std::exchange(send_waiter, {})) transport_waker.wake(waiter);
    }

    static detail::driver run(any_app app, websocket_run& self) {
        bool raised = false;
        try {
            activity_scope label(self.activity);
            // The handles' targets live in this frame, which outlives the app's call.
            receive_member<websocket_run, &websocket_run::next_event> receive_impl{&self};
            send_member<websocket_run, &websocket_run::on_send> send_impl{&self};
            co_await in_scope(app(self.ws_scope, receive(receive_impl), send(send_impl)),
                              &self.app_cancellation);
        } catch (...) {
            self.app_error = std::current_exception();
            raised = true;
        }
        self.ending = self.exchange->on_app_return(raised);
        if (self.ending.what == websocket_ending::kind::close) {
            self.app_close.emplace(self.ending.code);
        }
        self.app_done = true;
    }

    bool drive(const std::function<bool()>& done, std::chrono::milliseconds limit) {
        return transport_waker.drive(done, limit);
    }

    // The client goes (closing with `code`, or dropping the connection when there is none) and
    // the app is given the time to return.
    bool hang_up(std::optional<int> code, std::string reason = {}) {
        client_closed = true;
        if (code) {
            exchange->on_client_close(*code, std::move(reason));
        } else {
            exchange->on_client_gone();
        }
        wake_receiver();
        wake_sender();
        return app_done || let_app_finish(app_done, app_cancellation, timeout);
    }

    // Rethrows the app's exception once, under raise_server_exceptions. A disconnect the test
    // caused by closing is not the app's failure.
    void raise_app_error() {
        if (!app_error || error_reported || !raise_server_exceptions) return;
        try {
            std::rethrow_exception(app_error);
        } catch (const client_disconnected&) {
            if (client_closed) return;
        } catch (...) {
        }
        error_reported = true;
        std::rethrow_exception(app_error);
    }

    ~websocket_run() {
        if (!app_done) {
            transport_waker.forget(receive_waiter);
            transport_waker.forget(send_waiter);
        }
    }
};

// ---- websocket_denied --------------------------------------------------------------------

websocket_denied::websocket_denied(test_response response, std::optional<int> close_code)
    : std::runtime_error("the app refused the WebSocket connection with " +
                         std::to_string(response.status) +
                         (close_code ? " (it closed with " + std::to_string(*close_code) + ")"
                                     : std::string())),
      state_(std::make_shared<const state>(state{std::move(response), close_code})) {}

// ---- websocket_session -------------------------------------------------------------------

websocket_session::websocket_session(std::unique_ptr<websocket_run> run) noexcept
    : run_(std::move(run)) {}
websocket_session::websocket_session(websocket_session&&) noexcept = default;
websocket_session& websocket_session::operator=(websocket_session&& other) noexcept {
    if (this != &other) {
        try {
            close();
        } catch (...) {
            // As the destructor: the old connection's failure cannot be reported here.
        }
        run_ = std::move(other.run_);
    }
    return *this;
}
websocket_session::~websocket_session() {
    try {
        close();
    } catch (...) {
        // A destructor must not throw; call close() to see the app's failure.
    }
}

websocket_run& websocket_session::live() {
    if (!run_) throw std::logic_error("websocket_session: the session is closed");
    return *run_;
}

const std::optional<std::string>& websocket_session::accepted_subprotocol() const noexcept {
    static const std::optional<std::string> none;
    return run_ ? run_->subprotocol : none;
}
const headers& websocket_session::headers() const noexcept {
    static const tessera::headers none;
    return run_ ? run_->accept_headers : none;
}

namespace {
void queue_for_app(websocket_run& r, std::string data, bool binary) {
    // The app's failure comes first, then its close: a client cannot send on a closed
    // connection.
    if (r.app_done) r.raise_app_error();
    if (r.app_close) throw websocket_disconnect(r.app_close->code, r.app_close->reason);
    r.to_app.emplace_back(std::move(data), binary);
    r.wake_receiver();
}
}  // namespace

void websocket_session::send_text(std::string_view text) {
    // A client never sends a text frame that is not UTF-8 (the server would fail it with 1007),
    // so the app may count on receiving valid text.
    if (!is_valid_utf8(text)) {
        throw std::invalid_argument("websocket_session::send_text: the text is not valid UTF-8");
    }
    queue_for_app(live(), std::string(text), false);
}

void websocket_session::send_bytes(std::string_view bytes) {
    queue_for_app(live(), std::string(bytes), true);
}

void websocket_session::send_json(const json& value) { queue_for_app(live(), value.dump(), false); }

event websocket_session::receive(std::optional<std::chrono::milliseconds> timeout) {
    auto& r = live();
    const auto limit = timeout.value_or(r.timeout);
    const bool ready =
        r.drive([&r] { return !r.from_app.empty() || r.app_close || r.app_done; }, limit);
    if (!ready) {
        throw test_timeout("websocket_session: the app sent nothing within " +
                           std::to_string(limit.count()) + " ms");
    }
    if (!r.from_app.empty()) {
        websocket::receive message = std::move(r.from_app.front());
        r.from_app.pop_front();
        r.from_app_bytes -= message.data.size();
        if (r.from_app_bytes < websocket_run::high_water) r.wake_sender();
        return message;
    }
    if (r.app_done) r.raise_app_error();
    if (r.app_close) return *r.app_close;
    return websocket::close(1006);  // the app ended without a close reaching the client
}

namespace {
websocket::receive expect_message(event e) {
    if (auto* close = std::get_if<websocket::close>(&e)) {
        throw websocket_disconnect(close->code, std::move(close->reason));
    }
    return std::get<websocket::receive>(std::move(e));
}
}  // namespace

std::string websocket_session::receive_text(std::optional<std::chrono::milliseconds> timeout) {
    auto message = expect_message(receive(timeout));
    if (message.binary) {
        throw std::runtime_error("websocket_session: expected a text message, the app sent bytes");
    }
    return std::move(message.data);
}

std::string websocket_session::receive_bytes(std::optional<std::chrono::milliseconds> timeout) {
    auto message = expect_message(receive(timeout));
    if (!message.binary) {
        throw std::runtime_error("websocket_session: expected a binary message, the app sent text");
    }
    return std::move(message.data);
}

json websocket_session::receive_json(std::optional<std::chrono::milliseconds> timeout) {
    return parse_json(expect_message(receive(timeout)).data);
}

void websocket_session::close(int code, std::string_view reason) {
    if (!run_) return;
    if (!is_sendable_close_code(code) || reason.size() > max_close_reason_bytes ||
        !is_valid_utf8(reason)) {
        throw std::invalid_argument("websocket_session::close: code " + std::to_string(code) +
                                    " may not be sent, or the reason is over 123 bytes or not "
                                    "UTF-8");
    }
    // The session is over from here on, whatever follows.
    const std::unique_ptr<websocket_run> run = std::move(run_);
    if (!run->hang_up(code, std::string(reason))) {
        throw test_timeout("websocket_session: the app did not return after the client closed");
    }
    run->raise_app_error();
}

// ---- test_client::websocket_connect ------------------------------------------------------

namespace {
// The subprotocols a Sec-WebSocket-Protocol field list offers, in order (RFC 6455 §4.1: a
// comma-separated list of tokens, possibly over several fields).
std::vector<std::string> offered_subprotocols(const tessera::headers& h) {
    std::vector<std::string> out;
    for (const auto value : h.get_all("sec-websocket-protocol")) {
        std::string_view rest = value;
        while (!rest.empty()) {
            const auto comma = rest.find(',');
            std::string_view item = rest.substr(0, comma);
            while (!item.empty() && (item.front() == ' ' || item.front() == '\t')) {
                item.remove_prefix(1);
            }
            while (!item.empty() && (item.back() == ' ' || item.back() == '\t')) {
                item.remove_suffix(1);
            }
            if (!item.empty()) out.emplace_back(item);
            if (comma == std::string_view::npos) break;
            rest.remove_prefix(comma + 1);
        }
    }
    return out;
}
}  // namespace

websocket_session test_client::websocket_connect(std::string_view target,
                                                 websocket_options options) {
    auto url = resolve(base_, target, options.params);
    if (url.scheme() == "http" || url.scheme() == "https") {
        url = url.replace({.scheme = std::string(url.is_secure() ? "wss" : "ws")});
    }
    auto run = std::make_unique<websocket_run>();
    auto& s = run->ws_scope;
    s.type = scope_type::websocket;
    s.http_version = "1.1";
    s.method = "GET";  // the handshake request's method
    s.scheme = url.is_secure() ? "wss" : "ws";
    address_scope(s, url);
    s.app_state = app_state_;

    // Headers: httpx's defaults and the handshake's, then the client's, then the connection's.
    tessera::headers h = default_headers(url, "upgrade");
    h.append("upgrade", "websocket");
    h.append("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==");  // RFC 6455's sample nonce
    h.append("sec-websocket-version", "13");
    if (!options.subprotocols.empty()) {
        std::string offered;
        for (const auto& name : options.subprotocols) {
            if (!offered.empty()) offered += ", ";
            offered += name;
        }
        h.append("sec-websocket-protocol", offered);
    }
    override_headers(h, options_.headers);
    override_headers(h, options.headers);
    const std::string cookies = cookie_header(options.cookies);
    if (!cookies.empty() && !h.contains("cookie")) h.set("cookie", cookies);
    s.headers = std::move(h);
    // As a server would: the scope's list is what the header offers.
    s.subprotocols = offered_subprotocols(s.headers);

    run->exchange.emplace(s);
    run->timeout = options.timeout.value_or(options_.timeout);
    run->raise_server_exceptions = options_.raise_server_exceptions;
    run->activity = "WEBSOCKET " + s.raw_path;
    run->runner = websocket_run::run(app_, *run);
    run->runner.start();

    auto& r = *run;
    const bool answered = r.drive(
        [&r] {
            return r.app_done || r.exchange->accepted() ||
                   r.exchange->application_state() == websocket_state::disconnected;
        },
        r.timeout);
    if (!answered) {
        (void)r.hang_up(std::nullopt);
        throw test_timeout("test_client: the WebSocket handshake to " + url.str() +
                           " was not answered within " + std::to_string(r.timeout.count()) +
                           " ms");
    }
    if (r.exchange->accepted()) {
        store_cookies(r.accept_headers);  // browsers honour Set-Cookie on a 101 too
        return websocket_session(std::move(run));
    }

    // Refused: the server would write the response and close the connection.
    (void)r.hang_up(std::nullopt);
    r.raise_app_error();
    test_response response;
    response.method = "GET";
    response.url = url;
    if (r.rejected) {
        response.status = 403;
        response.headers = tessera::headers{{"content-length", "0"}};
        throw websocket_denied(std::move(response), r.exchange->app_close_code());
    }
    if (r.denial_complete) {
        response.status = r.denial_status;
        response.headers = std::move(r.denial_headers);
        response.content = std::move(r.denial_body);
        store_cookies(response.headers);
        throw websocket_denied(std::move(response));
    }
    if (r.ending.problem && options_.raise_server_exceptions) {
        throw protocol_error(*r.ending.problem);
    }
    if (r.ending.what == websocket_ending::kind::respond_500) {
        answer_internal_error(response);
        throw websocket_denied(std::move(response));
    }
    throw std::runtime_error("test_client: the app ended its denial response early: " +
                             r.ending.problem.value_or("unknown reason"));
}

}  // namespace tessera::testing
