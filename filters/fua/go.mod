module github.com/gonbd/gonbd/filters/fua

go 1.24.0
