package ssh

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// loadIdentities reads the keys of the identity files given, which must exist and be
// readable (an encrypted one with password as its passphrase), then those of the
// default files that exist and can be read without a passphrase.
func loadIdentities(files []string, password string, log *slog.Logger) ([]ssh.Signer, error) {
	var signers []ssh.Signer
	for _, file := range files {
		signer, err := readIdentity(file, password)
		if err != nil {
			return nil, fmt.Errorf("identity=%s: %w", file, err)
		}
		signers = append(signers, signer)
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return signers, nil
	}
	// The files in ~/.ssh that are tried by default, in libssh's order.
	for _, name := range []string{"id_ed25519", "id_ecdsa", "id_rsa", "id_dsa"} {
		file := filepath.Join(home, ".ssh", name)
		signer, err := readIdentity(file, password)
		switch {
		case errors.Is(err, fs.ErrNotExist):
		case err != nil:
			log.Debug("skipping a default identity", "file", file, "err", err)
		default:
			signers = append(signers, signer)
		}
	}
	return signers, nil
}

// errPassphrase explains what to do with a key that needs a passphrase.
var errPassphrase = errors.New("the key is encrypted with a passphrase, which a server cannot ask for: " +
	"load it into ssh-agent (ssh-add) and let the plugin use the agent, or give the passphrase as password=")

// readIdentity reads a private key file, decrypting it with password if it is
// encrypted.
func readIdentity(file, password string) (ssh.Signer, error) {
	pem, err := os.ReadFile(file)
	if err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			err = pathErr.Err // the file name is already in the message
		}
		return nil, err
	}
	signer, err := ssh.ParsePrivateKey(pem)
	var missing *ssh.PassphraseMissingError
	switch {
	case err == nil:
		return signer, nil
	case !errors.As(err, &missing):
		return nil, fmt.Errorf("not a private key that can be used: %w", err)
	case password == "":
		return nil, errPassphrase
	}
	signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(password))
	if err != nil {
		return nil, fmt.Errorf("%w (password= does not decrypt it: %v)", errPassphrase, err)
	}
	return signer, nil
}

// agentKeys connects to the SSH agent at socket and returns its keys, and the
// connection, which must stay open until authentication is over (the agent signs).
// An agent that cannot be reached is logged and skipped, as ssh skips it.
func agentKeys(socket string, log *slog.Logger) ([]ssh.Signer, net.Conn) {
	if socket == "" {
		return nil, nil
	}
	conn, err := net.Dial("unix", socket)
	if err != nil {
		log.Warn("cannot reach the SSH agent: going on without its keys", "socket", socket, "err", err)
		return nil, nil
	}
	signers, err := agent.NewClient(conn).Signers()
	if err != nil {
		conn.Close()
		log.Warn("the SSH agent did not list its keys: going on without them", "socket", socket, "err", err)
		return nil, nil
	}
	return signers, conn
}
