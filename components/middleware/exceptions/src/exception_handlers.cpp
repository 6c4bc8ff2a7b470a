#include "tessera/exception_handlers.hpp"

#include <stdexcept>
#include <string>

#include "tessera/status.hpp"

namespace tessera {

namespace {
task<response> default_http_error_handler(request&, const http_error& error) {
    co_return exception_handlers::http_error_response(error);
}
}  // namespace

exception_handlers::exception_handlers() {
    on<http_error>(&default_http_error_handler);
}

task<response> exception_handlers::match::operator()(request& req) const {
    return entry_->invoke(req, object_);
}

void exception_handlers::add_status(int status, std::shared_ptr<const entry> handler) {
    if (status < 100 || status > 599) {
        throw std::invalid_argument("exception_handlers: status " + std::to_string(status) +
                                    " is not an HTTP error status (100..599)");
    }
    for (auto& [code, existing] : by_status_) {
        if (code == status) {
            existing = std::move(handler);
            return;
        }
    }
    by_status_.emplace_back(status, std::move(handler));
}

// Keeps `by_type_` ordered so that every type comes before its bases: the first entry that
// matches an exception is then the most derived one that matches, whatever the order of
// registration. A new entry goes just before the first of its bases; none of the entries after
// that position derives from it (such an entry would derive from that base too, and so already
// stand before it).
void exception_handlers::add_type(std::shared_ptr<const entry> handler) {
    for (auto it = by_type_.begin(); it != by_type_.end(); ++it) {
        const bool new_is_derived = (*it)->catches(*handler);
        if (new_is_derived && handler->catches(**it)) {  // the same type: replace
            *it = std::move(handler);
            return;
        }
        if (new_is_derived) {
            by_type_.insert(it, std::move(handler));
            return;
        }
    }
    by_type_.push_back(std::move(handler));
}

exception_handlers::match exception_handlers::find(const std::exception_ptr& error) const {
    if (!error) return {};
    if (!by_status_.empty()) {
        const http_error* http = nullptr;
        try {
            std::rethrow_exception(error);
        } catch (const http_error& e) {
            http = &e;  // owned by `error` (see typed_entry::match_object)
        } catch (...) {
        }
        if (http != nullptr) {
            for (const auto& [code, handler] : by_status_) {
                if (code == http->status()) return {handler.get(), http};
            }
        }
    }
    for (const auto& handler : by_type_) {
        if (const void* object = handler->match_object(error)) return {handler.get(), object};
    }
    return {};
}

response exception_handlers::http_error_response(const http_error& error) {
    if (!status_allows_body(error.status())) {
        // 1xx, 204 and 304 have no content: no body, no content-type (Starlette's Response).
        return response(std::string{}, error.status(), error.headers());
    }
    return plain_text_response(error.detail(), error.status(), error.headers());
}

}  // namespace tessera
