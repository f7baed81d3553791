package nbd

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/gonbd/gonbd/protocol/client"
	"github.com/gonbd/gonbd/server/servertest"
)

// exportList returns the names and descriptions nbdinfo --list finds, in order.
func exportList(t *testing.T, r servertest.Result) []client.Export {
	t.Helper()
	if r.Code != 0 {
		t.Fatalf("nbdinfo --list: %s", r)
	}
	var list struct {
		Exports []struct {
			Name        string `json:"export-name"`
			Description string `json:"description"`
		} `json:"exports"`
	}
	if err := json.Unmarshal([]byte(r.Stdout), &list); err != nil {
		t.Fatalf("nbdinfo --list: %v\n%s", err, r.Stdout)
	}
	var exports []client.Export
	for _, e := range list.Exports {
		exports = append(exports, client.Export{Name: e.Name, Description: e.Description})
	}
	return exports
}

// readExport opens name through the proxy and returns its canonical name and
// contents (nbdkit's info plugin serves the export's name as its contents).
func readExport(t *testing.T, proxy *servertest.Server, name string) (canonical, contents string) {
	t.Helper()
	c := proxy.DialExport(t, name)
	buf := make([]byte, c.Size())
	if err := c.ReadAt(testContext(t), buf, 0, 0); err != nil {
		t.Fatal(err)
	}
	return c.ExportName(), string(buf)
}

func TestE2EExports(t *testing.T) {
	servertest.EndToEnd(t, "nbdkit", "nbdinfo")
	sock := startNbdkit(t, "--filter=exportname", "info", "mode=exportname",
		"exportname=apple", "exportname=banana", "exportname-list=explicit",
		"default-export=banana", "exportdesc=fixed:fruit")
	remoteList := exportList(t, servertest.Run(t, "nbdinfo", "--list", "--json", "nbd+unix:///?socket="+sock))
	if len(remoteList) != 2 {
		t.Fatalf("the server lists %v; the test expects apple and banana", remoteList)
	}

	t.Run("dynamic", func(t *testing.T) {
		proxy := proxyTo(t, "socket="+sock, "dynamic-export=true")
		ours := exportList(t, servertest.Run(t, "nbdinfo", "--list", "--json", proxy.URI()))
		theirs := exportList(t, servertest.Run(t, "nbdkit", "-U", "-", "nbd", "socket="+sock, "dynamic-export=true",
			"--run", `nbdinfo --list --json "$uri"`))
		if !slices.Equal(ours, remoteList) || !slices.Equal(ours, theirs) {
			t.Errorf("the proxy lists %v; the server %v, nbdkit's proxy %v", ours, remoteList, theirs)
		}
		if name, contents := readExport(t, proxy, "apple"); name != "apple" || contents != "apple" {
			t.Errorf("export apple through the proxy: name %q, contents %q", name, contents)
		}
		if name, contents := readExport(t, proxy, ""); name != "banana" || contents != "banana" {
			t.Errorf("the default export through the proxy: name %q, contents %q; want the server's default, banana", name, contents)
		}
	})
	t.Run("fixed", func(t *testing.T) {
		proxy := proxyTo(t, "socket="+sock, "export=apple")
		ours := exportList(t, servertest.Run(t, "nbdinfo", "--list", "--json", proxy.URI()))
		theirs := exportList(t, servertest.Run(t, "nbdkit", "-U", "-", "nbd", "socket="+sock, "export=apple",
			"--run", `nbdinfo --list --json "$uri"`))
		if want := []client.Export{{Name: "apple"}}; !slices.Equal(ours, want) || !slices.Equal(ours, theirs) {
			t.Errorf("the proxy lists %v; want %v as nbdkit's proxy lists %v", ours, want, theirs)
		}
		for _, asked := range []string{"", "apple", "cherry"} {
			if _, contents := readExport(t, proxy, asked); contents != "apple" {
				t.Errorf("asking the proxy for %q gives %q, want export= apple whatever the name", asked, contents)
			}
		}
	})
	t.Run("URI", func(t *testing.T) {
		proxy := proxyTo(t, "uri=nbd+unix:///banana?socket="+sock)
		if _, contents := readExport(t, proxy, "cherry"); contents != "banana" {
			t.Errorf("a proxy to the URI's banana gives %q", contents)
		}
	})
}
