module github.com/gonbd/gonbd/filters/readonly

go 1.24.0
