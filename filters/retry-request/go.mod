module github.com/gonbd/gonbd/filters/retry-request

go 1.24.0
