module github.com/gonbd/gonbd/filters/partition

go 1.24.0
