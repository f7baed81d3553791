module github.com/gonbd/gonbd/plugins/cabi

go 1.24.0
