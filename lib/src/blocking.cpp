#include "tessera/blocking.hpp"

#include <uv.h>

#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>

#include "loop_impl.hpp"

namespace tessera {

namespace detail {

namespace {
// Resumes the job's waiter on its loop, or frees the job if the waiter was destroyed meanwhile.
// Always called on the job's loop thread.
void complete(blocking_job* job) {
    if (job->abandoned) {
        delete job;
        return;
    }
    auto waiter = job->waiter;
    job->loop->guarded([&] {
        const resumption_activity activity(job->activity);
        waiter.resume();  // the awaiter owns the job again from here
    });
}

struct pool_request {
    uv_work_t req{};
    blocking_job* job;
};
}  // namespace

class thread_affinity_impl {
public:
    explicit thread_affinity_impl(std::string name) : name_(std::move(name)) {
        worker_ = std::thread([this] { run(); });
    }
    ~thread_affinity_impl() {
        {
            std::lock_guard lock(mutex_);
            stopping_ = true;
        }
        ready_.notify_one();
        worker_.join();
    }
    void submit(blocking_job* job) {
        {
            std::lock_guard lock(mutex_);
            queue_.push_back(job);
        }
        ready_.notify_one();
    }
    [[nodiscard]] std::thread::id id() const noexcept { return worker_.get_id(); }

private:
    void run() {
        for (;;) {
            blocking_job* job = nullptr;
            {
                std::unique_lock lock(mutex_);
                ready_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
                if (queue_.empty()) return;  // stopping, and everything queued is done
                job = queue_.front();
                queue_.pop_front();
            }
            job->execute();
            auto* loop = job->loop;
            // The loop was held when the job was submitted; the posted callback releases it.
            loop->post([job, loop] {
                loop->release();
                complete(job);
            });
        }
    }

    std::string name_;
    std::mutex mutex_;
    std::condition_variable ready_;
    std::deque<blocking_job*> queue_;
    bool stopping_ = false;
    std::thread worker_;
};

void submit_blocking(blocking_job* job, thread_affinity_impl* affinity) {
    auto& loop = this_thread_loop();
    job->loop = &loop;
    job->activity = activity_scope::current();
    if (affinity) {
        loop.hold();  // the affinity thread owes this loop a post
        affinity->submit(job);
        return;
    }
    auto* request = new pool_request{.job = job};
    request->req.data = request;
    const int rc = uv_queue_work(
        static_cast<uv_loop_t*>(loop.native_handle()), &request->req,
        [](uv_work_t* req) { static_cast<pool_request*>(req->data)->job->execute(); },
        [](uv_work_t* req, int) {
            auto* request = static_cast<pool_request*>(req->data);
            auto* job = request->job;
            delete request;
            complete(job);
        });
    if (rc != 0) {
        delete request;
        throw std::runtime_error(std::string("run_blocking: ") + uv_strerror(rc));
    }
}

void abandon_blocking(blocking_job* job) noexcept { job->abandoned = true; }

}  // namespace detail

thread_affinity::thread_affinity(std::string name)
    : impl_(std::make_unique<detail::thread_affinity_impl>(std::move(name))) {}
thread_affinity::~thread_affinity() = default;
std::thread::id thread_affinity::thread_id() const noexcept { return impl_->id(); }

}  // namespace tessera
