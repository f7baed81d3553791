module github.com/gonbd/gonbd/filters/count

go 1.24.0
