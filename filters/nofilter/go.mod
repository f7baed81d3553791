module github.com/gonbd/gonbd/filters/nofilter

go 1.24.0
