package rate

import (
	"bufio"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gonbd/gonbd/server"
)

// recheck is how often a rate file is read again at most.
const recheck = time.Second

// A limit is a rate in bits per second, 0 for none, that a file may change while the
// server runs.
type limit struct {
	file string // "" for a fixed rate
	log  *slog.Logger

	mu      sync.Mutex
	rate    uint64
	checked time.Time
}

func newLimit(rate uint64, file string, log *slog.Logger) *limit {
	l := &limit{rate: rate, file: file, log: log}
	if file != "" {
		l.read()
		l.checked = time.Now()
	}
	return l
}

// current returns the rate at now, reading the file again if it was not read in the
// last second.
func (l *limit) current(now time.Time) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.file != "" && now.Sub(l.checked) >= recheck {
		l.checked = now
		l.read()
	}
	return l.rate
}

// read sets the rate from the first line of the file, if it holds one. A missing
// file is no error (the last rate stays); a file with nonsense is logged and ignored.
func (l *limit) read() {
	f, err := os.Open(l.file)
	if err != nil {
		return
	}
	defer f.Close()
	line, err := bufio.NewReader(f).ReadString('\n')
	if err != nil && line == "" {
		return // empty, or being rewritten: try again later
	}
	rate, err := server.ParseSize(strings.TrimSpace(line))
	if err != nil || rate == 0 {
		l.log.Warn("ignoring the rate file", "file", l.file, "line", strings.TrimSpace(line), "err", err)
		return
	}
	if uint64(rate) != l.rate {
		l.log.Debug("rate adjusted", "file", l.file, "from", l.rate, "to", rate)
		l.rate = uint64(rate)
	}
}
