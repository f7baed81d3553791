package curl

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gonbd/gonbd/server/servertest"
)

// imageSize is the size of the image the end-to-end tests serve with nginx.
const imageSize = 64 << 20

// checkCopy fails the test unless the file at path is the image.
func checkCopy(t testing.TB, how, path, wantSum string, wantSize int64) {
	t.Helper()
	if sum, size := servertest.FileSHA256(t, path); sum != wantSum || size != wantSize {
		t.Errorf("%s: copied %d bytes with SHA-256 %s, want the image's %d bytes, %s", how, size, sum, wantSize, wantSum)
	}
}

// randomReads reads n random ranges of the export at uri with nbdsh and compares them
// with the image file.
func randomReads(t testing.TB, uri, image string, size int64, n int) {
	t.Helper()
	servertest.Nbdsh(t, uri,
		"import random",
		fmt.Sprintf("assert h.get_size() == %d, h.get_size()", size),
		"assert h.is_read_only()",
		"assert h.can_multi_conn()",
		fmt.Sprintf(`
f = open(%q, 'rb')
for i in range(%d):
    off = random.randrange(0, %d)
    n = random.randint(1, min(4 << 20, %d - off))
    f.seek(off)
    assert h.pread(n, off) == f.read(n), (off, n)
f.close()`, image, n, size, size))
}

// nbdinfoJSON returns what `nbdinfo --json` says of the export at uri.
func nbdinfoJSON(t testing.TB, uri string) map[string]any {
	t.Helper()
	out := servertest.MustRun(t, "nbdinfo", "--json", uri).Stdout
	var info struct {
		Exports []map[string]any `json:"exports"`
	}
	if err := json.Unmarshal([]byte(out), &info); err != nil || len(info.Exports) != 1 {
		t.Fatalf("nbdinfo --json: %v\n%s", err, out)
	}
	return info.Exports[0]
}

func TestE2ENginxHTTP(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy", "qemu-img", "nbdsh", "nbdinfo")
	ng, image, name, sum := nginxWithImage(t, imageSize)
	s := servertest.StartStack(t, Spec(), nil, ng.HTTP+name) // url= is the magic key
	dir := t.TempDir()

	copied := filepath.Join(dir, "nbdcopy.img")
	servertest.MustRun(t, "nbdcopy", s.URI(), copied)
	checkCopy(t, "nbdcopy", copied, sum, imageSize)

	converted := filepath.Join(dir, "converted.img")
	servertest.MustRun(t, "qemu-img", "convert", "-f", "raw", "-O", "raw", s.URI(), converted)
	checkCopy(t, "qemu-img convert", converted, sum, imageSize)

	randomReads(t, s.URI(), image, imageSize, 300)

	info := nbdinfoJSON(t, s.URI())
	if info["export-size"] != float64(imageSize) || info["is_read_only"] != true || info["can_multi_conn"] != true {
		t.Errorf("nbdinfo: size %v, read-only %v, multi-conn %v; want %d, true, true",
			info["export-size"], info["is_read_only"], info["can_multi_conn"], imageSize)
	}

	// Writes are refused: the plugin is read-only.
	servertest.Nbdsh(t, s.URI(), `
try:
    h.pwrite(b"x" * 4096, 0)
    assert False, "the write succeeded"
except nbd.Error as e:
    assert e.errno == "EPERM", e`)
}

func TestE2ENginxHTTPS(t *testing.T) {
	servertest.EndToEnd(t, "nbdcopy", "nbdsh", "nbdinfo")
	ng, image, name, sum := nginxWithImage(t, imageSize)
	dir := t.TempDir()

	s := servertest.StartStack(t, Spec(), nil, "url="+ng.HTTPS+name, "cainfo="+ng.CAFile)
	copied := filepath.Join(dir, "nbdcopy.img")
	servertest.MustRun(t, "nbdcopy", s.URI(), copied)
	checkCopy(t, "nbdcopy over HTTPS", copied, sum, imageSize)

	s = servertest.StartStack(t, Spec(), nil, "url="+ng.HTTPS+name, "capath="+filepath.Dir(ng.CAFile), "connections=8")
	randomReads(t, s.URI(), image, imageSize, 50)

	s = servertest.StartStack(t, Spec(), nil, "url="+ng.HTTPS+name, "sslverify=false")
	randomReads(t, s.URI(), image, imageSize, 50)

	// Without the authority the server's certificate is not trusted, and clients are
	// refused.
	s = servertest.StartStack(t, Spec(), nil, "url="+ng.HTTPS+name)
	if r := servertest.Run(t, "nbdinfo", s.URI()); r.Code == 0 {
		t.Errorf("nbdinfo succeeded without the authority: %s", r)
	}
	if log := s.Log.String(); !strings.Contains(log, "certificate signed by unknown authority") {
		t.Errorf("the log does not say why the client was refused:\n%s", log)
	}
}

// TestE2ESameAsNbdkit serves the same objects with gonbd and nbdkit's curl plugin and
// checks that clients see the same: the bytes, the size, and a refusal for a missing
// object.
func TestE2ESameAsNbdkit(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdcopy", "nbdinfo")
	if r := servertest.Run(t, "nbdkit", "curl", "--dump-plugin"); r.Code != 0 {
		servertest.NeedClient(t, "nbdkit-curl-plugin (apt-get install nbdkit-plugin-curl)")
	}
	const size = 16 << 20
	ng, _, name, sum := nginxWithImage(t, size)
	dir := t.TempDir()
	for _, params := range [][]string{
		{"url=" + ng.HTTP + name},
		{"url=" + ng.HTTPS + name, "cainfo=" + ng.CAFile},
	} {
		gonbd := servertest.StartStack(t, Spec(), nil, params...).URI()
		nbdkit := servertest.SocketURI(servertest.StartNbdkit(t, append([]string{"-r", "curl"}, params...)...), "")
		for server, uri := range map[string]string{"gonbd": gonbd, "nbdkit": nbdkit} {
			out := filepath.Join(dir, server+".img")
			servertest.MustRun(t, "nbdcopy", uri, out)
			checkCopy(t, fmt.Sprintf("%s %q", server, params), out, sum, size)
		}
		ours, theirs := nbdinfoJSON(t, gonbd), nbdinfoJSON(t, nbdkit)
		for _, key := range []string{"export-size", "is_read_only", "can_write", "can_trim", "can_zero", "can_extents"} {
			if ours[key] != theirs[key] {
				t.Errorf("%q: nbdinfo says %s is %v with gonbd, %v with nbdkit", params, key, ours[key], theirs[key])
			}
		}
	}

	missing := "url=" + ng.HTTP + "/no-such.img"
	gonbd := servertest.StartStack(t, Spec(), nil, missing)
	for server, uri := range map[string]string{"gonbd": gonbd.URI(), "nbdkit": servertest.SocketURI(servertest.StartNbdkit(t, "-r", "curl", missing), "")} {
		if r := servertest.Run(t, "nbdinfo", uri); r.Code == 0 {
			t.Errorf("%s: nbdinfo of a missing object succeeded: %s", server, r)
		}
	}
	if log := gonbd.Log.String(); !strings.Contains(log, "404 Not Found") {
		t.Errorf("gonbd's log does not give the server's status:\n%s", log)
	}
}

// TestE2EServerErrorsReachClients checks what clients see of a failing web server:
// nothing when a retry cures it, EIO when none does.
func TestE2EServerErrorsReachClients(t *testing.T) {
	servertest.EndToEnd(t, "nbdsh")
	data := randomBytes(t, 1<<20)
	handler, _ := failFirst(3, status(http.StatusBadGateway), serveObject(data))
	ts := newTestServer(t, handler)
	s := servertest.StartStack(t, Spec(), nil, "url="+ts.URL+"/disk.img")
	image := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(image, data, 0o600); err != nil {
		t.Fatal(err)
	}
	randomReads(t, s.URI(), image, int64(len(data)), 20)

	handler, _ = failFirst(1<<30, status(http.StatusInternalServerError), serveObject(data))
	ts = newTestServer(t, handler)
	s = servertest.StartStack(t, Spec(), nil, "url="+ts.URL+"/disk.img")
	servertest.Nbdsh(t, s.URI(), `
try:
    h.pread(512, 0)
    assert False, "the read succeeded"
except nbd.Error as e:
    assert e.errno == "EIO", e`)
	if log := s.Log.String(); !strings.Contains(log, "500 Internal Server Error") || !strings.Contains(log, "tried 5 times") {
		t.Errorf("the log does not say what failed:\n%s", log)
	}
}
