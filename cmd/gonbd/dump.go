package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"

	"github.com/gonbd/gonbd/server"
)

const synopsis = `gonbd [OPTIONS] PLUGIN [[KEY=]VALUE ...] [--run 'COMMAND ARGS ...']
gonbd --dump-config
gonbd PLUGIN --dump-plugin
gonbd [PLUGIN] --help
gonbd [PLUGIN] --version
`

// writeHelp writes the usage, the options and the linked plugins and filters.
func writeHelp(w io.Writer, l linked) {
	fmt.Fprintf(w, "Usage:\n%s\nOptions:\n", indent(synopsis, "  "))
	for _, o := range options() {
		fmt.Fprintf(w, "  %-34s %s\n", optionSynopsis(o), o.help)
	}
	fmt.Fprintf(w, "\nPlugins:\n")
	for _, p := range l.plugins {
		fmt.Fprintf(w, "  %-12s %s\n", p.Name, p.Description)
	}
	fmt.Fprintf(w, "\nFilters:\n")
	if len(l.filters) == 0 {
		fmt.Fprintf(w, "  (none)\n")
	}
	for _, f := range l.filters {
		fmt.Fprintf(w, "  %-12s %s\n", f.Name, f.Description)
	}
	fmt.Fprintf(w, "\n`gonbd PLUGIN --help` describes a plugin's parameters; the gonbd(1) manual page tells the rest.\n")
}

// optionSynopsis returns how help shows an option: "-p, --port=PORT".
func optionSynopsis(o optionSpec) string {
	var names []string
	if o.short != 0 {
		names = append(names, "-"+string(o.short))
	}
	for _, l := range o.long {
		names = append(names, "--"+l)
	}
	s := strings.Join(names, ", ")
	switch {
	case o.values != nil && o.arg != "":
		s += "=" + strings.Join(o.values, "|")
		if o.long[0] == "log" {
			s += "|FILE"
		}
	case o.arg != "":
		s += "=" + o.arg
	}
	return s
}

func indent(text, prefix string) string {
	lines := strings.SplitAfter(strings.TrimSuffix(text, "\n"), "\n")
	return prefix + strings.Join(lines, prefix) + "\n"
}

// writeLayerHelp writes the parameters of the plugin and the filters, as `gonbd
// PLUGIN --help` shows them.
func writeLayerHelp(w io.Writer, plugin server.PluginSpec, filters []server.FilterSpec) {
	for _, f := range filters {
		fmt.Fprintf(w, "filter: %s (%s)\n%s\n\n", f.Name, f.Description, strings.TrimRight(f.ConfigHelp, "\n"))
	}
	fmt.Fprintf(w, "plugin: %s (%s)\n", plugin.Name, plugin.Description)
	if plugin.MagicConfigKey != "" {
		fmt.Fprintf(w, "(a bare VALUE means %s=VALUE)\n", plugin.MagicConfigKey)
	}
	fmt.Fprintf(w, "%s\n", strings.TrimRight(plugin.ConfigHelp, "\n"))
}

// writeVersion writes gonbd's version, then the plugin's and the filters' when the
// command line names them, as nbdkit does.
func writeVersion(w io.Writer, plugin *server.PluginSpec, filters []server.FilterSpec) {
	fmt.Fprintf(w, "gonbd %s\n", gonbdVersion())
	if plugin != nil {
		fmt.Fprintf(w, "%s %s\n", plugin.Name, plugin.Version)
	}
	for _, f := range filters {
		fmt.Fprintf(w, "%s %s\n", f.Name, f.Version)
	}
}

// writeConfig writes --dump-config: key=value lines with nbdkit's keys where they
// apply (see nbdkit-probing(1)), for scripts that probe the server.
func writeConfig(w io.Writer, l linked) {
	binary, err := os.Executable()
	if err != nil {
		binary = os.Args[0]
	}
	v := gonbdVersion()
	major, minor := versionNumbers(v)
	pairs := []struct{ key, value string }{
		{"binary", binary},
		{"c_plugins", yesNo(cPluginsSupported())},
		{"exit_with_parent", yesNo(exitWithParentSupported)},
		{"filters", strings.Join(names(l.filters, func(f server.FilterSpec) string { return f.Name }), " ")},
		{"go_version", runtime.Version()},
		{"host_cpu", hostCPU()},
		{"host_os", runtime.GOOS},
		{"name", "gonbd"},
		{"plugins", strings.Join(names(l.plugins, func(p server.PluginSpec) string { return p.Name }), " ")},
		{"root_tls_certificates_dir", rootTLSCertificatesDir},
		{"selinux", "no"},
		{"tls", "yes"},
		{"tls_psk", "no"},
		{"version", v},
		{"version_major", major},
		{"version_minor", minor},
		{"vsock", yesNo(runtime.GOOS == "linux")},
	}
	for _, p := range pairs {
		fmt.Fprintf(w, "%s=%s\n", p.key, p.value)
	}
}

// writePluginDump writes --dump-plugin: what the spec says, then, if the plugin can
// be made from the parameters given, what its value says (its thread model, the
// optional plugin interfaces it implements, and its own [server.PluginDumper]
// lines). Handles are not opened: that could reach out to remote servers.
func writePluginDump(w io.Writer, spec server.PluginSpec, p server.Plugin) {
	binary, err := os.Executable()
	if err != nil {
		binary = os.Args[0]
	}
	fmt.Fprintf(w, "path=%s\nname=%s\nversion=%s\napi_version=2\n", binary, spec.Name, spec.Version)
	if spec.MagicConfigKey != "" {
		fmt.Fprintf(w, "magic_config_key=%s\n", spec.MagicConfigKey)
	}
	fmt.Fprintf(w, "has_config=1\nhas_config_help=%s\nhas_open=1\nhas_get_size=1\nhas_pread=1\n", oneZero(spec.ConfigHelp != ""))
	if p == nil {
		return
	}
	model := server.Parallel
	if tm, ok := p.(server.ThreadModeler); ok {
		model = tm.ThreadModel()
	}
	fmt.Fprintf(w, "thread_model=%s\n", threadModelName(model))
	for _, has := range []struct {
		name string
		ok   bool
	}{
		{"get_ready", implements[server.Readier](p)},
		{"preconnect", implements[server.Preconnecter](p)},
		{"list_exports", implements[server.ExportLister](p)},
		{"default_export", implements[server.DefaultExporter](p)},
		{"cleanup", implements[server.Cleaner](p)},
		{"dump_plugin", implements[server.PluginDumper](p)},
	} {
		if has.ok {
			fmt.Fprintf(w, "has_%s=1\n", has.name)
		}
	}
	if d, ok := p.(server.PluginDumper); ok {
		d.DumpPlugin(w)
	}
}

func implements[T any](v any) bool {
	_, ok := v.(T)
	return ok
}

// threadModelName returns nbdkit's name for a thread model.
func threadModelName(m server.ThreadModel) string {
	switch m {
	case server.SerializeConnections:
		return "serialize_connections"
	case server.SerializeAllRequests:
		return "serialize_all_requests"
	case server.SerializeRequests:
		return "serialize_requests"
	}
	return "parallel"
}

func names[T any](specs []T, name func(T) string) []string {
	out := make([]string, len(specs))
	for i, s := range specs {
		out[i] = name(s)
	}
	return out
}

// versionNumbers returns the major and minor numbers of a version like v1.2.3, or 0
// and 0 for a development build.
func versionNumbers(v string) (major, minor string) {
	parts := strings.SplitN(strings.TrimPrefix(v, "v"), ".", 3)
	if len(parts) < 2 || strings.Trim(parts[0], "0123456789") != "" || strings.Trim(parts[1], "0123456789") != "" {
		return "0", "0"
	}
	return parts[0], parts[1]
}

// hostCPU returns the CPU name the GNU toolchain (and so nbdkit) uses for GOARCH.
func hostCPU() string {
	switch runtime.GOARCH {
	case "amd64":
		return "x86_64"
	case "386":
		return "i686"
	case "arm64":
		return "aarch64"
	case "ppc64le":
		return "powerpc64le"
	}
	return runtime.GOARCH
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func oneZero(b bool) string {
	if b {
		return "1"
	}
	return "0"
}
