module github.com/gonbd/gonbd/filters/time-limit

go 1.24.0
