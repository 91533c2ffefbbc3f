#include "plugins/keying/peer_session.hpp"

#include <algorithm>

namespace avpn::keying {

PeerSession::PeerSession(SessionTimers timers, bool leader, std::array<uint32_t, 2> spis)
    : t_(timers), leader_(leader), spis_(spis) {}

bool PeerSession::spi_in_use(uint32_t spi) const {
    return (current_ && current_->in.spi == spi) || (next_ && next_->in.spi == spi) ||
           (lingering_ && lingering_->in.spi == spi);
}

uint32_t PeerSession::free_spi() const {
    for (uint32_t spi : spis_)
        if (!spi_in_use(spi)) return spi;
    return 0;  // both taken: the current session's and a lingering one
}

uint32_t PeerSession::inbound_spi_for_response() const {
    // A responder replaces its unconfirmed session and, if need be, the
    // lingering one (on_initiation drops it), never the current one.
    return current_ && current_->in.spi == spis_[0] ? spis_[1] : spis_[0];
}

bool PeerSession::rotation_due(Time now) const {
    if (!current_) return false;
    const auto period = leader_ ? Seconds(t_.rekey_after) : t_.rekey_after + t_.rekey_grace;
    return now - current_->at >= period;
}

std::optional<Time> PeerSession::next_rekey() const {
    if (!current_) return std::nullopt;
    return current_->at + (leader_ ? Seconds(t_.rekey_after) : t_.rekey_after + t_.rekey_grace);
}

// The session in use gives way to a new one: its inbound SA lingers for the
// packets already on their way, its outbound SA is replaced by the new one.
void PeerSession::retire_current(Time now, std::vector<Action>& out) {
    if (!current_) return;
    if (lingering_) out.push_back({ActionKind::drop_session, lingering_->id});
    lingering_ = Lingering{current_->in, current_->id, now + t_.linger};
    current_.reset();
}

void PeerSession::established(Time now, std::vector<Action>& out) {
    ++epoch_;
    last_handshake_ = now;
    last_rx_ = now;
    rekey_requested_ = false;
    if (!up_) {
        up_ = true;
        out.push_back({ActionKind::peer_up});
    }
}

// Recomputes the SAs the peer should have; when they changed, the caller
// must apply them before anything else it was told to do.
std::vector<Action> PeerSession::changed(std::vector<Action> out) {
    PeerSas now;
    if (current_) now.inbound.push_back(current_->in);
    if (next_) now.inbound.push_back(next_->in);
    if (lingering_) now.inbound.push_back(lingering_->in);
    std::sort(now.inbound.begin(), now.inbound.end(), [](const SaHalf& a, const SaHalf& b) { return a.spi < b.spi; });
    if (current_) now.outbound = current_->out;
    if (now != sas_) {
        sas_ = std::move(now);
        out.insert(out.begin(), Action{ActionKind::apply});
    }
    return out;
}

bool PeerSession::initiation_due(Time now) const {
    const bool wanted = !current_ || !up_ || rekey_requested_ || rotation_due(now);
    if (!wanted || next_) return false;
    if (initiating_) return now - initiating_->sent_at >= t_.handshake_retry;
    return free_spi() != 0;
}

std::vector<Action> PeerSession::tick(Time now, bool may_initiate) {
    std::vector<Action> out;
    if (lingering_ && now >= lingering_->until) {
        out.push_back({ActionKind::drop_session, lingering_->id});
        lingering_.reset();
    }
    if (next_ && next_since_ && now - *next_since_ >= t_.confirm_timeout) {
        out.push_back({ActionKind::drop_session, next_->id});
        next_.reset();
    }
    if (up_ && (!last_rx_ || now - *last_rx_ >= t_.dead_after)) {
        up_ = false;
        out.push_back({ActionKind::peer_down});
    }
    // A responder waiting for its confirm starts nothing new: the two
    // handshakes would race for the same SPIs.
    const bool wanted = !current_ || !up_ || rekey_requested_ || rotation_due(now);
    if (wanted && !next_ && may_initiate) {
        if (initiating_) {
            if (now - initiating_->sent_at >= t_.handshake_retry) {
                initiating_->sent_at = now;
                ++initiating_->attempts;
                out.push_back({ActionKind::send_initiation, 0, initiating_->spi});
                last_tx_ = now;
            }
        } else if (uint32_t spi = free_spi(); spi != 0) {
            initiating_ = Pending{spi, now, 1};
            out.push_back({ActionKind::send_initiation, 0, spi});
            last_tx_ = now;
        }
    }
    if (current_ && (!last_tx_ || now - *last_tx_ >= t_.keepalive)) {
        out.push_back({ActionKind::send_keepalive, current_->id});
        last_tx_ = now;
    }
    return changed(std::move(out));
}

std::vector<Action> PeerSession::on_initiation(const NewSession& s, Time now) {
    std::vector<Action> out;
    if (!accepts_initiation()) return out;
    initiating_.reset();  // the follower's own handshake gives way
    if (lingering_ && lingering_->in.spi == s.inbound.spi) {
        out.push_back({ActionKind::drop_session, lingering_->id});
        lingering_.reset();
    }
    if (next_) out.push_back({ActionKind::drop_session, next_->id});
    next_ = Live{s.session_id, s.inbound, s.outbound, now};
    next_since_ = now;
    last_rx_ = now;
    out.push_back({ActionKind::send_response, s.session_id, s.inbound.spi});
    last_tx_ = now;
    return changed(std::move(out));
}

std::vector<Action> PeerSession::on_response(const NewSession& s, Time now) {
    std::vector<Action> out;
    if (!initiating_ || s.inbound.spi != initiating_->spi) return out;  // not the answer to ours
    initiating_.reset();
    retire_current(now, out);
    current_ = Live{s.session_id, s.inbound, s.outbound, now};
    established(now, out);
    out.push_back({ActionKind::send_confirm, s.session_id});
    last_tx_ = now;
    return changed(std::move(out));
}

std::vector<Action> PeerSession::on_transport(uint64_t id, Time now) {
    std::vector<Action> out;
    if (next_ && next_->id == id) {  // the confirm: switch to the new session
        retire_current(now, out);
        current_ = next_;
        current_->at = now;
        next_.reset();
        established(now, out);
    } else if ((current_ && current_->id == id) || (lingering_ && lingering_->id == id)) {
        last_rx_ = now;
        if (current_ && !up_) {
            up_ = true;
            out.push_back({ActionKind::peer_up});
        }
    }
    return changed(std::move(out));
}

std::vector<Action> PeerSession::on_expire(uint32_t spi, bool hard, Time now) {
    std::vector<Action> out;
    const bool of_current = current_ && (current_->in.spi == spi || current_->out.spi == spi);
    if (!hard) {
        if (of_current) rekey_requested_ = true;
        return tick(now);
    }
    // The kernel deleted the SA: whatever session used it cannot carry on.
    if (of_current) {
        out.push_back({ActionKind::drop_session, current_->id});
        current_.reset();
        if (up_) {
            up_ = false;
            out.push_back({ActionKind::peer_down});
        }
    }
    if (lingering_ && lingering_->in.spi == spi) {
        out.push_back({ActionKind::drop_session, lingering_->id});
        lingering_.reset();
    }
    if (next_ && (next_->in.spi == spi || next_->out.spi == spi)) {
        out.push_back({ActionKind::drop_session, next_->id});
        next_.reset();
    }
    // tick() sees the change and reports it with its own actions: its
    // apply (first in its list) goes before everything.
    auto more = tick(now);
    auto apply = std::find(more.begin(), more.end(), Action{ActionKind::apply});
    if (apply != more.end()) {
        more.erase(apply);
        out.insert(out.begin(), Action{ActionKind::apply});
    }
    out.insert(out.end(), more.begin(), more.end());
    return out;
}

}  // namespace avpn::keying
