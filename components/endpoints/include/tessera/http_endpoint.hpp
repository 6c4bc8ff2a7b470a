#pragma once
/// `http_endpoint<T>`: a class whose `get`, `post`, … members answer the HTTP methods of one
/// path (Starlette's HTTPEndpoint), found at compile time.
///
/// This header serves HTTP scopes only; WebSocket connections have `websocket_endpoint`
/// (websocket_endpoint.hpp).

#include <concepts>
#include <memory>
#include <stdexcept>
#include <string_view>
#include <type_traits>
#include <utility>

#include "tessera/app.hpp"
#include "tessera/request.hpp"
#include "tessera/response.hpp"
#include "tessera/response_task.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// The methods an endpoint class may define, in the order `Allow` lists them.
enum class endpoint_method : unsigned { get, head, post, put, patch, delete_, options };

namespace detail {
// One concept per member: callable on a const T with a request, returning a response task.
template <class T>
concept endpoint_has_get = requires(const T& t, request& req) {
    { t.get(req) } -> response_task;
};
template <class T>
concept endpoint_has_head = requires(const T& t, request& req) {
    { t.head(req) } -> response_task;
};
template <class T>
concept endpoint_has_post = requires(const T& t, request& req) {
    { t.post(req) } -> response_task;
};
template <class T>
concept endpoint_has_put = requires(const T& t, request& req) {
    { t.put(req) } -> response_task;
};
template <class T>
concept endpoint_has_patch = requires(const T& t, request& req) {
    { t.patch(req) } -> response_task;
};
template <class T>
concept endpoint_has_delete = requires(const T& t, request& req) {
    { t.delete_(req) } -> response_task;
};
template <class T>
concept endpoint_has_options = requires(const T& t, request& req) {
    { t.options(req) } -> response_task;
};

/// Which methods `T` defines, as a bit set over `endpoint_method` (HEAD when `get` is there).
template <class T>
consteval unsigned endpoint_methods_of() noexcept {
    constexpr auto bit = [](endpoint_method m) { return 1u << static_cast<unsigned>(m); };
    unsigned mask = 0;
    if (endpoint_has_get<T>) mask |= bit(endpoint_method::get) | bit(endpoint_method::head);
    if (endpoint_has_head<T>) mask |= bit(endpoint_method::head);
    if (endpoint_has_post<T>) mask |= bit(endpoint_method::post);
    if (endpoint_has_put<T>) mask |= bit(endpoint_method::put);
    if (endpoint_has_patch<T>) mask |= bit(endpoint_method::patch);
    if (endpoint_has_delete<T>) mask |= bit(endpoint_method::delete_);
    if (endpoint_has_options<T>) mask |= bit(endpoint_method::options);
    return mask;
}

// A member function of that name exists (whatever its signature): with the concepts above it
// tells a misdeclared member (not const, wrong return type) from an absent one.
template <class T>
concept endpoint_declares_get =
    requires { requires std::is_member_function_pointer_v<decltype(&T::get)>; };
template <class T>
concept endpoint_declares_head =
    requires { requires std::is_member_function_pointer_v<decltype(&T::head)>; };
template <class T>
concept endpoint_declares_post =
    requires { requires std::is_member_function_pointer_v<decltype(&T::post)>; };
template <class T>
concept endpoint_declares_put =
    requires { requires std::is_member_function_pointer_v<decltype(&T::put)>; };
template <class T>
concept endpoint_declares_patch =
    requires { requires std::is_member_function_pointer_v<decltype(&T::patch)>; };
template <class T>
concept endpoint_declares_delete =
    requires { requires std::is_member_function_pointer_v<decltype(&T::delete_)>; };
template <class T>
concept endpoint_declares_options =
    requires { requires std::is_member_function_pointer_v<decltype(&T::options)>; };

/// The `Allow` value for a method set: "GET, HEAD, POST" (static storage; never allocates).
[[nodiscard]] std::string_view endpoint_allow_header(unsigned methods) noexcept;
/// The method a request asks for; false for methods no endpoint can define (TRACE, PROPFIND…).
[[nodiscard]] bool parse_endpoint_method(std::string_view text, endpoint_method& out) noexcept;
/// Answers 405 with `Allow`: throws `http_error(405)` when the scope carries
/// `http_errors_handled` (an exception layer will answer), else sends "Method Not Allowed".
task<void> endpoint_method_not_allowed(scope& s, receive r, send sd, std::string_view allow);

/// Awaits a member's response and sends it.
template <class Task>
task<void> send_answer(Task pending, scope& s, receive r, send sd) {
    auto answer = co_await std::move(pending);
    co_await std::move(answer)(s, r, sd);
}
}  // namespace detail

/// An app serving one path with the methods of `T`: a request's method selects the `T` member of
/// the same name, called as `task<R> name(request&) const` with R a response type, and the
/// response it returns is sent.
///
///     struct user_endpoint {
///         task<json_response> get(request& req) const;
///         task<response> post(request& req) const;
///         task<response> delete_(request& req) const;   // DELETE (`delete` is a keyword)
///     };
///     route("/users/{id:int}", http_endpoint<user_endpoint>{})
///
/// Members are found at compile time; there is nothing to register. The members are `get`,
/// `head`, `post`, `put`, `patch`, `delete_` and `options`. HEAD is served by `get` when `T`
/// has no `head` (the transport drops the body). Any other method — OPTIONS too, unless `T`
/// defines `options` — is answered 405 with `Allow` listing what `T` answers (in the order GET,
/// HEAD, POST, PUT, PATCH, DELETE, OPTIONS); inside an exception layer (`http_errors_handled`
/// in the scope) the 405 is thrown as `http_error` instead, so the application's handlers
/// shape it.
///
/// `T` is a plain class, not a base to derive from: it stays testable on its own, keeps its own
/// constructors and data, and no app machinery leaks into its members. The endpoint owns one
/// `T` (shared and immutable, so copies are cheap) and may be called concurrently, hence `const`
/// members; per-request state belongs in the member's coroutine frame. A member function named
/// like a method but with the wrong signature (not const, wrong return type) is a compile error,
/// never a silent 405.
template <class T>
class http_endpoint {
public:
    static_assert(std::is_class_v<T>, "http_endpoint<T>: T must be a class");
    /// The methods `T` answers, a bit set over `endpoint_method`.
    static constexpr unsigned methods = detail::endpoint_methods_of<T>();

    /// Default-constructs the `T`.
    http_endpoint()
        requires std::default_initializable<T>
        : handlers_(std::make_shared<const T>()) {}
    /// Takes the `T` (with whatever it holds: a database pool, settings…).
    explicit http_endpoint(T handlers)
        : handlers_(std::make_shared<const T>(std::move(handlers))) {}
    /// Constructs the `T` in place from `args` (for types that cannot move).
    template <class... Args>
    explicit http_endpoint(std::in_place_t, Args&&... args)
        : handlers_(std::make_shared<const T>(std::forward<Args>(args)...)) {}

    /// The `T` this endpoint calls.
    [[nodiscard]] const T& handlers() const noexcept { return *handlers_; }

    /// Whether `T` answers `method` (HEAD whenever it answers GET).
    [[nodiscard]] static constexpr bool allows(endpoint_method method) noexcept {
        return (methods & (1u << static_cast<unsigned>(method))) != 0;
    }
    /// The `Allow` header value: the methods `T` answers, e.g. "GET, HEAD, POST".
    [[nodiscard]] static std::string_view allow_header() noexcept {
        return detail::endpoint_allow_header(methods);
    }

    /// Serves one HTTP request. A lifespan scope is ignored (an endpoint has no lifespan); a
    /// WebSocket scope is a `std::logic_error`.
    task<void> operator()(scope& s, receive r, send sd) const {
        if (s.type == scope_type::lifespan) co_return;
        if (s.type != scope_type::http) {
            throw std::logic_error("http_endpoint serves HTTP requests only");
        }
        endpoint_method method{};
        if (!detail::parse_endpoint_method(s.method, method) || !allows(method)) {
            co_await detail::endpoint_method_not_allowed(s, r, sd, allow_header());
            co_return;
        }
        request req(s, r);
        co_await dispatch(*handlers_, method, req, s, r, sd);
    }

private:
    static_assert(methods != 0,
                  "http_endpoint<T>: T defines none of get, head, post, put, patch, delete_, "
                  "options as `task<R> name(request&) const` with R derived from response");
    static_assert(!detail::endpoint_declares_get<T> || detail::endpoint_has_get<T>,
                  "T::get must be callable as `task<R> get(request&) const`, R a response");
    static_assert(!detail::endpoint_declares_head<T> || detail::endpoint_has_head<T>,
                  "T::head must be callable as `task<R> head(request&) const`, R a response");
    static_assert(!detail::endpoint_declares_post<T> || detail::endpoint_has_post<T>,
                  "T::post must be callable as `task<R> post(request&) const`, R a response");
    static_assert(!detail::endpoint_declares_put<T> || detail::endpoint_has_put<T>,
                  "T::put must be callable as `task<R> put(request&) const`, R a response");
    static_assert(!detail::endpoint_declares_patch<T> || detail::endpoint_has_patch<T>,
                  "T::patch must be callable as `task<R> patch(request&) const`, R a response");
    static_assert(!detail::endpoint_declares_delete<T> || detail::endpoint_has_delete<T>,
                  "T::delete_ must be callable as `task<R> delete_(request&) const`, R a response");
    static_assert(!detail::endpoint_declares_options<T> || detail::endpoint_has_options<T>,
                  "T::options must be callable as `task<R> options(request&) const`, R a response");

    // Starts the member for `method` (one `allows`). A plain function: the member's task is made
    // here and awaited by the caller's frame, where `req` lives.
    static task<void> dispatch(const T& t, endpoint_method method, request& req, scope& s,
                               receive r, send sd) {
        using detail::send_answer;
        using enum endpoint_method;
        if constexpr (detail::endpoint_has_head<T>) {
            if (method == head) return send_answer(t.head(req), s, r, sd);
        }
        if constexpr (detail::endpoint_has_get<T>) {
            if (method == get || method == head) return send_answer(t.get(req), s, r, sd);
        }
        if constexpr (detail::endpoint_has_post<T>) {
            if (method == post) return send_answer(t.post(req), s, r, sd);
        }
        if constexpr (detail::endpoint_has_put<T>) {
            if (method == put) return send_answer(t.put(req), s, r, sd);
        }
        if constexpr (detail::endpoint_has_patch<T>) {
            if (method == patch) return send_answer(t.patch(req), s, r, sd);
        }
        if constexpr (detail::endpoint_has_delete<T>) {
            if (method == delete_) return send_answer(t.delete_(req), s, r, sd);
        }
        if constexpr (detail::endpoint_has_options<T>) {
            if (method == options) return send_answer(t.options(req), s, r, sd);
        }
        return detail::endpoint_method_not_allowed(s, r, sd, allow_header());
    }

    std::shared_ptr<const T> handlers_;
};

/// `http_endpoint(user_endpoint{.db = pool})` deduces the class.
template <class T>
http_endpoint(T) -> http_endpoint<T>;

}  // namespace tessera
