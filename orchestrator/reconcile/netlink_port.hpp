// The real KernelPort: rtnetlink for links, addresses, routes and rules,
// NETLINK_XFRM for SAs and policies, and the WireGuard backends (kernel
// generic netlink or wireguard-go's UAPI socket) for devices.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>

#include "netlink/socket.hpp"
#include "orchestrator/reconcile/apply_journal.hpp"
#include "orchestrator/reconcile/kernel_port.hpp"
#include "plugins/wireguard/select.hpp"
#include "plugins/wireguard/supervisor.hpp"

namespace avpn::nl {
class LinkIndex;
}

namespace avpn {

struct NetlinkPortOptions {
    // Which implementation serves a WireGuard link comes with the link
    // (nl::Link::wg_impl, from autovpn.wireguard_backend): `any` tries the
    // kernel first and falls back to wireguard-go when it has no WireGuard.
    wg::SelectOptions wg;
    // Starts, adopts and watches wireguard-go. avpnd shares one with the port
    // to learn of exits; empty: the port makes its own (a one-shot).
    std::shared_ptr<wg::Supervisor> wireguard_go;
    // Called before a link is created, with its name and the highest
    // ifindex in the namespace: the write-ahead journal (apply_journal.hpp)
    // must hold the name before the kernel does. A failure stops the create.
    // Empty: nothing is noted (dry runs, tests of the port alone).
    std::function<Status(const JournaledLink&)> before_create_link;
    // Test seam: runs between the kernel's create of a link and avpn's mark
    // on it, the instant the journal exists for (netns_apply_killed_create
    // SIGKILLs the process there). Empty in avpnctl and avpnd.
    std::function<void(const std::string& link)> after_create_before_mark;
    // The key of an SA whose KeyRef names a handshake's key (session_key):
    // avpnd's key store hands it out by id, `key_bits` long. Empty (a
    // one-shot, where no handshake runs): such an SA fails to install.
    // `new_sa`: for a create (the store refuses a key a second created SA
    // asks for), not an update or replace that keeps the sequence state.
    std::function<Result<std::vector<uint8_t>>(uint64_t id, uint32_t key_bits, bool new_sa)> session_key;
};

// One WAN uplink as the kernel shows it now: the facts avpnd's uplink
// health reads (orchestrator/runtime/uplink_health.hpp) and the routes its
// steering copies (docs/uplinks.md).
struct UplinkFacts {
    uint32_t ifindex = 0;
    bool carrier = false;  // nl::LinkState::carrier()
    std::optional<IpAddr> address;          // the primary one, as interface_addresses picks it
    std::vector<nl::Route> default_routes;  // main table, through this interface, any protocol
};

class NetlinkPort final : public KernelPort {
public:
    static Result<std::unique_ptr<NetlinkPort>> open(NetlinkPortOptions options);

    Result<nl::KernelState> observe(const OwnedScope&) override;
    Result<OwnedScope> scan_owned() override;
    Status adopt_journaled(const std::vector<JournaledLink>&) override;
    std::vector<Status> execute(const std::vector<Op>&) override;
    Result<std::map<std::string, IpAddr>> interface_addresses(const std::vector<std::string>& names) override;

    // The named interfaces that exist, from one link dump and one dump of
    // the main table.
    Result<std::map<std::string, UplinkFacts>> uplink_facts(const std::vector<std::string>& names);

    // Port ids of the sockets this port writes through in one netlink family
    // (NETLINK_ROUTE, NETLINK_XFRM): change notifications carrying one of
    // them report its own writes.
    std::set<uint32_t> netlink_ports(int protocol) const;

    // One WireGuard device as its backend reports it now, without the link
    // and netlink dumps of observe() (avpnd polls devices for drift).
    Result<nl::WgDevice> read_wireguard(const std::string& ifname);
    // The same with each peer's handshake time and byte counters.
    Result<wg::WgDeviceStatus> read_wireguard_status(const std::string& ifname);

    // avpn's XFRM SAs (its reqid range) with their counters, one dump
    // (avpnd: status, and expiries lost to an overrun).
    Result<std::vector<nl::XfrmSa>> read_xfrm_sas();

private:
    NetlinkPort(nl::Socket rtnl, NetlinkPortOptions options);

    nl::Transport* xfrm();  // opened on first use: not every site has XFRM objects
    Result<wg::WgBackend*> wireguard(const std::string& ifname);

    class WgReader;
    Status observe_netlink(const OwnedScope&, const nl::LinkIndex& names, nl::KernelState& st);
    Status create_link(const nl::Link&);
    Status update_link(const nl::Link& want, const nl::Link& have);
    Status set_link_up(const std::string& name, bool up);
    Status delete_link(const nl::Link&);
    Status set_wireguard(const Op&);
    void run_rtnl(const std::vector<Op>& ops, size_t begin, size_t end, std::vector<Status>& out);
    void run_xfrm(const std::vector<Op>& ops, size_t begin, size_t end, std::vector<Status>& out);
    Result<std::vector<uint8_t>> sa_key(const nl::XfrmSa&, bool new_sa) const;

    nl::Socket rtnl_;
    std::optional<nl::Socket> xfrm_;
    NetlinkPortOptions options_;
    std::map<std::string, std::unique_ptr<wg::WgBackend>> wg_;  // by interface
    std::map<std::string, nl::WgImpl> wg_impl_;  // what serves each link, as observed or created
};

}  // namespace avpn
