module github.com/gonbd/gonbd/plugins/eval

go 1.24.0
