module github.com/gonbd/gonbd/filters/limit

go 1.24.0
