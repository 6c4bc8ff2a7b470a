// The generator is driven from the application's lifespan coroutine: startup is the run up to
// the first co_yield, shutdown the run to the end. Both misuses a reader could make of the
// generator form (no yield, a second yield) are turned into errors with a message, since they
// would otherwise silently skip the shutdown or half of it.
#include "tessera/lifespan_handler.hpp"

namespace tessera {

task<lifespan_generator> lifespan_handler::start(std::shared_ptr<state> app_state) const {
    if (!fn_) co_return lifespan_generator{};
    lifespan_generator generator = (*fn_)(std::move(app_state));
    auto ready = co_await generator.next();
    if (!ready) {
        throw std::logic_error(
            "the lifespan function returned without co_yield lifespan_ready{}: nothing marks "
            "where startup ends and shutdown begins");
    }
    co_return generator;
}

task<void> lifespan_handler::stop(lifespan_generator generator) {
    if (!generator.valid()) co_return;
    auto again = co_await generator.next();
    if (again) throw std::logic_error("the lifespan function yielded more than once");
}

}  // namespace tessera
