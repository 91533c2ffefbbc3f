#include "orchestrator/runtime/uplink_selector.hpp"

#include <algorithm>
#include <utility>

namespace avpn::runtime {

namespace {

std::string duration_text(std::chrono::milliseconds d) {
    if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + " s";
    return std::to_string(d.count()) + " ms";
}

}  // namespace

UplinkSelector::UplinkSelector(std::vector<std::string> names_in_order, const UplinkRules& rules,
                               UplinkSelectorMode mode)
    : names_(std::move(names_in_order)), rules_(rules), mode_(mode), active_(names_.size(), false) {
    health_.reserve(names_.size());
    for (size_t i = 0; i < names_.size(); ++i) health_.emplace_back(rules_);
    // Without failover nothing ever moves: the first uplink is it.
    if (!mode_.failover && !names_.empty()) active_[0] = true;
}

std::optional<size_t> UplinkSelector::index_of(const std::string& name) const {
    auto it = std::find(names_.begin(), names_.end(), name);
    if (it == names_.end()) return std::nullopt;
    return static_cast<size_t>(it - names_.begin());
}

const UplinkHealth* UplinkSelector::health(const std::string& name) const {
    auto i = index_of(name);
    return i ? &health_[*i] : nullptr;
}

bool UplinkSelector::set_carrier(const std::string& name, bool up, UplinkClock::time_point now) {
    auto i = index_of(name);
    if (!i) return false;
    health_[*i].set_carrier(up, now);
    return select(now);
}

bool UplinkSelector::set_address(const std::string& name, bool present, UplinkClock::time_point now) {
    auto i = index_of(name);
    if (!i) return false;
    health_[*i].set_address(present, now);
    return select(now);
}

bool UplinkSelector::set_default_route(const std::string& name, bool present, UplinkClock::time_point now) {
    auto i = index_of(name);
    if (!i) return false;
    health_[*i].set_default_route(present, now);
    return select(now);
}

bool UplinkSelector::add_probe(const std::string& name, const ProbeResult& probe, UplinkClock::time_point now) {
    auto i = index_of(name);
    if (!i) return false;
    health_[*i].add_probe(probe, now);
    return select(now);
}

bool UplinkSelector::set_probing(bool on, UplinkClock::time_point now) {
    rules_.probing = on;
    for (UplinkHealth& h : health_) h.set_probing(on, now);
    return select(now);
}

std::vector<std::string> UplinkSelector::active() const {
    std::vector<std::string> out;
    for (size_t i = 0; i < names_.size(); ++i) {
        if (active_[i]) out.push_back(names_[i]);
    }
    return out;
}

bool UplinkSelector::is_active(const std::string& name) const {
    auto i = index_of(name);
    return i && active_[*i];
}

std::chrono::milliseconds UplinkSelector::hold(size_t index, UplinkClock::time_point now) const {
    const UplinkHealth& h = health_.at(index);
    if (!h.has_failed()) return std::chrono::milliseconds{0};
    // The failure that ended its last up period may be older than the
    // window (a long outage): it still earns the base hold.
    const size_t flaps = std::max<size_t>(1, h.flaps(now));
    auto hold = rules_.failback_hold;
    for (size_t k = 1; k < flaps && hold < rules_.max_failback_hold; ++k) hold *= 2;
    return std::min(hold, rules_.max_failback_hold);
}

std::vector<bool> UplinkSelector::wanted(UplinkClock::time_point now) const {
    std::vector<bool> want(names_.size(), false);
    if (names_.empty()) return want;
    if (!mode_.failover) {
        want[0] = true;
        return want;
    }
    if (mode_.active_active) {
        for (size_t i = 0; i < names_.size(); ++i) want[i] = health_[i].up();
        return want;
    }
    auto cur = std::find(active_.begin(), active_.end(), true);
    if (cur != active_.end() && health_[size_t(cur - active_.begin())].up()) {
        const size_t c = size_t(cur - active_.begin());
        for (size_t i = 0; i < c; ++i) {
            if (health_[i].up() && now - health_[i].since() >= hold(i, now)) {
                want[i] = true;
                return want;
            }
        }
        want[c] = true;
        return want;
    }
    for (size_t i = 0; i < names_.size(); ++i) {
        if (health_[i].up()) {
            want[i] = true;
            break;
        }
    }
    return want;
}

std::optional<UplinkClock::time_point> UplinkSelector::next_check(UplinkClock::time_point now) const {
    if (!mode_.failover || mode_.active_active) return std::nullopt;
    auto cur = std::find(active_.begin(), active_.end(), true);
    if (cur == active_.end()) return std::nullopt;
    std::optional<UplinkClock::time_point> next;
    auto consider = [&](UplinkClock::time_point t) {
        if (!next || t < *next) next = std::max(t, now);
    };
    for (size_t i = 0; i < size_t(cur - active_.begin()); ++i) {
        if (!health_[i].up()) continue;
        consider(health_[i].since() + hold(i, now));
        // A flap that stops counting shortens the hold: look again then.
        if (auto e = health_[i].next_flap_expiry(now)) consider(*e);
    }
    return next;
}

bool UplinkSelector::select(UplinkClock::time_point now) {
    std::vector<bool> want = wanted(now);
    if (want == active_) return false;
    const bool none_before = std::find(active_.begin(), active_.end(), true) == active_.end();
    const bool none_after = std::find(want.begin(), want.end(), true) == want.end();
    std::vector<size_t> left, joined;
    for (size_t i = 0; i < names_.size(); ++i) {
        if (active_[i] && !want[i]) left.push_back(i);
        if (!active_[i] && want[i]) joined.push_back(i);
    }
    std::string after;  // the active set once this switch is done
    for (size_t i = 0; i < names_.size(); ++i) {
        if (!want[i]) continue;
        if (!after.empty()) after += ",";
        after += names_[i];
    }
    active_ = std::move(want);

    // One record per uplink that lost the tunnels; with a single active
    // uplink that is the whole switch (from -> to).
    for (size_t i : left) {
        const UplinkHealth& h = health_[i];
        UplinkSwitch s{now, names_[i], after, {}, now, false};
        if (h.up()) {  // a preferred uplink took over after its hold
            s.failback = true;
            const auto held = hold(joined.at(0), now);
            s.why = held.count() == 0 ? after + " up (preferred)" : after + " healthy for " + duration_text(held);
        } else {
            s.why = h.why();
            s.failed_since = h.failed_since().value_or(now);
            ++failovers_;
        }
        if (none_after && (!none_since_ || s.failed_since < *none_since_)) none_since_ = s.failed_since;
        record(std::move(s));
    }
    // An uplink that joins while others stay active, or after none was:
    // recorded on its own (no record above names it).
    if (left.empty()) {
        for (size_t i : joined) {
            UplinkSwitch s{now, {}, names_[i], names_[i] + " up", now, false};
            if (none_before) s.failed_since = none_since_.value_or(now);
            record(std::move(s));
        }
    }
    if (!none_after) none_since_.reset();
    return true;
}

void UplinkSelector::record(UplinkSwitch s) {
    ++recorded_;
    if (switches_.size() == kSwitchesKept) switches_.pop_front();
    switches_.push_back(std::move(s));
}

}  // namespace avpn::runtime
