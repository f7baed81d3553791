module github.com/gonbd/gonbd/plugins/zero

go 1.24.0
