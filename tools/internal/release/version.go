package release

import (
	"context"
	"fmt"
	"strings"

	"github.com/gonbd/gonbd/tools/internal/run"
	"github.com/gonbd/gonbd/tools/internal/workspace"
	"golang.org/x/mod/semver"
)

// FirstVersion is the version a module that was never released is released at.
const FirstVersion = "v0.1.0"

// Release is a module with its latest released version and the version it
// is released at next.
type Release struct {
	Module *workspace.Module
	// Latest is the highest version tagged for the module, or "" if it has
	// never been released.
	Latest string
	// Next is the version of the next release: FirstVersion for a module
	// never released, otherwise Latest with its patch number increased.
	Next string
}

// Tag returns the git tag of the next release, e.g. "plugins/memory/v0.1.0".
func (r Release) Tag() string { return r.Module.Dir + "/" + r.Next }

// Plan returns a Release for every module of ws, in the order they must be
// released: every module after the siblings it requires. The versions come
// from the tags of the git repository at ws.Root.
func Plan(ctx context.Context, ws *workspace.Workspace) ([]Release, error) {
	mods, err := ws.Sorted()
	if err != nil {
		return nil, err
	}
	out, err := run.Output(ctx, ws.Root, nil, "git", "tag", "--list")
	if err != nil {
		return nil, fmt.Errorf("listing release tags: %w", err)
	}
	tags := strings.Fields(string(out))
	var plan []Release
	for _, m := range mods {
		latest := LatestTag(tags, m.Dir)
		next, err := NextVersion(latest)
		if err != nil {
			return nil, fmt.Errorf("module %s: %w", m.Dir, err)
		}
		plan = append(plan, Release{Module: m, Latest: latest, Next: next})
	}
	return plan, nil
}

// LatestTag returns the highest semantic version v among the tags of the form
// dir+"/"+v, or "" if there is none. Tags of a nested module, such as
// "server/apitest/v0.1.0" for dir "server", do not count: their version part
// is not a version.
func LatestTag(tags []string, dir string) string {
	latest := ""
	for _, t := range tags {
		v, ok := strings.CutPrefix(t, dir+"/")
		if !ok || !semver.IsValid(v) || v != semver.Canonical(v) {
			continue
		}
		if latest == "" || semver.Compare(v, latest) > 0 {
			latest = v
		}
	}
	return latest
}

// NextVersion returns the version released after latest: FirstVersion when
// latest is "", the release a pre-release leads to (v1.2.0 after
// v1.2.0-rc.1), and otherwise the next patch version. Minor and major
// releases are chosen by hand by tagging; this default is what "make
// release-check" rehearses.
func NextVersion(latest string) (string, error) {
	if latest == "" {
		return FirstVersion, nil
	}
	if !semver.IsValid(latest) {
		return "", fmt.Errorf("latest version %q is not a semantic version", latest)
	}
	if pre := semver.Prerelease(latest); pre != "" {
		return strings.TrimSuffix(latest, pre), nil
	}
	var major, minor, patch int
	if _, err := fmt.Sscanf(latest, "v%d.%d.%d", &major, &minor, &patch); err != nil {
		return "", fmt.Errorf("latest version %q: %w", latest, err)
	}
	return fmt.Sprintf("v%d.%d.%d", major, minor, patch+1), nil
}
