module github.com/gonbd/gonbd/filters/bzip2

go 1.24.0
