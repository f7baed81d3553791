package ip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"github.com/gonbd/gonbd/server"
)

// A Rule matches some clients. Make rules with [ParseRule] or [ParseRules].
type Rule struct {
	kind   ruleKind
	prefix netip.Prefix // for matchPrefix
	number uint32       // for the kinds with a numeric argument
	label  string       // for matchSecurity
	text   string       // as written, for String
}

type ruleKind int

const (
	matchAll ruleKind = iota
	matchAnyIPv4
	matchAnyIPv6
	matchAnyUnix
	matchAnyVsock
	matchPrefix
	matchPID
	matchUID
	matchGID
	matchSecurity
	matchVsockCID
	matchVsockPort
)

// keywords are the rules without an argument.
var keywords = map[string]ruleKind{
	"all": matchAll, "any": matchAll,
	"allipv4": matchAnyIPv4, "anyipv4": matchAnyIPv4,
	"allipv6": matchAnyIPv6, "anyipv6": matchAnyIPv6,
	"allunix": matchAnyUnix, "anyunix": matchAnyUnix, "unix": matchAnyUnix,
	"allvsock": matchAnyVsock, "anyvsock": matchAnyVsock,
}

// numbered are the rules of the form NAME:NUMBER.
var numbered = map[string]ruleKind{
	"pid":        matchPID,
	"uid":        matchUID,
	"gid":        matchGID,
	"vsock-cid":  matchVsockCID,
	"vsock-port": matchVsockPort,
}

// String returns the rule as it was written.
func (r Rule) String() string { return r.text }

// ParseRules parses a comma-separated list of rules, as allow= and deny= hold them.
func ParseRules(list string) ([]Rule, error) {
	var rules []Rule
	for _, item := range strings.Split(list, ",") {
		r, err := ParseRule(item)
		if err != nil {
			return nil, err
		}
		rules = append(rules, r)
	}
	return rules, nil
}

// ParseRule parses one rule (see the package documentation for the forms).
func ParseRule(s string) (Rule, error) {
	if s == "" {
		return Rule{}, errors.New("empty rule (two commas in a row, or a comma at an end?)")
	}
	if kind, ok := keywords[s]; ok {
		return Rule{kind: kind, text: s}, nil
	}
	if name, arg, ok := strings.Cut(s, ":"); ok {
		if kind, ok := numbered[name]; ok {
			if strings.TrimSpace(arg) != arg {
				return Rule{}, fmt.Errorf("rule %q: spaces around the number", s)
			}
			n, err := server.ParseUint(arg, 32)
			if err != nil {
				return Rule{}, fmt.Errorf("rule %q: %w", s, err)
			}
			return Rule{kind: kind, number: uint32(n), text: s}, nil
		}
		if name == "security" {
			if arg == "" {
				return Rule{}, fmt.Errorf("rule %q: empty security label", s)
			}
			return Rule{kind: matchSecurity, label: arg, text: s}, nil
		}
	}
	return parseAddressRule(s)
}

// parseAddressRule parses an IPv4 or IPv6 address or network.
func parseAddressRule(s string) (Rule, error) {
	var prefix netip.Prefix
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return Rule{}, fmt.Errorf("rule %q is not a keyword, a NAME:VALUE rule or an IP network: %w", s, err)
		}
		prefix = p.Masked()
	} else {
		a, err := netip.ParseAddr(s)
		if err != nil {
			return Rule{}, fmt.Errorf("rule %q is not a keyword, a NAME:VALUE rule or an IP address: %w", s, err)
		}
		if a.Zone() != "" {
			return Rule{}, fmt.Errorf("rule %q: IPv6 zones are not supported", s)
		}
		prefix = netip.PrefixFrom(a, a.BitLen())
	}
	return Rule{kind: matchPrefix, prefix: prefix, text: s}, nil
}

// matches reports whether the client described by info matches r.
func (r Rule) matches(info server.ConnInfo) bool {
	switch r.kind {
	case matchAll:
		return true
	case matchAnyIPv4:
		a, ok := ipOf(info.Remote)
		return ok && a.Unmap().Is4()
	case matchAnyIPv6:
		a, ok := ipOf(info.Remote)
		return ok && !a.Unmap().Is4()
	case matchPrefix:
		a, ok := ipOf(info.Remote)
		if !ok {
			return false
		}
		if r.prefix.Addr().Is4() {
			a = a.Unmap()
		}
		return r.prefix.Contains(a)
	case matchAnyUnix:
		_, ok := info.Remote.(*net.UnixAddr)
		return ok || info.Peer != nil // credentials come from Unix sockets alone
	case matchPID, matchUID, matchGID, matchSecurity:
		return r.matchesPeer(info.Peer)
	case matchAnyVsock:
		_, ok := info.Remote.(server.VsockAddr)
		return ok
	case matchVsockCID:
		v, ok := info.Remote.(server.VsockAddr)
		return ok && v.CID == r.number
	case matchVsockPort:
		v, ok := info.Remote.(server.VsockAddr)
		return ok && v.Port == r.number
	}
	return false
}

// matchesPeer checks the rules about the process at the other end of a Unix socket;
// nil means the system did not say, which matches none of them.
func (r Rule) matchesPeer(p *server.PeerCred) bool {
	if p == nil {
		return false
	}
	switch r.kind {
	case matchPID:
		return p.PID >= 0 && uint64(p.PID) == uint64(r.number)
	case matchUID:
		return p.UID >= 0 && uint64(p.UID) == uint64(r.number)
	case matchGID:
		return p.GID >= 0 && uint64(p.GID) == uint64(r.number)
	case matchSecurity:
		return p.SecurityLabel != "" && p.SecurityLabel == r.label
	}
	return false
}

// ipOf returns the IP address of a TCP or UDP peer.
func ipOf(addr net.Addr) (netip.Addr, bool) {
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.WithZone(""), ok
	case *net.UDPAddr:
		ip, ok := netip.AddrFromSlice(a.IP)
		return ip.WithZone(""), ok
	}
	return netip.Addr{}, false
}
