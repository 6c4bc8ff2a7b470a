#pragma once
/// `exception_handlers`: what the exception layer calls for an exception, chosen by the status of
/// an `http_error` or by the exception's type.

#include <exception>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "tessera/app.hpp"
#include "tessera/cancellation.hpp"
#include "tessera/http_error.hpp"
#include "tessera/request.hpp"
#include "tessera/response.hpp"
#include "tessera/response_task.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// The handlers of an exception layer, built once and then only read (copies are cheap: the
/// handlers themselves are shared and must be safe to call concurrently).
///
///     exception_handlers{}
///         .on(404, [](request& req, const http_error& e) -> task<html_response> {…})
///         .on<db_error>([](request& req, const db_error& e) -> task<json_response> {…})
///
/// A handler is a callable `task<R>(request&, const E&)`, R a response type, whose response is
/// sent in place of the failed one. Lookup (`find`), like Starlette's:
/// - an `http_error` is first matched by its status (`on(status, fn)`, E is `http_error`);
/// - then any exception by type (`on<E>(fn)`): a handler matches when the exception is an `E` or
///   derived from `E`, and among matching handlers the most derived `E` wins, whatever the order
///   of registration (unrelated matches: the first registered);
/// - `http_error` has a built-in type handler, its default response (`http_error_response`), so
///   an `http_error` always finds one; `on<http_error>(fn)` replaces it, and an `on<E>` for a
///   base of `http_error` (such as `std::exception`) never sees `http_error`s.
/// Registering the same status or type again replaces the earlier handler.
class exception_handlers {
public:
    /// Only the built-in `http_error` handler.
    exception_handlers();

    /// Handles `http_error`s of `status` (100..599, else std::invalid_argument).
    template <class F>
        requires returns_response_task<std::decay_t<F>, request&, const http_error&>
    exception_handlers& on(int status, F&& fn) & {
        add_status(status, make_entry<http_error>(std::forward<F>(fn)));
        return *this;
    }
    template <class F>
        requires returns_response_task<std::decay_t<F>, request&, const http_error&>
    exception_handlers&& on(int status, F&& fn) && {
        return std::move(on(status, std::forward<F>(fn)));
    }

    /// Handles exceptions of class `E` and classes derived from it.
    template <class E, class F>
        requires std::is_class_v<E> && std::is_same_v<E, std::remove_cvref_t<E>> &&
                 returns_response_task<std::decay_t<F>, request&, const E&>
    exception_handlers& on(F&& fn) & {
        static_assert(!std::is_base_of_v<client_disconnected, E> &&
                          !std::is_base_of_v<operation_cancelled, E>,
                      "client_disconnected and operation_cancelled always pass through the "
                      "exception layer; a handler for them would never run");
        add_type(make_entry<E>(std::forward<F>(fn)));
        return *this;
    }
    template <class E, class F>
        requires std::is_class_v<E> && std::is_same_v<E, std::remove_cvref_t<E>> &&
                 returns_response_task<std::decay_t<F>, request&, const E&>
    exception_handlers&& on(F&& fn) && {
        return std::move(on<E>(std::forward<F>(fn)));
    }

    class entry;

    /// The handler `find` chose, bound to the exception object it takes. Valid while the
    /// `exception_handlers` and the `std::exception_ptr` given to `find` are alive.
    class match {
    public:
        match() = default;
        [[nodiscard]] explicit operator bool() const noexcept { return entry_ != nullptr; }
        /// Calls the handler; its response, as a `response`.
        [[nodiscard]] task<response> operator()(request& req) const;

    private:
        friend class exception_handlers;
        match(const entry* e, const void* object) noexcept : entry_(e), object_(object) {}
        const entry* entry_ = nullptr;
        const void* object_ = nullptr;
    };

    /// The handler for `error` (see the class comment), or an empty match.
    [[nodiscard]] match find(const std::exception_ptr& error) const;

    /// The built-in answer to an `http_error`: `detail()` as plain text with its status and its
    /// extra headers; no body (and no content-type) for 1xx, 204 and 304.
    [[nodiscard]] static response http_error_response(const http_error& error);

    /// A handler of one exception type, type-erased. Public only so that its derived template
    /// can be defined in this header.
    class entry {
    public:
        virtual ~entry() = default;
        /// The address of the `E` within `error` if it holds one (or one derived from it).
        [[nodiscard]] virtual const void* match_object(const std::exception_ptr& error) const = 0;
        /// Calls the handler with the object `match_object` returned.
        [[nodiscard]] virtual task<response> invoke(request& req, const void* object) const = 0;
        /// Throws a null `E*`; `catches` catches it as its own pointer type to learn whether one
        /// entry's type derives from another's (standard pointer conversions, no RTTI).
        [[noreturn]] virtual void throw_null_pointer() const = 0;
        /// Whether `other`'s type is this entry's type or derived from it.
        [[nodiscard]] virtual bool catches(const entry& other) const = 0;
    };

private:
    template <class E, class F>
    class typed_entry;

    template <class E, class F>
    static std::shared_ptr<const entry> make_entry(F&& fn) {
        return std::make_shared<const typed_entry<E, std::decay_t<F>>>(std::forward<F>(fn));
    }
    void add_status(int status, std::shared_ptr<const entry> handler);
    void add_type(std::shared_ptr<const entry> handler);

    std::vector<std::pair<int, std::shared_ptr<const entry>>> by_status_;
    std::vector<std::shared_ptr<const entry>> by_type_;  // derived types before their bases
};

template <class E, class F>
class exception_handlers::typed_entry final : public entry {
public:
    template <class G>
    explicit typed_entry(G&& fn) : fn_(std::forward<G>(fn)) {}

    const void* match_object(const std::exception_ptr& error) const override {
        try {
            std::rethrow_exception(error);
        } catch (const E& e) {
            // The object `error` owns: std::rethrow_exception throws it again rather than a copy
            // (Itanium ABI, libstdc++ and libc++), so the address outlives this handler.
            return static_cast<const void*>(std::addressof(e));
        } catch (...) {
            return nullptr;
        }
    }
    task<response> invoke(request& req, const void* object) const override {
        const E& exception = *static_cast<const E*>(object);
        using result = std::invoke_result_t<const F&, request&, const E&>;
        if constexpr (std::is_same_v<result, task<response>>) {
            return fn_(req, exception);
        } else {
            return as_response(fn_(req, exception));
        }
    }
    [[noreturn]] void throw_null_pointer() const override { throw static_cast<E*>(nullptr); }
    bool catches(const entry& other) const override {
        try {
            other.throw_null_pointer();
        } catch (const E*) {
            return true;
        } catch (...) {
        }
        return false;
    }

private:
    template <class Task>
    static task<response> as_response(Task pending) {
        co_return response(co_await std::move(pending));
    }
    F fn_;
};

}  // namespace tessera
