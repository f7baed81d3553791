module github.com/gonbd/gonbd/filters/blocksize-policy

go 1.24.0
