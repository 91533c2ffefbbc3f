#include "orchestrator/reconcile/netlink_port.hpp"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <thread>

#include "netlink/batch.hpp"
#include "netlink/rtnl_addr.hpp"
#include "netlink/rtnl_link.hpp"
#include "netlink/rtnl_route.hpp"
#include "netlink/rtnl_rule.hpp"
#include "netlink/xfrm.hpp"
#include "orchestrator/ownership.hpp"
#include "orchestrator/reconcile/xfrm_keys.hpp"
#include "orchestrator/reconcile/xfrm_replace.hpp"
#include "plugins/wireguard/kernel.hpp"

namespace avpn {

namespace {

enum class Channel { link, rtnl, wireguard, xfrm };

Channel channel_of(const Op& op) {
    if (std::holds_alternative<nl::Link>(op.object)) return Channel::link;
    if (std::holds_alternative<nl::WgDevice>(op.object)) return Channel::wireguard;
    if (std::holds_alternative<nl::XfrmSa>(op.object) || std::holds_alternative<nl::XfrmPolicy>(op.object))
        return Channel::xfrm;
    return Channel::rtnl;
}

bool is_link_local(const IpAddr& a) { return a.family == Family::v6 && a.bytes[0] == 0xfe && (a.bytes[1] & 0xc0) == 0x80; }

// Bulk writes ask the kernel to ack failures only: every op still gets its
// own status (a chunk's last op is always acked), with one ack skb per chunk
// instead of one per route or policy.
nl::BatchOptions bulk_batch() {
    nl::BatchOptions o;
    o.ack_each_op = false;
    return o;
}

Error op_error(const Op& op, std::string why, int code = 0) {
    return Error{std::string(to_string(op.kind)) + " " + std::string(object_kind_name(op.phase())),
                 describe(op.object), std::move(why), code};
}

}  // namespace

Result<std::unique_ptr<NetlinkPort>> NetlinkPort::open(NetlinkPortOptions options) {
    auto rtnl = nl::Socket::open(NETLINK_ROUTE);
    if (!rtnl) return rtnl.error();
    if (!options.wg.make_kernel) options.wg.make_kernel = wg::make_kernel_backend;
    if (!options.wireguard_go) {
        auto own = wg::Supervisor::open({.launch = options.wg.wireguard_go});
        if (!own) return own.error();
        options.wireguard_go = std::move(*own);
    }
    return std::unique_ptr<NetlinkPort>(new NetlinkPort(std::move(*rtnl), std::move(options)));
}

NetlinkPort::NetlinkPort(nl::Socket rtnl, NetlinkPortOptions options)
    : rtnl_(std::move(rtnl)), options_(std::move(options)) {}

nl::Transport* NetlinkPort::xfrm() {
    if (!xfrm_) {
        auto s = nl::Socket::open(NETLINK_XFRM);
        if (!s) return nullptr;
        xfrm_.emplace(std::move(*s));
    }
    return &*xfrm_;
}

Result<wg::WgBackend*> NetlinkPort::wireguard(const std::string& ifname) {
    if (auto it = wg_.find(ifname); it != wg_.end()) return it->second.get();
    // The link exists by now; only pick the IPC to what serves it, never
    // start a daemon here (automatic: the UAPI socket wins).
    auto it = wg_impl_.find(ifname);
    bool kernel = it != wg_impl_.end() && it->second == nl::WgImpl::kernel;
    wg::BackendPreference p = kernel ? wg::BackendPreference::kernel : wg::BackendPreference::automatic;
    auto sel = wg::select_backend(ifname, p, options_.wg);
    if (!sel) return sel.error();
    wg::WgBackend* b = sel->backend.get();
    wg_[ifname] = std::move(sel->backend);
    return b;
}

// WireGuard devices are read while the netlink dumps run: wireguard-go
// formats its answer in its own process (10,000 peers take it about as long
// as dumping 150,000 XFRM policies takes the kernel), so the two overlap.
// Only the backends' own sockets are used off the calling thread.
class NetlinkPort::WgReader {
public:
    void start(std::vector<std::pair<std::string, wg::WgBackend*>> devices) {
        devices_ = std::move(devices);
        if (devices_.empty()) return;
        try {
            thread_ = std::thread([this] { read_all(); });
        } catch (const std::system_error&) {
            read_all();  // no thread to be had: read them here
        }
    }
    Result<std::vector<nl::WgDevice>> finish() {
        if (thread_.joinable()) thread_.join();
        if (error_) return *error_;
        return std::move(read_);
    }

private:
    void read_all() {
        for (const auto& [name, backend] : devices_) {
            auto dev = backend->get(name);
            if (!dev) {
                error_ = dev.error();
                return;
            }
            read_.push_back(std::move(*dev));
        }
    }
    std::vector<std::pair<std::string, wg::WgBackend*>> devices_;
    std::vector<nl::WgDevice> read_;
    std::optional<Error> error_;
    std::thread thread_;
};

Result<nl::KernelState> NetlinkPort::observe(const OwnedScope& scope) {
    nl::KernelState st;
    auto links = nl::dump_links(rtnl_);
    if (!links) return links.error();
    nl::LinkIndex names(*links);
    const std::string& sockdir = options_.wg.uapi.socket_dir;
    std::vector<std::pair<std::string, wg::WgBackend*>> wg_devices;
    for (const nl::LinkState& ls : *links) {
        if (!scope.links.count(ls.name)) continue;
        // Not marked as avpn's: an operator's device that happens to have
        // the planned name. Neither read (its WireGuard keys and peers are
        // not avpn's to replace) nor deleted; create_link says whose it is.
        if (ls.alias != own::kLinkAlias) continue;
        std::optional<nl::Link> l = nl::to_model(ls, names);
        struct stat sb{};
        // wireguard-go's interface is a TUN device with a UAPI socket.
        if (!l && ls.kind == "tun" && ::stat((sockdir + "/" + ls.name + ".sock").c_str(), &sb) == 0)
            l = nl::Link{ls.name, nl::LinkKind::wireguard, ls.mtu, 0, "", nl::WgImpl::userspace, ls.up()};
        if (!l) continue;  // a foreign device that happens to have our name: not ours to touch
        for (const auto& a : ls.addresses)
            if (!is_link_local(a.address)) st.addresses.push_back(a);
        if (l->kind == nl::LinkKind::wireguard) {
            if (l->wg_impl == nl::WgImpl::userspace) options_.wireguard_go->adopt(ls.name);
            // Replaced by someone else since we last looked: its IPC changed too.
            auto [known, fresh] = wg_impl_.try_emplace(ls.name, l->wg_impl);
            if (!fresh && known->second != l->wg_impl) {
                known->second = l->wg_impl;
                wg_.erase(ls.name);
            }
            auto b = wireguard(ls.name);
            if (!b) return b.error();
            wg_devices.emplace_back(ls.name, *b);
        }
        st.links.push_back(std::move(*l));
    }
    WgReader wg_reader;
    wg_reader.start(std::move(wg_devices));
    auto netlink = observe_netlink(scope, names, st);
    auto devices = wg_reader.finish();  // joined before any return: the reader uses this port's backends
    if (!netlink) return netlink.error();
    if (!devices) return devices.error();
    st.wireguard = std::move(*devices);
    return st;
}

Result<OwnedScope> NetlinkPort::scan_owned() {
    OwnedScope s;
    auto links = nl::dump_links(rtnl_);
    if (!links) return links.error();
    for (const nl::LinkState& ls : *links)
        if (ls.alias == own::kLinkAlias) s.links.insert(ls.name);
    // The kernel filters by protocol (strict checking), so a router's full
    // tables cost a walk in the kernel, not a copy here.
    auto routes = nl::dump_routes(rtnl_, nl::RouteFilter{0, own::kRouteProtocol, std::nullopt}, nl::LinkIndex(*links));
    if (!routes) return routes.error();
    for (const nl::Route& r : *routes) s.tables.insert(r.table);
    return s;
}

Status NetlinkPort::adopt_journaled(const std::vector<JournaledLink>& noted) {
    if (noted.empty()) return {};
    auto links = nl::dump_links(rtnl_);
    if (!links) return links.error();
    for (const JournaledLink& j : noted) {
        auto it = std::find_if(links->begin(), links->end(), [&](const nl::LinkState& ls) { return ls.name == j.name; });
        if (it == links->end() || it->alias == own::kLinkAlias || it->index <= j.ifindex_floor) continue;
        // Raised too: the killed create would have raised it with the alias.
        nl::Batch b(rtnl_);
        Status s = b.add(0, [&](nl::MsgWriter& w) { return nl::encode_link_raise_with_alias(w, j.name, own::kLinkAlias); });
        if (s) s = b.commit().ops.at(0).status;
        if (!s) return Error{"adopt a link of an unfinished apply", j.name, s.error().why, s.error().code};
    }
    return {};
}

Status NetlinkPort::observe_netlink(const OwnedScope& scope, const nl::LinkIndex& names, nl::KernelState& st) {
    for (uint32_t table : scope.tables) {
        auto routes = nl::dump_routes(rtnl_, nl::RouteFilter{table, own::kRouteProtocol, std::nullopt}, names);
        if (!routes) return routes.error();
        st.routes.insert(st.routes.end(), std::make_move_iterator(routes->begin()),
                         std::make_move_iterator(routes->end()));
    }
    auto rules = nl::dump_rules(rtnl_, nl::RuleFilter{own::kRulePriorityFirst, own::kRuleBandLast, std::nullopt, own::kRouteProtocol});
    if (!rules) return rules.error();
    st.rules = std::move(*rules);

    nl::Transport* x = xfrm();
    if (!x) return Error{"open NETLINK_XFRM socket", "", "the kernel has no XFRM netlink (xfrm_user)"};
    nl::IdRange reqids{own::kReqidFirst, own::kReqidLast}, if_ids{own::kIfIdFirst, own::kIfIdLast};
    auto policies = nl::dump_policies(*x, nl::policy_owned(reqids, if_ids));
    if (!policies) return policies.error();
    st.xfrm_policies = std::move(*policies);
    auto sas = nl::dump_sas(*x, nl::sa_reqid_in(reqids));
    if (!sas) return sas.error();
    st.xfrm_states = std::move(*sas);
    return {};
}

Result<std::vector<nl::XfrmSa>> NetlinkPort::read_xfrm_sas() {
    nl::Transport* x = xfrm();
    if (!x) return Error{"open NETLINK_XFRM socket", "", "the kernel has no XFRM netlink (xfrm_user)"};
    return nl::dump_sas(*x, nl::sa_reqid_in({own::kReqidFirst, own::kReqidLast}));
}

// Removing what is already gone succeeds: the goal state holds. A link can
// vanish between observe and execute (an operator's `ip link del`, a crashed
// wireguard-go), and the kernel takes its addresses, routes and WireGuard
// device with it — so an undo must not report those as failures.
static bool link_exists(const std::string& name) { return if_nametoindex(name.c_str()) != 0; }

Status NetlinkPort::create_link(const nl::Link& l) {
    // Observe saw no link of avpn's with this name, so one that exists is
    // someone else's (or was made by an avpn killed before it could mark it).
    if (link_exists(l.name))
        return Error{"not avpn's", "",
                     "an interface named " + l.name + " exists and avpn did not create it (it has no alias \"" +
                         own::kLinkAlias +
                         "\"): avpn neither adopts, changes nor deletes it. Remove or rename it, or give avpn "
                         "another interface name; to hand over one an earlier avpn made: ip link set " +
                         l.name + " alias " + own::kLinkAlias,
                     EEXIST};
    if (options_.before_create_link) {
        auto links = nl::dump_links(rtnl_);
        if (!links) return links.error();
        JournaledLink noted{l.name, 0};
        for (const nl::LinkState& ls : *links) noted.ifindex_floor = std::max(noted.ifindex_floor, ls.index);
        if (Status s = options_.before_create_link(noted); !s) return s;
    }
    bool userspace = l.kind == nl::LinkKind::wireguard && l.wg_impl == nl::WgImpl::userspace;
    Status created;
    if (!userspace) {
        uint32_t underlay = 0;
        if (!l.underlay.empty()) {
            auto idx = nl::link_index(rtnl_, l.underlay);
            if (!idx) return idx.error();
            underlay = *idx;
        }
        nl::Batch b(rtnl_);
        if (Status s = b.add(0, [&](nl::MsgWriter& w) { return nl::encode_link_create(w, l, underlay); }); !s) return s;
        auto r = b.commit();
        created = r.ops.at(0).status;
        // No WireGuard in this kernel: the userspace implementation serves.
        bool no_module = !created && l.kind == nl::LinkKind::wireguard && l.wg_impl == nl::WgImpl::any &&
                         nl::link_kind_unsupported(created.error());
        if (no_module) userspace = true;
        else if (!created) return created;
    }
    if (userspace) {
        auto pid = options_.wireguard_go->start(l.name);
        if (!pid) return pid.error();
    }
    if (l.kind == nl::LinkKind::wireguard) {
        wg_.erase(l.name);  // an IPC picked for a link of this name that vanished without us
        wg_impl_[l.name] = userspace ? nl::WgImpl::userspace : nl::WgImpl::kernel;
    }
    if (options_.after_create_before_mark) options_.after_create_before_mark(l.name);
    // The create is one op: a link that cannot be raised and marked as
    // avpn's is removed again (with its wireguard-go), since the journal
    // records only ops that succeeded and would leave it behind.
    nl::Batch raise(rtnl_);
    Status raised = raise.add(0, [&](nl::MsgWriter& w) {
        return nl::encode_link_raise_with_alias(w, l.name, own::kLinkAlias);
    });
    if (raised) raised = raise.commit().ops.at(0).status;
    if (!raised) (void)delete_link(l);
    return raised;
}

Status NetlinkPort::set_link_up(const std::string& name, bool up) {
    nl::Batch b(rtnl_);
    if (Status s = b.add(0, [&](nl::MsgWriter& w) { return nl::encode_link_set_up(w, name, up); }); !s) return s;
    return b.commit().ops.at(0).status;
}

// What a link can change in place (diff.cpp decides which differences need a
// replace): its MTU and whether it is up. The undo is the same call with the
// two sides swapped, so it restores the MTU and state the link had.
Status NetlinkPort::update_link(const nl::Link& want, const nl::Link& have) {
    if (want.mtu != 0 && want.mtu != have.mtu) {
        nl::Batch b(rtnl_);
        if (Status s = b.add(0, [&](nl::MsgWriter& w) { return nl::encode_link_set_mtu(w, want.name, want.mtu); }); !s)
            return s;
        if (Status s = b.commit().ops.at(0).status; !s) return s;
    }
    if (want.up != have.up) return set_link_up(want.name, want.up);
    return {};
}


Status NetlinkPort::delete_link(const nl::Link& l) {
    wg_.erase(l.name);
    wg_impl_.erase(l.name);
    options_.wireguard_go->release(l.name);
    if (!link_exists(l.name)) return {};
    nl::Batch b(rtnl_);
    if (Status s = b.add(0, [&](nl::MsgWriter& w) { return nl::encode_link_delete(w, l.name); }); !s) return s;
    // Deleting wireguard-go's TUN device makes the daemon exit by itself.
    return b.commit().ops.at(0).status;
}

Status NetlinkPort::set_wireguard(const Op& op) {
    const auto& want = std::get<nl::WgDevice>(op.object);
    if (op.kind == OpKind::remove && !link_exists(want.ifname)) return {};  // gone with its link
    auto b = wireguard(want.ifname);
    if (!b) return b.error();
    wg::WgDeviceChange change;
    if (op.kind == OpKind::remove) {
        change.ifname = want.ifname;
        change.replace_peers = true;  // the device itself goes with its link
    } else {
        nl::WgDevice have = op.previous ? std::get<nl::WgDevice>(*op.previous) : nl::WgDevice{.ifname = want.ifname};
        change = wg::diff(want, have);
    }
    if (change.empty()) return {};
    return (*b)->set(change);
}

void NetlinkPort::run_rtnl(const std::vector<Op>& ops, size_t begin, size_t end, std::vector<Status>& out) {
    auto links = nl::dump_links(rtnl_);
    if (!links) {
        for (size_t i = begin; i < end; ++i) out[i] = links.error();
        return;
    }
    nl::LinkIndex names(*links);
    nl::Batch batch(rtnl_, bulk_batch());
    for (size_t i = begin; i < end; ++i) {
        const Op& op = ops[i];
        auto index_of = [&](const std::string& ifname) -> Result<uint32_t> {
            if (auto idx = names.index(ifname)) return *idx;
            return op_error(op, "no interface named " + ifname);
        };
        Status added = std::visit(
            [&](const auto& o) -> Status {
                using T = std::decay_t<decltype(o)>;
                if constexpr (std::is_same_v<T, nl::InterfaceAddress>) {
                    auto idx = index_of(o.ifname);
                    if (!idx && op.kind == OpKind::remove) return Status{};  // gone with its link
                    if (!idx) return idx.error();
                    auto aop = op.kind == OpKind::remove ? nl::AddrOp::remove : nl::AddrOp::add;
                    return batch.add(i, [&](nl::MsgWriter& w) { return nl::encode_address(w, aop, o, *idx); });
                } else if constexpr (std::is_same_v<T, nl::Route>) {
                    auto idx = index_of(o.ifname);
                    if (!idx && op.kind == OpKind::remove && !o.ifname.empty()) return Status{};  // gone with its link
                    if (!idx && op.kind != OpKind::remove) return idx.error();
                    auto rop = op.kind == OpKind::create   ? nl::RouteOp::add
                               : op.kind == OpKind::update ? nl::RouteOp::replace
                                                           : nl::RouteOp::remove;
                    uint32_t oif = idx ? *idx : 0;
                    return batch.add(i, [&](nl::MsgWriter& w) {
                        return nl::encode_route(w, rop, o, oif, own::kRouteProtocol);
                    });
                } else if constexpr (std::is_same_v<T, nl::Rule>) {
                    auto rop = op.kind == OpKind::remove ? nl::RuleOp::remove : nl::RuleOp::add;
                    return batch.add(i, [&](nl::MsgWriter& w) {
                        return nl::encode_rule(w, rop, o, own::kRouteProtocol);
                    });
                } else {
                    return op_error(op, "not an rtnetlink object");
                }
            },
            op.object);
        if (!added) out[i] = added.error();
    }
    auto res = batch.commit();
    for (const nl::OpResult& r : res.ops)
        out[r.op_id] = r.status ? Status{} : Status{op_error(ops[r.op_id], r.status.error().why, r.status.error().code)};
}

// A new SA's key: a handshake's from avpnd's key store, else derived from
// the key files.
Result<std::vector<uint8_t>> NetlinkPort::sa_key(const nl::XfrmSa& sa, bool new_sa) const {
    if (sa.key.session_key == 0) return derive_sa_key(sa.key, sa.key_bits);
    if (!options_.session_key)
        return Error{"SA key", "SPI " + std::to_string(sa.spi), "its key comes from avpnd's handshake, and none runs here"};
    return options_.session_key(sa.key.session_key, sa.key_bits, new_sa);
}

void NetlinkPort::run_xfrm(const std::vector<Op>& ops, size_t begin, size_t end, std::vector<Status>& out) {
    nl::Transport* x = xfrm();
    if (!x) {
        for (size_t i = begin; i < end; ++i) out[i] = op_error(ops[i], "no XFRM netlink in this kernel");
        return;
    }
    nl::Batch batch(*x, bulk_batch());
    for (size_t i = begin; i < end; ++i) {
        const Op& op = ops[i];
        Status added;
        if (const auto* sa = std::get_if<nl::XfrmSa>(&op.object)) {
            if (op.kind == OpKind::remove) {
                added = batch.add(i, [&](nl::MsgWriter& w) { return nl::encode_sa_delete(w, *sa); });
            } else {
                // An SA brought back by an undo has the key it had; a new
                // one gets the key its KeyRef derives.
                auto key = !sa->observed_key.empty() ? Result<std::vector<uint8_t>>(sa->observed_key.bytes())
                                                     : sa_key(*sa, op.kind == OpKind::create);
                if (!key) {
                    out[i] = op_error(op, key.error().str());
                    continue;
                }
                if (op.kind == OpKind::update && !nl::sa_updatable(*sa, std::get<nl::XfrmSa>(*op.previous))) {
                    // Three round trips of its own (read, delete, add);
                    // rare: an address, window or algorithm change.
                    Status r = replace_sa(*x, *sa, std::get<nl::XfrmSa>(*op.previous),
                                          nl::Bytes(key->data(), key->size()));
                    crypto::wipe(key->data(), key->size());
                    if (!r) out[i] = op_error(op, "replace: " + r.error().str(), r.error().code);
                    continue;
                }
                auto wop = op.kind == OpKind::create ? nl::XfrmWrite::add : nl::XfrmWrite::update;
                // An SA brought back by an undo goes on from the sequence
                // state it was last seen with.
                const nl::ObservedReplay carry = continued(sa->observed_replay);
                const nl::ObservedReplay* c = sa->observed_replay.known ? &carry : nullptr;
                added = batch.add(i, [&](nl::MsgWriter& w) {
                    return nl::encode_sa(w, wop, *sa, nl::Bytes(key->data(), key->size()), c);
                });
                crypto::wipe(key->data(), key->size());
            }
        } else {
            const auto& p = std::get<nl::XfrmPolicy>(op.object);
            if (op.kind == OpKind::remove)
                added = batch.add(i, [&](nl::MsgWriter& w) { return nl::encode_policy_delete(w, p); });
            else
                added = batch.add(i, [&](nl::MsgWriter& w) {
                    return nl::encode_policy(w, op.kind == OpKind::create ? nl::XfrmWrite::add : nl::XfrmWrite::update, p);
                });
        }
        if (!added) out[i] = added.error();
    }
    auto res = batch.commit();
    for (const nl::OpResult& r : res.ops)
        out[r.op_id] = r.status ? Status{} : Status{op_error(ops[r.op_id], r.status.error().why, r.status.error().code)};
}

std::vector<Status> NetlinkPort::execute(const std::vector<Op>& ops) {
    std::vector<Status> out(ops.size());
    size_t i = 0;
    while (i < ops.size()) {
        Channel c = channel_of(ops[i]);
        size_t j = i;
        while (j < ops.size() && channel_of(ops[j]) == c) ++j;
        switch (c) {
            case Channel::link:
                for (size_t k = i; k < j; ++k) {
                    const auto& l = std::get<nl::Link>(ops[k].object);
                    Status s = ops[k].kind == OpKind::remove   ? delete_link(l)
                               : ops[k].kind == OpKind::create ? create_link(l)
                                                               : update_link(l, std::get<nl::Link>(*ops[k].previous));
                    out[k] = s ? s : Status{op_error(ops[k], s.error().str(), s.error().code)};
                }
                break;
            case Channel::wireguard:
                for (size_t k = i; k < j; ++k) {
                    Status s = set_wireguard(ops[k]);
                    out[k] = s ? s : Status{op_error(ops[k], s.error().str(), s.error().code)};
                }
                break;
            case Channel::rtnl: run_rtnl(ops, i, j, out); break;
            case Channel::xfrm: run_xfrm(ops, i, j, out); break;
        }
        i = j;
    }
    return out;
}

std::set<uint32_t> NetlinkPort::netlink_ports(int protocol) const {
    if (protocol == NETLINK_ROUTE) return {rtnl_.portid()};
    if (protocol == NETLINK_XFRM && xfrm_) return {xfrm_->portid()};
    return {};
}

Result<nl::WgDevice> NetlinkPort::read_wireguard(const std::string& ifname) {
    auto b = wireguard(ifname);
    if (!b) return b.error();
    return (*b)->get(ifname);
}

Result<wg::WgDeviceStatus> NetlinkPort::read_wireguard_status(const std::string& ifname) {
    auto b = wireguard(ifname);
    if (!b) return b.error();
    return (*b)->status(ifname);
}

namespace {

// IPv4 first: ESP-in-UDP and IKE peers are dialled over v4 here.
std::optional<IpAddr> primary_address(const nl::LinkState& ls) {
    std::optional<IpAddr> out;
    for (const auto& a : ls.addresses) {
        if (is_link_local(a.address)) continue;
        if (!out || (out->family == Family::v6 && a.address.family == Family::v4)) out = a.address;
    }
    return out;
}

}  // namespace

Result<std::map<std::string, IpAddr>> NetlinkPort::interface_addresses(const std::vector<std::string>& names) {
    std::map<std::string, IpAddr> out;
    auto links = nl::dump_links(rtnl_);
    if (!links) return Error{"read the uplinks' addresses", "", links.error().str(), links.error().code};
    for (const auto& ls : *links) {
        if (std::find(names.begin(), names.end(), ls.name) == names.end()) continue;
        if (auto a = primary_address(ls)) out[ls.name] = *a;
    }
    return out;
}

Result<std::map<std::string, UplinkFacts>> NetlinkPort::uplink_facts(const std::vector<std::string>& names) {
    std::map<std::string, UplinkFacts> out;
    auto links = nl::dump_links(rtnl_);
    if (!links) return Error{"read the uplinks", "", links.error().str(), links.error().code};
    for (const auto& ls : *links) {
        if (std::find(names.begin(), names.end(), ls.name) == names.end()) continue;
        UplinkFacts& f = out[ls.name];
        f.ifindex = ls.index;
        f.carrier = ls.carrier();
        f.address = primary_address(ls);
    }
    if (out.empty()) return out;
    nl::LinkIndex index(*links);
    auto routes = nl::dump_routes(rtnl_, nl::RouteFilter{RT_TABLE_MAIN, 0, std::nullopt}, index);
    if (!routes) return Error{"read the uplinks' default routes", "", routes.error().str(), routes.error().code};
    for (nl::Route& r : *routes) {
        if (r.dst.len != 0) continue;
        if (auto it = out.find(r.ifname); it != out.end()) it->second.default_routes.push_back(std::move(r));
    }
    return out;
}

}  // namespace avpn
