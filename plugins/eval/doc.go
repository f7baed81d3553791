// Package eval is gonbd's eval plugin, after nbdkit's eval plugin: a plugin written
// as shell script snippets on the command line, one per method.
//
//	gonbd eval get_size='echo 64M' pread='dd if=/dev/zero count=$3 iflag=count_bytes'
//
// Each snippet is saved as a script in the plugin's $tmpdir and run by /bin/sh with
// the calling convention of the sh plugin (package github.com/gonbd/gonbd/plugins/sh,
// which is this plugin's engine): $1 is the method, $2... its arguments, data flows
// through standard input and output, and the exit code says how the call went (0 ok,
// 1 error with "ERRNO message" on standard error, 2 missing, 3 false).
//
// The differences from an sh plugin are those of nbdkit:
//
//   - the methods are parameters (see [Methods]); a method not given runs the
//     missing= snippet, by default "exit 2";
//   - the can_* answers follow from the methods given, as for plugins in other
//     languages: pwrite= makes the export writable, flush= flushable, cache= gives
//     can_cache native, and so on, unless the matching can_* snippet says otherwise;
//   - every other parameter goes to the config= snippet as `config KEY VALUE`, and
//     is an error without one;
//   - there is no load method, and no magic parameter.
//
// Programs that embed the server make the plugin with [New]:
//
//	plugin, err := eval.New(eval.Options{Methods: map[string]string{
//		"get_size": "echo 64M",
//		"pread":    "dd if=/dev/zero count=$3 iflag=count_bytes",
//	}})
//	if err != nil {
//		return err
//	}
//	defer plugin.Cleanup(ctx)
//	layer := server.PluginLayer("eval", plugin)
//
// [Spec] is what the gonbd command links. The manual page is docs/plugins/eval.md.
package eval
