// Connections as the planner would fill them for the three tunnel kinds.
#pragma once

#include <string>

#include "plugins/vici/connection.hpp"

namespace avpn::vici::fixtures {

// A policy-based tunnel to a third-party gateway; avpn initiates.
inline Connection policy_tunnel() {
    Connection c;
    c.name = "avpn-branch-hq";
    c.local_addrs = {"192.0.2.1"};
    c.remote_addrs = {"198.51.100.7"};
    c.local_id = "branch.example.net";
    c.remote_id = "hq.example.net";
    c.psk_file = "/etc/avpn/psk/hq";
    c.ike_proposals = {"aes256-sha256-modp2048"};
    c.rekey_time = 28800;
    c.dpd_delay = 30;
    c.dpd_timeout = 150;
    c.local_port_bind = "wan0";
    c.child.name = "avpn-branch-hq-child";
    c.child.local_ts = {"10.1.0.0/24", "10.1.1.0/24"};
    c.child.remote_ts = {"10.20.0.0/16"};
    c.child.esp_proposals = {"aes256-sha256"};
    c.child.start_action = "start";
    c.child.dpd_action = "restart";
    c.child.close_action = "start";
    c.child.rekey_time = 3600;
    return c;
}

// A route-based tunnel (XFRM interface `if_id`, 0/0 selectors) that avpn
// initiates and restarts on DPD; the cloud fixtures below differ in details.
inline Connection route_based(std::string name, std::string remote, uint32_t if_id) {
    Connection c;
    c.name = name;
    c.local_addrs = {"192.0.2.1"};
    c.remote_addrs = {std::move(remote)};
    c.psk_file = "/etc/avpn/psk/" + name;
    c.rekey_time = 28800;
    c.if_id_in = c.if_id_out = if_id;
    c.child.name = name + "-child";
    c.child.local_ts = c.child.remote_ts = {"0.0.0.0/0"};
    c.child.start_action = "start";
    c.child.dpd_action = "restart";
    c.child.close_action = "start";
    return c;
}

// AWS site-to-site VPN tunnel: AWS's IKE lifetime 28800 s and child 3600 s,
// DPD 10 s with restart.
inline Connection aws_tunnel() {
    Connection c = route_based("avpn-aws-vpn-0a1b-t1", "203.0.113.10", 0x41560001);
    c.ike_proposals = {"aes256-sha256-modp2048", "aes128-sha1-modp2048"};
    c.child.esp_proposals = c.ike_proposals;
    c.dpd_delay = 10;
    c.child.rekey_time = 3600;
    return c;
}

// Azure VPN gateway: IKEv2, Azure's default child lifetime 27000 s, DPD 45 s;
// Azure initiates too, so trap|start and close_action trap.
inline Connection azure_tunnel() {
    Connection c = route_based("avpn-azure-westeu", "20.50.0.4", 0x41560002);
    c.local_id = "192.0.2.1";
    c.remote_id = "20.50.0.4";
    c.ike_proposals = {"aes256-sha256-modp2048", "aes256-sha1-modp1024"};
    c.child.esp_proposals = {"aes256-sha256", "aes256-sha1"};
    c.dpd_delay = 45;
    c.child.start_action = "trap|start";
    c.child.close_action = "trap";
    c.child.rekey_time = 27000;
    c.child.life_time = 29700;
    return c;
}

}  // namespace avpn::vici::fixtures
