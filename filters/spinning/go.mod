module github.com/gonbd/gonbd/filters/spinning

go 1.24.0
