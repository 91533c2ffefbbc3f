#include "orchestrator/runtime/keying_hold.hpp"

namespace avpn::runtime {

std::optional<XfrmKeying::Work> KeyingHold::add(XfrmKeying::Work&& work, Clock::time_point now) {
    // Behind held work even a message that needs no converge waits: a
    // confirm must not overtake the response it follows.
    if (!work.apply && !due_) return std::move(work);
    held_.merge(std::move(work));
    if (!due_) due_ = now + hold_;
    if (hold_.count() <= 0) return take();
    return std::nullopt;
}

XfrmKeying::Work KeyingHold::take() {
    XfrmKeying::Work work = std::move(held_);
    held_ = {};
    due_.reset();
    return work;
}

}  // namespace avpn::runtime
