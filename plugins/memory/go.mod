module github.com/gonbd/gonbd/plugins/memory

go 1.24.0
