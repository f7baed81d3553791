module github.com/gonbd/gonbd/plugins/info

go 1.24.0
