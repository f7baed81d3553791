module github.com/gonbd/gonbd/filters/nocache

go 1.24.0
