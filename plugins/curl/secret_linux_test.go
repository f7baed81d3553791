package curl

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"

	"golang.org/x/sys/unix"
)

func TestSecretFromDescriptor(t *testing.T) {
	var fds [2]int
	if err := unix.Pipe2(fds[:], unix.O_CLOEXEC); err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fds[1])
	if _, err := unix.Write(fds[1], []byte("piped secret\n")); err != nil {
		t.Fatal(err)
	}
	unix.Close(fds[1])
	got, err := noTerminal(t).read("password", "-"+strconv.Itoa(fds[0]))
	if err != nil || got != "piped secret" {
		t.Fatalf("password=-%d: %q, %v; want the piped secret", fds[0], got, err)
	}
	// The descriptor was closed after reading, as nbdkit closes it.
	var st unix.Stat_t
	if err := unix.Fstat(fds[0], &st); err != unix.EBADF {
		t.Errorf("fstat of the descriptor after reading: %v, want EBADF", err)
		unix.Close(fds[0])
	}
}

// promptWriter tells when the prompt has been written.
type promptWriter struct {
	once    sync.Once
	written chan struct{}
	text    strings.Builder
}

func (w *promptWriter) Write(p []byte) (int, error) {
	w.text.Write(p)
	w.once.Do(func() { close(w.written) })
	return len(p), nil
}

// TestSecretFromTerminal types a password on a pseudo-terminal and checks that the
// terminal did not echo it.
func TestSecretFromTerminal(t *testing.T) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer master.Close()
	mfd := int(master.Fd())
	if err := unix.IoctlSetPointerInt(mfd, unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	n, err := unix.IoctlGetInt(mfd, unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile("/dev/pts/"+strconv.Itoa(n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()

	prompt := &promptWriter{written: make(chan struct{})}
	go func() {
		<-prompt.written
		master.Write([]byte("typed secret\n"))
	}()
	got, err := secretReader{stdin: tty, prompt: prompt}.read("proxy-password", "-")
	if err != nil || got != "typed secret" {
		t.Fatalf("proxy-password=-: %q, %v; want the typed secret", got, err)
	}
	if prompt.text.String() != "proxy-password: \n" {
		t.Errorf("prompt %q", prompt.text.String())
	}
	// Echo is back on: what is typed now comes back, after anything echoed before.
	master.Write([]byte("after\n"))
	echoed := bufio.NewReader(master)
	var seen strings.Builder
	for !strings.Contains(seen.String(), "after") {
		line, err := echoed.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		seen.WriteString(line)
	}
	if strings.Contains(seen.String(), "typed secret") {
		t.Errorf("the terminal echoed the secret: %q", seen.String())
	}
}
