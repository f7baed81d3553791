module github.com/gonbd/gonbd/cmd/gonbd

go 1.24.0
