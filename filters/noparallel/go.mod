module github.com/gonbd/gonbd/filters/noparallel

go 1.24.0
