//go:build unix

package ssh

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/gonbd/gonbd/server/servertest"
)

// BenchmarkSSHDNbdcopy copies 64 MiB into a remote file and back out with nbdcopy,
// through gonbd and through nbdkit's ssh plugin on the same sshd, for comparison:
//
//	go test -run XXX -bench SSHDNbdcopy -benchtime 5x
func BenchmarkSSHDNbdcopy(b *testing.B) {
	servertest.EndToEnd(b, "nbdcopy")
	sshd := startSSHD(b)
	const size = 64 << 20
	source, _ := servertest.RandomFile(b, sshd.Dir, size)
	remote := filepath.Join(sshd.Dir, "disk.img")
	if err := os.WriteFile(remote, make([]byte, size), 0o600); err != nil {
		b.Fatal(err)
	}
	out := filepath.Join(sshd.Dir, "out.img")

	servers := map[string]func(b *testing.B) string{
		"gonbd": func(b *testing.B) string {
			return servertest.StartStack(b, Spec(), nil, sshd.Params(remote)...).URI()
		},
		"nbdkit": func(b *testing.B) string {
			servertest.NeedClient(b, "nbdkit")
			sock := filepath.Join(shortTempDir(b), "nbdkit.sock")
			args := append([]string{"-f", "-U", sock, "--exit-with-parent", "ssh"}, sshd.Params(remote)...)
			cmd := exec.Command("nbdkit", args...)
			cmd.Env = servertest.Env()
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
				if _, err := os.Stat(sock); err == nil {
					break
				}
			}
			return fmt.Sprintf("nbd+unix:///?socket=%s", sock)
		},
	}
	for _, name := range []string{"gonbd", "nbdkit"} {
		b.Run(name, func(b *testing.B) {
			uri := servers[name](b)
			b.Run("write", func(b *testing.B) {
				b.SetBytes(size)
				for range b.N {
					servertest.MustRun(b, "nbdcopy", source, uri)
				}
			})
			b.Run("read", func(b *testing.B) {
				b.SetBytes(size)
				for range b.N {
					servertest.MustRun(b, "nbdcopy", uri, out)
				}
			})
		})
	}
}
