module github.com/gonbd/gonbd/filters/readahead

go 1.24.0
