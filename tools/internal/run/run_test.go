package run

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestOutput(t *testing.T) {
	out, err := Output(context.Background(), t.TempDir(), nil, "sh", "-c", "echo hello")
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != "hello\n" {
		t.Errorf("Output = %q, want %q", out, "hello\n")
	}
}

func TestOutputError(t *testing.T) {
	_, err := Output(context.Background(), "", nil, "sh", "-c", "echo oops >&2; exit 3")
	if err == nil {
		t.Fatal("Output of a failing command returned no error")
	}
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 3 {
		t.Errorf("error %v does not unwrap to exit status 3", err)
	}
	if !strings.Contains(err.Error(), "oops") || !strings.Contains(err.Error(), "sh -c") {
		t.Errorf("error %q lacks the command or its stderr", err)
	}
}
