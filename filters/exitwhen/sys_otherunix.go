//go:build unix && !linux

package exitwhen

// pollPeerHangup: other systems report a peer's shutdown as POLLHUP alone.
const pollPeerHangup = 0

// isZombie: without /proc, zombies count as running until reaped.
func isZombie(pid int) bool { return false }
