#!/usr/bin/perl
# Holds a UDP socket on PORT with UDP_ENCAP_ESPINUDP set, as an IKE daemon
# does: without such a socket the kernel hands ESP-in-UDP (RFC 3948) packets
# to the UDP stack instead of decapsulating them. Writes READY_FILE once the
# socket is set up, then sleeps until killed.
# Usage: espinudp-socket.pl PORT READY_FILE
use strict;
use warnings;
use Socket qw(PF_INET SOCK_DGRAM IPPROTO_UDP INADDR_ANY pack_sockaddr_in);

my ($port, $ready_file) = @ARGV;
die "usage: $0 PORT READY_FILE\n" unless defined $ready_file;
my $UDP_ENCAP = 100;            # linux/udp.h
my $UDP_ENCAP_ESPINUDP = 2;     # linux/udp.h
socket(my $sock, PF_INET, SOCK_DGRAM, IPPROTO_UDP) or die "socket: $!\n";
bind($sock, pack_sockaddr_in($port, INADDR_ANY)) or die "bind port $port: $!\n";
setsockopt($sock, IPPROTO_UDP, $UDP_ENCAP, $UDP_ENCAP_ESPINUDP) or die "UDP_ENCAP: $!\n";
open(my $ready, '>', $ready_file) or die "$ready_file: $!\n";
close($ready);
sleep;
