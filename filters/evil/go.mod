module github.com/gonbd/gonbd/filters/evil

go 1.24.0
