package exitwhen

import (
	"bytes"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// pollPeerHangup is how Linux says that a socket's peer shut its side down.
const pollPeerHangup = unix.POLLRDHUP

// isZombie reports whether pid has exited but was not reaped: /proc/PID/stat shows
// state Z (or X, dead). Its third field follows the command name in parentheses,
// which may itself hold parentheses and spaces.
func isZombie(pid int) bool {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(stat, ')')
	if i < 0 || i+2 >= len(stat) {
		return false
	}
	state := stat[i+2]
	return state == 'Z' || state == 'X'
}
