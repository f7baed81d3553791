// Package sh is gonbd's script plugin, after nbdkit's sh plugin: a plugin whose
// methods are implemented by a script, in any language, or by any executable. Existing
// nbdkit sh plugins run unchanged.
//
// From the command line:
//
//	gonbd sh ./plugin.sh [KEY=VALUE ...]
//	gonbd sh - <<'EOF'
//	case "$1" in
//	  get_size) echo 1M ;;
//	  pread) dd if=/dev/zero count=$3 iflag=count_bytes ;;
//	  *) exit 2 ;;
//	esac
//	EOF
//
// # Calling convention
//
// For every method call the plugin runs the script once, as `SCRIPT METHOD ARGS...`,
// exactly as nbdkit does: pread prints its data on standard output, pwrite reads it
// from standard input, and the exit code says how the call went:
//
//   - 0: success (true, for methods that answer a question);
//   - 1, and 4 and up: an error. The script may print an errno name on standard error,
//     optionally followed by white space and a message ("ENOSPC out of room"); the
//     client receives that error, or EIO without a known name;
//   - 2: the script does not implement the method, which then does what nbdkit does
//     without it (usually nothing, or false);
//   - 3: false.
//
// Scripts are stateless: each call is a new process. They find a directory of their
// own in the environment variable $tmpdir, made when the plugin loads and removed with
// everything in it when it is cleaned up, where they may keep state; the handle that
// the open method prints is passed to every later call of the connection.
//
// The methods, their arguments and what they print are those of nbdkit 1.32:
// load, unload, dump_plugin, config, config_complete, magic_config_key, thread_model,
// get_ready, after_fork, preconnect, list_exports, default_export, open, close,
// export_description, get_size, block_size, can_write, can_flush, can_trim, can_zero,
// can_fast_zero, can_extents, can_fua, can_multi_conn, can_cache, is_rotational,
// pread, pwrite, flush, trim, zero, extents and cache. The manual page,
// docs/plugins/sh.md, describes each. Answers are parsed strictly: output that does
// not follow the convention fails the call with EIO and a message naming the method.
//
// # From Go
//
// Programs that embed the server make the plugin with [New]:
//
//	plugin, err := sh.New(sh.Options{Script: "/usr/local/lib/disk.sh", Config: params})
//	if err != nil {
//		return err
//	}
//	defer plugin.Cleanup(ctx)
//	layer := server.PluginLayer("sh", plugin)
//
// [Options.ScriptFor] gives each method a program of its own, which is how the eval
// plugin (github.com/gonbd/gonbd/plugins/eval) runs method bodies given on the command
// line. [Spec] is what the gonbd command links.
package sh
