// Connections as the planner would fill them for the three tunnel kinds.
#pragma once

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

// AWS site-to-site VPN tunnel: route-based (XFRM interface), 0/0 selectors,
// AWS's IKE lifetime 28800 s and child 3600 s, DPD 10 s with restart.
inline Connection aws_tunnel() {
    Connection c;
    c.name = "avpn-aws-vpn-0a1b-t1";
    c.local_addrs = {"192.0.2.1"};
    c.remote_addrs = {"203.0.113.10"};
    c.psk_file = "/etc/avpn/psk/aws-t1";
    c.ike_proposals = {"aes256-sha256-modp2048", "aes128-sha1-modp2048"};
    c.rekey_time = 28800;
    c.dpd_delay = 10;
    c.if_id_in = 0x41560001;
    c.if_id_out = 0x41560001;
    c.child.name = "avpn-aws-vpn-0a1b-t1-child";
    c.child.local_ts = {"0.0.0.0/0"};
    c.child.remote_ts = {"0.0.0.0/0"};
    c.child.esp_proposals = {"aes256-sha256-modp2048", "aes128-sha1-modp2048"};
    c.child.start_action = "start";
    c.child.dpd_action = "restart";
    c.child.close_action = "start";
    c.child.rekey_time = 3600;
    return c;
}

// Azure VPN gateway (route-based): IKEv2, Azure's default IKE SA lifetime
// 28800 s and child 27000 s, DPD 45 s; Azure initiates too, so trap|start.
inline Connection azure_tunnel() {
    Connection c;
    c.name = "avpn-azure-westeu";
    c.local_addrs = {"192.0.2.1"};
    c.remote_addrs = {"20.50.0.4"};
    c.local_id = "192.0.2.1";
    c.remote_id = "20.50.0.4";
    c.psk_file = "/etc/avpn/psk/azure";
    c.ike_proposals = {"aes256-sha256-modp2048", "aes256-sha1-modp1024"};
    c.rekey_time = 28800;
    c.dpd_delay = 45;
    c.if_id_in = 0x41560002;
    c.if_id_out = 0x41560002;
    c.child.name = "avpn-azure-westeu-child";
    c.child.local_ts = {"0.0.0.0/0"};
    c.child.remote_ts = {"0.0.0.0/0"};
    c.child.esp_proposals = {"aes256-sha256", "aes256-sha1"};
    c.child.start_action = "trap|start";
    c.child.dpd_action = "restart";
    c.child.close_action = "trap";
    c.child.rekey_time = 27000;
    c.child.life_time = 29700;
    return c;
}

}  // namespace avpn::vici::fixtures
