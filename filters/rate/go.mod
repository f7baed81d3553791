module github.com/gonbd/gonbd/filters/rate

go 1.24.0
