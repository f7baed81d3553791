module github.com/gonbd/gonbd/plugins/nbd

go 1.24.0
