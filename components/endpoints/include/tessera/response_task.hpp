#pragma once
/// `response_type` and `response_task`: the concepts that recognise what handlers return.

#include <concepts>
#include <type_traits>

#include "tessera/response.hpp"
#include "tessera/task.hpp"

namespace tessera {

/// A response type: `response` or a class derived from it (`json_response`,
/// `plain_text_response`, …). Subclasses only choose constructor defaults, so any of them slices
/// safely into a `response` once the handler has returned it.
template <class R>
concept response_type = std::derived_from<R, response> && std::move_constructible<R>;

namespace detail {
template <class T>
struct is_response_task : std::false_type {};
template <class R>
struct is_response_task<task<R>> : std::bool_constant<response_type<R>> {};
}  // namespace detail

/// `task<R>` with R a response type: what endpoint members (`http_endpoint`), exception handlers
/// (`exception_handlers`) and server-error handlers (`server_error_handler`) return.
template <class T>
concept response_task = detail::is_response_task<std::remove_cvref_t<T>>::value;

/// The response type a response task produces: `task_response_t<task<json_response>>` is
/// `json_response`.
template <response_task T>
using task_response_t = typename std::remove_cvref_t<T>::value_type;

/// Whether `F` can be called with `Args` and returns a response task.
template <class F, class... Args>
concept returns_response_task =
    std::invocable<const F&, Args...> && response_task<std::invoke_result_t<const F&, Args...>>;

}  // namespace tessera
