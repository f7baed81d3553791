// Package releasecheck proves, before any tag is pushed, that the modules of
// the work tree can be released: it packs them at their next versions into a
// file-based module proxy, then, in an empty GOPATH and module cache with
// go.work turned off, checks what users will do with them:
//
//  1. "go install github.com/gonbd/gonbd/cmd/gonbd@VERSION" succeeds, and the
//     installed binary serves a memory disk that nbdinfo (or qemu-img) reads
//     the size of;
//  2. a third-party module that requires only the server and plugins/memory
//     modules builds and serves a memory disk, and its go.sum names nothing but
//     gonbd's modules, golang.org/x/sys and github.com/klauspost/compress (the
//     memory plugin's zstd allocator): none of the heavy libraries that other
//     gonbd modules are allowed to link (xz, SFTP, SSH).
//
// Every temporary directory and process is removed or ended before Run
// returns, and every step is bounded by the context.
package releasecheck
