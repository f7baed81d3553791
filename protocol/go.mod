module github.com/gonbd/gonbd/protocol

go 1.24.0
