module github.com/gonbd/gonbd/filters/ip

go 1.24.0
