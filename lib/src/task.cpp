#include "tessera/task.hpp"

#include <array>
#include <new>

#include "tls_model.hpp"

namespace tessera::detail {

#if defined(__SANITIZE_ADDRESS__)
#define TESSERA_FRAME_CACHE 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TESSERA_FRAME_CACHE 0
#endif
#endif
#ifndef TESSERA_FRAME_CACHE
#define TESSERA_FRAME_CACHE 1
#endif

#if TESSERA_FRAME_CACHE
namespace {
// Frames are binned by size in 64-byte steps up to 2 KiB; each bin keeps at most a few dozen
// free frames, so the cache stays small while a request's coroutines (typically 5-15 frames,
// reused request after request) never reach the global allocator in steady state. Frames freed
// on another thread simply join that thread's cache: all memory comes from ::operator new.
constexpr std::size_t granule = 64;
constexpr std::size_t bins = 32;
constexpr std::size_t max_cached_per_bin = 64;

struct free_frame {
    free_frame* next;
};

// Trivially destructible, so the initial-exec access stays a plain load: a thread_local with a
// destructor is reached through a guard that calls __tls_get_addr on every access.
struct frame_cache {
    std::array<free_frame*, bins> heads{};
    std::array<std::size_t, bins> counts{};
    bool cleanup_registered = false;
    bool closed = false;  // the thread is exiting: frames go straight back to the allocator
};

TESSERA_FAST_TLS thread_local frame_cache cache;

// Frees the thread's cached frames when it exits. Registered the first time a frame is cached,
// so the guarded thread_local is touched once per thread, not per frame.
struct frame_cache_cleanup {
    ~frame_cache_cleanup() {
        cache.closed = true;
        for (auto& head : cache.heads) {
            while (head) {
                auto* next = head->next;
                ::operator delete(head);
                head = next;
            }
        }
        cache.counts = {};
    }
};

void register_cleanup() {
    thread_local frame_cache_cleanup cleanup;
    (void)cleanup;
    cache.cleanup_registered = true;
}

constexpr std::size_t bin_of(std::size_t size) noexcept { return (size + granule - 1) / granule - 1; }
}  // namespace

void* allocate_frame(std::size_t size) {
    const auto bin = bin_of(size);
    if (bin < bins) {
        if (auto* frame = cache.heads[bin]) {
            cache.heads[bin] = frame->next;
            --cache.counts[bin];
            return frame;
        }
        return ::operator new((bin + 1) * granule);
    }
    return ::operator new(size);
}

void deallocate_frame(void* frame, std::size_t size) noexcept {
    const auto bin = bin_of(size);
    if (bin < bins && cache.counts[bin] < max_cached_per_bin && !cache.closed) {
        if (!cache.cleanup_registered) register_cleanup();
        auto* node = static_cast<free_frame*>(frame);
        node->next = cache.heads[bin];
        cache.heads[bin] = node;
        ++cache.counts[bin];
        return;
    }
    ::operator delete(frame);
}
#else
void* allocate_frame(std::size_t size) { return ::operator new(size); }
void deallocate_frame(void* frame, std::size_t) noexcept { ::operator delete(frame); }
#endif

}  // namespace tessera::detail

namespace tessera {

task<void> failed_task(std::exception_ptr error) {
    std::rethrow_exception(std::move(error));
    co_return;  // NOLINT: makes this a coroutine, so the exception waits for the co_await
}

}  // namespace tessera
