package ssh

import (
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostKeys checks the server's host key against OpenSSH known_hosts files, and
// explains a refusal in words a user can act on.
type hostKeys struct {
	files []string
	check ssh.HostKeyCallback
	// probe is a key no known_hosts file holds, to ask the files which keys they
	// have for a host (see algorithms).
	probe ssh.PublicKey
}

// defaultKnownHosts returns OpenSSH's known_hosts files that exist: the user's and
// the system's.
func defaultKnownHosts() []string {
	var candidates []string
	if home, err := os.UserHomeDir(); err == nil {
		candidates = append(candidates, filepath.Join(home, ".ssh", "known_hosts"))
	}
	candidates = append(candidates, "/etc/ssh/ssh_known_hosts")
	var files []string
	for _, f := range candidates {
		if _, err := os.Stat(f); err == nil {
			files = append(files, f)
		}
	}
	return files
}

// newHostKeys reads the known_hosts files. None at all is not an error: every host is
// then unknown, which the refusal explains.
func newHostKeys(files []string) (*hostKeys, error) {
	check, err := knownhosts.New(files...)
	if err != nil {
		var pathErr *fs.PathError
		if errors.As(err, &pathErr) {
			return nil, fmt.Errorf("known-hosts=%s: %w", pathErr.Path, pathErr.Err)
		}
		return nil, fmt.Errorf("reading the known hosts files %s: %w", strings.Join(files, ", "), err)
	}
	public, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	probe, err := ssh.NewPublicKey(public)
	if err != nil {
		return nil, err
	}
	return &hostKeys{files: files, check: check, probe: probe}, nil
}

// algorithms returns the host key algorithms to ask the server for: those of the keys
// the files hold for address, so that a server with several host keys presents one
// that can be checked (its preferred one may be of a type the files lack, which would
// look like a changed key). It returns nil, the library's default, for an unknown host.
func (k *hostKeys) algorithms(address string, remote net.Addr) []string {
	var keyErr *knownhosts.KeyError
	if err := k.check(address, remote, k.probe); !errors.As(err, &keyErr) {
		return nil
	}
	var algos []string
	seen := make(map[string]bool)
	for _, known := range keyErr.Want {
		for _, algo := range algorithmsForKey(known.Key.Type()) {
			if !seen[algo] {
				seen[algo] = true
				algos = append(algos, algo)
			}
		}
	}
	return algos
}

// algorithmsForKey returns the signature algorithms a host key of type keyType can
// sign the handshake with: RSA keys have three.
func algorithmsForKey(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}

// verify is the ssh.HostKeyCallback: it accepts the key if a file holds it for the
// host, and otherwise says what the server presented and what to do.
func (k *hostKeys) verify(address string, remote net.Addr, key ssh.PublicKey) error {
	err := k.check(address, remote, key)
	var keyErr *knownhosts.KeyError
	var revoked *knownhosts.RevokedError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &revoked):
		return fmt.Errorf("the host key of %s, %s, is revoked in %s:%d: refusing to connect",
			address, describeKey(key), revoked.Revoked.Filename, revoked.Revoked.Line)
	case errors.As(err, &keyErr) && len(keyErr.Want) == 0:
		return &unknownHostError{address: address, key: key, files: k.files}
	case errors.As(err, &keyErr):
		known := make([]string, len(keyErr.Want))
		for i, w := range keyErr.Want {
			known[i] = fmt.Sprintf("%s:%d has %s", w.Filename, w.Line, describeKey(w.Key))
		}
		return fmt.Errorf("the host key of %s does not match the known hosts: the server presented %s, but %s. "+
			"Someone may be impersonating the server (a man in the middle), or its key was changed: "+
			"if the change is expected, replace the old key in the file",
			address, describeKey(key), strings.Join(known, "; "))
	}
	return fmt.Errorf("checking the host key of %s: %w", address, err)
}

// unknownHostError is the refusal of a host that no known_hosts file lists.
type unknownHostError struct {
	address string
	key     ssh.PublicKey
	files   []string
}

func (e *unknownHostError) Error() string {
	where := "there are no known hosts files"
	if len(e.files) > 0 {
		where = "it is in none of the known hosts files (" + strings.Join(e.files, ", ") + ")"
	}
	host, port, err := net.SplitHostPort(e.address)
	if err != nil {
		host, port = e.address, defaultPort
	}
	return fmt.Sprintf("the host key of %s is unknown: the server presented %s, and %s. "+
		"Check the fingerprint with the server's administrator, then add the key "+
		"(ssh-keyscan -p %s -t %s %s >> ~/.ssh/known_hosts, or ssh to the host once), "+
		"give the file holding it with known-hosts=, or skip the check with "+
		"verify-remote-host=false (insecure)",
		e.address, describeKey(e.key), where, port, keyScanType(e.key.Type()), host)
}

// describeKey returns a key's type and fingerprint, as ssh prints them.
func describeKey(key ssh.PublicKey) string {
	return key.Type() + " key " + ssh.FingerprintSHA256(key)
}

// keyScanType returns the name ssh-keyscan -t knows a key type by.
func keyScanType(keyType string) string {
	switch keyType {
	case ssh.KeyAlgoED25519:
		return "ed25519"
	case ssh.KeyAlgoRSA:
		return "rsa"
	case ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521:
		return "ecdsa"
	}
	return keyType
}
