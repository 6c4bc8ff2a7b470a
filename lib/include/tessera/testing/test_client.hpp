#pragma once
/// `test_client`: drive any app in memory, synchronously, the way Starlette's TestClient does.

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/cookies.hpp"
#include "tessera/headers.hpp"
#include "tessera/http_exchange.hpp"  // protocol_error, which requests re-raise
#include "tessera/json.hpp"
#include "tessera/url.hpp"
#include "tessera/websocket_connection.hpp"  // websocket_disconnect, which sessions raise

namespace tessera::testing {

/// A wait in the test client ran past its bound (the app never answered, or a stream produced
/// nothing in time).
class test_timeout : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The app's lifespan failed: it sent `lifespan.startup.failed` or `lifespan.shutdown.failed`, or
/// raised after a successful startup. (Raising before answering startup means the app does not
/// speak lifespan, which is tolerated.)
class lifespan_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// Options of a client; every one has the default a Starlette user expects.
struct client_options {
    std::string base_url = "http://testserver";
    /// The prefix a proxy consumed: prepended to every request path, and the scope's root_path.
    std::string root_path;
    /// Rethrow the app's exceptions in the test (true), or answer 500 as a server would (false).
    bool raise_server_exceptions = true;
    bool follow_redirects = true;
    std::size_t max_redirects = 20;
    address client{"testclient", 50000};
    /// Sent with every request (a request's own headers win).
    tessera::headers headers;
    /// The bound on every wait: a request that has not completed, or a stream chunk that has not
    /// arrived, after this long raises `test_timeout`.
    std::chrono::milliseconds timeout{10000};
    /// The most response body one request may buffer (protects tests from infinite streams);
    /// a larger response raises std::runtime_error rather than coming back truncated.
    std::size_t max_response_bytes = std::size_t{256} << 20;
};

/// A request's options, all optional: `client.post("/items", {.json = {{"id", 1}}})`.
struct request_options {
    /// Each name given here replaces the client's and the default fields of that name; repeated
    /// fields are all sent, in order.
    tessera::headers headers;
    /// Appended to the URL's query.
    std::vector<std::pair<std::string, std::string>> params;
    /// The raw body.
    std::optional<std::string> content;
    /// A JSON body (sets `content-type: application/json`).
    std::optional<tessera::json> json;
    /// An `application/x-www-form-urlencoded` body.
    std::vector<std::pair<std::string, std::string>> form;
    /// Cookies for this request only, on top of the jar.
    std::vector<std::pair<std::string, std::string>> cookies;
    std::optional<bool> follow_redirects;
    std::optional<std::chrono::milliseconds> timeout;
    /// Deliver the body to the app in pieces of this many bytes (0: one piece), to exercise
    /// apps that stream the request body.
    std::size_t body_chunk_size = 0;
};

/// A complete response.
class test_response {
public:
    int status = 0;
    tessera::headers headers;
    std::string content;  ///< the body bytes (empty for HEAD)
    tessera::url url;     ///< the URL that produced this response (after redirects)
    std::string method;
    /// Earlier responses when redirects were followed, oldest first.
    std::vector<test_response> history;

    [[nodiscard]] std::string_view text() const noexcept { return content; }
    /// The body parsed as JSON (throws json_parse_error).
    [[nodiscard]] tessera::json json() const;
    [[nodiscard]] std::string_view reason_phrase() const noexcept;
    [[nodiscard]] bool is_redirect() const noexcept;
    /// Name/value pairs of every `set-cookie` header.
    [[nodiscard]] cookie_list cookies() const;
};

class test_client;
struct http_session;

/// A response being read incrementally (`client.stream(...)`): the status and headers are there
/// as soon as the app started its response; chunks come as the app sends them. Works with
/// infinite streams: each wait is bounded. Destroying or closing it disconnects the client (the
/// app's `receive` yields `http::disconnect`, its `send` throws) and lets the app finish.
class test_stream {
public:
    test_stream(test_stream&&) noexcept;
    test_stream& operator=(test_stream&&) noexcept;
    ~test_stream();

    [[nodiscard]] int status() const noexcept;
    [[nodiscard]] const tessera::headers& headers() const noexcept;
    /// The body bytes that arrived since the last call, waiting (up to `timeout`, else the
    /// client's) for at least one; `std::nullopt` once the response is complete.
    [[nodiscard]] std::optional<std::string> next_chunk(
        std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    /// Everything until the end of the response (bounded like `request`).
    [[nodiscard]] std::string read_all();
    /// Disconnects now and waits (bounded) for the app to finish.
    void close();

private:
    friend class test_client;
    explicit test_stream(std::unique_ptr<http_session> session) noexcept;
    std::unique_ptr<http_session> session_;
};

struct lifespan_run;

/// The app's lifespan for as long as this object lives: startup when made (by
/// `test_client::lifespan()`), shutdown when destroyed (or `shutdown()`), like Starlette's
/// `with TestClient(app)`. An app that does not speak lifespan is tolerated (uvicorn's "auto").
class lifespan_session {
public:
    lifespan_session(lifespan_session&&) noexcept;
    lifespan_session& operator=(lifespan_session&&) = delete;
    ~lifespan_session();
    /// Runs shutdown now; throws `lifespan_error` if the app reports a failure.
    void shutdown();
    /// False when the app did not take part in the lifespan protocol.
    [[nodiscard]] bool supported() const noexcept;

private:
    friend class test_client;
    explicit lifespan_session(std::unique_ptr<lifespan_run> run) noexcept;
    std::unique_ptr<lifespan_run> run_;
};

/// A WebSocket connection's options, all optional:
/// `client.websocket_connect("/chat", {.subprotocols = {"chat.v2", "chat.v1"}})`.
struct websocket_options {
    /// Offered in `sec-websocket-protocol` and `scope.subprotocols`, in order of preference.
    std::vector<std::string> subprotocols;
    /// Each name given here replaces the client's and the default fields of that name.
    tessera::headers headers;
    /// Appended to the URL's query.
    std::vector<std::pair<std::string, std::string>> params;
    /// Cookies for this connection only, on top of the jar.
    std::vector<std::pair<std::string, std::string>> cookies;
    /// The bound on every wait of this session (the client's timeout when absent).
    std::optional<std::chrono::milliseconds> timeout;
};

/// The app refused the WebSocket handshake: it sent a denial response
/// (`websocket.http.response.*`), closed before accepting (a 403 with an empty body, as uvicorn
/// answers), or — with `raise_server_exceptions` off — failed before answering (a 500). The
/// response is what an HTTP client would have read (Starlette's `WebSocketDenialResponse`).
/// Copying never throws.
class websocket_denied : public std::runtime_error {
public:
    explicit websocket_denied(test_response response, std::optional<int> close_code = {});
    [[nodiscard]] const test_response& response() const noexcept { return state_->response; }
    /// The code of the close the app refused with (none for a denial response or a failure).
    [[nodiscard]] std::optional<int> close_code() const noexcept { return state_->close_code; }

private:
    struct state {
        test_response response;
        std::optional<int> close_code;
    };
    std::shared_ptr<const state> state_;
};

struct websocket_run;

/// An accepted WebSocket connection to the app (`client.websocket_connect(...)`), driven
/// synchronously like every test client call: each receive runs the loop until the app has sent
/// something, bounded by the timeout (`test_timeout`). Sends are queued for the app's `receive`.
/// Once the app has closed (or returned, which closes with 1000, or 1011 if it raised), the
/// receives and sends raise `websocket_disconnect` with the app's code and reason, after every
/// message it sent before. With `raise_server_exceptions` (the default) an exception the app
/// raised is rethrown by the first call that observes it. Move-only; destroying it closes with
/// 1000 and waits (bounded) for the app to finish, as `close()` does.
class websocket_session {
public:
    websocket_session(websocket_session&&) noexcept;
    websocket_session& operator=(websocket_session&&) noexcept;
    ~websocket_session();

    /// Queues a text message for the app; `text` must be valid UTF-8 (std::invalid_argument).
    void send_text(std::string_view text);
    /// Queues a binary message for the app.
    void send_bytes(std::string_view bytes);
    /// Queues `value` serialised as a text message.
    void send_json(const tessera::json& value);

    /// The app's next message, which must be text (std::runtime_error otherwise).
    [[nodiscard]] std::string receive_text(
        std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    /// The app's next message, which must be binary (std::runtime_error otherwise).
    [[nodiscard]] std::string receive_bytes(
        std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    /// The app's next message (text or binary) parsed as JSON.
    [[nodiscard]] tessera::json receive_json(
        std::optional<std::chrono::milliseconds> timeout = std::nullopt);
    /// The next thing the app did, raw: `websocket::receive` for a message (`binary` tells the
    /// kind) or `websocket::close` (code and reason) once it closed; never raises for the close.
    [[nodiscard]] event receive(std::optional<std::chrono::milliseconds> timeout = std::nullopt);

    /// Closes from the client's side (the app's `receive` yields `websocket::disconnect` with
    /// `code` and `reason`), waits for the app to return and rethrows its exception (see the
    /// class comment). `test_timeout` if the app does not return, even when cancelled. Later
    /// calls on the session raise std::logic_error.
    void close(int code = 1000, std::string_view reason = {});

    /// The subprotocol the app accepted, if any.
    [[nodiscard]] const std::optional<std::string>& accepted_subprotocol() const noexcept;
    /// The extra headers the app's accept carried.
    [[nodiscard]] const tessera::headers& headers() const noexcept;

private:
    friend class test_client;
    explicit websocket_session(std::unique_ptr<websocket_run> run) noexcept;
    websocket_run& live();
    std::unique_ptr<websocket_run> run_;
};

/// Drives any app through the in-memory transport with the same exchange rules the server
/// applies: `http_exchange` for requests (framing, HEAD stripping, `Expect: 100-continue`,
/// Content-Length checks) and `websocket_exchange` for WebSocket connections. Synchronous: each
/// call runs the calling thread's event loop until the exchange is done, so timers,
/// `run_blocking` and background tasks all work. Keeps a cookie jar, follows redirects
/// (configurable), and rethrows server exceptions (configurable). Not thread-safe; use one client
/// per thread.
class test_client {
public:
    explicit test_client(any_app app, client_options options = {});
    test_client(const test_client&) = delete;
    test_client& operator=(const test_client&) = delete;
    ~test_client();

    test_response request(std::string_view method, std::string_view target,
                          request_options options = {});
    test_response get(std::string_view target, request_options options = {}) {
        return request("GET", target, std::move(options));
    }
    test_response head(std::string_view target, request_options options = {}) {
        return request("HEAD", target, std::move(options));
    }
    test_response post(std::string_view target, request_options options = {}) {
        return request("POST", target, std::move(options));
    }
    test_response put(std::string_view target, request_options options = {}) {
        return request("PUT", target, std::move(options));
    }
    test_response patch(std::string_view target, request_options options = {}) {
        return request("PATCH", target, std::move(options));
    }
    test_response delete_(std::string_view target, request_options options = {}) {
        return request("DELETE", target, std::move(options));
    }
    test_response options(std::string_view target, request_options options = {}) {
        return request("OPTIONS", target, std::move(options));
    }

    /// Starts a request and returns once the response has started, to read its body
    /// incrementally. Redirects are not followed.
    [[nodiscard]] test_stream stream(std::string_view method, std::string_view target,
                                     request_options options = {});

    /// Opens a WebSocket connection to the app and returns once the app accepted it. Throws
    /// `websocket_denied` when the app refused the handshake, rethrows the app's exception (or
    /// raises `protocol_error` for an app that returned without answering) under
    /// `raise_server_exceptions`, and `test_timeout` when the app does not answer in time. The
    /// scope: scheme `ws`/`wss` from the base URL, path, query and root_path as for requests,
    /// the default and client headers, the cookie jar, `sec-websocket-*` handshake fields.
    [[nodiscard]] websocket_session websocket_connect(std::string_view target,
                                                      websocket_options options = {});

    /// Runs lifespan startup; shutdown runs when the returned session ends. While it lives,
    /// every request sees the state the lifespan produced (`scope.app_state`).
    [[nodiscard]] lifespan_session lifespan();

    /// The cookie jar: name/value pairs sent with every request, updated from `set-cookie`.
    [[nodiscard]] cookie_list& cookies() noexcept { return jar_; }
    [[nodiscard]] const client_options& settings() const noexcept { return options_; }
    /// App-wide state shared with the app (the lifespan's, or an empty one).
    [[nodiscard]] const std::shared_ptr<state>& app_state() const noexcept { return app_state_; }

private:
    friend struct lifespan_run;
    std::unique_ptr<http_session> start(std::string_view method, const tessera::url& target,
                                        const request_options& options,
                                        std::optional<std::string> body_override,
                                        bool streaming);
    test_response finish(http_session& session);
    void store_cookies(const tessera::headers& response_headers);
    // The path, query, root_path, client and server of a scope for `target`.
    void address_scope(scope& s, const tessera::url& target) const;
    // httpx's default fields for `target` (Host written as httpx writes it), with `connection`.
    static tessera::headers default_headers(const tessera::url& target,
                                            std::string_view connection);
    // The Cookie header: the jar, then `own` (which replace jar cookies of the same name).
    std::string cookie_header(const std::vector<std::pair<std::string, std::string>>& own) const;

    any_app app_;
    client_options options_;
    tessera::url base_;
    cookie_list jar_;
    std::shared_ptr<state> app_state_;
};

}  // namespace tessera::testing
