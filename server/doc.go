// Package server is gonbd's engine and the API that plugins and filters are written
// against.
//
// # Two shapes
//
// As in nbdkit, the API has a small shape for plugin authors and a complete one for
// filters and the engine.
//
// A [Plugin] is made once per process from its parameters (see [PluginSpec]) and opens a
// [Handle] for each client connection. A Handle needs only Size and ReadAt. Everything
// else is an optional interface, discovered by type assertion as net/http discovers
// [net/http.Flusher]: a handle that implements [Writer] is writable, one that implements
// [Flusher] can flush and gets FUA emulated, [Trimmer], [Zeroer], [Extenter], [Cacher],
// [BlockSizer], [Describer] and [io.Closer] add their operation, and a
// [CapabilityOverrider] corrects what the implemented interfaces imply, per connection.
// Plugins themselves may implement [ThreadModeler], [Readier], [Preconnecter],
// [ExportLister], [DefaultExporter], [Cleaner] and [PluginDumper].
//
// A [Layer] and its [LayerHandle] have every operation and answer every capability
// explicitly. [PluginLayer] adapts a plugin into a Layer once, and does there every
// emulation (zero by writing zeroes, FUA by flushing, cache by reading, extents as all
// data) and every check (bounds, read-only, capabilities not advertised), so that no
// plugin repeats them and the engine sees one shape.
//
// # Filters
//
// A filter is a Layer in front of the next one. It embeds [PassThrough] (and its handles
// embed [PassThroughHandle]) and overrides only what it changes; operations added to
// Layer later pass through existing filters unchanged. Filters stack in command-line
// order, the first closest to the client; a [FilterSpec] describes one to the command
// line. Parameters flow from the client side inwards: each layer reads its keys from
// [Params] and hands [Params.Rest] on, so unknown keys are found and reported by name.
//
// # Errors
//
// Plugins and filters return ordinary Go errors. The client receives the NBD error that
// [ErrnoOf] finds in the chain: an [*Error] (made with [Errorf]) or any error with an
// NBDErrno method, else a [syscall.Errno] (the errors of package os carry one), else
// EIO. A panic in a plugin method fails that request alone with a [*PanicError] (EIO),
// whose stack the engine logs.
//
// # Buffers
//
// Buffers belong to the server. ReadAt fills p completely and WriteAt neither modifies
// nor keeps p; both are called with pooled buffers, and on success the adapter's request
// path allocates nothing. [ExtentList]s are owned and reused by the server likewise.
//
// # Embedding
//
// A Go program serves a stack with the same engine as the gonbd command:
//
//	srv, err := server.New(ctx, server.PluginLayer("memory", disk), server.Options{Logger: logger})
//	...
//	err = srv.Serve(ctx, ln) // until ctx is canceled; requests in flight finish
//	srv.Close(context.Background())
//
// [Options] has a working zero value. [Server.Serve] may run on several listeners at
// once; [Server.ServeConn] serves one connection the program accepted itself. Logs go to
// the [log/slog.Logger] in Options. docs/embedding.md in the repository has a complete
// program, and the memory plugin's package has a runnable example.
//
// # The engine
//
// Each connection is served by up to Options.Threads worker goroutines (one under the
// serializing thread models). A worker reads a request, serves it and writes its reply
// itself, so a request is never handed from goroutine to goroutine; when every worker
// is busy, the one that just read a request starts another to read the next. Requests
// are checked against what was negotiated before any layer sees them. Replies are
// written whole, under one lock, with vectored writes, and a read's reply goes out only
// once its data is ready. Payload buffers come from size-classed pools, and the bytes of
// one connection's requests in flight are capped (Options.MaxInFlightBytes), so a client
// that pipelines faster than the layers drain makes the server stop reading rather than
// buffer without bound.
package server
