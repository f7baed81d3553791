module github.com/gonbd/gonbd/server/apitest

go 1.24.0

require (
	github.com/gonbd/gonbd/protocol v0.1.0
	github.com/gonbd/gonbd/server v0.1.0
)
