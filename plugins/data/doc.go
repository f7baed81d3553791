// Package data is gonbd's data plugin, after nbdkit's: it serves a disk whose contents
// are written on the command line, in a small language (data=), as raw bytes (raw=) or
// in base64 (base64=). It is meant for testing NBD clients, and for making small or
// mostly sparse disk images with a known layout without a file to hold them.
//
//	gonbd data '0 1 2 3 @0x1fe 0x55 0xaa'          # a 512-byte sector with a boot signature
//	gonbd data '( 0x55 0xAA )*2048'                 # 4096 bytes of a repeating pattern
//	gonbd data '$pattern*16' pattern='0x55 0xAA'    # the same, with a variable
//	gonbd data base64=MTIz size=1M
//	gonbd data raw='Hello, world!'
//
// The disk is held in memory, is writable (unless the server is read-only), and is
// shared by every connection; writes are lost when the server exits.
//
// # The data language
//
// The data is a list of expressions, written into the disk one after the other from
// offset 0. The disk's size is the highest offset written or moved to, unless size=
// says otherwise.
//
//	BYTE             0 to 255, in decimal, octal (leading 0) or hexadecimal (0x)
//	"STRING"         its bytes; C escapes such as \n, \\, \" and \xNN
//	le16:N be16:N    N as a 2, 4 or 8-byte little or big-endian word; the number runs
//	le32:N be32:N    up to the next white space
//	le64:N be64:N
//	@OFFSET          move to OFFSET
//	@+N  @-N         move N bytes forward or back
//	@^ALIGN          move forward to a multiple of ALIGN, a power of 2
//	<FILE            the contents of FILE (its name ends at white space, '[', '*', ')')
//	<(SCRIPT)        the output of /bin/sh -c SCRIPT; its parentheses must pair up
//	( ... )          a group: offsets and names within are relative to it
//	EXPR*N           EXPR N times
//	EXPR[N:M]        bytes N to M-1 of EXPR; [N:], [:M] and [:] too
//	EXPR -> \NAME    name EXPR, writing nothing
//	\NAME            EXPR as named earlier in this group or an enclosing one
//	$VAR             the value of a parameter VAR=... or of an environment variable,
//	                 parsed as data and written as a group
//	# COMMENT        up to the end of the line
//
// Expressions are evaluated as nbdkit 1.32 evaluates them, byte for byte; its quirks
// are kept where they decide what a disk holds, and its documentation
// (nbdkit-data-plugin(1)) and gonbd's manual page (docs/plugins/data.md) say more.
// Mistakes are reported as an [*Error] locating them in the data.
//
// # Embedding
//
// Programs that embed the server make the plugin with [New] and adapt it as any other:
//
//	disk, err := data.New(data.Options{Data: `( "hello" )*100 @^4096`})
//	if err != nil {
//		return err // a syntax error, with its offset
//	}
//	layer := server.PluginLayer("data", disk) // the server calls disk.GetReady
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package data
