package ssh

import (
	"fmt"
	"os"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// promptWriter records the prompt and whether the terminal echoed when it came, then
// types the password.
type promptWriter struct {
	tty, master *os.File
	prompt      string
	echoing     bool
}

func (w *promptWriter) Write(p []byte) (int, error) {
	if w.prompt == "" {
		termios, err := unix.IoctlGetTermios(int(w.tty.Fd()), unix.TCGETS)
		if err != nil {
			return 0, err
		}
		w.echoing = termios.Lflag&unix.ECHO != 0
		if _, err := w.master.Write([]byte("s3cret\n")); err != nil {
			return 0, err
		}
	}
	w.prompt += string(p)
	return len(p), nil
}

func TestReadSecretLineFromTerminal(t *testing.T) {
	master, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Skipf("no pseudo-terminals: %v", err)
	}
	defer master.Close()
	n, err := unix.IoctlGetInt(int(master.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatal(err)
	}
	if err := unix.IoctlSetPointerInt(int(master.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatal(err)
	}
	tty, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer tty.Close()

	w := &promptWriter{tty: tty, master: master}
	got, err := readSecretLine(tty, w, "password: ")
	if err != nil || got != "s3cret" {
		t.Fatalf("read %q, %v", got, err)
	}
	if w.prompt != "password: \n" || w.echoing {
		t.Errorf("prompt %q, echo on while typing: %v", w.prompt, w.echoing)
	}
	termios, err := unix.IoctlGetTermios(int(tty.Fd()), unix.TCGETS)
	if err != nil {
		t.Fatal(err)
	}
	if termios.Lflag&unix.ECHO == 0 {
		t.Error("echo is still off afterwards")
	}
}
