module github.com/gonbd/gonbd/plugins/null

go 1.24.0
