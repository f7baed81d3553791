module github.com/gonbd/gonbd/filters/stats

go 1.24.0
