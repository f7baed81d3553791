module github.com/gonbd/gonbd/plugins/full

go 1.24.0
