module github.com/gonbd/gonbd/filters/error

go 1.24.0
