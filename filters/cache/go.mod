module github.com/gonbd/gonbd/filters/cache

go 1.24.0
