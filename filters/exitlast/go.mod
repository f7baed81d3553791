module github.com/gonbd/gonbd/filters/exitlast

go 1.24.0
