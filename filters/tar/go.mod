module github.com/gonbd/gonbd/filters/tar

go 1.24.0
