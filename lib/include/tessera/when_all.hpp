#pragma once
/// `when_all`: await several tasks running concurrently.

#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "tessera/task.hpp"
#include "tessera/task_group.hpp"

namespace tessera {

/// `when_all` gives `std::monostate` in place of a `void` result.
template <class T>
using when_all_result_t = std::conditional_t<std::is_void_v<T>, std::monostate, T>;

namespace detail {
template <class T>
task<void> store_result(task<T> work, std::optional<when_all_result_t<T>>& slot) {
    if constexpr (std::is_void_v<T>) {
        co_await std::move(work);
        slot.emplace();
    } else {
        slot.emplace(co_await std::move(work));
    }
}

template <class... T, std::size_t... I>
task<std::tuple<when_all_result_t<T>...>> when_all_impl(std::index_sequence<I...>,
                                                        task<T>... works) {
    std::tuple<std::optional<when_all_result_t<T>>...> slots;
    task_group group;
    (group.spawn(store_result(std::move(works), std::get<I>(slots))), ...);
    co_await group.join();
    co_return std::tuple<when_all_result_t<T>...>{std::move(*std::get<I>(slots))...};
}
}  // namespace detail

/// Runs every task concurrently on the current loop and returns all results once all have
/// finished. If one fails, the others are cancelled and the first failure is rethrown.
template <class... T>
task<std::tuple<when_all_result_t<T>...>> when_all(task<T>... works) {
    return detail::when_all_impl(std::index_sequence_for<T...>{}, std::move(works)...);
}

/// The same for a run-time number of tasks of one type; results keep the input order.
template <class T>
task<std::vector<when_all_result_t<T>>> when_all(std::vector<task<T>> works) {
    std::vector<std::optional<when_all_result_t<T>>> slots(works.size());
    {
        task_group group;
        for (std::size_t i = 0; i < works.size(); ++i) {
            group.spawn(detail::store_result(std::move(works[i]), slots[i]));
        }
        co_await group.join();
    }
    std::vector<when_all_result_t<T>> results;
    results.reserve(slots.size());
    for (auto& slot : slots) results.push_back(std::move(*slot));
    co_return results;
}

}  // namespace tessera
