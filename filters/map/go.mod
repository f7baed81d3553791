module github.com/gonbd/gonbd/filters/map

go 1.24.0
