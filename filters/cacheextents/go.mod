module github.com/gonbd/gonbd/filters/cacheextents

go 1.24.0
