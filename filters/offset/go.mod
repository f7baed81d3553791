module github.com/gonbd/gonbd/filters/offset

go 1.24.0
