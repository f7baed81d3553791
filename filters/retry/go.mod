module github.com/gonbd/gonbd/filters/retry

go 1.24.0
