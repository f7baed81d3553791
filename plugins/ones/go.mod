module github.com/gonbd/gonbd/plugins/ones

go 1.24.0
