module github.com/gonbd/gonbd/plugins/pattern

go 1.24.0
