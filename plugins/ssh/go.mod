module github.com/gonbd/gonbd/plugins/ssh

go 1.24.0

require (
	github.com/pkg/sftp v1.13.10
	golang.org/x/crypto v0.48.0
	golang.org/x/sys v0.41.0
)

require github.com/kr/fs v0.1.0 // indirect
