// Micro-benchmark: a JSON response app driven through the in-memory transport.
//
// Run it with scripts/bench (optimised build). It reports, for each path, requests per second
// and heap allocations per request (counted by replacing the global operator new), and the
// ratio of each path's time per request to a baseline measured in the same run.
//
// Paths:
//   baseline   the irreducible work done by hand: serialise the JSON into a reused buffer and
//              format a status line and two header lines next to it. No framework.
//   exchange   the app (a json_response built per request, as a handler would) called with a
//              reused scope, a receive that hands over an empty body, and a send that runs the
//              events through http_exchange into a reused buffer: the per-request path a
//              transport adds on top of the app.
//   test_client the full synchronous test client: URL parsing, a fresh scope and headers,
//              cookie jar, response object. A test facade, measured so its cost is known.
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <new>
#include <string>

#include <tessera/http_exchange.hpp>
#include <tessera/json_writer.hpp>
#include <tessera/response.hpp>
#include <tessera/sync_wait.hpp>
#include <tessera/testing/test_client.hpp>

namespace {
std::atomic<std::size_t> allocations{0};
}

void* operator new(std::size_t size) {
    allocations.fetch_add(1, std::memory_order_relaxed);
    if (void* p = std::malloc(size ? size : 1)) return p;
    throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace tessera;
using clock_type = std::chrono::steady_clock;

namespace {

struct result {
    double requests_per_second;
    double allocations_per_request;
    double nanoseconds_per_request;
};

template <class F>
result measure(std::size_t iterations, F&& one_request) {
    for (std::size_t i = 0; i < iterations / 10; ++i) one_request();  // warm caches
    const auto before = allocations.load();
    const auto start = clock_type::now();
    for (std::size_t i = 0; i < iterations; ++i) one_request();
    const auto elapsed = std::chrono::duration<double>(clock_type::now() - start).count();
    const auto allocated = allocations.load() - before;
    return {iterations / elapsed, double(allocated) / iterations, elapsed * 1e9 / iterations};
}

std::string wire;  // where every path writes, reused

void baseline_request() {
    wire.clear();
    static std::string body;
    body.clear();
    json_writer writer(body);
    writer.begin_object().key("message").value("Hello, World!").end_object();
    wire.append("HTTP/1.1 200 OK\r\ncontent-length: ");
    wire.append(std::to_string(body.size()));
    wire.append("\r\ncontent-type: application/json\r\n\r\n");
    wire.append(body);
}

task<void> json_app(scope& s, receive r, send sd) {
    const json_response answer(json{{"message", "Hello, World!"}});
    co_await answer(s, r, sd);
}

// A minimal transport: empty request body, events checked by http_exchange, head and body
// appended to `wire` as a server would serialise them.
struct exchange_transport {
    scope request_scope;
    std::optional<http_exchange> exchange;
    bool body_sent = false;

    task<event> next() {
        if (!body_sent) {
            body_sent = true;
            co_return http::request{};
        }
        co_return http::disconnect{};
    }
    task<void> on_send(event e) {
        const auto out = exchange->on_send(e);
        if (out.what == exchange_output::kind::head) {
            wire.append("HTTP/1.1 200 OK\r\n");
            for (const auto& field : *out.fields) {
                wire.append(field.name).append(": ").append(field.value).append("\r\n");
            }
            wire.append("\r\n");
        } else {
            wire.append(out.bytes);
        }
        co_return;
    }
};

task<void> exchange_request(exchange_transport& t) {
    wire.clear();
    t.body_sent = false;
    t.exchange.emplace(t.request_scope);
    receive_member<exchange_transport, &exchange_transport::next> receive_impl{&t};
    send_member<exchange_transport, &exchange_transport::on_send> send_impl{&t};
    co_await json_app(t.request_scope, receive(receive_impl), send(send_impl));
}

}  // namespace

int main(int argc, char** argv) {
    const std::size_t iterations = argc > 1 ? std::strtoull(argv[1], nullptr, 10) : 200000;

    const auto base = measure(iterations, baseline_request);

    exchange_transport transport;
    transport.request_scope.method = "GET";
    transport.request_scope.path = transport.request_scope.raw_path = "/json";
    transport.request_scope.headers = headers{{"host", "bench"}};
    this_thread_loop();  // created once, outside the measurement
    const auto exchange = measure(iterations, [&] { sync_wait(exchange_request(transport)); });
    if (wire.find("Hello, World!") == std::string::npos) {
        std::fprintf(stderr, "exchange path produced no body\n");
        return 1;
    }

    testing::test_client client(json_app);
    const auto client_result = measure(iterations / 4, [&] {
        auto response = client.get("/json");
        if (response.status != 200) std::abort();
    });

    std::printf("%-12s %14s %16s %12s\n", "path", "requests/s", "allocs/request",
                "time ratio");
    auto row = [&](const char* name, const result& r) {
        std::printf("%-12s %14.0f %16.2f %11.2fx\n", name, r.requests_per_second,
                    r.allocations_per_request,
                    r.nanoseconds_per_request / base.nanoseconds_per_request);
    };
    row("baseline", base);
    row("exchange", exchange);
    row("test_client", client_result);
}
