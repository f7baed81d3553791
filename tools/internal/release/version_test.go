package release

import "testing"

func TestLatestTag(t *testing.T) {
	tags := []string{
		"protocol/v0.1.0", "protocol/v0.10.0", "protocol/v0.9.3", "protocol/notaversion",
		"server/v0.2.0", "server/apitest/v9.0.0", "server/v0.3.0-rc.1", "v1.0.0", "protocol/v0.11",
	}
	for _, tc := range []struct{ dir, want string }{
		{"protocol", "v0.10.0"},
		{"server", "v0.3.0-rc.1"},
		{"server/apitest", "v9.0.0"},
		{"plugins/memory", ""},
	} {
		if got := LatestTag(tags, tc.dir); got != tc.want {
			t.Errorf("LatestTag(%s) = %q, want %q", tc.dir, got, tc.want)
		}
	}
}

func TestNextVersion(t *testing.T) {
	for _, tc := range []struct{ latest, want string }{
		{"", "v0.1.0"},
		{"v0.1.0", "v0.1.1"},
		{"v1.9.9", "v1.9.10"},
		{"v0.3.0-rc.1", "v0.3.0"},
	} {
		got, err := NextVersion(tc.latest)
		if err != nil || got != tc.want {
			t.Errorf("NextVersion(%q) = %q, %v; want %q", tc.latest, got, err, tc.want)
		}
	}
	if _, err := NextVersion("1.0"); err == nil {
		t.Error("NextVersion(1.0) succeeded")
	}
}
