module github.com/gonbd/gonbd/filters/blocksize

go 1.24.0
