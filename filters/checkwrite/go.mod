module github.com/gonbd/gonbd/filters/checkwrite

go 1.24.0
