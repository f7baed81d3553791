package exportname

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"syscall"

	"github.com/gonbd/gonbd/server"
)

// ListMode says which exports a client asking for the list (NBD_OPT_LIST) sees.
type ListMode int

const (
	// ListKeep shows the plugin's list. The default.
	ListKeep ListMode = iota
	// ListError refuses to list.
	ListError
	// ListEmpty shows an empty list.
	ListEmpty
	// ListDefaultOnly shows the default export's canonical name alone.
	ListDefaultOnly
	// ListExplicit shows the names of Options.Exports alone.
	ListExplicit
)

var listModeNames = [...]string{ListKeep: "keep", ListError: "error", ListEmpty: "empty", ListDefaultOnly: "defaultonly", ListExplicit: "explicit"}

func (m ListMode) String() string {
	if m < 0 || int(m) >= len(listModeNames) {
		return fmt.Sprintf("ListMode(%d)", int(m))
	}
	return listModeNames[m]
}

// DescMode says where export descriptions come from.
type DescMode int

const (
	// DescKeep keeps the plugin's descriptions. The default.
	DescKeep DescMode = iota
	// DescNone sends no descriptions.
	DescNone
	// DescFixed sends Options.Desc for every export.
	DescFixed
	// DescScript runs Options.Desc with /bin/sh, $name set to the export's name, and
	// sends what it prints.
	DescScript
)

// Options configure the filter. The zero value changes nothing.
type Options struct {
	// DefaultExport is the export a client asking for "" gets; empty leaves the choice
	// to the plugin.
	DefaultExport string
	// List is what NBD_OPT_LIST shows.
	List ListMode
	// Exports are the names listed under ListExplicit and allowed under Strict.
	Exports []string
	// Strict refuses clients asking for an export not in Exports.
	Strict bool
	// DescMode and Desc say what descriptions clients get (Desc is the fixed text or
	// the script).
	DescMode DescMode
	Desc     string
	// Logger receives the failures of description scripts; nil discards them.
	Logger *slog.Logger
}

// Spec describes the filter to the gonbd command line:
//
//	gonbd --filter=exportname PLUGIN [default-export=NAME] [exportname-list=MODE]
//	    [exportname-strict=BOOL] [exportname=NAME]... [exportdesc=DESC]
func Spec() server.FilterSpec {
	return server.FilterSpec{
		Name:        "exportname",
		Version:     moduleVersion(),
		Description: "adjust export names between client and plugin",
		ConfigHelp: "default-export=<NAME>  The export a client asking for \"\" gets.\n" +
			"exportname-list=keep|error|empty|defaultonly|explicit  What listing exports shows.\n" +
			"exportname-strict=<BOOL>  Refuse exports not given with exportname= (default false).\n" +
			"exportname=<NAME>      An export to list and allow (repeatable).\n" +
			"exportdesc=keep|none|fixed:<STRING>|script:<SCRIPT>  Where descriptions come from.",
		New: func(p *server.Params, next server.Layer) (server.Layer, error) {
			opts, err := optionsFromParams(p)
			if err != nil {
				return nil, err
			}
			return New(next, opts), nil
		},
	}
}

func optionsFromParams(p *server.Params) (Options, error) {
	opts := Options{Logger: p.Logger}
	opts.DefaultExport = p.String("default-export", "")
	if v, ok := p.Lookup("exportname-list"); ok {
		i := slices.Index(listModeNames[:], v)
		if i < 0 {
			return opts, fmt.Errorf("exportname-list=%s: unknown mode (expected keep, error, empty, defaultonly or explicit)", v)
		}
		opts.List = ListMode(i)
	}
	var err error
	if opts.Strict, err = p.Bool("exportname-strict", false); err != nil {
		return opts, err
	}
	opts.Exports = p.All("exportname")
	if v, ok := p.Lookup("exportdesc"); ok {
		switch {
		case v == "keep":
		case v == "none":
			opts.DescMode = DescNone
		case strings.HasPrefix(v, "fixed:"):
			opts.DescMode, opts.Desc = DescFixed, strings.TrimPrefix(v, "fixed:")
		case strings.HasPrefix(v, "script:"):
			opts.DescMode, opts.Desc = DescScript, strings.TrimPrefix(v, "script:")
		default:
			return opts, fmt.Errorf("exportdesc=%s: unknown mode (expected keep, none, fixed:STRING or script:SCRIPT)", v)
		}
	}
	return opts, nil
}

// New returns a layer in front of next that changes the default export, the export
// list and the descriptions as opts say.
func New(next server.Layer, opts Options) server.Layer {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	opts.Exports = slices.Clone(opts.Exports)
	return &filter{PassThrough: server.PassThrough{Next: next}, opts: opts}
}

type filter struct {
	server.PassThrough
	opts Options
}

func (f *filter) DefaultExport(ctx context.Context, readOnly bool) (string, error) {
	if f.opts.DefaultExport != "" {
		return f.opts.DefaultExport, nil
	}
	return f.Next.DefaultExport(ctx, readOnly)
}

// ListExports builds the list from the source the mode names only, so that nothing
// the mode hides is ever asked of next.
func (f *filter) ListExports(ctx context.Context, readOnly bool) ([]server.Export, error) {
	var exports []server.Export
	switch f.opts.List {
	case ListError:
		return nil, server.Errorf(syscall.EPERM, "exportname: listing exports is refused (exportname-list=error)")
	case ListEmpty:
		return []server.Export{}, nil
	case ListDefaultOnly:
		name, err := f.DefaultExport(ctx, readOnly)
		if err != nil {
			return nil, err
		}
		exports = []server.Export{{Name: name}}
	case ListExplicit:
		for _, name := range f.opts.Exports {
			exports = append(exports, server.Export{Name: name})
		}
	default:
		var err error
		if exports, err = f.Next.ListExports(ctx, readOnly); err != nil {
			return nil, err
		}
		exports = slices.Clone(exports)
	}
	for i := range exports {
		exports[i].Description = f.describe(ctx, exports[i].Name, exports[i].Description)
	}
	return exports, nil
}

// describe returns the description to send for name, given the plugin's.
func (f *filter) describe(ctx context.Context, name, plugin string) string {
	switch f.opts.DescMode {
	case DescNone:
		return ""
	case DescFixed:
		return f.opts.Desc
	case DescScript:
		return runScript(ctx, f.opts.Logger, f.opts.Desc, name)
	}
	return plugin
}

func (f *filter) Open(ctx context.Context, req server.OpenRequest) (server.LayerHandle, error) {
	if f.opts.Strict && !slices.Contains(f.opts.Exports, req.ExportName) {
		return nil, server.Errorf(syscall.ENOENT, "export %q not found (exportname-strict=true)", req.ExportName)
	}
	h, err := f.Next.Open(ctx, req)
	if err != nil || f.opts.DescMode == DescKeep {
		return h, err
	}
	return &handle{PassThroughHandle: server.PassThroughHandle{Next: h}, f: f, name: req.ExportName}, nil
}

type handle struct {
	server.PassThroughHandle
	f    *filter
	name string
}

func (h *handle) ExportDescription(ctx context.Context) (string, error) {
	return h.f.describe(ctx, h.name, ""), nil
}
