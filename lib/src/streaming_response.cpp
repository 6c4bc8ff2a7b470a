#include <exception>
#include <memory>

#include "tessera/cancellation.hpp"
#include "tessera/response.hpp"
#include "tessera/task_group.hpp"

namespace tessera {

streaming_response::streaming_response(async_generator<std::string> chunks, int status,
                                       tessera::headers extra, std::string_view media_type)
    : response(std::make_shared<stream_source>(stream_source{std::move(chunks)}), status,
               std::move(extra), media_type) {}

namespace {
// Waits for the client to go, then cancels the group (and so the stream). Body chunks that
// arrive meanwhile are not the stream's business and are dropped, as Starlette does.
task<void> cancel_on_disconnect(receive r, task_group& group) {
    for (;;) {
        event e = co_await r();
        if (std::holds_alternative<http::disconnect>(e)) {
            group.cancel();
            co_return;
        }
    }
}

task<void> pump(async_generator<std::string>& chunks, send sd, task_group& group) {
    while (auto chunk = co_await chunks.next()) {
        if (chunk->empty()) continue;  // an empty non-final chunk would read as end-of-body
        co_await sd(http::response_body{*chunk, true});
    }
    co_await sd(http::response_body{{}, false});
    group.cancel();  // stops the disconnect listener
}
}  // namespace

task<void> response::send_stream(scope&, receive r, send sd, tessera::headers fields) const {
    if (stream_->consumed) {
        throw std::logic_error("streaming_response: the stream was already sent once");
    }
    stream_->consumed = true;
    co_await sd(http::response_start{status_, std::move(fields)});
    bool client_left = false;
    std::exception_ptr failure;
    {
        task_group group;
        group.spawn(pump(stream_->chunks, sd, group));
        group.spawn(cancel_on_disconnect(r, group));
        try {
            co_await group.join();
        } catch (const client_disconnected&) {
            client_left = true;
        } catch (...) {
            failure = std::current_exception();
        }
    }
    // The stream is spent: destroy the generator now. A body suspended at its co_yield (an
    // endless stream the client left) otherwise kept its locals — a subscription, a cursor —
    // alive for as long as the response object lived.
    stream_->chunks = {};
    if (failure) std::rethrow_exception(failure);
    if (client_left) throw client_disconnected();
}

}  // namespace tessera
