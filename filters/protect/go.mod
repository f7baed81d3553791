module github.com/gonbd/gonbd/filters/protect

go 1.24.0
