module github.com/gonbd/gonbd/filters/xz

go 1.24.0
