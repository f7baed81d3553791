module github.com/gonbd/gonbd/server

go 1.24.0

require (
	github.com/gonbd/gonbd/protocol v0.1.0
)
