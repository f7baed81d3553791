module github.com/gonbd/gonbd/plugins/memory

go 1.24.0

require (
	github.com/klauspost/compress v1.19.2
	golang.org/x/sys v0.41.0
)
