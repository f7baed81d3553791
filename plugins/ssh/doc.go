// Package ssh is gonbd's SSH plugin, after nbdkit's ssh plugin: it serves a file that
// lives on an SSH server, reading and writing it over SFTP, so that any host running
// an SSH server can provide a disk image to NBD clients.
//
// From the command line:
//
//	gonbd ssh host=files.example.com disk.img
//	gonbd ssh host=files.example.com user=bob identity=~/.ssh/backup_key /srv/images/vm.raw
//	gonbd ssh host=10.0.0.5 port=2222 scratch.img create=true create-size=10G
//
// The server's host key is checked against OpenSSH's known_hosts files, and a host
// that is not in them is refused with its key's fingerprint, as ssh would ask about
// it. The plugin logs in with the keys of the SSH agent ($SSH_AUTH_SOCK), then the
// identity files, then the password when one is given.
//
// Every client connection gets an SSH connection and an SFTP session of its own, on
// which its requests run in parallel; pkg/sftp splits large requests into packets in
// flight together (of 32 KiB, or 255 KiB for OpenSSH 8.6 and later). Flush uses the
// fsync@openssh.com extension, and is not offered when the server lacks it. There is
// no trim, zeroing is done by writing zeroes, and every extent is data.
//
// Programs that embed the server make the plugin with [New]:
//
//	p, err := ssh.New(ssh.Options{Host: "files.example.com", Path: "disk.img"})
//	if err != nil {
//		return err
//	}
//	layer := server.PluginLayer("ssh", p)
//
// [Spec] is what the gonbd command links to offer the plugin by name.
package ssh
