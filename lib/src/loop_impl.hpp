#pragma once
// Private: the libuv side of event_loop, shared by the runtime's .cpp files.

#include <uv.h>

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "tessera/loop.hpp"

namespace tessera {

struct event_loop::impl {
    event_loop* owner = nullptr;
    event_loop_options options;
    std::unique_ptr<uv_loop_t> owned;
    uv_loop_t* uv = nullptr;
    uv_async_t* wakeup = nullptr;  // heap: freed by its close callback, after the loop object
    std::mutex mutex;
    std::vector<std::function<void()>> posted;
    std::size_t self_posted = 0;
    std::size_t holds = 0;

    static void on_wakeup(uv_async_t* handle);
};

/// The `uv_loop_t` of the calling thread's loop (creating the loop if needed).
inline uv_loop_t* current_uv_loop() {
    return static_cast<uv_loop_t*>(this_thread_loop().native_handle());
}

}  // namespace tessera
