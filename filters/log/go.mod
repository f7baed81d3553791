module github.com/gonbd/gonbd/filters/log

go 1.24.0
