#include "tessera/cancellation.hpp"

namespace tessera {

void cancellation_callback::register_on(cancellation_state* state, void (*fn)(void*),
                                        void* context) {
    unregister();
    if (!state) return;
    if (state->cancelled_) {
        fn(context);
        return;
    }
    fn_ = fn;
    context_ = context;
    state_ = state;
    prev_ = state->tail_;
    next_ = nullptr;
    if (state->tail_) {
        state->tail_->next_ = this;
    } else {
        state->head_ = this;
    }
    state->tail_ = this;
}

void cancellation_callback::unregister() noexcept {
    if (!state_) return;
    if (prev_) {
        prev_->next_ = next_;
    } else {
        state_->head_ = next_;
    }
    if (next_) {
        next_->prev_ = prev_;
    } else {
        state_->tail_ = prev_;
    }
    state_ = nullptr;
    prev_ = next_ = nullptr;
}

cancellation_state::cancellation_state(cancellation_state* parent) {
    parent_link_.register_on(parent, &cancel_from_parent, this);
}

cancellation_state::~cancellation_state() {
    // Callbacks still registered belong to operations outliving the scope; detach them so their
    // own destructors do not touch freed memory.
    while (head_) head_->unregister();
}

void cancellation_state::cancel_from_parent(void* self) noexcept {
    static_cast<cancellation_state*>(self)->cancel();
}

void cancellation_state::cancel() noexcept {
    if (cancelled_) return;
    cancelled_ = true;
    // A callback may resume a coroutine that unregisters other callbacks (or destroys them), so
    // always take the current head afresh instead of walking saved next pointers.
    while (head_) {
        auto* callback = head_;
        callback->unregister();
        callback->fn_(callback->context_);
    }
}

}  // namespace tessera
