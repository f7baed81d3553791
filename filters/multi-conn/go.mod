module github.com/gonbd/gonbd/filters/multi-conn

go 1.24.0
