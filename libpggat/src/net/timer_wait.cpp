// net::wait: a timer's wait whose completion resumes the awaiting coroutine itself.
#include "net/timer_wait.hpp"

#if PGGAT_AWAIT_DIRECTLY
#include "net/direct_await_impl.hpp"

namespace pggat::net {

AwaitingThread* TimerWait::operator()(AwaitingFrame* frame) const {
  return detail_direct::await_directly(frame, timer_->get_executor(), result_,
                                       [this](auto handler) { timer_->async_wait(std::move(handler)); });
}

}  // namespace pggat::net

#endif
